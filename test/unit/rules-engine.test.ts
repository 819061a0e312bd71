import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { isRiskError } from '../../lib/errors.ts'
import { declineRatio } from '../../rules/decline-ratio.ts'
import { buildRulesConfig, createEngine } from '../../rules/engine/config.ts'
import { fillView, type HitUpdate, RuleEngine } from '../../rules/engine/engine.ts'
import { int } from '../../rules/engine/params.ts'
import { checkRegistry, register } from '../../rules/engine/registry.ts'
import { defineRule } from '../../rules/engine/types.ts'
import { DayRing } from '../../rules/engine/window.ts'
import { sampleMerchantEvent, sampleTxn } from '../helpers/events.ts'
import { dist, local, measures, tx } from '../helpers/rules.ts'

/** A regulatory rule for the tests: fires on every transaction whose amount reaches `limit`. */
const bigTicket = defineRule({
  id: 'big_ticket_test',
  version: 3,
  category: 'compliance',
  family: 'amount',
  description: 'Test rule: amount at or above a limit.',
  whitelistable: false,
  retentionDays: 1,
  params: { limit: int({ default: 1_000_000, min: 1, description: 'Limit, minor units.' }) },
  createState: () => ({ last: 0, id: '' }),
  onTransaction(state, txn) {
    state.last = txn.amount_minor
    state.id = txn.txn_id
  },
  evaluate(state, ctx) {
    if (state.last < ctx.params.limit) return null
    return {
      observed: state.last,
      threshold: ctx.params.limit,
      windowStart: ctx.watermark,
      windowEnd: ctx.watermark + 1,
      sampleTxnIds: [state.id],
      detail: `amount ${state.last}`,
    }
  },
})

const REGISTRY = [register(declineRatio), register(bigTicket)]

function engineWith(raw: unknown, registry = REGISTRY) {
  const config = buildRulesConfig(raw, registry)
  return {
    config,
    engine: new RuleEngine({
      rules: config.rules,
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 3_600_000,
      isWhitelisted: config.isWhitelisted,
      configHash: config.hash,
      peersOf: () => null,
      baselineOf: () => null,
    }),
  }
}

function rejected(raw: unknown): string {
  try {
    buildRulesConfig(raw, REGISTRY)
  } catch (e) {
    if (isRiskError(e) && e.code === 'RISK_ERR_CONFIG') return e.message
    throw e
  }
  throw new Error('expected the rules configuration to be rejected')
}

const at = local('2026-03-10', '10:00')

describe('rules configuration', () => {
  it.each([
    ['defaults', {}, 'acq-1', '5311', 1_000_000],
    ['global', { rules: { big_ticket_test: { limit: 500 } } }, 'acq-1', '5311', 500],
    [
      'per MCC',
      { rules: { big_ticket_test: { limit: 500 } }, mcc: { '5311': { big_ticket_test: { limit: 700 } } } },
      'acq-1',
      '5311',
      700,
    ],
    [
      'MCC of another merchant',
      { mcc: { '5511': { big_ticket_test: { limit: 700 } } } },
      'acq-1',
      '5311',
      1_000_000,
    ],
    [
      'per acquirer over MCC',
      {
        mcc: { '5311': { big_ticket_test: { limit: 700 } } },
        acquirers: { 'acq-1': { rules: { big_ticket_test: { limit: 800 } } } },
      },
      'acq-1',
      '5311',
      800,
    ],
    [
      'acquirer and MCC over all',
      {
        acquirers: {
          'acq-1': {
            rules: { big_ticket_test: { limit: 800 } },
            mcc: { '5311': { big_ticket_test: { limit: 900 } } },
          },
        },
      },
      'acq-1',
      '5311',
      900,
    ],
    [
      'another acquirer keeps the default',
      { acquirers: { 'acq-2': { rules: { big_ticket_test: { limit: 800 } } } } },
      'acq-1',
      '5311',
      1_000_000,
    ],
  ])('resolves parameters: %s', (_name, raw, acquirerId, mcc, limit) => {
    const { engine } = engineWith(raw)
    const hits = engine.onTransaction(tx(at, { acquirer_id: acquirerId, mcc, amount_minor: 5_000_000 }))
    expect(hits.find((h) => h.ruleId === 'big_ticket_test')?.finding.threshold).toBe(limit)
  })

  it.each([
    [{ rules: { no_such_rule: {} } }, 'rules.no_such_rule: unknown rule'],
    [{ rules: { big_ticket_test: { limt: 5 } } }, 'rules.big_ticket_test.limt: unknown parameter'],
    [{ rules: { big_ticket_test: { limit: 'high' } } }, 'rules.big_ticket_test.limit: expected an integer'],
    [
      { rules: { decline_ratio: { threshold: 1.5 } } },
      'rules.decline_ratio.threshold: 1.5 is above the maximum 1',
    ],
    [{ mcc: { '53': { decline_ratio: {} } } }, 'mcc.53: not a four-digit MCC'],
    [{ acquirers: { a: { rule: {} } } }, 'acquirers.a.rule: unknown key'],
    [
      { acquirers: { a: { mcc: { '5411': { decline_ratio: { minAttempts: 0 } } } } } },
      'acquirers.a.mcc.5411.decline_ratio.minAttempts',
    ],
    [{ rule: {} }, 'rule: unknown key'],
    [
      {
        whitelist: [
          {
            acquirer_id: 'a',
            merchant_id: 'm',
            rule_id: 'big_ticket_test',
            reason: 'x',
            expires_at: '2027-01-01T00:00:00Z',
          },
        ],
      },
      'whitelist[0].rule_id: big_ticket_test cannot be whitelisted',
    ],
    [
      {
        whitelist: [
          {
            acquirer_id: 'a',
            merchant_id: 'm',
            rule_id: 'decline_ratio',
            expires_at: '2027-01-01T00:00:00Z',
          },
        ],
      },
      'whitelist[0].reason: required',
    ],
    [
      {
        whitelist: [
          { acquirer_id: 'a', merchant_id: 'm', rule_id: 'decline_ratio', reason: 'r', expires_at: 'soon' },
        ],
      },
      'whitelist[0].expires_at: "soon" is not an ISO-8601 time',
    ],
  ])('rejects %j naming the path', (raw, expected) => {
    expect(rejected(raw)).toContain(expected)
  })

  it('hashes the content, not the key order', () => {
    const a = buildRulesConfig(
      { rules: { decline_ratio: { threshold: 0.4, minAttempts: 30 } } },
      REGISTRY,
    ).hash
    const b = buildRulesConfig(
      { rules: { decline_ratio: { minAttempts: 30, threshold: 0.4 } } },
      REGISTRY,
    ).hash
    const c = buildRulesConfig(
      { rules: { decline_ratio: { minAttempts: 30, threshold: 0.5 } } },
      REGISTRY,
    ).hash
    expect(a).toBe(b)
    expect(c).not.toBe(a)
  })
})

describe('rule engine', () => {
  const testing = Array.from({ length: 40 }, (_, i) =>
    tx(at + i * 60_000, { card_token: `c${i}`, response_code: i % 2 === 0 ? '05' : '00' }),
  )

  it('silences a whitelisted rule for that merchant until the entry expires, and records the config hash', () => {
    const { engine, config } = engineWith({
      whitelist: [
        {
          acquirer_id: 'acq-1',
          merchant_id: 'mer-42',
          rule_id: 'decline_ratio',
          reason: 'test terminal',
          expires_at: '2026-03-10T02:20:00Z',
        },
      ],
    })
    const declines = (h: HitUpdate) => h.ruleId === 'decline_ratio'
    const hits = testing.flatMap((t) => engine.onTransaction(t)).filter(declines)
    const other = testing
      .flatMap((t) => engine.onTransaction({ ...t, merchant_id: 'mer-43', txn_id: `${t.txn_id}b` }))
      .filter(declines)
    expect(hits.length).toBeGreaterThan(0)
    // The entry expires at 10:20 local: the first hits of mer-42 come after it.
    expect(Math.min(...hits.map((h) => h.detectedAt))).toBeGreaterThanOrEqual(
      Date.parse('2026-03-10T02:20:00Z'),
    )
    expect(other.length).toBeGreaterThan(0)
    expect(other[0]?.merchantId).toBe('mer-43')
    expect(other[0]?.configHash).toBe(config.hash)
    expect(other[0]?.ruleVersion).toBe(1)
  })

  it('writes a hit again only when its finding changes, NaN included', () => {
    // One hit (a fixed window) whose observed value follows the amount: 13 makes it NaN.
    const echo = defineRule({
      id: 'echo_test',
      version: 1,
      category: 'fraud',
      family: 'amount',
      description: 'Test rule: echoes the last amount.',
      whitelistable: false,
      retentionDays: 1,
      params: {},
      createState: () => ({ echoed: 0, echoId: '' }),
      onTransaction(state, txn) {
        state.echoed = txn.amount_minor
        state.echoId = txn.txn_id
      },
      evaluate: (state) => ({
        observed: state.echoed === 13 ? Number.NaN : state.echoed % 100,
        threshold: 1,
        windowStart: 0,
        windowEnd: 1,
        sampleTxnIds: [state.echoId],
        detail: state.echoed >= 100 ? 'a hundred or more' : 'under a hundred',
      }),
    })
    const { engine } = engineWith({}, [register(echo)])
    const amounts = [5, 5, 7, 13, 13, 5, 105, 105]
    const written = amounts.map(
      (amount_minor, i) => engine.onTransaction(tx(at + i * 60_000, { amount_minor })).length,
    )
    // 7 and 5 change the value, 13 makes it NaN (once), 105 keeps the value and changes the detail.
    expect(written).toEqual([1, 0, 1, 1, 0, 1, 1, 0])
    engine.reconfigure({ configHash: 'another' })
    expect(engine.onTransaction(tx(at + 9 * 60_000, { amount_minor: 105 }))).toHaveLength(1)
    expect(engine.onTransaction(tx(at + 10 * 60_000, { amount_minor: 105 }))).toHaveLength(0)
  })

  it('drops events later than the allowed lateness from rule state', () => {
    const { engine } = engineWith({ rules: { big_ticket_test: { limit: 100 } } })
    engine.onTransaction(tx(at, { amount_minor: 50 }))
    const late = engine.onTransaction(tx(at - 2 * 3_600_000, { amount_minor: 5_000 }))
    expect(late).toEqual([])
    expect(engine.stats.tooLate).toBe(1)
    const inTime = engine.onTransaction(tx(at - 30 * 60_000, { amount_minor: 5_000 }))
    expect(inTime.map((h) => h.ruleId)).toContain('big_ticket_test')
  })

  it('keeps rule state across a configuration reload', () => {
    const { engine } = engineWith({})
    for (const t of testing.slice(0, 30)) engine.onTransaction(t)
    const next = buildRulesConfig({ rules: { decline_ratio: { threshold: 0.45 } } }, REGISTRY)
    engine.reconfigure({ isWhitelisted: next.isWhitelisted, configHash: next.hash, layersOf: next.layersOf })
    const after = testing
      .slice(30)
      .flatMap((t) => engine.onTransaction(t))
      .filter((h) => h.ruleId === 'decline_ratio')
    // The day's counts from before the reload still count (40 attempts, 20 declined), and the new
    // threshold applies.
    expect(after.at(-1)?.finding.detail).toContain('20 of 40')
    expect(after.at(-1)?.finding.threshold).toBe(0.45)
    expect(after.at(-1)?.configHash).toBe(next.hash)
  })

  /** Sweeps once a day of event time from `from` to `to` (as the rules stage does, hourly); dropped. */
  const sweepDaily = (engine: RuleEngine, from: number, to: number) => {
    let dropped = 0
    for (let t = from; t <= to; t += 86_400_000) dropped += engine.evict(t)
    return dropped
  }

  it('evicts merchants idle for longer than the widest rule window', () => {
    const { engine } = engineWith({})
    engine.onTransaction(tx(at, { merchant_id: 'old' }))
    // Silent while the stream moves on by the widest window: kept...
    const window = engine.retentionDays * 86_400_000
    expect(sweepDaily(engine, at, at + window)).toBe(0)
    // ...and dropped a day later.
    const later = at + window + 86_400_000
    engine.onTransaction(tx(later, { merchant_id: 'new' }))
    expect(engine.merchantCount).toBe(2)
    expect(engine.evict(later)).toBe(1)
    expect(engine.has('acq-1', 'new')).toBe(true)
  })

  it('measures idleness on the stream: an onboarding years old, replayed now, is not idle', () => {
    const { engine } = engineWith({})
    const now = at + 5 * 86_400_000
    // A new deployment reads the lifecycle feed first: this merchant's onboarding is years old...
    engine.onMerchantEvent(
      sampleMerchantEvent({
        merchant_id: 'old-shop',
        acquirer_id: 'acq-1',
        event_time: now - 900 * 86_400_000,
      }),
    )
    expect(engine.evict(now - 900 * 86_400_000)).toBe(0)
    // ...then today's sales of others: the jump of 900 days is not 900 days of silence.
    engine.onTransaction(tx(now, { merchant_id: 'busy' }))
    expect(engine.evict(now)).toBe(0)
    expect(engine.has('acq-1', 'old-shop')).toBe(true)
    // Silent while the stream moves on by the widest window: dropped then, with the busy one.
    const window = engine.retentionDays * 86_400_000
    expect(sweepDaily(engine, now + 86_400_000, now + window - 86_400_000)).toBe(0)
    expect(sweepDaily(engine, now + window, now + window + 86_400_000)).toBe(2)
  })

  it('keeps the newest profile facts when lifecycle events arrive out of order', () => {
    let seen: string | null = null
    const probe = register(
      defineRule({
        id: 'profile_probe',
        version: 1,
        category: 'compliance',
        family: 'lifecycle',
        description: 'Test rule: reports the registered MCC it sees.',
        whitelistable: false,
        retentionDays: 1,
        params: {},
        createState: () => ({}),
        evaluate(_state, ctx) {
          seen = `${ctx.profile.registeredMcc}@${ctx.profile.latitude}`
          return null
        },
      }),
    )
    const config = buildRulesConfig({}, [probe])
    const engine = new RuleEngine({
      rules: config.rules,
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 0,
      isWhitelisted: () => false,
      configHash: config.hash,
      peersOf: () => null,
      baselineOf: () => null,
    })
    engine.onMerchantEvent(
      sampleMerchantEvent({ event_time: at, kind: 'MCC_CHANGED', registered_mcc: '5944' }),
    )
    engine.onMerchantEvent(
      sampleMerchantEvent({
        event_time: at - 86_400_000,
        registered_mcc: '5411',
        latitude: 31,
        longitude: 121,
      }),
    )
    // The late onboarding brings the location (nothing newer set it) but not its older MCC.
    expect(seen).toBe('5944@31')
  })

  it('looks peers up again only after a profile change or a reference refresh, not per event', () => {
    let lookups = 0
    let median = 0.4
    let seen = 0
    const probe = register(
      defineRule({
        id: 'peer_probe',
        version: 1,
        category: 'fraud',
        family: 'cards',
        description: 'Test rule: records the peer credit-share median it sees.',
        whitelistable: true,
        retentionDays: 1,
        params: {},
        createState: () => ({}),
        evaluate(_state, ctx) {
          seen = ctx.peers?.creditShare.q[3] ?? -1
          return null
        },
      }),
    )
    const config = buildRulesConfig({}, [probe])
    const engine = createEngine(config, {
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 3_600_000,
      peersOf: () => {
        lookups++
        return { cohort: measures({ creditShare: dist([median]) }), population: measures({}, 400) }
      },
    })
    for (let i = 0; i < 5; i++) engine.onTransaction(tx(at + i * 60_000))
    expect(lookups).toBe(1)
    expect(seen).toBe(0.4)

    median = 0.6
    engine.onTransaction(tx(at + 10 * 60_000))
    expect(seen).toBe(0.4)
    engine.referencesChanged()
    engine.onTransaction(tx(at + 11 * 60_000))
    expect(seen).toBe(0.6)
    engine.onMerchantEvent(
      sampleMerchantEvent({ event_time: at, kind: 'MCC_CHANGED', registered_mcc: '5944' }),
    )
    expect(lookups).toBe(3)
  })

  /** A rule that keeps the ids of a merchant's transactions in `field` and reports how many it holds. */
  const counter = (id: string, field: string) =>
    register(
      defineRule({
        id,
        version: 1,
        category: 'fraud',
        family: 'cards',
        description: 'Test rule: counts the transactions it saw.',
        whitelistable: true,
        retentionDays: 1,
        params: {},
        createState: (): Record<string, string[]> => ({ [field]: [] }),
        onTransaction(state, txn) {
          state[field]?.push(txn.txn_id)
        },
        evaluate(state, ctx) {
          const ids = state[field] ?? []
          return {
            observed: ids.length,
            threshold: 0,
            windowStart: 0,
            windowEnd: ctx.watermark,
            sampleTxnIds: [...ids],
            detail: id,
          }
        },
      }),
    )
  const countersEngine = (rules: ReturnType<typeof counter>[]) => {
    const config = buildRulesConfig({}, rules)
    return createEngine(config, { timeZoneOf: () => '+08:00', allowedLatenessMs: 3_600_000 })
  }

  it("keeps every rule's state of a merchant in one record, apart from the other merchants'", () => {
    const engine = countersEngine([counter('one_test', 'oneIds'), counter('two_test', 'twoIds')])
    const seen = new Map<string, number>()
    const run = (merchant: string, id: string, t: number) => {
      for (const h of engine.onTransaction(sampleTxn({ merchant_id: merchant, txn_id: id, event_time: t })))
        seen.set(`${merchant} ${h.ruleId}`, h.finding.observed)
    }
    run('m-1', 'a', at)
    run('m-2', 'b', at + 1)
    run('m-1', 'c', at + 2)
    run('m-1', 'd', at + 3)
    expect(Object.fromEntries(seen)).toEqual({
      'm-1 one_test': 3,
      'm-1 two_test': 3,
      'm-2 one_test': 1,
      'm-2 two_test': 1,
    })
  })

  it("keeps the rules' rings and day columns on the records' prototype, serving each merchant its own", () => {
    const records: object[] = []
    const sampler = register(
      defineRule({
        id: 'sampler_test',
        version: 1,
        category: 'fraud',
        family: 'cards',
        description: 'Test rule: shows the ids in its ring.',
        whitelistable: true,
        retentionDays: 1,
        params: {},
        createState: (sales, samples) => ({
          samplerRing: samples.ring(3),
          samplerDays: sales.columns(1, 0),
          samplerSeen: 0,
        }),
        onTransaction(state, txn) {
          state.samplerRing.push(txn.txn_id)
          state.samplerSeen++
        },
        evaluate(state, ctx) {
          if (!records.includes(state)) records.push(state)
          const day = state.samplerDays.at(ctx.watermarkDay)
          return {
            observed: state.samplerSeen,
            threshold: day < 0 ? 0 : state.samplerDays.sales(day),
            windowStart: 0,
            windowEnd: ctx.watermark,
            sampleTxnIds: state.samplerRing.toArray(),
            detail: 'sampler',
          }
        },
      }),
    )
    const engine = createEngine(buildRulesConfig({}, [sampler]), {
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 3_600_000,
    })
    const last = new Map<string, HitUpdate>()
    for (const [m, id, t] of [
      ['m-1', 'a', at],
      ['m-2', 'b', at + 1],
      ['m-1', 'c', at + 2],
    ] as const) {
      for (const h of engine.onTransaction(sampleTxn({ merchant_id: m, txn_id: id, event_time: t })))
        last.set(m, h)
    }
    expect(last.get('m-1')?.finding).toMatchObject({ observed: 2, threshold: 2, sampleTxnIds: ['a', 'c'] })
    expect(last.get('m-2')?.finding).toMatchObject({ observed: 1, threshold: 1, sampleTxnIds: ['b'] })
    expect(records).toHaveLength(2)
    for (const r of records) {
      expect(Object.keys(r)).toEqual(['samplerSeen'])
      expect(Object.getPrototypeOf(r)).toBe(Object.getPrototypeOf(records[0]))
    }
  })

  it('refuses to start with two rules whose states have a field of one name', () => {
    expect(() => countersEngine([counter('one_test', 'ids'), counter('two_test', 'ids')])).toThrow(
      "rules one_test and two_test both keep a state field 'ids'",
    )
  })

  it('refuses two rules with one id', () => {
    expect(() => checkRegistry([register(declineRatio), register(declineRatio)])).toThrow(
      'two rules have the id decline_ratio',
    )
  })
})

describe('DayRing', () => {
  it('keeps the last N days, refuses older ones, and recycles slots', () => {
    const ring = new DayRing(3, () => ({ n: 0 }))
    for (const d of [10, 11, 12]) {
      const b = ring.at(d)
      if (b) b.n = d
    }
    expect(ring.at(13)?.n).toBe(0)
    expect(ring.peek(10)).toBeUndefined()
    expect(ring.at(10)).toBeUndefined()
    const seen: number[] = []
    ring.forEach(0, 13, (b, d) => seen.push(d * 100 + b.n))
    expect(seen).toEqual([1111, 1212, 1300])
  })
})

describe('the reused transaction view', () => {
  it('carries every field of the TerminalTransaction schema', () => {
    const schema: unknown = JSON.parse(
      readFileSync(new URL('../../schemas/terminal-transaction.avsc', import.meta.url), 'utf8'),
    )
    const names =
      typeof schema === 'object' && schema !== null && 'fields' in schema && Array.isArray(schema.fields)
        ? schema.fields.map((f: { name: string }) => f.name)
        : []
    expect(names.length).toBeGreaterThan(10)
    const txn = tx(at, { card_bin: '622848', latitude: 1.5, longitude: 2.5, currency: 'JPY' })
    // Filled first with another transaction, so a field the view forgets would keep the old value.
    const reused = fillView(
      { ...sampleTxn(), localDay: 0, localHour: 0, minorPerMajor: 1, approved: false, sale: false },
      sampleTxn(),
      0,
    )
    const view = new Map(Object.entries(fillView(reused, txn, at + 8 * 3_600_000)))
    const original = new Map(Object.entries(txn))
    for (const name of names) expect(view.get(name), name).toEqual(original.get(name))
    expect(view.get('minorPerMajor')).toBe(1)
    expect(view.get('localHour')).toBe(10)
  })
})

describe('sampled rule timings', () => {
  it('times every rule on one event in TIMING_SAMPLE_EVERY, and none without a listener', async () => {
    const { RULES } = await import('../../rules/index.ts')
    const { TIMING_SAMPLE_EVERY } = await import('../../rules/engine/engine.ts')
    const timed: [string, number][] = []
    const engine = createEngine(buildRulesConfig({}, RULES), {
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: 3_600_000,
      ruleTiming: (rule, seconds) => timed.push([rule, seconds]),
    })
    for (let i = 0; i < TIMING_SAMPLE_EVERY + 1; i++)
      engine.onTransaction(sampleTxn({ txn_id: `t-${i}`, event_time: Date.UTC(2026, 10, 1) + i * 1000 }))
    // The first and the (TIMING_SAMPLE_EVERY + 1)th event were timed, each for every rule.
    expect(timed).toHaveLength(2 * RULES.length)
    expect(new Set(timed.map(([r]) => r))).toEqual(new Set(RULES.map((r) => r.meta.id)))
    expect(timed.every(([, s]) => s >= 0 && s < 1)).toBe(true)
  })
})
