import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { listScope } from '../auth.ts'
import { ERRORS, principalOf, type RouteDeps } from '../context.ts'
import { decodeCursor, encodeCursor, filtersFingerprint } from '../cursor.ts'
import { timeRange } from '../params.ts'
import { queueCounts, queuePage } from '../repositories/queue.ts'
import { QueueCountsQuery, QueueCountsReply, QueueQuery, QueueReply } from '../schemas.ts'

const DEFAULT_LEVELS = ['MEDIUM', 'HIGH', 'CRITICAL']

export const queueRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/queue',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Flagged merchants, highest score first',
        description:
          'One row per merchant and score category. Filters: level (repeatable), category, rule (merchants with a hit of it, in the time range when one is given), case_status (of the newest case; none: never had one), acquirer (all-acquirer keys), from/to (scored_at). Pages with next_cursor.',
        tags: ['queue'],
        querystring: QueueQuery,
        response: { 200: QueueReply, ...ERRORS },
      },
    },
    async (req) => {
      const q = req.query
      const scope = listScope(principalOf(req), q.acquirer)
      if (scope.empty) return { items: [], next_cursor: null }
      const range = timeRange('query', q)
      const levels =
        q.level === undefined || q.level.length === 0 ? DEFAULT_LEVELS : [...new Set(q.level)].sort()
      const limit = q.limit ?? 50
      const filters = { ...q, cursor: undefined, limit: undefined, level: levels, acquirer: scope.acquirer }
      const fingerprint = filtersFingerprint(filters)
      const page = await queuePage(deps.store, {
        acquirer: scope.acquirer,
        levels,
        limit,
        ...range,
        ...(q.category === undefined ? {} : { category: q.category }),
        ...(q.rule === undefined ? {} : { rule: q.rule }),
        ...(q.case_status === undefined ? {} : { caseStatus: q.case_status }),
        ...(q.cursor === undefined
          ? {}
          : { after: decodeCursor(q.cursor, ['score', 'id', 'id', 'id'], fingerprint) }),
      })
      return {
        items: page.items,
        next_cursor:
          page.items.length === limit && page.last !== null ? encodeCursor(page.last, fingerprint) : null,
      }
    },
  )
}

/** The count of queue rows per level, under the queue's other filters: the figures above the queue. */
export const queueCountRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/queue/counts',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'How many queue rows are at each level, under the same filters as /queue',
        tags: ['queue'],
        querystring: QueueCountsQuery,
        response: { 200: QueueCountsReply, ...ERRORS },
      },
    },
    async (req) => {
      const q = req.query
      const counts = { LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 }
      const scope = listScope(principalOf(req), q.acquirer)
      if (scope.empty) return { counts }
      const found = await queueCounts(deps.store, {
        acquirer: scope.acquirer,
        ...timeRange('query', q),
        ...(q.category === undefined ? {} : { category: q.category }),
        ...(q.rule === undefined ? {} : { rule: q.rule }),
        ...(q.case_status === undefined ? {} : { caseStatus: q.case_status }),
      })
      return {
        counts: {
          LOW: found.LOW ?? 0,
          MEDIUM: found.MEDIUM ?? 0,
          HIGH: found.HIGH ?? 0,
          CRITICAL: found.CRITICAL ?? 0,
        },
      }
    },
  )
}
