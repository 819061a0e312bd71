import { describe, expect, it } from 'vitest'
import { newMerchantRamp } from '../../../rules/new-merchant-ramp.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { sampleMerchantEvent } from '../../helpers/events.ts'
import { dist, local, measures, range, runRule, tx } from '../../helpers/rules.ts'

const onboarded = (date = '2026-03-01') => ({
  merchant: sampleMerchantEvent({ event_time: local(date, '09:00') }),
})

/** `days` consecutive days from `start` with three approved sales of `amount` minor units each. */
function trading(start: string, days: number, amount: number): TerminalTransaction[] {
  const first = Date.parse(`${start}T00:00:00Z`)
  return Array.from({ length: days * 3 }, (_, i) => {
    const date = new Date(first + Math.floor(i / 3) * 86_400_000).toISOString().slice(0, 10)
    return tx(local(date, `1${i % 3}:00`), { amount_minor: amount })
  })
}

// Established peers take 3,000.00 to 7,000.00 a day: the top of the cohort (its fence) is under the
// floor of 20,000.00 a day, which therefore decides.
const cohort = measures({ dailyVolume: dist(range(300_000, 700_000)) })

describe('new_merchant_ramp', () => {
  it('fires on a merchant out-trading its whole cohort in its first weeks', () => {
    const { last } = runRule(newMerchantRamp, [onboarded(), ...trading('2026-03-02', 10, 1_000_000)], {
      peers: cohort,
    })
    expect(last?.observed).toBe(3_000_000)
    expect(last?.threshold).toBe(2_000_000)
    expect(last?.basis).toBe('peers')
    expect(last?.windowStart).toBe(local('2026-03-01', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-12', '00:00'))
    expect(last?.sampleTxnIds.length).toBe(5)
    expect(last?.detail).toContain('Onboarded 10 days ago')
    expect(last?.detail).toContain('30,000 per active day')
  })

  it.each([
    ['a new merchant trading like its peers', [onboarded(), ...trading('2026-03-02', 10, 200_000)], cohort],
    [
      'a new car dealer among car dealers (look-alike: big tickets are normal for its kind)',
      [onboarded(), ...trading('2026-03-02', 10, 1_000_000)],
      measures({ dailyVolume: dist(range(3_000_000, 7_000_000)) }),
    ],
    [
      'an old merchant with the same volume (ramp window passed)',
      [onboarded('2025-06-01'), ...trading('2026-03-02', 10, 1_000_000)],
      cohort,
    ],
    ['a merchant without an onboarding date', trading('2026-03-02', 10, 1_000_000), cohort],
    [
      'a cohort all alike: just above its level is not the top',
      [onboarded(), ...trading('2026-03-02', 10, 200_000)],
      measures({ dailyVolume: dist(range(500_000, 500_000)) }),
    ],
  ])('stays silent for %s', (_name, events, cohortStats) => {
    expect(runRule(newMerchantRamp, events, { peers: cohortStats }).last).toBeNull()
  })

  it('needs the count floors: a few big days are not a ramp', () => {
    const events = [onboarded(), ...trading('2026-03-02', 4, 1_000_000)]
    expect(runRule(newMerchantRamp, events, { peers: cohort }).last).toBeNull()
    expect(
      runRule(newMerchantRamp, events, { peers: cohort, params: { minActiveDays: 4, minTxns: 12 } }).last,
    ).not.toBeNull()
  })

  it('with no baseline yet, only the floor decides, and the finding says so', () => {
    const none = { peers: null, population: null }
    const modest = [onboarded(), ...trading('2026-03-02', 10, 500_000)]
    expect(runRule(newMerchantRamp, modest, none).last).toBeNull()
    const { last } = runRule(newMerchantRamp, [onboarded(), ...trading('2026-03-02', 10, 4_000_000)], none)
    expect(last?.threshold).toBe(2_000_000)
    expect(last?.basis).toBe('none')
    expect(last?.detail).toContain('no baseline yet')
  })

  it('fires once a late onboarding event shows that a busy merchant is new', () => {
    const busy = trading('2026-03-02', 10, 1_000_000)
    expect(runRule(newMerchantRamp, busy, { peers: cohort }).hits).toEqual([])
    const { last } = runRule(newMerchantRamp, [...busy, onboarded()], { peers: cohort })
    expect(last?.observed).toBe(3_000_000)
  })

  it('stops firing once the merchant is older than the ramp window', () => {
    const { hits } = runRule(newMerchantRamp, [onboarded(), ...trading('2026-05-20', 20, 1_000_000)], {
      peers: cohort,
    })
    expect(hits.length).toBeGreaterThan(0)
    // 2026-05-30 09:00 is 90 days after onboarding.
    expect(hits.every((h) => h.detectedAt <= local('2026-05-30', '09:00'))).toBe(true)
  })

  it('ignores declined attempts and refunds', () => {
    const noise = trading('2026-03-02', 10, 1_000_000).map(
      (t, i): TerminalTransaction =>
        i % 2 === 0 ? { ...t, response_code: '05' } : { ...t, txn_type: 'REFUND' },
    )
    expect(runRule(newMerchantRamp, [onboarded(), ...noise], { peers: cohort }).last).toBeNull()
  })
})
