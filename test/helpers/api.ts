import type { FastifyInstance } from 'fastify'
import { AcquirerRegistry } from '../../acquirers/registry.ts'
import { loadConfig } from '../../config/load.ts'
import { type ApiOptions, buildApp } from '../../dashboard-api/app.ts'
import { createApiKey } from '../../dashboard-api/repositories/api-keys.ts'
import type { Role } from '../../dashboard-api/schemas.ts'
import { chTime, insertRows } from '../../dashboard-api/sql.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import type { Store } from '../../store/client.ts'
import { insertMerchantEvents } from '../../store/merchant-events.ts'
import { insertTransactions } from '../../store/transactions.ts'

/** The API configuration of tests: the defaults, with rate limits no test reaches unless it means to. */
export function apiConfig(overrides: Partial<ApiOptions['config']> = {}): ApiOptions['config'] {
  return {
    ...loadConfig({ env: {} }).api,
    rateLimitMax: 100_000,
    authFailureMax: 100_000,
    authFailureTotalMax: 100_000,
    keyCacheMs: 0,
    ...overrides,
  }
}

/** An acquirer registry over `store` without a broker, knowing `known`. */
export function testAcquirers(store: Store, known: readonly string[] = []): Promise<AcquirerRegistry> {
  return AcquirerRegistry.open({
    store,
    kafka: null,
    configured: known,
    topicPattern: 'risk.alerts.{acquirer}',
    topicSettings: { partitions: 1, replicationFactor: 1 },
    reservedTopics: [],
    logger: createLogger('silent'),
    now: Date.now,
    sleep,
  })
}

export async function testApp(store: Store, opts: Partial<ApiOptions> = {}): Promise<FastifyInstance> {
  return buildApp({ store, config: apiConfig(), acquirers: await testAcquirers(store), ...opts })
}

/** A new key's Authorization header. */
export async function keyFor(store: Store, role: Role, scope: string, name = `${role}@${scope}`) {
  const { key, keyId } = await createApiKey(store, { name, role, scope, createdBy: 'test' }, Date.now())
  return { headers: { authorization: `Bearer ${key}` }, key, keyId, name }
}

export interface ScoreSeed {
  acquirer: string
  merchant: string
  category?: 'fraud' | 'compliance'
  score: number
  level?: string
  scoredAt?: number
  families?: string[]
  breakdown?: unknown[]
}

export function levelOf(score: number): string {
  return score >= 85 ? 'CRITICAL' : score >= 60 ? 'HIGH' : score >= 35 ? 'MEDIUM' : 'LOW'
}

/** Rows as the scorer writes them: the latest score, and the same row in the history. */
export async function seedScores(store: Store, seeds: readonly ScoreSeed[]): Promise<void> {
  const rows = seeds.map((s) => ({
    acquirer_id: s.acquirer,
    merchant_id: s.merchant,
    category: s.category ?? 'fraud',
    score: s.score,
    level: s.level ?? levelOf(s.score),
    breakdown: JSON.stringify(s.breakdown ?? []),
    hit_count: (s.breakdown ?? []).length,
    families: s.families ?? [],
    scored_at: chTime(s.scoredAt ?? Date.UTC(2026, 10, 20)),
    written_at: chTime(Date.now()),
  }))
  await insertRows(store, 'merchant_scores', rows)
  await insertRows(
    store,
    'score_history',
    rows.map(({ hit_count, families, breakdown, ...r }) => r),
  )
}

export interface HitSeed {
  acquirer: string
  merchant: string
  rule: string
  windowStart: number
  observed?: number
  threshold?: number
  samples?: string[]
}

export async function seedHits(store: Store, seeds: readonly HitSeed[]): Promise<void> {
  await insertRows(
    store,
    'rule_hits',
    seeds.map((h) => ({
      acquirer_id: h.acquirer,
      merchant_id: h.merchant,
      rule_id: h.rule,
      window_start: chTime(h.windowStart),
      window_end: chTime(h.windowStart + 86_400_000),
      hit_id: `${h.rule}:${h.merchant}:${h.windowStart}`,
      rule_version: 1,
      category: 'fraud',
      observed: h.observed ?? 0.9,
      threshold: h.threshold ?? 0.8,
      sample_txn_ids: h.samples ?? [],
      detail: `${h.rule} fired`,
      config_hash: 'test',
      detected_at: chTime(h.windowStart + 3_600_000),
      written_at: chTime(Date.now()),
    })),
  )
}

export async function seedTransactions(store: Store, txns: readonly TerminalTransaction[]): Promise<void> {
  await insertTransactions(
    store,
    txns.map((txn, i) => ({ txn, topic: 'test', partition: 0, offset: String(i) })),
    { timeZoneOf: () => '+08:00', now: Date.now() },
  )
}

export async function seedMerchantEvents(store: Store, events: readonly MerchantEvent[]): Promise<void> {
  await insertMerchantEvents(
    store,
    events.map((event, i) => ({ event, topic: 'test', partition: 0, offset: String(i) })),
    { timeZoneOf: () => '+08:00', now: Date.now() },
  )
}
