import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkScope } from '../auth.ts'
import { ERRORS, principalOf, type RouteDeps } from '../context.ts'
import { decodeCursor, encodeCursor, filtersFingerprint } from '../cursor.ts'
import { invalid, notFound } from '../errors.ts'
import { dayOf, dayParam, timeRange } from '../params.ts'
import { activeCasesOf } from '../repositories/cases.ts'
import {
  dailyOf,
  hitsOf,
  merchantExists,
  profileOf,
  scoreHistoryOf,
  scoresOf,
  settlementChangesOf,
  terminalsOf,
  terminalsSeenOf,
  topCardsOf,
  transactionsOf,
} from '../repositories/merchants.ts'
import {
  DailyQuery,
  DailyReply,
  HitsQuery,
  HitsReply,
  MerchantParams,
  MerchantReply,
  ScoreHistoryQuery,
  ScoreHistoryReply,
  TopCardsQuery,
  TopCardsReply,
  TransactionsQuery,
  TransactionsReply,
} from '../schemas.ts'
import { localDay } from '../time-zones.ts'

const DAY_MS = 86_400_000

export const merchantRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { store } = deps

  /** 404 for a merchant the key's acquirer does not have, whether it exists elsewhere or nowhere. */
  const known = async (principal: ReturnType<typeof principalOf>, a: string, m: string) => {
    checkScope(principal, a, 'merchant', m)
    if (!(await merchantExists(store, a, m))) throw notFound('merchant', m)
  }

  const base = '/acquirers/:acquirerId/merchants/:merchantId'

  app.get(
    base,
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'A merchant: profile, terminals, settlement account changes, current scores, open cases',
        tags: ['merchants'],
        params: MerchantParams,
        response: { 200: MerchantReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      const [profile, terminals, seen, changes, scores, cases] = await Promise.all([
        profileOf(store, a, m),
        terminalsOf(store, a, m),
        terminalsSeenOf(store, a, m, deps.now()),
        settlementChangesOf(store, a, m),
        scoresOf(store, a, m),
        activeCasesOf(store, a, m),
      ])
      return {
        acquirer_id: a,
        merchant_id: m,
        profile,
        terminals,
        terminals_seen: seen,
        settlement_account_changes: changes,
        scores,
        cases: cases.map((c) => ({
          case_id: c.case_id,
          status: c.status,
          assignee: c.assignee,
          version: c.version,
        })),
      }
    },
  )

  app.get(
    `${base}/score-history`,
    {
      config: { role: 'analyst' },
      schema: {
        summary: "The merchant's score changes, newest first",
        tags: ['merchants'],
        params: MerchantParams,
        querystring: ScoreHistoryQuery,
        response: { 200: ScoreHistoryReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      const q = req.query
      const items = await scoreHistoryOf(store, a, m, {
        ...timeRange('query', q),
        limit: q.limit ?? 200,
        ...(q.category === undefined ? {} : { category: q.category }),
      })
      return { items }
    },
  )

  app.get(
    `${base}/hits`,
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Rule hits with their evidence (observed value, threshold, window, sample transactions)',
        tags: ['merchants'],
        params: MerchantParams,
        querystring: HitsQuery,
        response: { 200: HitsReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      const q = req.query
      const items = await hitsOf(store, a, m, {
        ...timeRange('query', q),
        limit: q.limit ?? 200,
        ...(q.rule === undefined ? {} : { rule: q.rule }),
      })
      return { items }
    },
  )

  app.get(
    `${base}/daily`,
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Daily aggregates (local days) as a time series; the last 90 days by default',
        tags: ['merchants'],
        params: MerchantParams,
        querystring: DailyQuery,
        response: { 200: DailyReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      // The acquirer's current local day: the UTC date would leave out today between 16:00 and 24:00 UTC at UTC+8.
      const to = dayParam('query.to', req.query.to, localDay(deps.now(), deps.timeZoneOf(a)))
      const from = dayParam('query.from', req.query.from, dayOf(Date.parse(`${to}T00:00:00Z`) - 89 * DAY_MS))
      if (from > to) throw invalid('query.to', 'must not be before from')
      if (Date.parse(to) - Date.parse(from) > 3660 * DAY_MS)
        throw invalid('query.from', 'must be at most 10 years before to')
      return { items: await dailyOf(store, a, m, from, to) }
    },
  )

  app.get(
    `${base}/transactions`,
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Transactions, newest first; filter by card token, terminal and time; paged by cursor',
        tags: ['merchants'],
        params: MerchantParams,
        querystring: TransactionsQuery,
        response: { 200: TransactionsReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      const q = req.query
      // A card number in `card` (in any disguise) never gets here: app.ts refuses it for every input.
      const limit = q.limit ?? 100
      const fingerprint = filtersFingerprint({
        a,
        m,
        card: q.card,
        terminal: q.terminal,
        txn: q.txn,
        from: q.from,
        to: q.to,
      })
      const page = await transactionsOf(store, a, m, {
        ...timeRange('query', q),
        limit,
        ...(q.card === undefined ? {} : { card: q.card }),
        ...(q.terminal === undefined ? {} : { terminal: q.terminal }),
        ...(q.txn === undefined ? {} : { txnIds: q.txn }),
        ...(q.cursor === undefined ? {} : { after: decodeCursor(q.cursor, ['time', 'id'], fingerprint) }),
      })
      return {
        items: page.items,
        next_cursor:
          page.items.length === limit && page.last !== null ? encodeCursor(page.last, fingerprint) : null,
      }
    },
  )

  app.get(
    `${base}/top-cards`,
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'The cards that recur most (months, then days, then swipes); the last 120 days by default',
        tags: ['merchants'],
        params: MerchantParams,
        querystring: TopCardsQuery,
        response: { 200: TopCardsReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      const range = timeRange('query', req.query)
      const to = range.to ?? deps.now()
      const from = range.from ?? to - 120 * DAY_MS
      if (from >= to) throw invalid('query.from', 'must be before to')
      return { items: await topCardsOf(store, a, m, { from, to, limit: req.query.limit ?? 20 }) }
    },
  )
}
