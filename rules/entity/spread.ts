import type { EntityFinding, EntityView } from './engine.ts'

const DAY_MS = 86_400_000

/** Per entity: the start of the current firing episode, or null while the rule is silent. */
export interface SpreadState {
  anchor: number | null
}

/**
 * The measure of shared_settlement_account: distinct merchants whose latest
 * contact with the entity is within `windowDays` of the entity's latest event.
 *
 * The window start reported (and hashed into the hit id) is the start of the firing episode: the
 * earliest counted contact when the rule began to fire, kept while it keeps firing, so a growing
 * finding updates its rows instead of adding one per record. A replay applies the same records in the
 * same partition order and reaches the same anchors.
 */
export function spreadFinding(
  state: SpreadState,
  entity: EntityView,
  windowDays: number,
  minMerchants: number,
  detail: (count: number, others: number) => string,
): EntityFinding | null {
  const from = entity.watermark - windowDays * DAY_MS
  const merchants = new Map<string, readonly string[]>()
  let earliest = Number.POSITIVE_INFINITY
  for (const [m, c] of entity.contacts) {
    if (c.at <= from) continue
    merchants.set(m, [c.id])
    if (c.at < earliest) earliest = c.at
  }
  if (merchants.size < minMerchants) {
    state.anchor = null
    return null
  }
  state.anchor ??= earliest
  const count = merchants.size
  return {
    observed: count,
    threshold: minMerchants,
    windowStart: state.anchor,
    windowEnd: entity.watermark + 1,
    merchants,
    detail: (others) => detail(count, others),
  }
}
