import { describe, expect, it } from 'vitest'
import { relocation } from '../../../rules/relocation.ts'
import { sampleMerchantEvent } from '../../helpers/events.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

const HOME = { latitude: 31.2304, longitude: 121.4737 }
/** One degree of latitude is about 111.2 km. */
const KM_PER_DEG_LAT = 111.195

const onboarded = (at = local('2026-03-01')) => ({
  merchant: sampleMerchantEvent({ event_time: at, ...HOME }),
})

/** A fix `km` north of the registered location at local `time` on `date`. */
function fixOn(date: string, km: number, time: string, overrides: Parameters<typeof tx>[1] = {}) {
  return tx(local(date, time), {
    latitude: HOME.latitude + km / KM_PER_DEG_LAT,
    longitude: HOME.longitude,
    ...overrides,
  })
}

/** A fix `km` north of the registered location at local `time` on 2026-03-10. */
function fixAt(km: number, time: string, overrides: Parameters<typeof tx>[1] = {}) {
  return fixOn('2026-03-10', km, time, overrides)
}

/** Three fixes `km` away on `date` (a day the terminal spent there). */
const dayAway = (date: string, km: number) => ['09:00', '10:00', '11:00'].map((time) => fixOn(date, km, time))
/** A day at home. */
const dayHome = (date: string) => [fixOn(date, 0.2, '10:00'), fixOn(date, 0.1, '15:00')]

describe('relocation', () => {
  it('fires on three fixes in a day in another city and reports the distance', () => {
    const { last, hits } = runRule(relocation, [
      onboarded(),
      fixAt(0.1, '09:00'),
      fixAt(65, '10:00'),
      fixAt(70, '11:00'),
      fixAt(68, '12:00'),
    ])
    expect(hits.length).toBe(1)
    expect(last?.observed).toBeCloseTo(65, 0)
    expect(last?.threshold).toBe(10)
    expect(last?.sampleTxnIds.length).toBe(3)
    expect(last?.windowStart).toBe(local('2026-03-10', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.detail).toContain('3 of 4 position fixes')
    expect(last?.detail).toContain('farthest 70.0 km')
    expect(last?.detail).toContain('at least 50 km away (another city)')
  })

  it('stays silent on a single day away in the same city (a trade fair), and fires when the terminal stays away', () => {
    const fair = [
      onboarded(),
      ...dayHome('2026-03-08'),
      ...dayHome('2026-03-09'),
      ...dayAway('2026-03-10', 25),
    ]
    expect(runRule(relocation, fair).last).toBeNull()
    const { last, hits } = runRule(relocation, [...fair, ...dayAway('2026-03-11', 26)])
    expect(hits.length).toBe(1)
    expect(last?.observed).toBeCloseTo(26, 0)
    expect(last?.windowStart).toBe(local('2026-03-11', '00:00'))
    expect(last?.detail).toContain('away on 2 of the last 7 days, which had sales on 4')
  })

  it('keeps a week of state: a rebuild replays, and an idle merchant is kept, for its sustain window', () => {
    expect(relocation.retentionDays).toBe(7)
    expect(runRule(relocation, [onboarded()]).engine.retentionDays).toBe(7)
  })

  it('stays silent on a market trader away one day in three: away on fewer than half its days', () => {
    const days = ['01', '02', '03', '04', '05', '06', '07', '08', '09'].flatMap((d) =>
      Number(d) % 3 === 0 ? dayAway(`2026-03-${d}`, 14) : dayHome(`2026-03-${d}`),
    )
    expect(runRule(relocation, [onboarded(), ...days]).hits.length).toBe(0)
  })

  it('counts days away against the current registered location only', () => {
    const moved = { latitude: HOME.latitude + 25 / KM_PER_DEG_LAT, longitude: HOME.longitude }
    const events = [
      onboarded(),
      ...dayAway('2026-03-09', 25),
      {
        merchant: sampleMerchantEvent({
          event_id: 'evt-2',
          kind: 'ADDRESS_CHANGED',
          event_time: local('2026-03-09', '20:00'),
          registered_mcc: null,
          ...moved,
        }),
      },
      // 25 km from the first address is home now; 25 km on from the new one is a first day away.
      ...dayAway('2026-03-10', 50 - 0.5),
    ]
    expect(runRule(relocation, events).last).toBeNull()
  })

  it.each([
    ['one wild fix among normal ones (noisy GPS)', [0.2, 800, 0.1, 0.3]],
    ['two far fixes: under the count floor', [40, 45, 0.1]],
    ['fixes jittering within a few hundred metres (look-alike)', [0.3, 0.15, 0.4, 0.25, 0.35, 0.5]],
    ['fixes just inside the radius', [9.5, 9.8, 9.9]],
  ])('stays silent on %s', (_name, kms) => {
    const events = kms.map((km, i) => fixAt(km, `1${i}:00`))
    expect(runRule(relocation, [onboarded(), ...events]).last).toBeNull()
  })

  it('is robust to one wild fix: reports the distance the floor of fixes exceeds, not the outlier', () => {
    const { last } = runRule(relocation, [
      onboarded(),
      fixAt(52, '10:00'),
      fixAt(54, '11:00'),
      fixAt(3000, '12:00'),
    ])
    expect(last?.observed).toBeCloseTo(52, 0)
    expect(last?.detail).toContain('farthest 3000')
  })

  it('counts far fixes across terminals of the merchant (a relocated device among several)', () => {
    const { last } = runRule(relocation, [
      onboarded(),
      fixAt(62, '10:00', { terminal_id: 'T-2' }),
      fixAt(0.1, '10:30', { terminal_id: 'T-1' }),
      fixAt(62, '11:00', { terminal_id: 'T-2' }),
      fixAt(63, '12:00', { terminal_id: 'T-3' }),
    ])
    expect(last?.detail).toContain('on 2 terminal(s)')
  })

  it('ignores missing fixes and the (0, 0) a receiver without a fix reports', () => {
    const events = [
      onboarded(),
      fixAt(20, '10:00', { latitude: null, longitude: null }),
      fixAt(20, '11:00', { latitude: 0, longitude: 0 }),
      fixAt(20, '12:00', { latitude: 0, longitude: 0 }),
      fixAt(20, '13:00'),
      fixAt(20, '14:00'),
    ]
    expect(runRule(relocation, events).last).toBeNull()
  })

  it('counts per local day: two far fixes yesterday and two today do not fire', () => {
    const day = (date: string, time: string) =>
      tx(local(date, time), { latitude: HOME.latitude + 0.3, longitude: HOME.longitude })
    const events = [
      onboarded(),
      day('2026-03-09', '20:00'),
      day('2026-03-09', '21:00'),
      day('2026-03-10', '01:00'),
      day('2026-03-10', '02:00'),
    ]
    expect(runRule(relocation, events).last).toBeNull()
  })

  it('stays silent while the registered location is unknown', () => {
    const events = [fixAt(50, '10:00'), fixAt(50, '11:00'), fixAt(50, '12:00')]
    expect(runRule(relocation, events).last).toBeNull()
  })

  it('measures fixes that arrived before a late onboarding event once the location is known', () => {
    const events = [fixAt(50, '10:00'), fixAt(55, '11:00'), fixAt(60, '12:00'), onboarded()]
    const { last } = runRule(relocation, events)
    expect(last?.observed).toBeCloseTo(50, 0)
  })

  it('restarts the day when the registered address changes (the merchant moved officially)', () => {
    const moved = { latitude: HOME.latitude + 30 / KM_PER_DEG_LAT, longitude: HOME.longitude }
    const events = [
      onboarded(),
      fixAt(30, '09:00'),
      fixAt(30, '09:30'),
      {
        merchant: sampleMerchantEvent({
          event_id: 'evt-2',
          kind: 'ADDRESS_CHANGED',
          event_time: local('2026-03-10', '10:00'),
          registered_mcc: null,
          ...moved,
        }),
      },
      fixAt(30, '11:00'),
      fixAt(30.2, '12:00'),
    ]
    expect(runRule(relocation, events).last).toBeNull()
  })

  it('honours a configured radius and floor', () => {
    const events = [onboarded(), fixAt(6, '10:00'), fixAt(7, '11:00')]
    expect(runRule(relocation, events).last).toBeNull()
    const { last } = runRule(relocation, events, {
      params: { maxDistanceKm: 5, minFarFixes: 2, otherCityKm: 6 },
    })
    expect(last?.observed).toBeCloseTo(6, 0)
    expect(last?.threshold).toBe(5)
    const sustained = [onboarded(), ...dayAway('2026-03-09', 20), ...dayAway('2026-03-10', 20)]
    expect(runRule(relocation, sustained).hits.length).toBe(1)
    expect(runRule(relocation, sustained, { params: { minFarDays: 3 } }).hits.length).toBe(0)
  })
})
