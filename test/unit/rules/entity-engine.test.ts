import { describe, expect, it } from 'vitest'
import type { HitUpdate } from '../../../rules/engine/engine.ts'
import {
  type ActivityRecord,
  activitiesOf,
  decodeActivity,
  encodeActivity,
} from '../../../rules/entity/activity.ts'
import { buildEntityRules, EntityEngine } from '../../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../../rules/entity/index.ts'
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
const account = (m: string, at: number, key = 'acct-1') => rec('account', key, m, at)
const bind = (m: string, at: number, bound = true, key = 'T-1') => rec('terminal', key, m, at, { bound })

function run(records: readonly ActivityRecord[], opts: { raw?: unknown; whitelisted?: string[] } = {}) {
  const engine = new EntityEngine({
    rules: buildEntityRules(opts.raw ?? {}, ENTITY_RULES),
    isWhitelisted: (_a, m) => opts.whitelisted?.includes(m) ?? false,
    configHash: 'test',
  })
  const hits: HitUpdate[] = []
  for (const r of records) hits.push(...engine.onRecord(r))
  // The rows a store would keep: the last update per hit id.
  const rows = new Map<string, HitUpdate>()
  for (const h of hits) rows.set(h.hitId, h)
  return { hits, rows: [...rows.values()], engine }
}

const merchantsOf = (rows: readonly HitUpdate[], ruleId: string) =>
  rows
    .filter((h) => h.ruleId === ruleId)
    .map((h) => h.merchantId)
    .sort()

describe('card_spread', () => {
  const cases: { name: string; records: ActivityRecord[]; fired: string[] }[] = [
    {
      name: 'a card at 3 merchants in 7 days fires for each',
      records: [card('A', T0), card('B', T0 + DAY), card('C', T0 + 5 * DAY)],
      fired: ['A', 'B', 'C'],
    },
    {
      name: 'a card at 2 merchants stays silent',
      records: [card('A', T0), card('B', T0 + DAY), card('A', T0 + 2 * DAY)],
      fired: [],
    },
    {
      name: 'spread over more than 7 days stays silent',
      records: [card('A', T0), card('B', T0 + 4 * DAY), card('C', T0 + 8 * DAY)],
      fired: [],
    },
    {
      name: 'a market of regulars at one merchant stays silent',
      records: Array.from({ length: 60 }, (_, i) =>
        card('A', T0 + (i % 7) * DAY + i * 60_000, `tok-${i % 20}`),
      ),
      fired: [],
    },
    {
      name: 'out-of-order records still count by event time',
      records: [card('C', T0 + 5 * DAY), card('A', T0), card('B', T0 + DAY)],
      fired: ['A', 'B', 'C'],
    },
    {
      name: 'a record older than the window behind the card is too old to count',
      records: [card('C', T0 + 20 * DAY), card('B', T0 + 19 * DAY), card('A', T0)],
      fired: [],
    },
  ]
  it.each(cases)('$name', ({ records, fired }) => {
    expect(merchantsOf(run(records).rows, 'card_spread')).toEqual(fired)
  })

  it('counts a duplicate record once', () => {
    const a = card('A', T0)
    const b = card('B', T0 + DAY)
    const { rows, engine } = run([a, b, a, b, b])
    expect(rows).toEqual([])
    expect(engine.stats.duplicates).toBe(3)
  })

  it('reports evidence: observed, threshold, window, samples, detail; one row per merchant as it grows', () => {
    const records = [card('A', T0), card('B', T0 + DAY), card('C', T0 + 2 * DAY), card('D', T0 + 3 * DAY)]
    const { rows } = run(records)
    expect(merchantsOf(rows, 'card_spread')).toEqual(['A', 'B', 'C', 'D'])
    const a = rows.find((h) => h.merchantId === 'A')
    expect(a?.finding.observed).toBe(4)
    expect(a?.finding.threshold).toBe(3)
    expect(a?.finding.windowStart).toBe(T0)
    expect(a?.finding.sampleTxnIds[0]).toBe(records[0]?.id)
    expect(a?.finding.sampleTxnIds).toHaveLength(4)
    expect(a?.finding.detail).toBe(
      'One card was used at 4 merchants of the acquirer within 7 days: this merchant and 3 other merchant(s).',
    )
    expect(a?.category).toBe('fraud')
    expect(a?.configHash).toBe('test')
  })

  it('keeps cards of different acquirers apart', () => {
    const other = { ...card('C', T0 + DAY), acquirerId: 'acq-2' }
    expect(run([card('A', T0), card('B', T0), other]).rows).toEqual([])
  })

  it('honours the floor parameter and the whitelist', () => {
    const records = [card('A', T0), card('B', T0 + DAY), card('C', T0 + 2 * DAY)]
    expect(run(records, { raw: { rules: { card_spread: { minMerchants: 4 } } } }).rows).toEqual([])
    expect(merchantsOf(run(records, { whitelisted: ['B'] }).rows, 'card_spread')).toEqual(['A', 'C'])
  })

  it('takes reloaded parameters in place, keeping what it has seen', () => {
    const engine = new EntityEngine({
      rules: buildEntityRules({ rules: { card_spread: { minMerchants: 5 } } }, ENTITY_RULES),
      isWhitelisted: () => false,
      configHash: 'before',
    })
    expect(
      [card('A', T0), card('B', T0 + DAY), card('C', T0 + 2 * DAY)].flatMap((r) => engine.onRecord(r)),
    ).toEqual([])
    engine.reconfigure({
      rules: buildEntityRules({ rules: { card_spread: { minMerchants: 3 } } }, ENTITY_RULES),
      configHash: 'after',
    })
    // The next record of the card is evaluated with the new floor (the old one, 5, would stay silent),
    // over all four merchants seen.
    const hits = engine.onRecord(card('D', T0 + 3 * DAY))
    expect(merchantsOf(hits, 'card_spread')).toEqual(['A', 'B', 'C', 'D'])
    expect(new Set(hits.map((h) => [h.configHash, h.finding.threshold].join(' ')))).toEqual(
      new Set(['after 3']),
    )
    expect(() => engine.reconfigure({ rules: buildEntityRules({}, ENTITY_RULES).slice(1) })).toThrow(
      /same rules/,
    )
  })

  it('rejects unknown rules and bad parameters with their path', () => {
    expect(() => buildEntityRules({ rules: { card_spread: { minMerchants: 1 } } }, ENTITY_RULES)).toThrow(
      /entity\.rules\.card_spread\.minMerchants/,
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

  it('does not fire when the bindings are more than 90 days apart', () => {
    expect(run([account('A', T0), account('B', T0 + 50 * DAY), account('C', T0 + 91 * DAY)]).rows).toEqual([])
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
