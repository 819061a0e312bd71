import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkScope } from '../auth.ts'
import { ERRORS, principalOf, type RouteDeps } from '../context.ts'
import { notFound } from '../errors.ts'
import { dayOf, dayParam } from '../params.ts'
import { cardPatternsOf, evidenceOf, lifecycleOf, PeerCache } from '../repositories/evidence.ts'
import { merchantExists } from '../repositories/merchants.ts'
import {
  CardPatternsQuery,
  CardPatternsReply,
  EvidenceQuery,
  EvidenceReply,
  LifecycleQuery,
  LifecycleReply,
  MerchantParams,
} from '../schemas.ts'
import { localDay } from '../time-zones.ts'

const DAY_MS = 86_400_000

/**
 * The series behind the console's evidence charts, computed in ClickHouse: amounts, hours, locations
 * and peers (`/evidence`), the recurring cards' swipe patterns (`/card-patterns`) and the lifecycle
 * time line (`/events`). The daily series itself is `/daily`.
 */
export const evidenceRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { store } = deps
  const peerCache = new PeerCache(deps.now)
  const base = '/acquirers/:acquirerId/merchants/:merchantId'

  const known = async (principal: ReturnType<typeof principalOf>, a: string, m: string) => {
    checkScope(principal, a, 'merchant', m)
    if (!(await merchantExists(store, a, m))) throw notFound('merchant', m)
  }

  app.get(
    `${base}/evidence`,
    {
      config: { role: 'analyst' },
      schema: {
        summary:
          "The evidence charts' series: amount distribution, hours against peers, peers' daily volume, terminal fixes",
        description:
          "Local days ending on `to` (default: the acquirer's current local day), `days` of them (default 90). Peers are up to 200 merchants of the same acquirer and registered MCC.",
        tags: ['merchants'],
        params: MerchantParams,
        querystring: EvidenceQuery,
        response: { 200: EvidenceReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      const timeZone = deps.timeZoneOf(a)
      const to = dayParam('query.to', req.query.to, localDay(deps.now(), timeZone))
      const days = req.query.days ?? 90
      const from = dayOf(Date.parse(`${to}T00:00:00Z`) - (days - 1) * DAY_MS)
      return evidenceOf(store, { acquirer: a, merchant: m, from, to, timeZone }, peerCache)
    },
  )

  app.get(
    `${base}/card-patterns`,
    {
      config: { role: 'analyst' },
      schema: {
        summary:
          'The recurring cards: swipes per day, gaps between swipes, months of recurrence, other merchants with the same cards',
        tags: ['merchants'],
        params: MerchantParams,
        querystring: CardPatternsQuery,
        response: { 200: CardPatternsReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      const to = deps.now()
      const from = to - (req.query.days ?? 120) * DAY_MS
      return { items: await cardPatternsOf(store, a, m, { from, to, limit: req.query.limit ?? 10 }) }
    },
  )

  app.get(
    `${base}/events`,
    {
      config: { role: 'analyst' },
      schema: {
        summary:
          'Lifecycle events (onboarding, terminal bindings, settlement account and MCC changes), oldest first',
        tags: ['merchants'],
        params: MerchantParams,
        querystring: LifecycleQuery,
        response: { 200: LifecycleReply, ...ERRORS },
      },
    },
    async (req) => {
      const { acquirerId: a, merchantId: m } = req.params
      await known(principalOf(req), a, m)
      return { items: await lifecycleOf(store, a, m, req.query.limit ?? 500) }
    },
  )
}
