import { describe, expect, it } from 'vitest'
import { binConcentration } from '../../../rules/bin-concentration.ts'
import { cardRecurrence } from '../../../rules/card-recurrence.ts'
import { creditDebitMix } from '../../../rules/credit-debit-mix.ts'
import { dailyVolume } from '../../../rules/daily-volume.ts'
import { declineRatio } from '../../../rules/decline-ratio.ts'
import { buildRulesConfig, createEngine } from '../../../rules/engine/config.ts'
import type { HitUpdate, RuleEngine } from '../../../rules/engine/engine.ts'
import type { ParamSpecs } from '../../../rules/engine/params.ts'
import { type RegisteredRule, register } from '../../../rules/engine/registry.ts'
import type { RuleDefinition } from '../../../rules/engine/types.ts'
import { highTicket } from '../../../rules/high-ticket.ts'
import { RULES } from '../../../rules/index.ts'
import { mccMismatch } from '../../../rules/mcc-mismatch.ts'
import { nearRoundAmount } from '../../../rules/near-round-amount.ts'
import { newMerchantRamp } from '../../../rules/new-merchant-ramp.ts'
import { nightShare } from '../../../rules/night-share.ts'
import { relocation } from '../../../rules/relocation.ts'
import { repeatedCard } from '../../../rules/repeated-card.ts'
import { roundAmount } from '../../../rules/round-amount.ts'
import { settlementChurn } from '../../../rules/settlement-churn.ts'
import { structuring } from '../../../rules/structuring.ts'
import { swipeGap } from '../../../rules/swipe-gap.ts'
import { terminalSharing } from '../../../rules/terminal-sharing.ts'
import { hostileBaseline, hostilePeers, hostileTraffic, type TrafficEvent } from './traffic.ts'

/**
 * The engine skips evaluating a rule when the event left its state as it was, its context did not
 * change and it found nothing last time. The proof that this changes no finding: the same hostile
 * traffic through the catalogue as registered, and through the same rules made to be evaluated on
 * every event (no "unchanged" answer from onTransaction, the full clock), must give the same hit
 * updates, in the same order, with the same content.
 */

/** The rule, evaluated after every event: it never reports its state unchanged. */
function alwaysEvaluated<PS extends ParamSpecs, S extends object>(
  rule: RuleDefinition<PS, S>,
): RegisteredRule {
  return register({
    ...rule,
    clock: 'time',
    onTransaction: (state, txn, ctx) => {
      rule.onTransaction?.(state, txn, ctx)
    },
  })
}

const CATALOGUE = [
  alwaysEvaluated(creditDebitMix),
  alwaysEvaluated(repeatedCard),
  alwaysEvaluated(swipeGap),
  alwaysEvaluated(cardRecurrence),
  alwaysEvaluated(roundAmount),
  alwaysEvaluated(nearRoundAmount),
  alwaysEvaluated(structuring),
  alwaysEvaluated(dailyVolume),
  alwaysEvaluated(highTicket),
  alwaysEvaluated(nightShare),
  alwaysEvaluated(newMerchantRamp),
  alwaysEvaluated(relocation),
  alwaysEvaluated(mccMismatch),
  alwaysEvaluated(settlementChurn),
  alwaysEvaluated(terminalSharing),
  alwaysEvaluated(declineRatio),
  alwaysEvaluated(binConcentration),
]

const RELOADED = {
  rules: { round_amount: { roundShareFloor: 0.2 }, night_share: { nightEndHour: 6 } },
  mcc: { '5411': { credit_debit_mix: { minSales: 10 } } },
}

interface Setup {
  seed: number
  timeZone: string
  allowedLatenessMs: number
}

function run(registry: readonly RegisteredRule[], traffic: readonly TrafficEvent[], s: Setup) {
  const raw = {
    whitelist: [
      {
        acquirer_id: 'acq-a',
        merchant_id: `fz-${s.seed}-2`,
        rule_id: 'round_amount',
        reason: 'differential test',
        expires_at: '2026-02-15T00:00:00Z',
      },
    ],
  }
  const config = buildRulesConfig(raw, registry)
  const engine: RuleEngine = createEngine(config, {
    timeZoneOf: () => s.timeZone,
    allowedLatenessMs: s.allowedLatenessMs,
    peersOf: (_acquirer, mcc) => hostilePeers(mcc),
    baselineOf: (_acquirer, merchant) => hostileBaseline(merchant),
  })
  const hits: { at: number; hit: HitUpdate }[] = []
  traffic.forEach((e, at) => {
    const out = 'txn' in e ? engine.onTransaction(e.txn) : engine.onMerchantEvent(e.merchant)
    for (const hit of out) hits.push({ at, hit })
    // Peers refreshed and a configuration reloaded mid-stream, as the service does.
    if (at === 2_000 || at === 5_000) engine.referencesChanged()
    if (at === 4_000) {
      const reloaded = buildRulesConfig({ ...RELOADED, ...raw }, registry)
      engine.reconfigure({ layersOf: reloaded.layersOf, configHash: reloaded.hash })
    }
  })
  return { hits, stats: engine.stats }
}

describe('skipping evaluations of unchanged rules', () => {
  it('covers the whole registered catalogue', () => {
    expect(CATALOGUE.map((r) => r.meta.id)).toEqual(RULES.map((r) => r.meta.id))
  })

  it.each<Setup>([
    { seed: 1, timeZone: '+08:00', allowedLatenessMs: 6 * 3_600_000 },
    { seed: 2, timeZone: '+08:00', allowedLatenessMs: 6 * 3_600_000 },
    { seed: 3, timeZone: 'America/New_York', allowedLatenessMs: 12 * 86_400_000 },
    { seed: 4, timeZone: '-03:30', allowedLatenessMs: 0 },
  ])('finds exactly what evaluating on every event finds (%o)', (setup) => {
    const traffic = hostileTraffic(setup.seed, 8_000)
    const optimised = run(RULES, traffic, setup)
    const reference = run(CATALOGUE, traffic, setup)
    expect(reference.stats.skippedEvaluations).toBe(0)
    // The traffic exercises the skip path, and every rule fires in it at least once over the seeds.
    expect(optimised.stats.skippedEvaluations).toBeGreaterThan(optimised.stats.evaluations / 10)
    expect(optimised.hits.length).toBeGreaterThan(100)
    expect(optimised.hits).toEqual(reference.hits)
  })

  it('sees every rule fire on the hostile traffic', () => {
    const fired = new Set<string>()
    for (const seed of [1, 2, 3]) {
      const setup = { seed, timeZone: '+08:00', allowedLatenessMs: 6 * 3_600_000 }
      for (const { hit } of run(RULES, hostileTraffic(seed, 8_000), setup).hits) fired.add(hit.ruleId)
    }
    expect([...fired].sort()).toEqual(RULES.map((r) => r.meta.id).sort())
  })
})
