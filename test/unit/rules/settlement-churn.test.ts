import { describe, expect, it } from 'vitest'
import { settlementChurn } from '../../../rules/settlement-churn.ts'
import { sampleMerchantEvent } from '../../helpers/events.ts'
import { local, runRule, tx } from '../../helpers/rules.ts'

const onboarded = {
  merchant: sampleMerchantEvent({ event_time: local('2026-01-01'), settlement_account_token: 'acct-1' }),
}

/** A change of the settlement account to `account` on local `date`. */
function change(id: string, date: string, account: string) {
  return {
    merchant: sampleMerchantEvent({
      event_id: id,
      event_time: local(date),
      kind: 'SETTLEMENT_ACCOUNT_CHANGED',
      registered_mcc: null,
      settlement_account_token: account,
    }),
  }
}

describe('settlement_churn', () => {
  it('fires on two changes within 90 days, with the change events as evidence', () => {
    const { last, hits } = runRule(settlementChurn, [
      onboarded,
      change('c1', '2026-02-01', 'acct-2'),
      change('c2', '2026-03-01', 'acct-3'),
    ])
    expect(hits.length).toBe(1)
    expect(last?.observed).toBe(2)
    expect(last?.threshold).toBe(2)
    expect(last?.sampleTxnIds).toEqual(['c1', 'c2'])
    expect(last?.windowStart).toBe(local('2026-02-01'))
    expect(last?.windowEnd).toBe(local('2026-02-01') + 90 * 86_400_000)
    expect(last?.detail).toContain('changed 2 times within 90 days')
  })

  it('counts a redelivered event once, the first one included', () => {
    const c1 = change('c1', '2026-02-01', 'acct-2')
    const { hits } = runRule(settlementChurn, [c1, c1, change('c2', '2026-02-10', 'acct-3'), c1])
    expect(hits.length).toBe(1)
    expect(hits[0]?.finding.observed).toBe(2)
    expect(hits[0]?.finding.sampleTxnIds).toEqual(['c1', 'c2'])
    const once = runRule(settlementChurn, [c1, c1, c1])
    expect(once.hits).toEqual([])
  })

  it('fires when the account flips back and forth between two mules (evasion)', () => {
    const { last } = runRule(settlementChurn, [
      onboarded,
      change('c1', '2026-02-01', 'acct-2'),
      change('c2', '2026-02-20', 'acct-1'),
      change('c3', '2026-03-10', 'acct-2'),
    ])
    expect(last?.observed).toBe(3)
    expect(last?.detail).toContain('2 distinct new accounts')
  })

  it('updates one hit as further changes come in instead of adding hits', () => {
    const { hits } = runRule(settlementChurn, [
      onboarded,
      change('c1', '2026-02-01', 'acct-2'),
      change('c2', '2026-02-20', 'acct-3'),
      tx(local('2026-02-25')),
      change('c3', '2026-03-10', 'acct-4'),
    ])
    expect(hits.map((h) => h.finding.observed)).toEqual([2, 3])
    expect(new Set(hits.map((h) => h.hitId)).size).toBe(1)
  })

  it.each([
    ['a single change (a merchant switching banks: look-alike)', [change('c1', '2026-02-01', 'acct-2')]],
    [
      'two changes more than 90 days apart',
      [change('c1', '2026-01-10', 'acct-2'), change('c2', '2026-04-20', 'acct-3')],
    ],
    [
      'a "change" re-sending the account already bound',
      [change('c1', '2026-02-01', 'acct-2'), change('c2', '2026-02-10', 'acct-2')],
    ],
    [
      'the same change delivered twice (Kafka redelivery)',
      [change('c1', '2026-02-01', 'acct-2'), change('c1', '2026-02-01', 'acct-2')],
    ],
    ['the onboarding account alone', []],
  ])('stays silent on %s', (_name, events) => {
    expect(runRule(settlementChurn, [onboarded, ...events]).last).toBeNull()
  })

  it('counts a change that arrives late, after transactions moved the clock on', () => {
    const { last } = runRule(settlementChurn, [
      onboarded,
      change('c2', '2026-03-01', 'acct-3'),
      tx(local('2026-03-05')),
      change('c1', '2026-02-01', 'acct-2'),
    ])
    expect(last?.observed).toBe(2)
    expect(last?.windowStart).toBe(local('2026-02-01'))
  })

  it('judges a re-confirmation by event time, not by arrival order', () => {
    // Arrival: acct-2 on 03-01, then the late 02-01 change to acct-2. In event time the 03-01 one is a no-op.
    const events = [onboarded, change('c2', '2026-03-01', 'acct-2'), change('c1', '2026-02-01', 'acct-2')]
    expect(runRule(settlementChurn, events).last).toBeNull()
  })

  it('lets changes age out of the window as event time moves on', () => {
    const { hits } = runRule(settlementChurn, [
      onboarded,
      change('c1', '2026-01-10', 'acct-2'),
      change('c2', '2026-01-20', 'acct-3'),
      tx(local('2026-05-01')),
      change('c3', '2026-05-02', 'acct-4'),
    ])
    expect(hits.length).toBe(1)
    expect(hits[0]?.finding.observed).toBe(2)
  })

  it('honours a configured count and window', () => {
    const events = [onboarded, change('c1', '2026-02-01', 'acct-2'), change('c2', '2026-02-20', 'acct-3')]
    expect(runRule(settlementChurn, events, { params: { minChanges: 3 } }).last).toBeNull()
    expect(runRule(settlementChurn, events, { params: { windowDays: 10 } }).last).toBeNull()
    expect(runRule(settlementChurn, events.slice(0, 2), { params: { minChanges: 1 } }).last?.observed).toBe(1)
  })
})
