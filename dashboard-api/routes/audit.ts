import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { listScope } from '../auth.ts'
import { ERRORS, principalOf, type RouteDeps } from '../context.ts'
import { decodeCursor, encodeCursor, filtersFingerprint } from '../cursor.ts'
import { timeRange } from '../params.ts'
import { listAudit } from '../repositories/audit.ts'
import { AuditQuery, AuditReply } from '../schemas.ts'

export const auditRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/audit',
    {
      config: { role: 'supervisor' },
      schema: {
        summary: 'The audit log, newest first (supervisor): who did what, when, before and after',
        tags: ['audit'],
        querystring: AuditQuery,
        response: { 200: AuditReply, ...ERRORS },
      },
    },
    async (req) => {
      const q = req.query
      const scope = listScope(principalOf(req), q.acquirer)
      if (scope.empty) return { items: [], next_cursor: null }
      const limit = q.limit ?? 100
      const fingerprint = filtersFingerprint({
        ...q,
        acquirer: scope.acquirer,
        cursor: undefined,
        limit: undefined,
      })
      const page = await listAudit(deps.store, {
        acquirer: scope.acquirer,
        limit,
        ...timeRange('query', q),
        ...(q.actor === undefined ? {} : { actor: q.actor }),
        ...(q.entity_type === undefined ? {} : { entityType: q.entity_type }),
        ...(q.entity_id === undefined ? {} : { entityId: q.entity_id }),
        ...(q.merchant === undefined ? {} : { merchant: q.merchant }),
        ...(q.cursor === undefined ? {} : { after: decodeCursor(q.cursor, ['time', 'id'], fingerprint) }),
      })
      return {
        items: page.items,
        next_cursor:
          page.items.length === limit && page.last !== null ? encodeCursor(page.last, fingerprint) : null,
      }
    },
  )
}
