import type { HitUpdate } from '../rules/engine/engine.ts'
import type { Store } from './client.ts'
import { insertRows } from './json-rows.ts'
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
  const rows = [...latest.values()].map((h) => ({
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
  }))
  await insertRows(store, 'rule_hits', rows)
  return latest.size
}
