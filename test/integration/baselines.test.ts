import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../lib/logger.ts'
import { Baselines } from '../../rules/baselines.ts'
import { QUANTILE_GRID, quantileOf } from '../../rules/engine/calibration.ts'
import type { Distribution } from '../../rules/engine/types.ts'
import { openStore, type Store } from '../../store/client.ts'
import { insertMerchantEvents } from '../../store/merchant-events.ts'
import { insertTransactions } from '../../store/transactions.ts'
import { sampleMerchantEvent, sampleTxn } from '../helpers/events.ts'

const DAY = 86_400_000
const EMPTY: Distribution = { n: 0, days: 0, q: [] }
const opts = { timeZoneOf: () => '+08:00', now: Date.UTC(2026, 10, 22) }

describe('rule baselines from ClickHouse', () => {
  let store: Store
  let dir: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'baselines-'))
    store = await openStore({ database: 'baselines_test', chdbPath: join(dir, 'chdb') })
    // Five grocers (5411) and one car dealer (5511). Grocer i sells 30 tickets of (100 + i) CNY over
    // three days, a tenth of them at night and i of 10 on credit; the dealer sells 25 large round tickets.
    const events = [
      // Four grocers in Shanghai, one in Beijing.
      ...[0, 1, 2, 3, 4].map((i) =>
        sampleMerchantEvent({
          event_id: `on-g${i}`,
          acquirer_id: 'acq',
          merchant_id: `g${i}`,
          registered_mcc: '5411',
          latitude: i < 4 ? 31.2 + i / 100 : 39.9,
          longitude: i < 4 ? 121.4 : 116.4,
        }),
      ),
      sampleMerchantEvent({ event_id: 'on-d', acquirer_id: 'acq', merchant_id: 'd', registered_mcc: '5511' }),
    ]
    await insertMerchantEvents(
      store,
      events.map((event, n) => ({ event, topic: 'e', partition: 0, offset: String(n) })),
      opts,
    )
    const start = Date.parse('2026-11-01T04:00:00Z')
    const txns = [0, 1, 2, 3, 4].flatMap((i) =>
      Array.from({ length: 30 }, (_, k) =>
        sampleTxn({
          txn_id: `g${i}-${k}`,
          acquirer_id: 'acq',
          merchant_id: `g${i}`,
          mcc: '5411',
          amount_minor: (100 + i) * 100,
          card_type: k % 10 < i ? 'CREDIT' : 'DEBIT',
          // Day k % 3; the first ticket of every ten at 02:00 local (night), the rest at noon.
          event_time: start + (k % 3) * DAY + (k % 10 === 0 ? -10 * 3_600_000 : 0),
        }),
      ),
    )
    const dealer = Array.from({ length: 25 }, (_, k) =>
      sampleTxn({
        txn_id: `d-${k}`,
        acquirer_id: 'acq',
        merchant_id: 'd',
        mcc: '5511',
        amount_minor: 20_000_000,
        event_time: start + k * 3_600_000,
      }),
    )
    await insertTransactions(
      store,
      [...txns, ...dealer].map((txn, n) => ({ txn, topic: 't', partition: 0, offset: String(n) })),
      opts,
    )
  })

  afterAll(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('publishes the distributions of cohorts large enough and of each population, and each merchant its own median day', async () => {
    const baselines = new Baselines({ store, logger: createLogger('silent'), minCohort: 2 })
    expect(baselines.peersOf('acq', '5411', null, null)).toBeNull()
    await baselines.refresh(Date.now())
    const median = (d: Distribution | undefined) => d?.q[QUANTILE_GRID.indexOf(0.5)]

    const refs = baselines.peersOf('acq', '5411', null, null)
    const grocers = refs?.cohort
    expect(grocers?.creditShare.n).toBe(5)
    // Three local days of data behind it: a new deployment's calibration holds it back (minDays).
    expect(grocers?.creditShare.days).toBe(3)
    // Credit shares 0, 0.1, 0.2, 0.3, 0.4 at the grid's quantiles (nearest rank).
    expect(quantileOf(grocers?.creditShare ?? EMPTY, 0.25)).toBeCloseTo(0.1, 5)
    expect(median(grocers?.creditShare)).toBeCloseTo(0.2, 5)
    expect(quantileOf(grocers?.creditShare ?? EMPTY, 0.75)).toBeCloseTo(0.3, 5)
    // Average tickets 10,000 to 10,400 minor units; a tenth at night; all whole units; no large sales.
    expect(median(grocers?.avgTicket)).toBeCloseTo(10_200, 5)
    expect(median(grocers?.nightShare)).toBeCloseTo(0.1, 5)
    expect(median(grocers?.wholeUnitShare)).toBe(1)
    expect(median(grocers?.roundShare)).toBe(0)
    // The acquirer's population: the five grocers and the dealer, whose sales are all large and round.
    expect(refs?.population?.creditShare.n).toBe(6)
    expect(refs?.population?.roundShare.q.at(-1)).toBe(1)
    expect(median(refs?.population?.topBinShare)).toBe(1)
    // One dealer is no cohort: the rules compare it with the population only.
    const dealer = baselines.peersOf('acq', '5511', null, null)
    expect(dealer?.cohort).toBeNull()
    expect(dealer?.population?.creditShare.n).toBe(6)
    expect(baselines.peersOf('other-acquirer', '5411', null, null)).toBeNull()

    // A Shanghai grocer gets the four Shanghai grocers (twice the minimum); the Beijing grocer's region
    // has one, so it gets the MCC-wide cohort of five.
    expect(baselines.peersOf('acq', '5411', 31.25, 121.4)?.cohort?.creditShare.n).toBe(4)
    expect(baselines.peersOf('acq', '5411', 39.9, 116.4)?.cohort?.creditShare.n).toBe(5)

    // Grocer 2: 10 tickets of 10,200 on each of three days.
    expect(baselines.baselineOf('acq', 'g2')).toEqual({ dailyVolumeMedian: 102_000, activeDays: 3 })
    expect(baselines.baselineOf('acq', 'nobody')).toBeNull()
  })

  it("as of the rules' event time, ends each acquirer's windows on the last local day they finished", async () => {
    const baselines = new Baselines({ store, logger: createLogger('silent'), minCohort: 2 })
    // Noon of 3 November in +08:00: the rules have finished 1 and 2 November, not the 3rd the store has.
    const asOf = { latest: Date.parse('2026-11-03T04:00:00Z'), timeZoneOf: () => '+08:00' }
    expect(baselines.stale(asOf)).toBe(true)
    await baselines.refresh(Date.now(), asOf)
    expect(baselines.lastDays.get('acq')).toBe('2026-11-02')
    const grocers = baselines.peersOf('acq', '5411', null, null)?.cohort
    // Two days of 10 sales each per grocer (20, the minimum to be measured).
    expect(grocers?.creditShare.days).toBe(2)
    expect(grocers?.creditShare.n).toBe(5)
    expect(baselines.baselineOf('acq', 'g2')).toEqual({ dailyVolumeMedian: 102_000, activeDays: 2 })
    // Later on the same local day nothing would change; past its midnight the day is finished.
    expect(baselines.stale({ ...asOf, latest: Date.parse('2026-11-03T15:59:00Z') })).toBe(false)
    expect(baselines.stale({ ...asOf, latest: Date.parse('2026-11-03T16:01:00Z') })).toBe(true)

    // Rules ahead of the store: the windows end on its latest day, and a refresh stays due until it
    // has stored the day the rules finished (the sink behind the rules).
    const ahead = { ...asOf, latest: Date.parse('2026-11-10T04:00:00Z') }
    await baselines.refresh(Date.now(), ahead)
    expect(baselines.lastDays.get('acq')).toBe('2026-11-03')
    expect(baselines.peersOf('acq', '5411', null, null)?.cohort?.creditShare.days).toBe(3)
    expect(baselines.stale(ahead)).toBe(true)
  })
})
