import type { EventCodec } from '../kafka/codec.ts'
import { RULE_HIT } from '../schemas/contract.ts'
import type { Basis } from '../schemas/stages.ts'
import type { RuleHit } from '../schemas/types.generated.ts'
import type { IncomingHit } from './model.ts'

/** What scoring reads of a rule hit (schemas/rule-hit.avsc). */
export function incomingHitOf(r: RuleHit): IncomingHit {
  return {
    hitId: r.hit_id,
    acquirerId: r.acquirer_id,
    merchantId: r.merchant_id,
    ruleId: r.rule_id,
    ruleVersion: r.rule_version,
    observed: r.observed,
    threshold: r.threshold,
    windowStart: r.window_start,
    windowEnd: r.window_end,
    sampleTxnIds: r.sample_txn_ids,
    detail: r.detail,
    detectedAt: r.detected_at,
    ...(isBasis(r.basis) ? { basis: r.basis } : {}),
  }
}

const BASES: readonly string[] = ['peers', 'population', 'absolute', 'none'] satisfies Basis[]

function isBasis(b: string | null): b is Basis {
  return b !== null && BASES.includes(b)
}

export type DecodedHit = { ok: true; record: IncomingHit } | { ok: false; problem: string }

/** A rule-hits record as scoring takes it; a record that does not fit the schema is reported, not thrown. */
export async function decodeHit(codec: EventCodec, value: Buffer | null): Promise<DecodedHit> {
  const decoded = await codec.decodeInternal(RULE_HIT, value)
  if (!decoded.ok) return { ok: false, problem: decoded.error.message }
  return { ok: true, record: incomingHitOf(decoded.record) }
}
