import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkScope } from '../auth.ts'
import { ERRORS, principalOf, type RouteDeps } from '../context.ts'
import { conflict, invalid, notFound } from '../errors.ts'
import { timeParam } from '../params.ts'
import { appendAudit } from '../repositories/audit.ts'
import { merchantExists } from '../repositories/merchants.ts'
import {
  getWhitelistEntry,
  listWhitelist,
  newWhitelistEntry,
  WHITELISTABLE,
  writeWhitelistEntry,
} from '../repositories/whitelist.ts'
import {
  AcquirerParams,
  AddWhitelistBody,
  ErrorReply,
  WhitelistEntry,
  WhitelistParams,
  WhitelistQuery,
  WhitelistReply,
} from '../schemas.ts'
import { chTime, iso } from '../sql.ts'

const DAY_MS = 86_400_000

export const whitelistRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { store } = deps

  app.get(
    '/acquirers/:acquirerId/whitelist',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Whitelist entries in force (or all, with include_inactive)',
        tags: ['whitelist'],
        params: AcquirerParams,
        querystring: WhitelistQuery,
        response: { 200: WhitelistReply, ...ERRORS },
      },
    },
    async (req) => {
      const a = req.params.acquirerId
      checkScope(principalOf(req), a, 'acquirer', a)
      const items = await listWhitelist(store, a, {
        includeInactive: req.query.include_inactive ?? false,
        now: deps.now(),
        ...(req.query.merchant === undefined ? {} : { merchant: req.query.merchant }),
      })
      return { items }
    },
  )

  app.post(
    '/acquirers/:acquirerId/whitelist',
    {
      config: { role: 'supervisor' },
      schema: {
        summary: 'Whitelist one rule for one merchant, with a reason and an expiry (supervisor)',
        description:
          'relocation, mcc_mismatch and settlement_churn can never be whitelisted: regulation requires every hit to be reviewed.',
        tags: ['whitelist'],
        params: AcquirerParams,
        body: AddWhitelistBody,
        response: { 201: WhitelistEntry, ...ERRORS },
      },
    },
    async (req, reply) => {
      const a = req.params.acquirerId
      const actor = principalOf(req)
      const b = req.body
      checkScope(actor, a, 'merchant', b.merchant_id)
      const whitelistable = WHITELISTABLE.get(b.rule_id)
      if (whitelistable === undefined) throw invalid('body.rule_id', `is not a known rule: ${b.rule_id}`)
      if (!whitelistable) {
        throw invalid(
          'body.rule_id',
          `${b.rule_id} can never be whitelisted (regulation requires every hit to be reviewed)`,
        )
      }
      const now = deps.now()
      const expiresAt = timeParam('body.expires_at', b.expires_at)
      if (expiresAt === undefined || expiresAt <= now)
        throw invalid('body.expires_at', 'must be in the future')
      if (expiresAt > now + deps.whitelistMaxDays * DAY_MS) {
        throw invalid('body.expires_at', `must be at most ${deps.whitelistMaxDays} days ahead`)
      }
      if (!(await merchantExists(store, a, b.merchant_id))) throw notFound('merchant', b.merchant_id)
      const entry = newWhitelistEntry(a, b.merchant_id, b.rule_id, b.reason, expiresAt, actor.name, now)
      await appendAudit(store, {
        acquirerId: a,
        actor,
        action: 'whitelist:add',
        entityType: 'whitelist',
        entityId: entry.entry_id,
        merchantId: b.merchant_id,
        before: null,
        after: entry,
        requestId: req.id,
        at: now,
      })
      await writeWhitelistEntry(store, entry)
      await deps.whitelistChanged()
      reply.code(201)
      return entry
    },
  )

  app.delete(
    '/acquirers/:acquirerId/whitelist/:entryId',
    {
      config: { role: 'supervisor' },
      schema: {
        summary: 'Remove a whitelist entry (supervisor); it stays listed with include_inactive',
        tags: ['whitelist'],
        params: WhitelistParams,
        response: { 200: WhitelistEntry, 409: ErrorReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, entryId } = req.params
      const actor = principalOf(req)
      checkScope(actor, a, 'whitelist entry', entryId)
      const removed = await deps.locks.run(`whitelist\u0000${a}\u0000${entryId}`, async () => {
        const before = await getWhitelistEntry(store, a, entryId)
        if (before === null) throw notFound('whitelist entry', entryId)
        if (before.removed_at !== null)
          throw conflict(`whitelist entry ${entryId} was already removed at ${before.removed_at}`)
        const now = deps.now()
        const after = {
          ...before,
          removed_at: iso(chTime(now)),
          removed_by: actor.name,
          version: before.version + 1,
        }
        await appendAudit(store, {
          acquirerId: a,
          actor,
          action: 'whitelist:remove',
          entityType: 'whitelist',
          entityId: entryId,
          merchantId: before.merchant_id,
          before,
          after,
          requestId: req.id,
          at: now,
        })
        await writeWhitelistEntry(store, after)
        return after
      })
      await deps.whitelistChanged()
      return removed
    },
  )
}
