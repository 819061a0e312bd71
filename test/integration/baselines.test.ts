import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../lib/logger.ts'
import { Baselines } from '../../rules/baselines.ts'
import { openStore, type Store } from '../../store/client.ts'
import { insertMerchantEvents } from '../../store/merchant-events.ts'
import { insertTransactions } from '../../store/transactions.ts'
import { sampleMerchantEvent, sampleTxn } from '../helpers/events.ts'

const DAY = 86_400_000
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
      // Three grocers in Shanghai, two in Beijing.
      ...[0, 1, 2, 3, 4].map((i) =>
        sampleMerchantEvent({
          event_id: `on-g${i}`,
          acquirer_id: 'acq',
          merchant_id: `g${i}`,
          registered_mcc: '5411',
          latitude: i < 3 ? 31.2 + i / 100 : 39.9,
          longitude: i < 3 ? 121.4 : 116.4,
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

  it('publishes cohort spreads only for cohorts large enough, and each merchant its own median day', async () => {
    const baselines = new Baselines({ store, logger: createLogger('silent'), minCohort: 3 })
    expect(baselines.peersOf('acq', '5411', null, null)).toBeNull()
    await baselines.refresh(Date.now())

    const grocers = baselines.peersOf('acq', '5411', null, null)
    expect(grocers?.creditShare.n).toBe(5)
    // Credit shares 0, 0.1, 0.2, 0.3, 0.4: median 0.2, quartiles 0.1 and 0.3, half the spread 0.1.
    expect(grocers?.creditShare.median).toBeCloseTo(0.2, 5)
    expect(grocers?.creditShare.mad).toBeCloseTo(0.1, 5)
    // Average tickets 10,000 to 10,400 minor units.
    expect(grocers?.avgTicket.median).toBeCloseTo(10_200, 5)
    expect(grocers?.nightShare.median).toBeCloseTo(0.1, 5)
    expect(grocers?.wholeUnitShare.median).toBe(1)
    // One dealer is no cohort: the rules fall back to absolute thresholds.
    expect(baselines.peersOf('acq', '5511', null, null)).toBeNull()
    expect(baselines.peersOf('other-acquirer', '5411', null, null)).toBeNull()

    // A Shanghai grocer gets the three Shanghai grocers (credit shares 0, 0.1, 0.2); a Beijing grocer's
    // region has two, too few, so it gets the MCC-wide cohort of five.
    const shanghai = baselines.peersOf('acq', '5411', 31.25, 121.4)
    expect(shanghai?.creditShare.n).toBe(3)
    expect(shanghai?.creditShare.median).toBeCloseTo(0.1, 5)
    expect(baselines.peersOf('acq', '5411', 39.9, 116.4)?.creditShare.n).toBe(5)

    // Grocer 2: 10 tickets of 10,200 on each of three days.
    expect(baselines.baselineOf('acq', 'g2')).toEqual({ dailyVolumeMedian: 102_000, activeDays: 3 })
    expect(baselines.baselineOf('acq', 'nobody')).toBeNull()
  })
})
