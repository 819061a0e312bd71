import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { asRiskError } from '../lib/errors.ts'
import type { HitUpdate } from '../rules/engine/engine.ts'
import type { Store } from './client.ts'
import { dateTime64 } from './transactions.ts'

/**
 * Writes rule hit updates. A hit is keyed by merchant, rule and window start, so writing an update is
 * an upsert: the table keeps the newest version (see 0002_rule_hits.sql). Within one call only the
 * last update of each hit is sent. Throws RISK_ERR_STORE_WRITE (retriable).
 */
export async function upsertHits(store: Store, hits: readonly HitUpdate[], now: number): Promise<number> {
  const latest = new Map<string, HitUpdate>()
  for (const h of hits) latest.set(h.hitId, h)
  if (latest.size === 0) return 0
  const lines = [...latest.values()].map((h) =>
    JSON.stringify({
      acquirer_id: h.acquirerId,
      merchant_id: h.merchantId,
      rule_id: h.ruleId,
      window_start: dateTime64(h.finding.windowStart),
      window_end: dateTime64(h.finding.windowEnd),
      hit_id: h.hitId,
      rule_version: h.ruleVersion,
      category: h.category,
      observed: h.finding.observed,
      threshold: h.finding.threshold,
      sample_txn_ids: h.finding.sampleTxnIds,
      detail: h.finding.detail,
      config_hash: h.configHash,
      detected_at: dateTime64(h.detectedAt),
      written_at: dateTime64(now),
    }),
  )
  const started = performance.now()
  try {
    const result = await store.client.exec({
      query: 'INSERT INTO {db:Identifier}.rule_hits FORMAT JSONEachRow',
      query_params: { db: store.database },
      values: Readable.from([`${lines.join('\n')}\n`]),
    })
    result.stream.resume()
    await finished(result.stream)
  } catch (e) {
    store.observer?.failed('rule_hits', 'insert')
    throw asRiskError(e, 'RISK_ERR_STORE_WRITE', 'cannot write rule hits', {
      database: store.database,
      table: 'rule_hits',
      rows: latest.size,
    })
  }
  store.observer?.inserted('rule_hits', (performance.now() - started) / 1000)
  return latest.size
}
