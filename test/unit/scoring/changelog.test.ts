import { describe, expect, it } from 'vitest'
import { buildRulesConfig } from '../../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../../rules/entity/index.ts'
import { RULES } from '../../../rules/index.ts'
import {
  CHECKPOINT_KEY,
  ChangedStates,
  ChangelogFold,
  type ChangelogRecord,
  encodeCheckpoint,
  hitKeyOf,
  stateKeyOf,
} from '../../../scoring/changelog.ts'
import {
  advanceClock,
  applyHit,
  decayAll,
  emptyMerchantState,
  type MerchantScoreState,
  newDecayClock,
  type ScoredHit,
  type ScoringModel,
} from '../../../scoring/model.ts'
import { prng } from '../../../simulator/generator.ts'
import { jsonWithMaps } from '../../helpers/json.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 1)
const model: ScoringModel = buildRulesConfig({}, RULES, 'test', ENTITY_RULES).scoring
const RULE_IDS = ['repeated_card', 'round_amount', 'credit_debit_mix', 'relocation', 'daily_volume']

/** What compaction leaves: the last record of each key, in the order of those last records. */
function compacted(log: readonly ChangelogRecord[]): ChangelogRecord[] {
  const last = new Map<string, number>()
  for (const [i, r] of log.entries()) last.set(r.key, i)
  return log.filter((r, i) => last.get(r.key) === i)
}

function fold(log: readonly ChangelogRecord[]): ChangelogFold {
  const f = new ChangelogFold()
  for (const r of log) expect(f.take(r.key, r.value)).toBe(true)
  return f
}

/** States as plain data (what JSON keeps), for comparison. */
function plain(states: ReadonlyMap<string, MerchantScoreState>): Record<string, unknown> {
  return JSON.parse(jsonWithMaps(Object.fromEntries([...states].sort(([a], [b]) => (a < b ? -1 : 1)))))
}

/**
 * Drives the scorer as the stage does: parts of random hits over a few merchants and weeks (so hits are
 * updated, and decay forgets some), each part's changes written through ChangedStates.
 */
function run(opts: {
  seed: number
  parts: number
  states?: Map<string, MerchantScoreState>
  legacy?: Set<string>
}) {
  const random = prng(opts.seed)
  const states = opts.states ?? new Map<string, MerchantScoreState>()
  const legacy = opts.legacy ?? new Set<string>()
  const clock = newDecayClock()
  const log: ChangelogRecord[] = []
  const checks: { log: ChangelogRecord[]; states: Record<string, unknown> }[] = []
  let at = T0
  let seq = 0
  for (let part = 0; part < opts.parts; part++) {
    const changed = new ChangedStates()
    for (let i = 0; i < 1 + Math.floor(random() * 6); i++) {
      at += Math.floor(random() * 2 * DAY)
      const tick = advanceClock(clock, at, model.decayTickMs)
      if (tick !== null) for (const [k, o] of decayAll(model, states, tick)) changed.note(k, o, null)
      const merchantId = `m-${Math.floor(random() * 4)}`
      const key = stateKeyOf('acq-a', merchantId)
      let state = states.get(key)
      if (state === undefined) {
        state = emptyMerchantState('acq-a', merchantId)
        states.set(key, state)
      }
      // A third of the hits update one seen before (a rolling window's hit, a replay).
      const hitId = random() < 0.33 && seq > 0 ? `h-${Math.floor(random() * seq)}` : `h-${seq++}`
      const ruleId = RULE_IDS[Math.floor(random() * RULE_IDS.length)] as string
      const outcome = applyHit(model, state, {
        hitId,
        acquirerId: 'acq-a',
        merchantId,
        ruleId,
        ruleVersion: 1,
        observed: random(),
        threshold: 0.5,
        windowStart: at - DAY,
        windowEnd: at,
        sampleTxnIds: [`t-${seq}`],
        detail: `${ruleId} at ${at}`,
        detectedAt: at,
        basis: 'peers',
      })
      changed.note(key, outcome, hitId)
    }
    log.push(...changed.records(states, legacy))
    log.push({ key: CHECKPOINT_KEY, value: encodeCheckpoint(String(part)) })
    checks.push({ log: [...log], states: plain(states) })
  }
  return { states, log, checks }
}

describe('scoring changelog', () => {
  it('gives back the states after every part, read whole or compacted', () => {
    for (const seed of [1, 2, 3]) {
      const { checks, log } = run({ seed, parts: 60 })
      // The run must exercise what it claims to: forgotten hits (tombstones) and updated ones.
      expect(log.some((r) => r.value === null)).toBe(true)
      for (const c of checks) {
        expect(plain(fold(c.log).states())).toEqual(c.states)
        expect(plain(fold(compacted(c.log)).states())).toEqual(c.states)
      }
    }
  })

  it('writes only the hits a part changed, beside the head', () => {
    const states = new Map<string, MerchantScoreState>()
    const key = stateKeyOf('acq-a', 'm-1')
    const state = emptyMerchantState('acq-a', 'm-1')
    states.set(key, state)
    const first = new ChangedStates()
    for (const [i, ruleId] of RULE_IDS.entries()) {
      const id = `h-${i}`
      const o = applyHit(model, state, {
        hitId: id,
        acquirerId: 'acq-a',
        merchantId: 'm-1',
        ruleId,
        ruleVersion: 1,
        observed: 1,
        threshold: 0.5,
        windowStart: T0,
        windowEnd: T0 + DAY,
        sampleTxnIds: ['t-1'],
        detail: ruleId,
        detectedAt: T0 + DAY,
      })
      first.note(key, o, id)
    }
    expect(first.records(states, new Set()).map((r) => r.key)).toEqual([
      ...RULE_IDS.map((_, i) => hitKeyOf(key, `h-${i}`)),
      key,
    ])
    const next = new ChangedStates()
    const o = applyHit(model, state, {
      ...(state.hits.get('h-1') as ScoredHit),
      acquirerId: 'acq-a',
      merchantId: 'm-1',
      detectedAt: T0 + 2 * DAY,
    })
    next.note(key, o, 'h-1')
    const records = next.records(states, new Set())
    expect(records.map((r) => r.key)).toEqual([hitKeyOf(key, 'h-1'), key])
    // The head carries no hits.
    expect(JSON.parse(String(records[1]?.value))).not.toHaveProperty('hits')
  })

  it('reads an earlier version whole-state records, and moves their hits to records on the next change', () => {
    // What the previous version wrote: every merchant's whole state under its key.
    const before = run({ seed: 7, parts: 20 })
    const old: ChangelogRecord[] = [...before.states].map(([key, s]) => ({
      key,
      value: Buffer.from(jsonWithMaps(s), 'utf8'),
    }))
    const restored = fold(old)
    expect(plain(restored.states())).toEqual(plain(before.states))
    const legacy = new Set(restored.legacy)
    expect(legacy.size).toBe(before.states.size)
    // This version goes on from the restored states: hits are updated and forgotten, merchants move on.
    const after = run({ seed: 8, parts: 40, states: restored.states(), legacy })
    expect(legacy.size).toBeLessThan(before.states.size)
    for (const c of after.checks) {
      const log = [...old, ...c.log]
      expect(plain(fold(log).states())).toEqual(c.states)
      // Compaction drops a whole-state record once its merchant's head is rewritten.
      expect(plain(fold(compacted(log)).states())).toEqual(c.states)
    }
    // A restart finds as earlier-version merchants only those this version has not written since.
    expect(fold([...old, ...after.log]).legacy).toEqual(legacy)
  })

  it('skips a record that does not parse, and counts it', () => {
    const f = new ChangelogFold()
    expect(f.take(stateKeyOf('acq-a', 'm-1'), Buffer.from('{"acquirerId":'))).toBe(false)
    expect(f.take(hitKeyOf(stateKeyOf('acq-a', 'm-1'), 'h-1'), Buffer.from('[]'))).toBe(false)
    expect(f.states().size).toBe(0)
  })
})
