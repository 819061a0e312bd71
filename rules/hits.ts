import type { Message } from 'kafkajs'
import type { EventCodec } from '../kafka/codec.ts'
import { RULE_HIT } from '../schemas/contract.ts'
import type { RuleHit } from '../schemas/types.generated.ts'
import type { HitUpdate } from './engine/engine.ts'

/** A hit update as it crosses the rule-hits topic (schemas/rule-hit.avsc). */
export function ruleHitOf(h: HitUpdate): RuleHit {
  return {
    hit_id: h.hitId,
    acquirer_id: h.acquirerId,
    merchant_id: h.merchantId,
    rule_id: h.ruleId,
    rule_version: h.ruleVersion,
    category: h.category,
    observed: h.finding.observed,
    threshold: h.finding.threshold,
    window_start: h.finding.windowStart,
    window_end: h.finding.windowEnd,
    sample_txn_ids: [...h.finding.sampleTxnIds],
    detail: h.finding.detail,
    detected_at: h.detectedAt,
    config_hash: h.configHash,
    basis: h.finding.basis ?? null,
  }
}

/**
 * The messages of a part's hit updates: the last update of each hit only, keyed by merchant, so each
 * merchant's hits, per-merchant and cross-merchant alike, meet on one partition of the scoring stage.
 */
export async function hitMessages(codec: EventCodec, hits: readonly HitUpdate[]): Promise<Message[]> {
  const latest = new Map<string, HitUpdate>()
  for (const h of hits) latest.set(h.hitId, h)
  const out: Message[] = []
  for (const h of latest.values())
    out.push({ key: h.merchantId, value: await codec.encode(RULE_HIT, ruleHitOf(h), 'avro') })
  return out
}
