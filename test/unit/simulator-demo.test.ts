import { describe, expect, it } from 'vitest'
import { buildRulesConfig, createEngine } from '../../rules/engine/config.ts'
import type { HitUpdate } from '../../rules/engine/engine.ts'
import { activitiesOf } from '../../rules/entity/activity.ts'
import { EntityEngine } from '../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { ruleHitOf } from '../../rules/hits.ts'
import { RULES } from '../../rules/index.ts'
import { incomingHitOf } from '../../scoring/hits.ts'
import { applyHit, emptyMerchantState, levelRank, type MerchantScoreState } from '../../scoring/model.ts'
import { TrafficSimulator } from '../../simulator/generator.ts'

const NOW = Date.UTC(2026, 10, 22, 2, 0, 0)
const MINUTE = 60_000

/**
 * What `npm start` does with its own traffic, in process: 200 merchants at 50 sales a second from a cold
 * store (no baselines), through every rule and the scorer, then a restart (another run id) continuing
 * the traffic. Legitimate traffic must leave every merchant below MEDIUM and raise no alert.
 */
describe("npm start's demo traffic", () => {
  it('stays below MEDIUM for every merchant, across a restart', () => {
    const config = buildRulesConfig({}, RULES, 'demo', ENTITY_RULES)
    const engine = createEngine(config, { timeZoneOf: () => '+08:00', allowedLatenessMs: 6 * 3_600_000 })
    const entities = new EntityEngine({
      rules: config.entityRules,
      isWhitelisted: config.isWhitelisted,
      configHash: config.hash,
    })
    const states = new Map<string, MerchantScoreState>()
    const fired = new Map<string, number>()
    let alerts = 0
    const score = (hits: readonly HitUpdate[]) => {
      for (const h of hits) {
        fired.set(h.ruleId, (fired.get(h.ruleId) ?? 0) + 1)
        let s = states.get(h.merchantId)
        if (s === undefined) {
          s = emptyMerchantState(h.acquirerId, h.merchantId)
          states.set(h.merchantId, s)
        }
        alerts += applyHit(config.scoring, s, incomingHitOf(ruleHitOf(h))).alerts.length
      }
    }
    const run = (runId: string, from: number, minutes: number) => {
      const sim = new TrafficSimulator({ seed: 42, merchants: 200, runId })
      for (const e of sim.lifecycle(from)) score(engine.onMerchantEvent(e))
      for (let s = 0; s < minutes * 60; s++)
        for (let k = 0; k < 50; k++) {
          const t = sim.next(from + s * 1000)
          score(engine.onTransaction(t))
          for (const r of activitiesOf({ kind: 'transactions', items: [t] })) {
            score(entities.onRecord(r))
            for (const d of entities.takeDerived()) score(entities.onRecord(d))
          }
        }
    }
    // Six minutes of traffic; the service restarts a minute later with a new run id (service.ts: seed and
    // start time) and runs on: a generator that replayed its stream would swipe the same cards at the
    // same shops seven minutes apart, the playbook's pause.
    run(`42-${NOW.toString(36)}`, NOW, 6)
    const restart = NOW + 7 * MINUTE
    run(`42-${restart.toString(36)}`, restart, 6)

    const flagged = [...states.values()].filter(
      (s) => levelRank(s.fraud.level ?? 'LOW') >= 1 || levelRank(s.compliance.level ?? 'LOW') >= 1,
    )
    expect(flagged.map((s) => s.merchantId)).toEqual([])
    expect(alerts).toBe(0)
    // The playbook's own traces never fire on shoppers, restart or not.
    for (const rule of ['swipe_gap', 'repeated_card', 'structuring', 'decline_ratio', 'card_ring'])
      expect(fired.get(rule) ?? 0).toBe(0)
  }, 120_000)
})
