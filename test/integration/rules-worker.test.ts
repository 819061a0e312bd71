import { afterEach, describe, expect, it } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { createLogger } from '../../lib/logger.ts'
import { type BaselineSnapshot, baselineIn, peersIn } from '../../rules/baselines.ts'
import { type AppliedPart, LocalRules, type PartInput, type RulesCoreApi } from '../../rules/core.ts'
import { buildRulesConfig, createEngine } from '../../rules/engine/config.ts'
import { activityWanted } from '../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'
import { WorkerRules } from '../../rules/worker-client.ts'
import { MERCHANT_EVENT, RULE_HIT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import { hostilePeers, hostileTraffic } from '../unit/rules/traffic.ts'

const LATENESS = 6 * 3_600_000
const SKEW = 300_000
const RAW = {
  rules: { round_amount: { roundShareFloor: 0.2 } },
  whitelist: [
    {
      acquirer_id: 'acq-a',
      merchant_id: 'fz-7-2',
      rule_id: 'round_amount',
      reason: 'worker test',
      expires_at: '2026-02-15T00:00:00Z',
    },
  ],
}

function snapshot(): BaselineSnapshot {
  const population = hostilePeers(null)?.population
  const cohort = hostilePeers('5411')?.cohort
  if (population == null || cohort == null) throw new Error('hostile peers changed')
  return {
    peers: new Map([['acq-a\u00005411\u0000', cohort]]),
    population: new Map([['acq-a', population]]),
    own: new Map([['acq-a\u0000fz-7-1', { dailyVolumeMedian: 3_000_000, activeDays: 30 }]]),
    minCohort: 20,
  }
}

/** The hostile traffic as the rules stage would hand it over: parts of one topic each, Avro-encoded. */
async function parts(codec: EventCodec, events: number, size: number): Promise<PartInput[]> {
  const out: PartInput[] = []
  let current: {
    transactions: boolean
    values: Buffer[]
    stamps: number[]
    activityPartitions: number
  } | null = null
  for (const e of hostileTraffic(7, events)) {
    const transactions = 'txn' in e
    const value = transactions
      ? await codec.encode(TERMINAL_TRANSACTION, e.txn, 'avro')
      : await codec.encode(MERCHANT_EVENT, e.merchant, 'avro')
    const at = transactions ? e.txn.event_time : e.merchant.event_time
    if (current === null || current.transactions !== transactions || current.values.length >= size) {
      current = { transactions, values: [], stamps: [], activityPartitions: 6 }
      out.push(current)
    }
    current.values.push(value)
    current.stamps.push(at)
  }
  return out
}

/** What a part gives, in comparable form. */
function plain(a: AppliedPart) {
  return {
    events: a.events,
    invalid: a.invalid,
    duplicates: a.duplicates,
    hits: a.hits.map((h) => [h.key, Buffer.from(h.value).toString('base64')]),
    hitRules: a.hitRules,
    activity: a.activity.map((r) => [r.partition, r.records, Buffer.from(r.value).toString('utf8')]),
    merchants: a.state.merchants,
    latest: a.state.latestEventTime,
  }
}

describe('the rules worker thread', () => {
  const logger = createLogger('silent')
  const codec = new EventCodec({})
  let worker: WorkerRules | null = null

  afterEach(async () => {
    await worker?.close()
    worker = null
  })

  function local(raw: unknown = RAW): LocalRules {
    const config = buildRulesConfig(raw, RULES, 'worker test', ENTITY_RULES)
    const s = snapshot()
    const engine = createEngine(config, {
      timeZoneOf: () => '+08:00',
      allowedLatenessMs: LATENESS,
      peersOf: (a, mcc, lat, lon) => peersIn(s, a, mcc, lat, lon),
      baselineOf: (a, m) => baselineIn(s, a, m),
    })
    return new LocalRules({
      engine,
      codec,
      acquirers: { isKnown: (id) => id === 'acq-a' },
      maxFutureSkewMs: SKEW,
      allowedLatenessMs: LATENESS,
      // The worker publishes only what its configuration's cross-merchant rules can use; so does this.
      wantsActivity: activityWanted(config.entityRules),
    })
  }

  async function started(): Promise<WorkerRules> {
    const w = new WorkerRules({
      setup: {
        rules: { raw: RAW, name: 'worker test' },
        granted: [],
        baselines: snapshot(),
        known: ['acq-a'],
        timeZones: { default: '+08:00', byAcquirer: {} },
        allowedLatenessMs: LATENESS,
        maxFutureSkewMs: SKEW,
        schemaRegistry: null,
      },
      known: () => ['acq-a'],
      logger,
    })
    worker = w
    await w.start()
    return w
  }

  async function run(core: RulesCoreApi, input: readonly PartInput[]) {
    await core.load(0)
    const out = []
    for (const part of input) out.push(plain(await core.apply(0, part)))
    return out
  }

  it('gives exactly what the same rules give on the calling thread, part by part', async () => {
    const input = await parts(codec, 6_000, 250)
    const here = await run(local(), input)
    const there = await run(await started(), input)
    expect(there.length).toBe(input.length)
    expect(here.reduce((n, p) => n + p.hits.length, 0)).toBeGreaterThan(20)
    expect(
      here.reduce((n, p) => n + p.activity.reduce((k, [, records]) => k + Number(records), 0), 0),
    ).toBeGreaterThan(1_000)
    expect(there).toEqual(here)
  }, 120_000)

  it('refuses a partition it holds no state for, and loses every partition when the thread dies', async () => {
    const input = await parts(codec, 600, 100)
    const w = await started()
    const first = input[0]
    if (first === undefined) throw new Error('no parts')
    await expect(w.apply(3, first)).rejects.toMatchObject({ code: 'RISK_ERR_RULES_WORKER', retriable: true })
    await w.load(3)
    const once = await w.apply(3, first)
    expect(once.events + once.invalid).toBe(first.values.length)
    expect(once.events).toBeGreaterThan(0)

    // A crash: the state is gone, calls fail retriably, and the next call starts a fresh worker.
    await w.crash()
    await expect(w.apply(3, first)).rejects.toMatchObject({ code: 'RISK_ERR_RULES_WORKER' })
    expect(w.starts).toBe(2)
    expect(w.state.merchants).toBe(0)
    // Rebuilt as the stage would: forget, replay, load; the duplicate of an applied event is recognised.
    await w.forget(3)
    await w.load(3)
    const again = await w.apply(3, first)
    expect(again.events).toBe(once.events)
    expect(again.duplicates).toBe(0)
    expect((await w.apply(3, first)).duplicates).toBe(once.events)
  }, 60_000)

  it('takes a reloaded rules file before the next part', async () => {
    const input = await parts(codec, 4_000, 500)
    const w = await started()
    // card_ring counting every sale as a large purchase: the worker then publishes every card record.
    const reloaded = {
      rules: { round_amount: { roundShareFloor: 0.3 } },
      entities: { rules: { card_ring: { minAmount: 0 } } },
    }
    const hashOf = (raw: unknown) => buildRulesConfig(raw, RULES, 'x', ENTITY_RULES).hash
    let taken = 0
    let activity = 0
    const configHashes = async (from: readonly PartInput[]) => {
      const seen = new Set<string>()
      activity = 0
      for (const part of from) {
        const applied = await w.apply(0, part)
        taken += applied.events - applied.duplicates
        for (const a of applied.activity) activity += a.records
        for (const h of applied.hits) {
          const d = await codec.decode(RULE_HIT, Buffer.from(h.value))
          if (!d.ok) throw d.error
          seen.add(String(d.record.config_hash))
        }
      }
      return [...seen]
    }
    await w.load(0)
    const half = Math.floor(input.length / 2)
    expect(await configHashes(input.slice(0, half))).toEqual([hashOf(RAW)])
    const before = activity
    await w.setRules({ raw: reloaded, name: 'reloaded' })
    expect(await configHashes(input.slice(half))).toEqual([hashOf(reloaded)])
    // The activity of the second half is what a core built with each file publishes for it.
    const secondHalf = async (raw: unknown) => {
      const core = local(raw)
      await core.load(0)
      let n = 0
      for (const [i, part] of input.entries())
        for (const a of (await core.apply(0, part)).activity) if (i >= half) n += a.records
      return n
    }
    expect(activity).toBe(await secondHalf(reloaded))
    expect(activity).toBeGreaterThan(await secondHalf(RAW))
    expect(before).toBeGreaterThan(0)
    expect(hashOf(reloaded)).not.toBe(hashOf(RAW))
    expect(taken).toBeGreaterThan(2_000)
    expect((await w.stats()).events).toBe(taken)
  }, 60_000)
})
