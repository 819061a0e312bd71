import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { isWholeUnit } from '../../lib/currency.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import { EVERY_ACQUIRER, validateMerchantEvent, validateTransaction } from '../../schemas/validate.ts'
import { categoryByMcc } from '../../simulator/catalogue.ts'
import { DEFAULT_START, HistorySimulator, type SimEvent } from '../../simulator/history.ts'
import type { MerchantLabel } from '../../simulator/labels.ts'
import { population } from '../../simulator/population.ts'

const DAY = 86_400_000

function digest(sim: HistorySimulator): string {
  const h = createHash('sha256')
  for (const e of sim.events()) h.update(JSON.stringify(e))
  return h.digest('hex')
}

// One month of 400 merchants, generated once for the label checks below.
const sim = new HistorySimulator({ seed: 5, merchants: 400, days: 30, start: DEFAULT_START })
const events: SimEvent[] = [...sim.events()]
const txns: TerminalTransaction[] = []
const lifecycle: MerchantEvent[] = []
for (const e of events) {
  if (e.topic === 'transactions') txns.push(e.value)
  else lifecycle.push(e.value)
}
const labels = sim.labels.merchants
const byScenario = (s: string): MerchantLabel[] => labels.filter((l) => l.scenario === s)
const sales = (merchantId: string) =>
  txns.filter((t) => t.merchant_id === merchantId && t.response_code === '00' && t.txn_type === 'PURCHASE')
const localDay = (t: number) => Math.floor((t - DEFAULT_START) / DAY)

// A smaller month of population B, for the kinds only B has (paper MCC jumpers, truck stops).
const specB = population('B', { merchants: 600, days: 30 })
const simB = new HistorySimulator(specB)
const labelsB = simB.labels.merchants
const eventsB: SimEvent[] = [...simB.events()]
const inB = (scenario: string) => {
  const ids = new Set(labelsB.filter((l) => l.scenario === scenario).map((l) => l.merchant_id))
  return eventsB.filter((e) => ids.has(e.value.merchant_id))
}
const dayB = (t: number) => Math.floor((t - specB.start) / DAY)

describe('labelled history simulator', () => {
  it('gives the same events and labels for the same seed, and others for another seed', () => {
    const a = new HistorySimulator({ seed: 9, merchants: 300, days: 3, start: DEFAULT_START })
    const b = new HistorySimulator({ seed: 9, merchants: 300, days: 3, start: DEFAULT_START })
    const c = new HistorySimulator({ seed: 10, merchants: 300, days: 3, start: DEFAULT_START })
    expect(b.labels).toEqual(a.labels)
    const da = digest(a)
    expect(digest(b)).toBe(da)
    expect(digest(c)).not.toBe(da)
    expect(c.labels).not.toEqual(a.labels)
    // One pass per simulator: a second would silently be another history.
    expect(() => [...a.events()]).toThrow(/once/)
  })

  it('replays history days before the measured start, with breaches only after it', () => {
    const h = new HistorySimulator({ seed: 4, merchants: 300, days: 6, historyDays: 3, start: DEFAULT_START })
    expect(h.labels).toMatchObject({ start: DEFAULT_START, days: 6, historyDays: 3 })
    const all = [...h.events()]
    const sales = all.filter((e) => e.topic === 'transactions')
    const first = Math.min(...sales.map((e) => e.value.event_time))
    expect(first).toBeLessThan(DEFAULT_START - 2 * DAY)
    expect(first).toBeGreaterThanOrEqual(DEFAULT_START - 3 * DAY)
    const churners = new Set(
      h.labels.merchants.filter((l) => l.label === 'compliance').map((l) => l.merchant_id),
    )
    const breaches = all.filter(
      (e) =>
        e.topic === 'merchantEvents' &&
        churners.has(e.value.merchant_id) &&
        e.value.kind !== 'ONBOARDED' &&
        e.value.kind !== 'TERMINAL_BOUND',
    )
    expect(breaches.length).toBeGreaterThan(0)
    for (const e of breaches) expect(e.value.event_time).toBeGreaterThanOrEqual(DEFAULT_START)
  })

  it('hands out valid events in event-time order, each id once', () => {
    const opts = { now: Date.now(), maxFutureSkewMs: 0, isKnownAcquirer: EVERY_ACQUIRER }
    let backwards = 0
    for (let i = 1; i < events.length; i++)
      if ((events[i]?.value.event_time ?? 0) < (events[i - 1]?.value.event_time ?? 0)) backwards++
    expect(backwards).toBe(0)
    for (const t of txns.slice(0, 20_000)) {
      const r = validateTransaction(t, opts)
      expect(r.ok ? '' : r.error.message).toBe('')
    }
    for (const e of lifecycle) expect(validateMerchantEvent(e, opts).ok).toBe(true)
    expect(new Set(txns.map((t) => t.txn_id)).size).toBe(txns.length)
    expect(new Set(lifecycle.map((e) => e.event_id)).size).toBe(lifecycle.length)
  })

  it('labels every merchant once, with every scenario present and ids that do not give labels away', () => {
    expect(labels).toHaveLength(400)
    expect(new Set(labels.map((l) => l.merchant_id)).size).toBe(400)
    const scenarios = new Set(labels.map((l) => l.scenario))
    for (const s of [
      'structuring',
      'near_round',
      'whole_units',
      'credit_mix',
      'card_pairs',
      'card_cycle',
      'ring',
    ])
      expect(scenarios).toContain(s)
    for (const s of ['relocation', 'mcc_mismatch', 'settlement_churn', 'shared_account', 'terminal_lent'])
      expect(scenarios).toContain(s)
    for (const s of [
      'car_dealer',
      'jeweller',
      'school',
      'hospital',
      'wholesaler',
      'night_bar',
      'market_stall',
    ])
      expect(scenarios).toContain(s)
    for (const l of labels) {
      if (l.label === 'legit' || l.label === 'lookalike') expect(l.expected_rules).toEqual([])
      expect(l.merchant_id).toMatch(/^m-5-\d{6}$/)
    }
    // Look-alikes trade in their category; every merchant has an onboarding event.
    const onboarded = new Map(lifecycle.filter((e) => e.kind === 'ONBOARDED').map((e) => [e.merchant_id, e]))
    for (const l of labels) {
      const mcc = onboarded.get(l.merchant_id)?.registered_mcc
      expect(mcc).toBeDefined()
      if (l.label === 'lookalike') expect(categoryByMcc(mcc ?? '').lookalike).toBe(l.scenario)
    }
  })

  it('structuring merchants keep large swipes and days just under the limits', () => {
    for (const l of byScenario('structuring')) {
      const large = sales(l.merchant_id).filter((t) => t.amount_minor >= 2_500_000)
      expect(large.length).toBeGreaterThan(40)
      for (const t of large) {
        expect(t.amount_minor).toBeGreaterThanOrEqual(4_500_000)
        expect(t.amount_minor).toBeLessThan(5_000_000)
      }
      const perDay = new Map<number, number>()
      for (const t of large)
        perDay.set(localDay(t.event_time), (perDay.get(localDay(t.event_time)) ?? 0) + t.amount_minor)
      for (const total of perDay.values()) expect(total).toBeLessThan(30_000_000)
    }
  })

  it('near-round, whole-unit and credit-mix merchants show their tactic in the amounts', () => {
    for (const l of byScenario('near_round')) {
      const large = sales(l.merchant_id).filter((t) => t.amount_minor >= 500_000)
      expect(large.length).toBeGreaterThan(50)
      const near = large.filter((t) => {
        const major = t.amount_minor / 100
        const round = Math.round(major / 1000) * 1000
        return major !== round && Math.abs(major - round) <= 0.02 * round
      })
      expect(near.length / large.length).toBeGreaterThan(0.9)
    }
    for (const l of byScenario('whole_units')) {
      // The shop front's rare large sales have cents; the cash-out swipes never do.
      const large = sales(l.merchant_id).filter((t) => t.amount_minor >= 200_000)
      expect(large.length).toBeGreaterThan(50)
      expect(large.filter((t) => isWholeUnit(t.amount_minor, 'CNY')).length / large.length).toBeGreaterThan(
        0.95,
      )
    }
    for (const l of byScenario('credit_mix')) {
      const s = sales(l.merchant_id)
      const debit = s.filter(
        (t) => t.card_type === 'DEBIT' && t.amount_minor >= 10_000 && t.amount_minor < 12_500,
      )
      const credit = s.filter((t) => t.card_type === 'CREDIT' && t.amount_minor >= 200_000)
      expect(debit.length).toBeGreaterThan(10)
      // About four credit swipes to one debit (a grocery front's own debit sales of that size dilute it).
      expect(credit.length / debit.length).toBeGreaterThan(2)
      expect(credit.length / debit.length).toBeLessThan(5.5)
    }
  })

  it('card-pair merchants swipe the same card twice a day, 5 to 9 minutes apart', () => {
    for (const l of byScenario('card_pairs')) {
      const large = txns.filter((t) => t.merchant_id === l.merchant_id && t.amount_minor >= 200_000)
      const byCardDay = new Map<string, number[]>()
      for (const t of large) {
        const k = `${t.card_token}|${localDay(t.event_time)}`
        byCardDay.set(k, [...(byCardDay.get(k) ?? []), t.event_time])
      }
      const pairs = [...byCardDay.values()].filter((ts) => ts.length === 2)
      expect(pairs.length).toBeGreaterThan(100)
      for (const [a = 0, b = 0] of pairs) {
        const gap = Math.abs(b - a) / 60_000
        expect(gap).toBeGreaterThanOrEqual(5)
        expect(gap).toBeLessThan(9)
      }
    }
  })

  it('rings spread their cards over several merchants of one acquirer; card cycles cross the month, then move', () => {
    const byCard = new Map<string, TerminalTransaction[]>()
    for (const t of txns) byCard.set(t.card_token, [...(byCard.get(t.card_token) ?? []), t])
    for (const l of byScenario('ring')) {
      const ring = byScenario('ring')
        .filter((x) => x.acquirer_id === l.acquirer_id)
        .map((x) => x.merchant_id)
      const cards = new Set(
        sales(l.merchant_id)
          .filter((t) => t.amount_minor >= 200_000)
          .map((t) => t.card_token),
      )
      const spread = [...cards].filter((c) => {
        const week = (byCard.get(c) ?? []).filter((t) => localDay(t.event_time) < 7)
        return new Set(week.map((t) => t.merchant_id).filter((m) => ring.includes(m))).size >= 3
      })
      expect(spread.length).toBeGreaterThan(5)
    }
    const cycle = byScenario('card_cycle')
    expect(cycle.length).toBeGreaterThanOrEqual(2)
    const cardsAt = new Map<string, Set<string>>()
    for (const l of cycle) {
      const mine = txns.filter((t) => t.merchant_id === l.merchant_id && t.amount_minor >= 600_000)
      const days = new Map<string, number[]>()
      for (const t of mine)
        days.set(t.card_token, [...(days.get(t.card_token) ?? []), localDay(t.event_time)])
      cardsAt.set(l.merchant_id, new Set(days.keys()))
      // A card comes back about 16 days after its statement swipe, across the month boundary for some.
      const back = [...days.values()].filter(
        (d) => d.length === 2 && Math.abs((d[1] ?? 0) - (d[0] ?? 0)) >= 10,
      )
      expect(back.length).toBeGreaterThanOrEqual(3)
    }
    // The two members of a cycle farm one pool: cards moving on at the month's turn show at both.
    const members = [...cardsAt.values()]
    const moved = members.flatMap((a, i) =>
      members.slice(i + 1).map((b) => [...a].filter((c) => b.has(c)).length),
    )
    expect(Math.max(...moved)).toBeGreaterThan(0)
  })

  it('compliance merchants show their breach in the events', () => {
    const registered = new Map(lifecycle.filter((e) => e.kind === 'ONBOARDED').map((e) => [e.merchant_id, e]))
    const km = (a: TerminalTransaction, on: MerchantEvent | undefined) =>
      111 *
      Math.hypot((a.latitude ?? 0) - (on?.latitude ?? 0), ((a.longitude ?? 0) - (on?.longitude ?? 0)) * 0.86)
    for (const l of byScenario('relocation')) {
      const far = txns.filter(
        (t) => t.merchant_id === l.merchant_id && km(t, registered.get(l.merchant_id)) > 10,
      )
      expect(far.length).toBeGreaterThan(30)
    }
    for (const l of byScenario('mcc_mismatch')) {
      const reg = registered.get(l.merchant_id)?.registered_mcc
      expect(txns.filter((t) => t.merchant_id === l.merchant_id && t.mcc !== reg).length).toBeGreaterThan(10)
    }
    for (const l of byScenario('settlement_churn')) {
      expect(
        lifecycle.filter((e) => e.merchant_id === l.merchant_id && e.kind === 'SETTLEMENT_ACCOUNT_CHANGED')
          .length,
      ).toBeGreaterThanOrEqual(2)
    }
    const shared = new Map<string, Set<string>>()
    for (const e of lifecycle)
      if (e.kind === 'SETTLEMENT_ACCOUNT_CHANGED' && e.settlement_account_token !== null)
        shared.set(
          e.settlement_account_token,
          (shared.get(e.settlement_account_token) ?? new Set()).add(e.merchant_id),
        )
    for (const l of byScenario('shared_account'))
      expect([...shared.values()].some((ms) => ms.size >= 3 && ms.has(l.merchant_id))).toBe(true)
    const boundTo = new Map<string, Set<string>>()
    for (const e of lifecycle)
      if (e.kind === 'TERMINAL_BOUND' && e.terminal_id !== null)
        boundTo.set(e.terminal_id, (boundTo.get(e.terminal_id) ?? new Set()).add(e.merchant_id))
    const doubles = [...boundTo.values()].filter((ms) => ms.size > 1)
    expect(doubles.length).toBe(byScenario('terminal_double_bound').length / 2)
    // A borrower sells on terminals bound to someone else only.
    const borrowers = byScenario('terminal_lent').filter((l) => l.expected_rules.length > 0)
    expect(borrowers.length).toBeGreaterThan(0)
    for (const l of borrowers) {
      const foreign = txns.filter(
        (t) => t.merchant_id === l.merchant_id && !boundTo.get(t.terminal_id)?.has(l.merchant_id),
      )
      expect(foreign.length).toBeGreaterThan(5)
    }
  })

  it('gives legitimate cards the habits of real ones: several merchants a week, regulars, shared neighbourhoods', () => {
    const plain = new Set(labels.filter((l) => l.label === 'legit').map((l) => l.merchant_id))
    const week = new Map<string, Set<string>>()
    const month = new Map<string, Set<string>>()
    for (const t of txns) {
      if (t.response_code !== '00' || !plain.has(t.merchant_id)) continue
      month.set(t.card_token, (month.get(t.card_token) ?? new Set()).add(t.merchant_id))
      if (localDay(t.event_time) >= 7 && localDay(t.event_time) < 14)
        week.set(t.card_token, (week.get(t.card_token) ?? new Set()).add(t.merchant_id))
    }
    const share = (m: Map<string, Set<string>>, n: number) =>
      [...m.values()].filter((s) => s.size >= n).length / m.size
    // "One card at three merchants in a week" is normal life, and most cards do so within the month.
    expect(share(month, 3)).toBeGreaterThan(0.6)
    expect(share(week, 3)).toBeGreaterThan(0.25)
    // Regulars: at a grocery, a good share of the month's sales come from cards seen there on 3+ days.
    const grocery = sim.merchants.filter(
      (m) => m.label.label === 'legit' && m.category.mcc === '5411' && m.size > 1,
    )
    expect(grocery.length).toBeGreaterThan(0)
    for (const m of grocery.slice(0, 5)) {
      const days = new Map<string, Set<number>>()
      const mine = sales(m.merchantId)
      for (const t of mine)
        days.set(t.card_token, (days.get(t.card_token) ?? new Set()).add(localDay(t.event_time)))
      const regular = mine.filter((t) => (days.get(t.card_token)?.size ?? 0) >= 3).length
      expect(regular / mine.length).toBeGreaterThan(0.2)
    }
  })

  it('has wholesalers share business customers and hotels charge guests day after day', () => {
    const wholesalers = sim.merchants.filter((m) => m.label.scenario === 'wholesaler')
    const cards = new Map(
      wholesalers.map((m) => [m.merchantId, new Set(sales(m.merchantId).map((t) => t.card_token))]),
    )
    const cardsOf = (id: string) => cards.get(id) ?? new Set<string>()
    const overlaps = wholesalers.flatMap((a, i) =>
      wholesalers
        .slice(i + 1)
        .filter((b) => b.city === a.city)
        .map((b) => [...cardsOf(a.merchantId)].filter((c) => cardsOf(b.merchantId).has(c)).length),
    )
    expect(Math.max(0, ...overlaps)).toBeGreaterThan(2)
    for (const h of sim.merchants.filter((m) => m.label.scenario === 'hotel').slice(0, 3)) {
      const days = new Map<string, Set<number>>()
      for (const t of sales(h.merchantId))
        days.set(t.card_token, (days.get(t.card_token) ?? new Set()).add(localDay(t.event_time)))
      expect([...days.values()].filter((d) => d.size >= 3).length).toBeGreaterThan(0)
    }
  })

  it('leaves out the look-alike kinds and compliance scenarios a population weighs 0', () => {
    const spec = population('B', {
      merchants: 400,
      days: 1,
      lookalikeWeights: { school: 0, hotel: 2 },
      complianceWeights: { relocation: 0 },
    })
    const scenarios = new Set(new HistorySimulator(spec).labels.merchants.map((l) => l.scenario))
    expect(scenarios).not.toContain('school')
    expect(scenarios).not.toContain('relocation')
    expect(scenarios).toContain('hotel')
    expect(scenarios).toContain('settlement_churn')
    expect(() => population('B', { complianceWeights: { ring: 1 } })).toThrow(/complianceWeights.ring/)
    expect(() => population('B', { lookalikeWeights: { truckstop: 1 } })).toThrow(/lookalikeWeights/)
  })

  it('has paper MCC jumpers in B only: re-registered again and again, every sale under the MCC of the day', () => {
    const jumpers = labelsB.filter((l) => l.scenario === 'paper_mcc_jump')
    expect(jumpers.length).toBeGreaterThanOrEqual(2)
    for (const l of jumpers)
      expect(l).toMatchObject({ label: 'compliance', expected_rules: ['mcc_mismatch'] })
    const mine = inB('paper_mcc_jump')
    for (const l of jumpers) {
      const own = mine.filter((e) => e.value.merchant_id === l.merchant_id)
      const changes = own.flatMap((e) =>
        e.topic === 'merchantEvents' && e.value.kind === 'MCC_CHANGED' ? [e.value] : [],
      )
      expect(changes.length).toBeGreaterThanOrEqual(2)
      for (const c of changes) {
        const r = validateMerchantEvent(c, {
          now: Date.now(),
          maxFutureSkewMs: 0,
          isKnownAcquirer: EVERY_ACQUIRER,
        })
        expect(r.ok ? '' : r.error.message).toBe('')
      }
      // Within the measured days, a few days apart, each to another MCC than the one registered.
      const onboarded = own.flatMap((e) =>
        e.topic === 'merchantEvents' && e.value.kind === 'ONBOARDED' ? [e.value] : [],
      )
      let registered = onboarded[0]?.registered_mcc ?? null
      expect(registered).not.toBeNull()
      let last = Number.NEGATIVE_INFINITY
      for (const c of changes) {
        expect(dayB(c.event_time)).toBeGreaterThanOrEqual(0)
        expect(dayB(c.event_time)).toBeLessThan(30)
        expect(c.event_time - last).toBeGreaterThanOrEqual(3 * DAY)
        expect(c.registered_mcc).not.toBe(registered)
        registered = c.registered_mcc
        last = c.event_time
      }
      // Every sale under the MCC registered at its time (the stream is in event-time order), under
      // several MCCs over the month.
      registered = null
      const submitted = new Set<string>()
      for (const e of own) {
        if (e.topic === 'merchantEvents') registered = e.value.registered_mcc ?? registered
        else {
          expect(e.value.mcc).toBe(registered)
          submitted.add(e.value.mcc)
        }
      }
      expect(submitted.size).toBeGreaterThanOrEqual(2)
    }
  })

  it('has truck stops in B only: fleet fuel cards swiped several times a day for large fill-ups, day and night', () => {
    const stops = labelsB.filter((l) => l.scenario === 'truck_stop')
    expect(stops.length).toBeGreaterThanOrEqual(1)
    for (const l of stops) expect(l).toMatchObject({ label: 'lookalike', expected_rules: [] })
    const mine = inB('truck_stop')
    const elsewhere = new Set(
      eventsB.flatMap((e) =>
        e.topic === 'transactions' && !stops.some((l) => l.merchant_id === e.value.merchant_id)
          ? [e.value.card_token]
          : [],
      ),
    )
    for (const l of stops) {
      const own = mine.filter((e) => e.value.merchant_id === l.merchant_id)
      const onboarded = own.find((e) => e.topic === 'merchantEvents' && e.value.kind === 'ONBOARDED')
      expect(onboarded?.topic === 'merchantEvents' && onboarded.value.registered_mcc).toBe('5541')
      const sold = own.flatMap((e) => (e.topic === 'transactions' ? [e.value] : []))
      // A fleet card: not credit, swiped three times or more on one day, for large sums with cents.
      const perCardDay = new Map<string, TerminalTransaction[]>()
      for (const t of sold) {
        const k = `${t.card_token}|${dayB(t.event_time)}`
        perCardDay.set(k, [...(perCardDay.get(k) ?? []), t])
      }
      const busy = [...perCardDay.values()].filter((ts) => ts.length >= 3)
      const fleetCards = new Set(busy.flatMap((ts) => ts.map((t) => t.card_token)))
      expect(fleetCards.size).toBeGreaterThanOrEqual(3)
      for (const t of busy.flat()) {
        expect(['DEBIT', 'PREPAID']).toContain(t.card_type)
        expect(t.amount_minor).toBeGreaterThan(10_000)
      }
      const fills = sold.filter((t) => fleetCards.has(t.card_token))
      const opts = { now: Date.now(), maxFutureSkewMs: 0, isKnownAcquirer: EVERY_ACQUIRER }
      for (const t of fills.slice(0, 200)) {
        const r = validateTransaction(t, opts)
        expect(r.ok ? '' : r.error.message).toBe('')
      }
      const median = [...fills].sort((a, b) => a.amount_minor - b.amount_minor)[Math.floor(fills.length / 2)]
      expect(median?.amount_minor).toBeGreaterThan(50_000)
      expect(median?.amount_minor).toBeLessThan(200_000)
      expect(fills.filter((t) => isWholeUnit(t.amount_minor, 'CNY')).length / fills.length).toBeLessThan(0.05)
      // Company cards, used for nothing but the fleet's fuel here.
      for (const c of fleetCards) expect(elsewhere.has(c)).toBe(false)
      // Round the clock: fill-ups between midnight and five, local time.
      const hour = (t: number) => Math.floor(((t - specB.start) % DAY) / 3_600_000)
      expect(fills.filter((t) => hour(t.event_time) < 5).length / fills.length).toBeGreaterThan(0.05)
    }
  })

  it('keeps the reference month A free of the kinds only B has', () => {
    const scenarios = new Set(new HistorySimulator(population('A')).labels.merchants.map((l) => l.scenario))
    expect(scenarios).not.toContain('paper_mcc_jump')
    expect(scenarios).not.toContain('truck_stop')
    expect(scenarios).toContain('mcc_mismatch')
    expect(scenarios).toContain('night_bar')
  })

  it('opens shops during the month that ramp up from a slow start', () => {
    const spec = population('B', { merchants: 600, days: 30 })
    const b = new HistorySimulator(spec)
    const opening = b.merchants.filter((m) => m.onboardedDay >= 0 && m.label.label === 'legit')
    expect(opening.length).toBeGreaterThan(10)
    const perDay = new Map<string, number[]>()
    for (const e of b.events()) {
      if (e.topic !== 'transactions') continue
      const list = perDay.get(e.value.merchant_id) ?? new Array<number>(30).fill(0)
      const d = Math.floor((e.value.event_time - spec.start) / DAY)
      list[d] = (list[d] ?? 0) + 1
      perDay.set(e.value.merchant_id, list)
    }
    // Shops that opened early enough trade more in their fourth week open than in their first.
    let grew = 0
    let seen = 0
    for (const m of opening.filter((x) => x.onboardedDay <= 4)) {
      const list = perDay.get(m.merchantId) ?? []
      const sum = (from: number) => list.slice(from, from + 7).reduce((s, n) => s + n, 0)
      seen++
      if (sum(m.onboardedDay + 22) > sum(m.onboardedDay + 1)) grew++
    }
    expect(seen).toBeGreaterThan(0)
    expect(grew / seen).toBeGreaterThan(0.6)
  })
})
