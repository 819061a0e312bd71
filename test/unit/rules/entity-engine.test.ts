import { describe, expect, it } from 'vitest'
import { buildRulesConfig, createEngine } from '../../../rules/engine/config.ts'
import type { HitUpdate } from '../../../rules/engine/engine.ts'
import {
  type ActivityRecord,
  activitiesOf,
  applyMerchantEvent,
  decodeActivity,
  encodeActivity,
  merchantEventActivities,
} from '../../../rules/entity/activity.ts'
import { activityWanted, buildEntityRules, EntityEngine } from '../../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../../rules/entity/index.ts'
import { RULES } from '../../../rules/index.ts'
import { sampleMerchantEvent, sampleTxn } from '../../helpers/events.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 1, 4)

let seq = 0
function rec(
  kind: ActivityRecord['kind'],
  key: string,
  merchantId: string,
  at: number,
  more: Partial<ActivityRecord> = {},
): ActivityRecord {
  seq++
  return { id: `r${seq}`, kind, key, acquirerId: 'acq-1', merchantId, at, ...more }
}
const card = (m: string, at: number, key = 'tok-1') => rec('card', key, m, at)
const account = (m: string, at: number, key = 'acct-1', bound?: boolean) =>
  rec('account', key, m, at, bound === undefined ? {} : { bound })
const bind = (m: string, at: number, bound = true, key = 'T-1') => rec('terminal', key, m, at, { bound })
/** An account record with the merchant's registered MCC on it, as the rules stage publishes it. */
const trade = (r: ActivityRecord, mcc: string): ActivityRecord => ({ ...r, bound: true, mcc })

/** A large approved sale of card `key` at merchant `m`, as ingest publishes it. */
const sale = (m: string, at: number, key: string, amount = 5_000) => rec('card', key, m, at, { amount })

function run(records: readonly ActivityRecord[], opts: { raw?: unknown; whitelisted?: string[] } = {}) {
  const engine = new EntityEngine({
    rules: buildEntityRules(opts.raw ?? {}, ENTITY_RULES),
    isWhitelisted: (_a, m) => opts.whitelisted?.includes(m) ?? false,
    configHash: 'test',
  })
  const hits: HitUpdate[] = []
  const derived: ActivityRecord[] = []
  for (const r of records) {
    hits.push(...engine.onRecord(r))
    // The stage publishes derived records to the topic and reads them back; here they go straight in.
    for (const d of engine.takeDerived()) {
      derived.push(d)
      hits.push(...engine.onRecord(d))
    }
  }
  // The rows a store would keep: the last update per hit id.
  const rows = new Map<string, HitUpdate>()
  for (const h of hits) rows.set(h.hitId, h)
  return { hits, rows: [...rows.values()], engine, derived }
}

const merchantsOf = (rows: readonly HitUpdate[], ruleId: string) => [
  ...new Set(
    rows
      .filter((h) => h.ruleId === ruleId)
      .map((h) => h.merchantId)
      .sort(),
  ),
]

/** `cards` cards, each with a large purchase at every merchant of `merchants` on each of `visits` days. */
function farmed(merchants: readonly string[], cards: number, visits: number, prefix = 'farm', from = T0) {
  const out: ActivityRecord[] = []
  for (let v = 0; v < visits; v++)
    for (let c = 0; c < cards; c++)
      merchants.forEach((m, i) => {
        out.push(sale(m, from + v * 3 * DAY + i * DAY + c * 60_000, `${prefix}-${c}`))
      })
  return out.sort((a, b) => a.at - b.at)
}

describe('card_ring', () => {
  const cases: { name: string; records: ActivityRecord[]; fired: string[] }[] = [
    {
      name: 'ten cards farmed at three merchants, each back on several days: all three fire',
      records: farmed(['A', 'B', 'C'], 10, 3),
      fired: ['A', 'B', 'C'],
    },
    {
      name: 'the same cards shopping once at each merchant: not repeat customers, silent',
      records: farmed(['A', 'B', 'C'], 10, 1),
      fired: [],
    },
    {
      name: 'regulars back every day with small baskets at two shops: not large, silent',
      records: farmed(['A', 'B'], 20, 5).map((r) => ({ ...r, amount: 80 })),
      fired: [],
    },
    {
      name: 'a neighbour sharing 5 of 30 repeat customers: under the count floor, silent',
      records: [...farmed(['A'], 25, 3, 'own'), ...farmed(['A', 'B'], 5, 3, 'both')].sort(
        (a, b) => a.at - b.at,
      ),
      fired: [],
    },
    {
      name: 'wholesalers sharing 9 of 20 business customers: under half, silent',
      records: [
        ...farmed(['A'], 11, 3, 'a'),
        ...farmed(['B'], 11, 3, 'b'),
        ...farmed(['A', 'B'], 9, 3, 'both'),
      ].sort((a, b) => a.at - b.at),
      fired: [],
    },
    {
      name: 'repeat visits 40 days apart: outside the 30-day window, silent',
      records: [
        ...farmed(['A', 'B'], 10, 1, 'slow', T0),
        ...farmed(['A', 'B'], 10, 1, 'slow', T0 + 40 * DAY),
      ],
      fired: [],
    },
  ]
  it.each(cases)('$name', ({ records, fired }) => {
    expect(merchantsOf(run(records).rows, 'card_ring')).toEqual(fired)
  })

  it('derives links keyed by merchant from card state, which survive the topic', () => {
    const { derived } = run(farmed(['A', 'B'], 1, 2))
    expect(derived.length).toBeGreaterThan(0)
    for (const d of derived) {
      expect(d.kind).toBe('link')
      expect(d.key).toBe(d.merchantId)
      expect(d.card).toBe('farm-0')
      expect(decodeActivity(encodeActivity(d))).toEqual({ ok: true, record: d })
    }
    expect(
      new Set(derived.filter((d) => d.partner !== undefined).map((d) => `${d.merchantId}>${d.partner}`)),
    ).toEqual(new Set(['A>B', 'B>A']))
  })

  it('reports evidence: the shared cards, the partners, sample sales; one row per merchant as it grows', () => {
    const records = farmed(['A', 'B', 'C'], 10, 3)
    const { rows } = run(records)
    const a = rows.filter((h) => h.merchantId === 'A')
    expect(a).toHaveLength(1)
    const finding = a[0]?.finding
    expect(finding?.observed).toBe(1)
    expect(finding?.threshold).toBe(0.5)
    expect(finding?.detail).toMatch(
      /^10 of the merchant's 10 repeat large-ticket cards .* are repeat large-ticket cards at [BC] too \(100%\); 2 merchant\(s\) share 8\+ of them/,
    )
    expect(finding?.sampleTxnIds).toHaveLength(5)
    for (const id of finding?.sampleTxnIds ?? []) expect(records.some((r) => r.id === id)).toBe(true)
    expect(a[0]?.category).toBe('fraud')
  })

  it('counts a duplicate record once', () => {
    const records = farmed(['A', 'B', 'C'], 10, 3)
    const once = run(records).rows
    const twice = run([...records, ...records]).rows
    expect(twice.map((h) => [h.merchantId, h.finding.observed, h.finding.detail])).toEqual(
      once.map((h) => [h.merchantId, h.finding.observed, h.finding.detail]),
    )
  })

  it('keeps cards of different acquirers apart', () => {
    const records = farmed(['A', 'B'], 10, 3).map((r) =>
      r.merchantId === 'B' ? { ...r, acquirerId: 'acq-2' } : r,
    )
    expect(run(records).rows.filter((h) => h.ruleId === 'card_ring')).toEqual([])
  })

  it('keeps a bounded view of a card seen at many merchants', () => {
    const many = Array.from({ length: 40 }, (_, i) => sale(`M${i}`, T0 + i * 3_600_000, 'shopper'))
    const { engine } = run([...many, ...many.map((r) => ({ ...r, id: `${r.id}b`, at: r.at + DAY }))])
    // One card entity; links only to the merchants it kept (the 16 most recent).
    expect(engine.stats.entities).toBeLessThanOrEqual(1 + 16)
  })

  it('honours its parameters and the whitelist', () => {
    const records = farmed(['A', 'B', 'C'], 10, 3)
    expect(run(records, { raw: { rules: { card_ring: { minSharedCards: 11 } } } }).rows).toEqual([])
    expect(merchantsOf(run(records, { whitelisted: ['B'] }).rows, 'card_ring')).toEqual(['A', 'C'])
  })

  it('takes reloaded parameters in place, keeping what it has seen', () => {
    const engine = new EntityEngine({
      rules: buildEntityRules({ rules: { card_ring: { minSharedCards: 20 } } }, ENTITY_RULES),
      isWhitelisted: () => false,
      configHash: 'before',
    })
    const apply = (r: ActivityRecord) => [
      ...engine.onRecord(r),
      ...engine.takeDerived().flatMap((d) => engine.onRecord(d)),
    ]
    expect(farmed(['A', 'B'], 10, 3).flatMap(apply)).toEqual([])
    engine.reconfigure({
      rules: buildEntityRules({ rules: { card_ring: { minSharedCards: 5 } } }, ENTITY_RULES),
      configHash: 'after',
    })
    const hits = farmed(['A', 'B'], 1, 2, 'late', T0 + 10 * DAY).flatMap(apply)
    expect(merchantsOf(hits, 'card_ring')).toEqual(['A', 'B'])
    expect(new Set(hits.map((h) => h.configHash))).toEqual(new Set(['after']))
    expect(() => engine.reconfigure({ rules: buildEntityRules({}, ENTITY_RULES).slice(1) })).toThrow(
      /same rules/,
    )
  })

  it('rejects unknown rules and bad parameters with their path', () => {
    expect(() => buildEntityRules({ rules: { card_ring: { minSharedCards: 1 } } }, ENTITY_RULES)).toThrow(
      /entity\.rules\.card_ring\.minSharedCards/,
    )
    expect(() => buildEntityRules({ rules: { nope: {} } }, ENTITY_RULES)).toThrow(
      /entity\.rules\.nope: unknown rule/,
    )
  })
})

describe('shared_settlement_account', () => {
  it('fires for 3 merchants bound to one account within 90 days, even when whitelisted', () => {
    const records = [account('A', T0), account('B', T0 + 30 * DAY), account('C', T0 + 80 * DAY)]
    const { rows } = run(records, { whitelisted: ['A', 'B', 'C'] })
    expect(merchantsOf(rows, 'shared_settlement_account')).toEqual(['A', 'B', 'C'])
    expect(rows[0]?.category).toBe('compliance')
  })

  it('does not fire for a merchant re-confirming its own account', () => {
    const records = [
      account('A', T0),
      account('A', T0 + DAY),
      account('A', T0 + 2 * DAY),
      account('B', T0 + 3 * DAY),
    ]
    expect(run(records).rows).toEqual([])
  })

  it('does not fire when the bindings are more than 90 days apart and the merchants share a trade', () => {
    const records = [
      trade(account('A', T0), '5942'),
      trade(account('B', T0 + 50 * DAY), '5942'),
      trade(account('C', T0 + 91 * DAY), '5943'),
    ]
    expect(run(records).rows).toEqual([])
  })

  it('fires for merchants of three trades bound now, bound years apart (an account bound at onboarding)', () => {
    const records = [
      trade(account('A', T0), '5812'),
      trade(account('B', T0 + 400 * DAY), '5732'),
      trade(account('C', T0 + 900 * DAY), '5995'),
    ]
    const { rows } = run(records)
    expect(merchantsOf(rows, 'shared_settlement_account')).toEqual(['A', 'B', 'C'])
    const hit = rows.find((h) => h.merchantId === 'A')
    expect(hit?.finding.observed).toBe(3)
    expect(hit?.finding.windowStart).toBe(T0 + 900 * DAY)
    expect(hit?.finding.detail).toBe(
      'One settlement account is bound now to 3 merchants of 3 different registered MCCs: this merchant and 2 other merchant(s).',
    )
  })

  it('counts a chain of one trade once, and only the merchants still bound', () => {
    const chain = [
      trade(account('A', T0), '5812'),
      trade(account('A2', T0 + 100 * DAY), '5812'),
      trade(account('B', T0 + 400 * DAY), '5732'),
    ]
    expect(run(chain).rows).toEqual([])
    // A third trade joins, then leaves for another account: silent again, and no new hit.
    const joined = [...chain, trade(account('C', T0 + 900 * DAY), '5995')]
    expect(merchantsOf(run(joined).rows, 'shared_settlement_account')).toEqual(['A', 'A2', 'B', 'C'])
    const left = [...joined, account('C', T0 + 1_000 * DAY, 'acct-1', false)]
    const { hits } = run(left)
    expect(hits.filter((h) => h.finding.windowStart !== T0 + 900 * DAY)).toEqual([])
    // Without C, the account is bound to two trades: a later record of it finds nothing.
    const after = [...left, trade(account('A', T0 + 1_001 * DAY), '5812')]
    expect(run(after).hits.filter((h) => h.finding.windowEnd > T0 + 1_000 * DAY)).toEqual([])
  })

  it('publishes a shared account afresh each day it stays shared, with nothing new on the account', () => {
    const records = [
      trade(account('A', T0), '5812'),
      trade(account('B', T0 + DAY), '5732'),
      trade(account('C', T0 + 2 * DAY), '5995'),
      // Other activity moves the engine's clock over the next three days.
      ...Array.from({ length: 36 }, (_, i) => card('X', T0 + 2 * DAY + (i + 1) * 2 * 3_600_000, `tok-${i}`)),
    ]
    const { hits } = run(records)
    const ofA = hits.filter((h) => h.ruleId === 'shared_settlement_account' && h.merchantId === 'A')
    // UTC days after T0's: the window ends with the clock's UTC day.
    const dayOf = (t: number) => Math.floor(t / DAY) - Math.floor(T0 / DAY)
    // One hit (one window start), a version per day: found on day 2, then on days 3, 4 and 5.
    expect(new Set(ofA.map((h) => h.hitId)).size).toBe(1)
    expect(ofA.map((h) => dayOf(h.detectedAt))).toEqual([2, 3, 4, 5])
  })

  it('keeps a binding of years ago that arrives after a newer one of another merchant', () => {
    // Lifecycle events of different merchants come through different partitions: a backfill of
    // onboardings reaches the account in any order.
    const records = [
      trade(account('C', T0 + 900 * DAY), '5995'),
      trade(account('A', T0), '5812'),
      trade(account('B', T0 + 400 * DAY), '5732'),
    ]
    const { rows, engine } = run(records)
    expect(merchantsOf(rows, 'shared_settlement_account')).toEqual(['A', 'B', 'C'])
    expect(engine.stats.tooOld).toBe(0)
    // A's leaving, as old as it is, still counts: the account has two trades bound after it, and a
    // merchant of one of them joining finds nothing more. (A merchant's own events come in order,
    // through its own partition.)
    const before = run(records).hits.length
    const left = run([
      ...records,
      account('A', T0 + 500 * DAY, 'acct-1', false),
      trade(account('D', T0 + 901 * DAY), '5995'),
    ])
    expect(left.hits.length).toBe(before)
  })

  it('reads an account record of an earlier version (no bound) as a binding', () => {
    const records = [account('A', T0), account('B', T0 + DAY), account('C', T0 + 2 * DAY)]
    expect(records.every((r) => r.bound === undefined)).toBe(true)
    expect(merchantsOf(run(records).rows, 'shared_settlement_account')).toEqual(['A', 'B', 'C'])
  })
})

describe('account activity of lifecycle events', () => {
  const at = (days: number) => T0 + days * DAY
  const state = (account: string | null, since: number, mcc: string | null = '5411') => ({
    account,
    since,
    mcc,
  })
  const changed = (id: string, days: number, token: string) =>
    sampleMerchantEvent({
      event_id: id,
      event_time: at(days),
      kind: 'SETTLEMENT_ACCOUNT_CHANGED',
      registered_mcc: null,
      settlement_account_token: token,
    })
  const brief = (rs: readonly ActivityRecord[]) => rs.map((r) => [r.id, r.key, r.at, r.bound, r.mcc])

  it('binds the new account and leaves the one it replaces', () => {
    const records = merchantEventActivities(
      changed('e1', 10, 'acct-new'),
      state('acct-old', at(0)),
      state('acct-new', at(10)),
    )
    expect(brief(records)).toEqual([
      ['e1', 'acct-new', at(10), true, '5411'],
      ['e1', 'acct-old', at(10), false, undefined],
    ])
  })

  it('binds the account of a late change and leaves it when the current account was set', () => {
    const records = merchantEventActivities(
      changed('e1', 5, 'acct-mid'),
      state('acct-new', at(10)),
      state('acct-new', at(10)),
    )
    expect(brief(records)).toEqual([
      ['e1', 'acct-mid', at(5), true, '5411'],
      ['e1~left', 'acct-mid', at(10), false, undefined],
    ])
  })

  it('re-confirming the same account leaves nothing; closing leaves the current account', () => {
    expect(
      brief(
        merchantEventActivities(changed('e1', 10, 'acct-1'), state('acct-1', at(0)), state('acct-1', at(10))),
      ),
    ).toEqual([['e1', 'acct-1', at(10), true, '5411']])
    const closed = sampleMerchantEvent({
      event_id: 'e2',
      event_time: at(20),
      kind: 'CLOSED',
      registered_mcc: null,
    })
    expect(brief(merchantEventActivities(closed, state('acct-1', at(10)), state('acct-1', at(10))))).toEqual([
      ['e2', 'acct-1', at(20), false, undefined],
    ])
  })

  it("reads the account left from the rule engine's own state, applying the event to it", () => {
    const engine = createEngine(buildRulesConfig({}, RULES), {
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 0,
    })
    const onboarded = sampleMerchantEvent({
      event_id: 'on',
      event_time: at(0),
      settlement_account_token: 'acct-old',
    })
    expect(brief(applyMerchantEvent(engine, onboarded).records)).toEqual([
      ['on', 'acct-old', at(0), true, '5411'],
    ])
    const moved = applyMerchantEvent(engine, changed('ch', 10, 'acct-new'))
    expect(brief(moved.records)).toEqual([
      ['ch', 'acct-new', at(10), true, '5411'],
      ['ch', 'acct-old', at(10), false, undefined],
    ])
    expect(engine.accountOf('acq-1', 'mer-42')).toEqual({ account: 'acct-new', since: at(10), mcc: '5411' })
  })

  it('without the engine state (a merchant it does not hold), binds only', () => {
    expect(brief(merchantEventActivities(changed('e1', 10, 'acct-new'), null, null))).toEqual([
      ['e1', 'acct-new', at(10), true, undefined],
    ])
  })

  it('round-trips the bound flag and the MCC of an account record through the topic', () => {
    const r: ActivityRecord = { ...account('A', T0), bound: false, mcc: '5812' }
    expect(decodeActivity(encodeActivity(r))).toEqual({ ok: true, record: r })
    expect(decodeActivity(Buffer.from(JSON.stringify({ ...r, bound: 'yes' })))).toEqual({
      ok: false,
      problem: 'bound must be a boolean',
    })
  })
})

describe('shared_terminal', () => {
  it('fires for a terminal bound to two merchants once the overlap outlasts the grace', () => {
    const records = [bind('A', T0), bind('B', T0 + DAY), card('X', T0 + DAY + 2 * 3_600_000, 'tok-clock')]
    const { rows } = run(records)
    expect(merchantsOf(rows, 'shared_terminal')).toEqual(['A', 'B'])
    expect(rows.find((h) => h.merchantId === 'A')?.finding.windowStart).toBe(T0 + DAY)
  })

  it('fires at once with no grace', () => {
    const raw = { rules: { shared_terminal: { graceMinutes: 0 } } }
    expect(merchantsOf(run([bind('A', T0), bind('B', T0 + DAY)], { raw }).rows, 'shared_terminal')).toEqual([
      'A',
      'B',
    ])
  })

  it('fires when the owner was bound long before the entity window, whatever happened in between', () => {
    const raw = { rules: { shared_terminal: { graceMinutes: 0 } } }
    // Other terminals' activity moves the clock on, so sweeps of idle entities run in between.
    const traffic = Array.from({ length: 40 }, (_, i) => card('X', T0 + (i + 1) * 5 * DAY, `tok-${i}`))
    const records = [bind('A', T0), bind('A', T0 + DAY, false), bind('A', T0 + 2 * DAY), ...traffic]
    records.push(bind('B', T0 + 200 * DAY))
    const { rows, engine } = run(records, { raw })
    expect(merchantsOf(rows, 'shared_terminal')).toEqual(['A', 'B'])
    expect(rows.find((h) => h.merchantId === 'B')?.finding.windowStart).toBe(T0 + 200 * DAY)
    // An unbound terminal is still forgotten once idle for longer than the window.
    const idle = run([bind('C', T0, true, 'T-2'), bind('C', T0 + DAY, false, 'T-2'), ...traffic])
    expect(idle.engine.entityCount).toBeLessThan(engine.entityCount)
  })

  it('publishes a terminal afresh each day it stays shared, with nothing new on the terminal', () => {
    const records = [
      bind('A', T0),
      bind('B', T0 + DAY),
      // Other activity moves the engine's clock over the next three days.
      ...Array.from({ length: 36 }, (_, i) => card('X', T0 + DAY + (i + 1) * 2 * 3_600_000, `tok-${i}`)),
    ]
    const { hits } = run(records)
    const ofA = hits.filter((h) => h.ruleId === 'shared_terminal' && h.merchantId === 'A')
    const dayOf = (t: number) => Math.floor(t / DAY) - Math.floor(T0 / DAY)
    // One hit (one overlap), found on day 1 once the grace passed, then a version on days 2, 3 and 4.
    expect(new Set(ofA.map((h) => h.hitId)).size).toBe(1)
    expect(ofA.map((h) => dayOf(h.detectedAt))).toEqual([1, 2, 3, 4])
    expect(ofA.at(-1)?.finding.detail).toContain('still bound')
  })

  it('stops publishing a shared terminal once the overlap ends', () => {
    const records = [
      bind('A', T0),
      bind('B', T0 + DAY),
      card('X', T0 + DAY + 2 * 3_600_000, 'tok-clock'),
      bind('B', T0 + 2 * DAY, false),
      ...Array.from({ length: 36 }, (_, i) => card('X', T0 + 2 * DAY + (i + 1) * 2 * 3_600_000, `tok-${i}`)),
    ]
    const ofA = run(records).hits.filter((h) => h.ruleId === 'shared_terminal' && h.merchantId === 'A')
    // The ongoing version, then the closed one (ending at the unbinding), and nothing after it.
    expect(ofA.at(-1)?.finding.windowEnd).toBe(T0 + 2 * DAY)
    expect(ofA.every((h) => h.detectedAt <= T0 + 2 * DAY + 2 * 3_600_000)).toBe(true)
  })

  it('does not fire for bound, unbound, then bound elsewhere', () => {
    const records = [
      bind('A', T0),
      bind('A', T0 + DAY, false),
      bind('B', T0 + 2 * DAY),
      card('X', T0 + 9 * DAY),
    ]
    expect(run(records).rows).toEqual([])
  })

  it('does not fire when the unbinding arrives after the next binding (out of order)', () => {
    const records = [
      bind('A', T0),
      bind('B', T0 + 2 * DAY),
      bind('A', T0 + DAY, false),
      card('X', T0 + 9 * DAY),
    ]
    expect(run(records).rows).toEqual([])
  })

  it('does not fire for a handover recorded within the grace', () => {
    const records = [
      bind('A', T0),
      bind('B', T0 + DAY),
      bind('A', T0 + DAY + 30 * 60_000, false),
      card('X', T0 + 9 * DAY),
    ]
    expect(run(records).rows).toEqual([])
  })
})

describe('partitions', () => {
  it('drops the entities of the partitions it no longer owns, and only them', () => {
    const engine = new EntityEngine({
      rules: buildEntityRules({ rules: { shared_terminal: { graceMinutes: 60 } } }, ENTITY_RULES),
      isWhitelisted: () => false,
      configHash: 'test',
    })
    // Partition 1: a farmed card and a terminal shared but not yet for longer than the grace (watched).
    for (const r of farmed(['A', 'B'], 1, 2)) engine.onRecord(r, 1)
    engine.onRecord(bind('A', T0 + 5 * DAY), 1)
    engine.onRecord(bind('B', T0 + 6 * DAY), 1)
    // Partition 2: an account, and a card whose record came from partition 1 before (it moved).
    engine.onRecord(account('C', T0), 2)
    engine.onRecord(sale('C', T0, 'moved'), 1)
    engine.onRecord(sale('C', T0 + DAY, 'moved'), 2)
    expect(engine.entityCount).toBe(4)
    expect(engine.drop((p) => p === 1)).toBe(2)
    expect(engine.entityCount).toBe(2)
    expect(engine.stats.entities).toBe(2)
    // The dropped terminal is no longer re-evaluated by the clock, though it was waiting on it.
    const later = engine.onRecord(account('D', T0 + 7 * DAY, 'acct-2'), 2)
    expect(later.filter((h) => h.ruleId === 'shared_terminal')).toEqual([])
    // A dropped card starts again from nothing: one more sale does not make it a repeat customer.
    expect(engine.takeDerived().some((d) => d.card === 'farm-0')).toBe(true)
    engine.onRecord(sale('A', T0 + 12 * DAY, 'farm-0'), 2)
    expect(engine.takeDerived()).toEqual([])
    expect(engine.drop((p) => p === 2)).toBe(4)
    expect(engine.entityCount).toBe(0)
  })
})

describe('what the rules stage publishes', () => {
  /** Farmed large sales at A and B among small sales of other cards, a shared terminal and accounts. */
  function traffic(): ActivityRecord[] {
    const small: ActivityRecord[] = []
    for (let i = 0; i < 400; i++) {
      const m = ['A', 'B', 'C'][i % 3] as string
      small.push(sale(m, T0 + i * 30 * 60_000 + 7, `small-${i % 37}`, 20 + ((i * 7) % 950)))
    }
    return [
      ...farmed(['A', 'B', 'C'], 10, 3),
      ...small,
      bind('A', T0 + DAY),
      bind('B', T0 + 2 * DAY),
      account('A', T0 + 3 * DAY),
      account('C', T0 + 4 * DAY),
      account('B', T0 + 5 * DAY),
      rec('card', 'no-amount', 'C', T0 + 6 * DAY),
    ].sort((a, b) => a.at - b.at)
  }
  const drop = (h: HitUpdate) => ({ ...h, detectedAt: 0 })

  it('leaves out only records the engine keeps nothing for: the same hits, found at most a clock step earlier', () => {
    const all = traffic()
    const wants = activityWanted(buildEntityRules({}, ENTITY_RULES))
    const kept = all.filter(wants)
    // The small sales and the card without an amount go; large sales, bindings and accounts stay.
    expect(all.length - kept.length).toBe(401)
    const full = run(all)
    const published = run(kept)
    expect(published.derived).toEqual(full.derived)
    expect(new Set(full.hits.map((h) => h.ruleId))).toEqual(
      new Set(['card_ring', 'shared_terminal', 'shared_settlement_account']),
    )
    // An ongoing finding (a terminal or an account shared now) is refreshed by the sweeps, which run
    // when a record moves the clock: with fewer records, fewer days get their version, and the last one
    // ends with the last record's day. The same hits, and only versions the full stream made too.
    const ongoing = (h: HitUpdate) =>
      h.finding.detail.endsWith('still bound.') || h.finding.detail.includes('is bound now')
    const versions = (hits: readonly HitUpdate[]) =>
      new Set(hits.filter(ongoing).map((h) => `${h.hitId} ${h.finding.windowEnd} ${h.finding.detail}`))
    expect(published.hits.filter(ongoing).length).toBeGreaterThan(2)
    expect(new Set(published.hits.map((h) => h.hitId))).toEqual(new Set(full.hits.map((h) => h.hitId)))
    expect([...versions(published.hits)].filter((v) => !versions(full.hits).has(v))).toEqual([])
    // The others are the same updates; only the clock the sweeps run on moves less: a sweep's finding
    // may carry an earlier time.
    const closed = (hits: readonly HitUpdate[]) => hits.filter((h) => !ongoing(h))
    expect(closed(published.hits).map(drop)).toEqual(closed(full.hits).map(drop))
    closed(published.hits).forEach((h, i) => {
      expect(h.detectedAt).toBeLessThanOrEqual(closed(full.hits)[i]?.detectedAt ?? Number.NaN)
    })
  })

  it('follows the engine, reloaded parameters included', () => {
    const records = traffic()
    const raw = (minAmount: number) => ({ rules: { card_ring: { minAmount } } })
    const engine = new EntityEngine({
      rules: buildEntityRules(raw(1_000), ENTITY_RULES),
      isWhitelisted: () => false,
      configHash: 'test',
    })
    const before = activityWanted(buildEntityRules(raw(1_000), ENTITY_RULES))
    expect(records.map((r) => engine.wants(r))).toEqual(records.map(before))
    engine.reconfigure({ rules: buildEntityRules(raw(500), ENTITY_RULES) })
    const after = activityWanted(buildEntityRules(raw(500), ENTITY_RULES))
    expect(records.map((r) => engine.wants(r))).toEqual(records.map(after))
    expect(records.filter(after).length).toBeGreaterThan(records.filter(before).length)
  })
})

describe('activity records', () => {
  it('round-trips and validates', () => {
    const r = bind('A', T0)
    expect(decodeActivity(encodeActivity(r))).toEqual({ ok: true, record: r })
    expect(decodeActivity(Buffer.from('{"id":"x"}')).ok).toBe(false)
    expect(decodeActivity(Buffer.from('nope')).ok).toBe(false)
    expect(decodeActivity(null).ok).toBe(false)
    const noBound = { ...r, bound: undefined }
    expect(decodeActivity(encodeActivity(noBound)).ok).toBe(false)
  })

  it('comes from approved sales, account-setting and binding events', () => {
    const txns = [
      sampleTxn({ txn_id: 't1' }),
      sampleTxn({ txn_id: 't2', response_code: '05' }),
      sampleTxn({ txn_id: 't3', txn_type: 'REFUND' }),
    ]
    expect(activitiesOf({ kind: 'transactions', items: txns }).map((r) => r.id)).toEqual(['t1'])
    const events = [
      sampleMerchantEvent({ event_id: 'e1', settlement_account_token: 'acct-9' }),
      sampleMerchantEvent({ event_id: 'e2', kind: 'TERMINAL_UNBOUND', terminal_id: 'T-7' }),
      sampleMerchantEvent({ event_id: 'e3', kind: 'MCC_CHANGED', registered_mcc: '5999' }),
    ]
    expect(activitiesOf({ kind: 'merchantEvents', items: events })).toEqual([
      {
        id: 'e1',
        kind: 'account',
        key: 'acct-9',
        acquirerId: 'acq-1',
        merchantId: 'mer-42',
        at: events[0]?.event_time,
        bound: true,
        mcc: '5411',
      },
      {
        id: 'e2',
        kind: 'terminal',
        key: 'T-7',
        acquirerId: 'acq-1',
        merchantId: 'mer-42',
        at: events[1]?.event_time,
        bound: false,
      },
    ])
  })
})
