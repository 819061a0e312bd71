import { describe, expect, it } from 'vitest'
import { mccMismatch } from '../../../rules/mcc-mismatch.ts'
import type { TerminalTransaction } from '../../../schemas/types.generated.ts'
import { sampleMerchantEvent } from '../../helpers/events.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

const registered = (mcc: string, at = local('2026-03-01')) => ({
  merchant: sampleMerchantEvent({ event_time: at, registered_mcc: mcc }),
})

/** `n` approved sales of 1,000.00 under `mcc`, one a minute from `time` on 2026-03-10. */
function sales(n: number, mcc: string, time = '10', extra: Partial<TerminalTransaction> = {}) {
  return Array.from({ length: n }, (_, i) =>
    tx(local('2026-03-10', `${time}:${String(i).padStart(2, '0')}`), {
      mcc,
      amount_minor: 100_000,
      ...extra,
    }),
  )
}

describe('mcc_mismatch', () => {
  it('fires when a jeweller submits part of its volume as a supermarket, weighted by the fee gap', () => {
    const { last } = runRule(mccMismatch, [
      registered('5944'),
      ...sales(20, '5944', '10'),
      ...sales(5, '5411', '11'),
    ])
    // 5 of 25 equal sales avoided 22 of 60 bp: 0.2 × 22/60.
    expect(last?.observed).toBeCloseTo((0.2 * 22) / 60, 6)
    expect(last?.threshold).toBe(0)
    expect(last?.sampleTxnIds.length).toBe(5)
    expect(last?.windowStart).toBe(local('2026-02-09', '00:00'))
    expect(last?.windowEnd).toBe(local('2026-03-11', '00:00'))
    expect(last?.detail).toContain('5 approved sales (20.0% of volume)')
  })

  it.each([
    ['supermarket', '5411', 22],
    ['utilities', '4900', 22],
    ['schools', '8211', 60],
    ['hospitals', '8062', 60],
    ['charities', '8398', 60],
    ['government', '9399', 60],
  ])('fires on a single sale jumped to %s (%s) among 99 honest ones', (_name, mcc, gapBp) => {
    const { last } = runRule(mccMismatch, [
      registered('5944'),
      ...sales(50, '5944', '10'),
      ...sales(49, '5944', '11'),
      ...sales(1, mcc, '12'),
    ])
    expect(last?.observed).toBeCloseTo((0.01 * gapBp) / 60, 6)
  })

  it('weighs a jump to a free category more than one to a discounted category', () => {
    const run = (mcc: string) =>
      runRule(mccMismatch, [registered('5944'), ...sales(10, '5944'), ...sales(10, mcc, '11')]).last
        ?.observed ?? 0
    expect(run('8398')).toBeGreaterThan(run('5411'))
  })

  it.each<[string, string, [number, string][]]>([
    ['a supermarket submitting as itself', '5411', [[30, '5411']]],
    [
      'a department store with a few sales under another standard MCC',
      '5311',
      [
        [27, '5311'],
        [3, '5812'],
      ],
    ],
    [
      'a supermarket with a few sales under a dearer MCC (no fee avoided)',
      '5411',
      [
        [27, '5411'],
        [3, '5944'],
      ],
    ],
    [
      'a hospital (nothing is cheaper than free) with some other MCC sales',
      '8062',
      [
        [27, '8062'],
        [3, '8398'],
      ],
    ],
  ])('stays silent for %s (look-alike)', (_name, reg, groups) => {
    const events = groups.flatMap(([n, mcc], i) => sales(n, mcc, String(10 + i)))
    expect(runRule(mccMismatch, [registered(reg), ...events]).last).toBeNull()
  })

  it('fires on a share of volume under another MCC of the same tier', () => {
    const { last } = runRule(mccMismatch, [
      registered('5311'),
      ...sales(20, '5311'),
      ...sales(10, '5999', '11'),
    ])
    expect(last?.observed).toBeCloseTo(1 / 3, 6)
    expect(last?.threshold).toBe(0.2)
    expect(last?.detail).toContain('10 of 30 approved sales')
  })

  it('needs the count floors before a share fires', () => {
    expect(runRule(mccMismatch, [registered('5311'), ...sales(3, '5999')]).last).toBeNull()
    expect(
      runRule(mccMismatch, [registered('5311'), ...sales(30, '5311'), ...sales(4, '5999', '11')]).last,
    ).toBeNull()
    const { last } = runRule(mccMismatch, [registered('5311'), ...sales(3, '5999')], {
      params: { minTxns: 3, minOtherTxns: 3 },
    })
    expect(last?.observed).toBe(1)
  })

  it('ignores declined attempts and refunds under a cheaper MCC', () => {
    const events = [
      registered('5944'),
      ...sales(20, '5944'),
      ...sales(3, '8398', '11', { response_code: '05' }),
      ...sales(3, '8398', '12', { txn_type: 'REFUND' }),
    ]
    expect(runRule(mccMismatch, events).last).toBeNull()
  })

  it('stays silent while the registered MCC is unknown', () => {
    expect(runRule(mccMismatch, sales(30, '8398')).last).toBeNull()
  })

  it('measures sales that arrived before a late onboarding event once the registered MCC is known', () => {
    const early = sales(10, '8398')
    expect(runRule(mccMismatch, early).last).toBeNull()
    const { last } = runRule(mccMismatch, [...early, registered('5944')])
    expect(last?.observed).toBe(1)
  })

  it('re-measures the window when the registered MCC changes: a late re-registration clears the jump', () => {
    const before = [registered('5944'), ...sales(5, '5411')]
    const events = [
      ...before,
      {
        merchant: sampleMerchantEvent({
          event_id: 'evt-2',
          kind: 'MCC_CHANGED',
          event_time: local('2026-03-05'),
          registered_mcc: '5411',
        }),
      },
      ...sales(5, '5411', '11'),
    ]
    const { hits } = runRule(mccMismatch, events)
    // The jumps fired before the change was known; nothing fires once it is (hits are not retracted).
    expect(hits.length).toBeGreaterThan(0)
    expect(hits.length).toBe(runRule(mccMismatch, before).hits.length)
    expect(hits.every((h) => h.finding.detail.includes('registered 5944'))).toBe(true)
  })

  describe('an honest re-registration', () => {
    /** `n` approved sales of 1,000.00 under `mcc` on `date`, one a minute from 10:00. */
    const on = (date: string, n: number, mcc: string) =>
      Array.from({ length: n }, (_, i) =>
        tx(local(date, `10:${String(i).padStart(2, '0')}`), { mcc, amount_minor: 100_000 }),
      )
    const changed = (date: string, mcc: string) => ({
      merchant: sampleMerchantEvent({
        event_id: `evt-${date}`,
        kind: 'MCC_CHANGED',
        event_time: local(date, '08:00'),
        registered_mcc: mcc,
      }),
    })

    it('is not a breach of the new MCC by the sales made under the old one before it', () => {
      // A supermarket (discounted tier) re-registered as a grocery (standard): the sales of the days
      // before, under 5411, are a cheaper tier than 5499 but were the registration then.
      const events = [
        registered('5411'),
        ...on('2026-03-05', 20, '5411'),
        ...on('2026-03-06', 20, '5411'),
        changed('2026-03-07', '5499'),
        ...on('2026-03-07', 20, '5499'),
        ...on('2026-03-08', 20, '5499'),
      ]
      expect(runRule(mccMismatch, events).hits.length).toBe(0)
    })

    it('allows a terminal not yet updated for `graceDays`, and fires on the old MCC after them', () => {
      const base = [registered('5411'), ...on('2026-03-05', 20, '5411'), changed('2026-03-07', '5499')]
      const lagging = [...base, ...on('2026-03-09', 20, '5411'), ...on('2026-03-10', 20, '5499')]
      expect(runRule(mccMismatch, lagging).hits.length).toBe(0)
      const late = [...base, ...on('2026-03-15', 20, '5411')]
      const { last } = runRule(mccMismatch, late)
      expect(last?.detail).toContain('registered 5499')
      expect(last?.sampleTxnIds.length).toBe(5)
      expect(runRule(mccMismatch, lagging, { params: { graceDays: 1 } }).hits.length).toBeGreaterThan(0)
    })

    it("counts the grace from the change's own day, whether its event comes in order or late", () => {
      const before = [registered('5411'), ...on('2026-03-05', 20, '5411')]
      const after = [...on('2026-03-16', 20, '5499')]
      // Sales under the old MCC nine days after the change: past the grace either way.
      const stale = on('2026-03-16', 3, '5411').map((t) => ({ ...t, txn_id: `${t.txn_id}-stale` }))
      const inOrder = runRule(mccMismatch, [...before, changed('2026-03-07', '5499'), ...after, ...stale])
      const late = runRule(mccMismatch, [...before, ...after, changed('2026-03-07', '5499'), ...stale])
      expect(inOrder.last?.detail).toContain('registered 5499')
      expect(late.last?.detail).toContain('registered 5499')
      expect(late.last?.observed).toBe(inOrder.last?.observed)
    })

    it('still fires on a jump to another cheaper MCC than the previous one', () => {
      const events = [
        registered('5944'),
        ...on('2026-03-05', 20, '5944'),
        changed('2026-03-07', '5311'),
        ...on('2026-03-07', 20, '5311'),
        ...on('2026-03-08', 3, '8398'),
      ]
      expect(runRule(mccMismatch, events).last?.detail).toContain('registered 5311')
    })
  })

  it('re-measures a day of several MCCs to what measuring each sale on arrival gives', () => {
    // The first MCC of a day is re-measured from the day's sales less the other MCCs' tallies (the fee
    // avoided is summed in another order, so it may differ in the last bit).
    const day = [
      ...sales(4, '5944', '10', { amount_minor: 123_400 }),
      ...sales(3, '5411', '11', { amount_minor: 56_700 }),
      ...sales(2, '5944', '12', { amount_minor: 99_900 }),
      ...sales(2, '8398', '13', { amount_minor: 300_000 }),
      ...sales(1, '9399', '14', { amount_minor: 45_600 }),
    ]
    const onArrival = runRule(mccMismatch, [registered('5812'), ...day]).last
    const remeasured = runRule(mccMismatch, [...day, registered('5812', local('2026-03-10', '15:00'))]).last
    expect(onArrival?.detail).toContain('sales')
    expect(remeasured?.observed).toBeCloseTo(onArrival?.observed ?? Number.NaN, 12)
    expect(remeasured?.detail).toBe(onArrival?.detail)
  })

  it('pools the MCCs of a day after the eighth, and re-measures a day of nine tallies the same', () => {
    const others = ['5812', '5813', '5999', '5732', '5651', '5691', '5712', '5722', '5733', '5734', '5735']
    const day = [
      ...sales(1, '5411', '09'),
      ...sales(10, '5944', '10'),
      ...others.map((mcc, i) => tx(local('2026-03-10', `11:${String(i).padStart(2, '0')}`), { mcc })),
    ]
    const onArrival = runRule(mccMismatch, [registered('5944'), ...day]).last
    const remeasured = runRule(mccMismatch, [...day, registered('5944', local('2026-03-10', '15:00'))]).last
    expect(onArrival?.detail).toContain('1 approved sales')
    expect(remeasured?.detail).toBe(onArrival?.detail)
    expect(remeasured?.observed).toBe(onArrival?.observed)
  })

  it('counts the sale that follows a reload of the fee rates once', () => {
    // The reload makes that sale re-measure the window, whose tallies already hold it.
    const { last } = runRule(mccMismatch, [
      registered('5944'),
      ...sales(9, '5944', '10'),
      { reload: { feeEssentialBp: 30 } },
      ...sales(1, '5411', '11'),
    ])
    // 1 of 10 equal sales avoided 30 of 60 bp.
    expect(last?.detail).toContain('1 approved sales (10.0% of volume)')
    expect(last?.observed).toBeCloseTo((0.1 * 30) / 60, 6)
  })

  it('shows the samples of the mismatched days in day order, a late day among them', () => {
    const jump = (day: string, id: string) => tx(local(day, '12:00'), { mcc: '8398', txn_id: id })
    const { last } = runRule(
      mccMismatch,
      [
        registered('5944'),
        ...sales(10, '5944'),
        jump('2026-03-06', 'a'),
        jump('2026-03-10', 'c'),
        jump('2026-03-08', 'b'),
      ],
      { allowedLatenessMs: 5 * 86_400_000 },
    )
    expect(last?.sampleTxnIds).toEqual(['a', 'b', 'c'])
    expect(last?.detail).toContain('3 approved sales')
  })

  it('drops sales older than 30 days from the window', () => {
    const old = Array.from({ length: 3 }, (_, i) => tx(local('2026-02-01', `10:0${i}`), { mcc: '8398' }))
    const events = [registered('5944', local('2026-01-01')), ...old, ...sales(20, '5944')]
    const { hits } = runRule(mccMismatch, events)
    expect(hits.length).toBeGreaterThan(0)
    expect(hits.every((h) => h.finding.windowEnd <= local('2026-02-02', '00:00'))).toBe(true)
  })

  describe('re-registrations', () => {
    const change = (date: string, mcc: string, id = `evt-${date}`) => ({
      merchant: sampleMerchantEvent({
        event_id: id,
        kind: 'MCC_CHANGED',
        event_time: local(date, '08:00'),
        registered_mcc: mcc,
      }),
    })
    /** 20 approved sales of 1,000.00 under `mcc` on `date`, as a merchant keeping to its registration. */
    const trade = (date: string, mcc: string) =>
      Array.from({ length: 20 }, (_, i) =>
        tx(local(date, `10:${String(i).padStart(2, '0')}`), { mcc, amount_minor: 100_000 }),
      )

    it('fires on a second change of the registered MCC within 90 days, with no sale under another MCC', () => {
      const events = [
        registered('5812', local('2025-06-01')),
        ...trade('2026-01-05', '5812'),
        change('2026-01-10', '5999'),
        ...trade('2026-01-20', '5999'),
        change('2026-03-01', '7299'),
        ...trade('2026-03-02', '7299'),
      ]
      const { last, hits } = runRule(mccMismatch, events)
      expect(last?.observed).toBe(2)
      expect(last?.threshold).toBe(2)
      expect(last?.windowStart).toBe(local('2026-01-10', '08:00'))
      expect(last?.windowEnd).toBe(local('2026-01-10', '08:00') + 90 * 86_400_000)
      expect(last?.sampleTxnIds).toEqual(['evt-2026-01-10', 'evt-2026-03-01'])
      expect(last?.detail).toContain('changed 2 times within 90 days (to 5999, then 7299;')
      // Found at the second change and kept as one hit (one window start) after it.
      expect(new Set(hits.map((h) => h.finding.windowStart))).toEqual(new Set([local('2026-01-10', '08:00')]))
    })

    it('does not fire on one change (a correction or a change of trade), nor on two 90 days apart', () => {
      const one = [
        registered('5812', local('2025-06-01')),
        change('2026-01-10', '5999'),
        ...trade('2026-01-20', '5999'),
      ]
      expect(runRule(mccMismatch, one).hits).toEqual([])
      const apart = [
        registered('5812', local('2025-06-01')),
        change('2026-01-10', '5999'),
        change('2026-04-15', '7299'),
        ...trade('2026-04-16', '7299'),
      ]
      expect(runRule(mccMismatch, apart).hits).toEqual([])
      expect(
        runRule(mccMismatch, apart, { params: { registrationWindowDays: 90, minRegistrationChanges: 1 } })
          .last?.observed,
      ).toBe(1)
    })

    it('counts a redelivered change once, and not a change to the MCC already registered', () => {
      const events = [
        registered('5812', local('2025-06-01')),
        change('2026-01-10', '5812'),
        change('2026-01-12', '5999'),
        change('2026-01-12', '5999'),
        change('2026-01-14', '5999', 'evt-again'),
        ...trade('2026-01-20', '5999'),
      ]
      expect(runRule(mccMismatch, events).hits).toEqual([])
    })

    it('judges each MCC by the weeks it was registered: three registrations in a month are no submission breach', () => {
      // A restaurant re-registered as a variety store, then as a supermarket (cheaper), every sale under
      // the MCC of its day. Remembering only the last change took the restaurant's sales of the first
      // week, under 5812 while 5812 was registered, for submissions against 5411.
      const events = [
        registered('5812', local('2025-06-01')),
        ...trade('2026-03-02', '5812'),
        ...trade('2026-03-04', '5812'),
        change('2026-03-06', '5999'),
        ...trade('2026-03-08', '5999'),
        ...trade('2026-03-13', '5999'),
        change('2026-03-20', '5411'),
        ...trade('2026-03-21', '5411'),
        ...trade('2026-03-24', '5411'),
      ]
      const { hits, last } = runRule(mccMismatch, events)
      expect(last?.detail).toContain('The registered MCC changed 2 times within 90 days (to 5999, then 5411;')
      expect(hits.filter((h) => h.finding.detail.includes('submitted under'))).toEqual([])
      // The first MCC's sales after its grace are still a breach of the registration of their day.
      const stale = ['2026-03-25', '2026-03-26', '2026-03-27'].flatMap((d) =>
        trade(d, '5812').map((t) => ({ ...t, txn_id: `${t.txn_id}-stale` })),
      )
      const late = runRule(mccMismatch, [...events, ...stale]).hits
      expect(late.some((h) => h.finding.detail.includes('other than the registered 5411'))).toBe(true)
    })

    it('counts changes whose events arrive out of order as they happened', () => {
      const events = [
        registered('5812', local('2025-06-01')),
        change('2026-03-01', '7299'),
        change('2026-01-10', '5999'),
        ...trade('2026-03-02', '7299'),
      ]
      const { last } = runRule(mccMismatch, events)
      expect(last?.observed).toBe(2)
      expect(last?.detail).toContain('to 5999, then 7299')
    })
  })
})
