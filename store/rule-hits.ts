import type { RuleHit } from '../schemas/types.generated.ts'
import type { Store } from './client.ts'
import { insertRows } from './json-rows.ts'
import { dateTime64 } from './transactions.ts'

/**
 * Writes rule hit updates. A hit is keyed by merchant, rule and window start, so writing an update is
 * an upsert: the table keeps the newest version (see 0002_rule_hits.sql). Within one call only the
 * newest update of each hit is sent. Throws RISK_ERR_STORE_WRITE (retriable).
 */
export async function upsertHits(store: Store, hits: readonly RuleHit[], now: number): Promise<number> {
  const latest = new Map<string, RuleHit>()
  for (const h of hits) {
    // The newest version of each hit, as the table keeps it: the order of a call's hits is the order
    // of one partition, or of several (the sink writes several partitions' parts together).
    const known = latest.get(h.hit_id)
    if (known === undefined || h.detected_at >= known.detected_at) latest.set(h.hit_id, h)
  }
  if (latest.size === 0) return 0
  const rows = [...latest.values()].map((h) => ({
    acquirer_id: h.acquirer_id,
    merchant_id: h.merchant_id,
    rule_id: h.rule_id,
    window_start: dateTime64(h.window_start),
    window_end: dateTime64(h.window_end),
    hit_id: h.hit_id,
    rule_version: h.rule_version,
    category: h.category,
    observed: h.observed,
    threshold: h.threshold,
    sample_txn_ids: h.sample_txn_ids,
    detail: h.detail,
    config_hash: h.config_hash,
    detected_at: dateTime64(h.detected_at),
    written_at: dateTime64(now),
  }))
  await insertRows(store, 'rule_hits', rows)
  return latest.size
}
