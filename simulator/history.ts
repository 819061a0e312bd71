/**
 * The labelled simulator: a seeded, reproducible history of many merchants over whole days, with
 * cash-out, compliance and look-alike scenarios mixed into legitimate traffic, and the label of every
 * merchant. Pure: no clock and no I/O; the same options give the same events and labels.
 *
 * Traffic is generated day by day in the merchants' local time (opening hours per category) and handed
 * out in event-time order, a day at a time, so a month of a few thousand merchants never sits in memory.
 */
import type { CardType, EntryMode, MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { type Category, CITIES, type City, LOOKALIKES, ORDINARY } from './catalogue.ts'
import { prng } from './generator.ts'
import { type LabelsFile, type MerchantLabel, SCENARIOS, type ScenarioSpec, type Tactic } from './labels.ts'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
const MINUTE_MS = 60_000

/**
 * One event of the simulated stream, tagged with the topic it belongs to. `deliveredAt` is set on an
 * event delivered late (simulator/late.ts): when it reached the acquirer, after its event time.
 */
export type SimEvent =
  | { readonly topic: 'transactions'; readonly value: TerminalTransaction; readonly deliveredAt?: number }
  | { readonly topic: 'merchantEvents'; readonly value: MerchantEvent; readonly deliveredAt?: number }

export interface HistoryOptions {
  seed: number
  /** Simulated merchants, scenario merchants included. */
  merchants: number
  /** Days measured by a backtest, from `start`. */
  days: number
  /**
   * Days of traffic before `start`, so that rule windows, peers and baselines are warm when the
   * measured days begin (a backtest replays them but does not count them). Breaches start after it.
   */
  historyDays?: number
  /** UTC ms of the first measured local day's start (midnight in `timeZoneOffsetHours`). */
  start: number
  /** The merchants' fixed UTC offset, hours (the reference deployment is UTC+8). */
  timeZoneOffsetHours?: number
  acquirers?: readonly string[]
  /** Prefix of transaction ids, so two runs never collide in one store; `s<seed>` by default. */
  runId?: string
  /** Look-alike merchants per 1,000 per look-alike category: enough that each has a peer cohort. */
  lookalikesPer1000?: number
}

interface Card {
  token: string
  bin: string
  type: CardType
}

/** How a cash-out merchant swipes: its tactics and its card pools. */
interface CashOut {
  tactics: ReadonlySet<Tactic>
  cards: Card[]
  debitCards: Card[]
  /** Card pool shared by a ring, or by the two merchants of a card cycle. */
  group: SimMerchant[]
  /** Day of each card's first cycle swipe (card_cycle). */
  cycleDay: number[]
  /** Fraction of days with cash-out. */
  activeShare: number
}

interface Breach {
  tactic: Tactic
  /** First local day of the breach. */
  fromDay: number
  /** Relocation: where the terminal went. */
  city?: City
  /** mcc_mismatch: the MCC submitted instead of the registered one. */
  mcc?: string
  /** terminal_lent: the lender's terminal the borrower sells on. */
  terminal?: string
  /** shared_account: the account the group's merchants all move to. */
  account?: string
  share?: number
  /** An honest change (one account change, a terminal swap) that must not look like a breach. */
  honest?: boolean
}

export interface SimMerchant {
  acquirerId: string
  merchantId: string
  name: string
  category: Category
  city: City
  lat: number
  lon: number
  terminals: string[]
  regulars: Card[]
  size: number
  /** Local day of onboarding relative to the first simulated day (negative: before it). */
  onboardedDay: number
  account: string
  label: MerchantLabel
  cashOut: CashOut | null
  breach: Breach | null
}

export const DEFAULT_START = Date.parse('2026-10-17T00:00:00+08:00')

/**
 * A month starting on the 17th spans two calendar months, which card_recurrence needs to see a card
 * come back "next month"; the default run is 30 days from DEFAULT_START.
 */
export class HistorySimulator {
  readonly merchants: SimMerchant[] = []
  readonly opts: Required<HistoryOptions>
  readonly #rand: () => number
  readonly #offsetMs: number
  #seq = 0
  #eventSeq = 0
  #started = false

  constructor(options: HistoryOptions) {
    this.opts = {
      timeZoneOffsetHours: 8,
      historyDays: 0,
      acquirers: ['acq-alpha', 'acq-beta'],
      runId: `s${options.seed}`,
      lookalikesPer1000: 35,
      ...options,
    }
    this.#rand = prng(this.opts.seed)
    this.#offsetMs = this.opts.timeZoneOffsetHours * HOUR_MS
    this.#populate()
  }

  get labels(): LabelsFile {
    const sign = this.opts.timeZoneOffsetHours < 0 ? '-' : '+'
    const abs = Math.abs(this.opts.timeZoneOffsetHours)
    return {
      seed: this.opts.seed,
      start: this.opts.start,
      days: this.opts.days,
      historyDays: this.opts.historyDays,
      timeZone: `${sign}${String(Math.floor(abs)).padStart(2, '0')}:${String(Math.round((abs % 1) * 60)).padStart(2, '0')}`,
      merchants: this.merchants.map((m) => m.label),
    }
  }

  /** Every event, in event-time order: lifecycle history before the first day, then day by day. */
  *events(): Generator<SimEvent> {
    for (const day of this.days()) yield* day
  }

  /**
   * The events of each simulated day in event-time order, history days (negative) first; the first
   * batch also holds the lifecycle events of merchants onboarded before it.
   */
  *days(): Generator<SimEvent[]> {
    // The traffic draws from the same generator as the population and changes merchants as it goes
    // (accounts, terminals): a second pass would be another history. Build another simulator instead.
    if (this.#started) throw new Error('a HistorySimulator hands out its events once')
    this.#started = true
    const first = -this.opts.historyDays
    const before: SimEvent[] = []
    for (const m of this.merchants) if (m.onboardedDay < first) this.#lifecycle(m, null, before)
    for (let day = first; day < this.opts.days; day++) {
      const out: SimEvent[] = day === first ? before : []
      for (const m of this.merchants) {
        this.#lifecycle(m, day, out)
        // A merchant trades from the day after its onboarding.
        if (day <= m.onboardedDay) continue
        this.#trade(m, day, out)
        if (m.cashOut !== null) this.#cashOut(m, m.cashOut, day, out)
        if (m.breach !== null) this.#breach(m, m.breach, day, out)
      }
      out.sort(byTime)
      yield out
    }
  }

  // ---- population ----

  #populate(): void {
    const n = this.opts.merchants
    const acquirers = this.opts.acquirers
    // Roles first, then shuffled over merchant numbers: ids say nothing about labels.
    type Role =
      | { kind: 'scenario'; spec: ScenarioSpec; group: number; member: number }
      | { kind: 'plain'; category: Category }
    const roles: Role[] = []
    let group = 0
    for (const spec of SCENARIOS) {
      const members = Math.max(
        spec.groupSize,
        Math.round((n * spec.per1000) / 1000 / spec.groupSize) * spec.groupSize,
      )
      for (let i = 0; i < members; i += spec.groupSize) {
        for (let k = 0; k < spec.groupSize; k++) roles.push({ kind: 'scenario', spec, group, member: k })
        group++
      }
    }
    for (const c of LOOKALIKES) {
      const count = Math.round((n * this.opts.lookalikesPer1000) / 1000)
      for (let i = 0; i < count; i++) roles.push({ kind: 'plain', category: c })
    }
    const totalWeight = ORDINARY.reduce((s, c) => s + c.weight, 0)
    while (roles.length < n) roles.push({ kind: 'plain', category: this.#weighted(ORDINARY, totalWeight) })
    if (roles.length > n)
      throw new Error(
        `${n} merchants cannot hold the ${roles.length} scenario and look-alike merchants; use more`,
      )
    const slots = this.#shuffle(Array.from({ length: n }, (_, i) => i))
    const bySlot: (SimMerchant | undefined)[] = new Array(n)
    const groups = new Map<number, SimMerchant[]>()
    roles.forEach((role, r) => {
      const slot = slots[r] ?? r
      const first = role.kind === 'scenario' ? groups.get(role.group)?.[0] : undefined
      // A group belongs to one acquirer (rings, shared accounts and terminals never cross acquirers).
      const acquirerId = first?.acquirerId ?? acquirers[slot % acquirers.length] ?? 'acq-alpha'
      const category = role.kind === 'plain' ? role.category : this.#cashOutCategory(role.spec)
      const m = this.#merchant(slot, acquirerId, category, first?.city)
      bySlot[slot] = m
      if (role.kind === 'plain') {
        m.label.label = category.lookalike === null ? 'legit' : 'lookalike'
        m.label.scenario = category.lookalike ?? 'legit'
      } else {
        const members = groups.get(role.group) ?? []
        members.push(m)
        groups.set(role.group, members)
        this.#assign(m, role.spec, members, role.member)
      }
    })
    for (const m of bySlot) if (m !== undefined) this.merchants.push(m)
    this.#legitLifecycleNoise()
  }

  #cashOutCategory(spec: ScenarioSpec): Category {
    // Cash-out merchants register as ordinary shops (their peers are mostly honest ones); compliance
    // cases are honest shops of any ordinary category apart from the breach. mcc_mismatch registers
    // in a dearer category than the one it submits under.
    if (spec.id === 'mcc_mismatch') return this.#pick(ORDINARY.filter((c) => c.mcc !== '5411'))
    if (spec.label === 'fraud') return this.#pick(ORDINARY.filter((c) => c.mcc !== '5732'))
    return this.#weighted(
      ORDINARY,
      ORDINARY.reduce((s, c) => s + c.weight, 0),
    )
  }

  #merchant(i: number, acquirerId: string, category: Category, near?: City): SimMerchant {
    const city = near ?? this.#pick(CITIES)
    const merchantId = `m-${this.opts.seed}-${i.toString().padStart(6, '0')}`
    const terminals = Array.from(
      { length: 1 + Math.floor(this.#rand() * 2.5) },
      (_, t) => `t-${merchantId}-${t}`,
    )
    const regulars = Array.from(
      { length: Math.max(3, Math.round(category.regularCount * (0.5 + this.#rand()))) },
      () => this.#card(category.creditShare),
    )
    // Most merchants have traded for a long time; a few are new, some onboarded during the month.
    const r = this.#rand()
    const onboardedDay =
      r < 0.03
        ? Math.floor(this.#rand() * this.opts.days * 0.5)
        : r < 0.08
          ? -Math.floor(10 + this.#rand() * 70)
          : -Math.floor(120 + this.#rand() * 900)
    return {
      acquirerId,
      merchantId,
      name: `${city.name} ${category.name} ${i}`,
      category,
      city,
      // Registered within ~8 km of the city centre.
      lat: round6(city.lat + (this.#rand() - 0.5) * 0.12),
      lon: round6(city.lon + (this.#rand() - 0.5) * 0.12),
      terminals,
      regulars,
      size: Math.exp(this.#normal() * 0.5),
      onboardedDay,
      account: `acct-${merchantId}`,
      label: {
        merchant_id: merchantId,
        acquirer_id: acquirerId,
        label: 'legit',
        scenario: 'legit',
        tactics: [],
        expected_rules: [],
      },
      cashOut: null,
      breach: null,
    }
  }

  /** Gives a scenario merchant its label and behaviour; `members` are its group so far (itself last). */
  #assign(m: SimMerchant, spec: ScenarioSpec, members: SimMerchant[], member: number): void {
    m.label.label = spec.label
    m.label.scenario = spec.id
    m.label.tactics = [...spec.tactics]
    m.label.expected_rules = [...spec.expectedRules]
    const days = this.opts.days
    if (spec.label === 'fraud') {
      // The shop front is little more than a front: most swipes are cash-out.
      m.size *= 0.15
      if (spec.id === 'card_testing') {
        m.breach = { tactic: 'card_testing', fromDay: Math.floor(this.#rand() * 6) }
        m.size /= 0.15
        return
      }
      const shared = members[0]?.cashOut
      const cards =
        shared !== undefined && shared !== null && member > 0 && spec.id !== 'card_cycle'
          ? shared.cards
          : Array.from(
              { length: spec.tactics.includes('ring') ? 45 : 10 + Math.floor(this.#rand() * 6) },
              () => this.#card(1),
            )
      m.cashOut = {
        tactics: new Set(spec.tactics),
        cards,
        debitCards: Array.from({ length: 6 }, () => ({ ...this.#card(0), type: 'DEBIT' as const })),
        group: members,
        cycleDay: cards.map(() => Math.floor(this.#rand() * 8)),
        activeShare: spec.id === 'card_cycle' ? 1 : 0.85,
      }
      if (spec.id === 'bust_out') m.onboardedDay = -Math.floor(3 + this.#rand() * 10)
      return
    }
    const fromDay = Math.floor(days * (0.15 + this.#rand() * 0.45))
    switch (spec.id) {
      case 'relocation':
        m.breach = { tactic: 'relocation', fromDay, city: this.#pick(CITIES.filter((c) => c !== m.city)) }
        return
      case 'mcc_mismatch':
        m.breach = {
          tactic: 'mcc_mismatch',
          fromDay,
          mcc: this.#pick(['5411', '8398']),
          share: 0.3 + this.#rand() * 0.4,
        }
        return
      case 'settlement_churn':
        m.breach = { tactic: 'settlement_churn', fromDay }
        return
      case 'shared_account':
        m.breach = {
          tactic: 'shared_account',
          fromDay,
          account: `acct-shared-${members[0]?.merchantId ?? m.merchantId}`,
        }
        return
      case 'terminal_lent': {
        const lender = members[0]
        if (member === 0 || lender === undefined) {
          // The lender's own events never show the loan: no rule can see it from this side.
          m.label.expected_rules = []
          return
        }
        m.breach = { tactic: 'terminal_lent', fromDay, terminal: lender.terminals[0], share: 0.3 }
        return
      }
      case 'terminal_double_bound': {
        const owner = members[0]
        if (member > 0 && owner !== undefined)
          m.breach = { tactic: 'terminal_double_bound', fromDay, terminal: owner.terminals[0] }
        return
      }
    }
  }

  /** Honest lifecycle changes that must not look like churn or sharing: one account change, a terminal swap. */
  #legitLifecycleNoise(): void {
    for (const m of this.merchants) {
      if (m.label.label !== 'legit' && m.label.label !== 'lookalike') continue
      const r = this.#rand()
      const fromDay = Math.floor(this.#rand() * this.opts.days)
      if (r < 0.04) m.breach = { tactic: 'settlement_churn', fromDay, honest: true }
      else if (r < 0.08) m.breach = { tactic: 'terminal_double_bound', fromDay, honest: true }
    }
  }

  // ---- lifecycle ----

  /** The merchant's lifecycle events of local day `day`, or (day null) its onboarding before the first day. */
  #lifecycle(m: SimMerchant, day: number | null, out: SimEvent[]): void {
    if (day === null || day === m.onboardedDay) {
      const at = this.#dayStart(m.onboardedDay) + 9 * HOUR_MS + Math.floor(this.#rand() * 8 * HOUR_MS)
      this.#event(out, m, at, 'ONBOARDED', {
        registered_mcc: m.category.mcc,
        merchant_name: m.name,
        latitude: m.lat,
        longitude: m.lon,
        settlement_account_token: m.account,
      })
      m.terminals.forEach((t, i) => {
        this.#event(out, m, at + (30 + i) * MINUTE_MS, 'TERMINAL_BOUND', { terminal_id: t })
      })
    }
    const b = m.breach
    if (day === null || b === null) return
    // Paperwork happens at 04:30, when no category trades: a sale of the same day must not precede
    // the binding it relies on (or follow the unbinding) by accident of the simulation.
    const at = this.#dayStart(day) + 4.5 * HOUR_MS + Math.floor(this.#rand() * 10 * MINUTE_MS)
    if (b.tactic === 'settlement_churn') {
      // Honest: one change. Churn: a change every week or so from the first day of the breach.
      const changeDay =
        b.honest === true ? day === b.fromDay : day >= b.fromDay && (day - b.fromDay) % 6 === 0
      if (changeDay) {
        m.account = `acct-${m.merchantId}-${day}`
        this.#event(out, m, at, 'SETTLEMENT_ACCOUNT_CHANGED', { settlement_account_token: m.account })
      }
    } else if (b.tactic === 'shared_account' && day === b.fromDay && b.account !== undefined) {
      m.account = b.account
      this.#event(out, m, at, 'SETTLEMENT_ACCOUNT_CHANGED', { settlement_account_token: m.account })
    } else if (b.tactic === 'terminal_double_bound' && day === b.fromDay) {
      if (b.honest === true) {
        // Honest swap of a broken terminal: unbound, and the new one bound a minute later.
        const old = m.terminals[0]
        const fresh = `${old}-r${day}`
        if (old !== undefined) this.#event(out, m, at, 'TERMINAL_UNBOUND', { terminal_id: old })
        this.#event(out, m, at + MINUTE_MS, 'TERMINAL_BOUND', { terminal_id: fresh })
        m.terminals = [fresh, ...m.terminals.slice(1)]
      } else if (b.terminal !== undefined) {
        // The owner keeps it bound: the same device now serves two merchants.
        this.#event(out, m, at, 'TERMINAL_BOUND', { terminal_id: b.terminal })
        m.terminals = [...m.terminals, b.terminal]
      }
    }
  }

  #event(
    out: SimEvent[],
    m: SimMerchant,
    at: number,
    kind: MerchantEvent['kind'],
    fields: Partial<MerchantEvent>,
  ): void {
    this.#eventSeq++
    out.push({
      topic: 'merchantEvents',
      value: {
        event_id: `e-${this.opts.runId}-${this.#eventSeq}`,
        event_time: at,
        acquirer_id: m.acquirerId,
        merchant_id: m.merchantId,
        terminal_id: null,
        kind,
        registered_mcc: null,
        merchant_name: null,
        latitude: null,
        longitude: null,
        settlement_account_token: null,
        ...fields,
      },
    })
  }

  // ---- legitimate trade ----

  #trade(m: SimMerchant, day: number, out: SimEvent[]): void {
    const c = m.category
    const weekday = new Date(this.#dayStart(day) + this.#offsetMs).getUTCDay()
    const weekend = weekday === 0 || weekday === 6
    const mean = c.dailyTxns * m.size * (weekend ? 1.15 : 1)
    const n = this.#poisson(mean)
    for (let i = 0; i < n; i++) {
      const at = this.#dayStart(day) + this.#hourOf(c.hours) * HOUR_MS + Math.floor(this.#rand() * HOUR_MS)
      const card = this.#rand() < c.regulars ? this.#pick(m.regulars) : this.#card(c.creditShare)
      out.push(sale(this.#txn(m, at, card, this.#price(c))))
    }
  }

  #price(c: Category): number {
    const major = c.ticket * Math.exp(this.#normal() * c.sigma)
    if (this.#rand() < c.roundShare) {
      // Tuition, deposits: a round hundred, or a round thousand for large sums.
      const unit = major >= 2000 ? 1000 : 100
      return Math.max(1, Math.round(major / unit)) * unit * 100
    }
    if (c.cents) return Math.max(1, Math.round(major * 100))
    // Whole-unit shops still price at odd amounts (1,899 rather than 1,900).
    return Math.max(1, Math.round(major) - (this.#rand() < 0.6 ? 1 : 0)) * 100
  }

  // ---- cash-out ----

  #cashOut(m: SimMerchant, co: CashOut, day: number, out: SimEvent[]): void {
    const t = co.tactics
    if (t.has('card_cycle')) {
      this.#cycle(m, co, day, out)
      return
    }
    if (this.#rand() > co.activeShare) return
    const dayStart = this.#dayStart(day)
    const slot = () => dayStart + 9 * HOUR_MS + Math.floor(this.#rand() * 11 * HOUR_MS)
    /** Swipes of the day before amounts: a card and a time each. */
    const swipes: { card: Card; at: number }[] = []
    if (t.has('card_pairs')) {
      const cards = this.#shuffle([...co.cards]).slice(
        0,
        t.has('structuring') ? 3 : Math.max(10, co.cards.length - 3),
      )
      for (const card of cards) {
        const first = slot()
        swipes.push(
          { card, at: first },
          { card, at: first + 5 * MINUTE_MS + Math.floor(this.#rand() * 4 * MINUTE_MS) },
        )
      }
    } else if (t.has('ring')) {
      // Each card of the ring's pool visits the ring's merchants in turn, a different one every day.
      const index = co.group.indexOf(m)
      co.cards.forEach((card, k) => {
        const turn = (((k + day) % co.group.length) + co.group.length) % co.group.length
        if (turn === index && this.#rand() < 0.6) swipes.push({ card, at: slot() })
      })
    } else if (t.has('naive')) {
      for (const card of co.cards.slice(0, 6)) for (let k = 0; k < 4; k++) swipes.push({ card, at: slot() })
    } else {
      const n = t.has('structuring') ? 6 : 8 + Math.floor(this.#rand() * 7)
      for (let k = 0; k < n; k++) swipes.push({ card: this.#pick(co.cards), at: slot() })
    }
    for (const s of swipes) out.push(sale(this.#txn(m, s.at, s.card, this.#cashAmount(t))))
    if (t.has('credit_mix')) {
      // One small, uniform debit swipe for every four credit ones.
      for (let k = 0; k < Math.round(swipes.length / 4); k++) {
        const major = 100 + Math.floor(this.#rand() * 25)
        const amount = major * 100 + (t.has('whole_units') ? 0 : this.#cents())
        out.push(sale(this.#txn(m, slot(), this.#pick(co.debitCards), amount)))
      }
    }
  }

  /** A cash-out amount, minor units, shaped by the tactics. */
  #cashAmount(t: ReadonlySet<Tactic>): number {
    let major: number
    if (t.has('structuring')) major = 45_000 + this.#rand() * 4_800
    else if (t.has('naive')) return (5 + Math.floor(this.#rand() * 16)) * 1000 * 100
    else if (t.has('near_round')) {
      const off = (0.005 + this.#rand() * 0.015) * (this.#rand() < 0.5 ? -1 : 1)
      major = (5 + Math.floor(this.#rand() * 26)) * 1000 * (1 + off)
    } else major = 2_000 + this.#rand() * 18_000
    const whole = Math.floor(major)
    // The whole-unit tip; without it, amounts carry cents like the shop's other prices.
    return whole * 100 + (t.has('whole_units') ? 0 : this.#cents())
  }

  /** card_cycle: each card once before the month turns and once after, then at the sibling merchant. */
  #cycle(m: SimMerchant, co: CashOut, day: number, out: SimEvent[]): void {
    const sibling = co.group.find((x) => x !== m)
    const dayStart = this.#dayStart(day)
    co.cards.forEach((card, k) => {
      const first = co.cycleDay[k] ?? 0
      const at = () => dayStart + 10 * HOUR_MS + Math.floor(this.#rand() * 9 * HOUR_MS)
      const amount = () => (6_000 + Math.floor(this.#rand() * 6_000)) * 100 + this.#cents()
      if (day === first || day === first + 16) out.push(sale(this.#txn(m, at(), card, amount())))
      // After two months here the card moves on to the sibling's terminal.
      if (day === first + 22 && sibling !== undefined)
        out.push(sale(this.#txn(sibling, at(), card, amount())))
    })
  }

  // ---- compliance breaches and card testing ----

  #breach(m: SimMerchant, b: Breach, day: number, out: SimEvent[]): void {
    if (day < b.fromDay) return
    if (b.tactic === 'card_testing') {
      // A tester on a few days: dozens of small attempts with fresh cards, most declined.
      if ((day - b.fromDay) % 8 !== 0) return
      const at0 = this.#dayStart(day) + (1 + Math.floor(this.#rand() * 20)) * HOUR_MS
      for (let k = 0; k < 30 + Math.floor(this.#rand() * 30); k++) {
        const txn = this.#txn(
          m,
          at0 + k * 20_000,
          this.#card(0.7),
          (1 + Math.floor(this.#rand() * 50)) * 100 + this.#cents(),
        )
        const declined = this.#rand() < 0.75
        out.push({
          topic: 'transactions',
          value: {
            ...txn,
            response_code: declined ? this.#pick(['05', '14', '54']) : '00',
            entry_mode: 'MANUAL',
          },
        })
      }
      return
    }
    if (b.tactic === 'relocation' || b.tactic === 'mcc_mismatch' || b.tactic === 'terminal_lent') {
      // Re-shape the day's own sales (already in `out`): moved, re-coded or put through a borrowed terminal.
      for (let i = 0; i < out.length; i++) {
        const e = out[i]
        if (e === undefined || e.topic !== 'transactions' || e.value.merchant_id !== m.merchantId) continue
        if (e.value.event_time < this.#dayStart(day)) continue
        const v = e.value
        if (b.tactic === 'relocation' && b.city !== undefined) {
          out[i] = {
            topic: 'transactions',
            value: {
              ...v,
              latitude: round6(b.city.lat + (this.#rand() - 0.5) * 0.01),
              longitude: round6(b.city.lon + (this.#rand() - 0.5) * 0.01),
            },
          }
        } else if (b.tactic === 'mcc_mismatch' && b.mcc !== undefined && this.#rand() < (b.share ?? 0.5)) {
          out[i] = { topic: 'transactions', value: { ...v, mcc: b.mcc } }
        } else if (
          b.tactic === 'terminal_lent' &&
          b.terminal !== undefined &&
          this.#rand() < (b.share ?? 0.3)
        ) {
          out[i] = { topic: 'transactions', value: { ...v, terminal_id: b.terminal } }
        }
      }
    }
  }

  // ---- building blocks ----

  #txn(m: SimMerchant, at: number, card: Card, amountMinor: number): TerminalTransaction {
    this.#seq++
    const approved = this.#rand() < 0.975
    const terminal = this.#pick(m.terminals)
    return {
      txn_id: `tx-${this.opts.runId}-${this.#seq}`,
      event_time: at,
      acquirer_id: m.acquirerId,
      merchant_id: m.merchantId,
      terminal_id: terminal,
      card_token: card.token,
      card_bin: card.bin,
      card_type: card.type,
      txn_type: this.#rand() < 0.99 ? 'PURCHASE' : 'REFUND',
      amount_minor: amountMinor,
      currency: 'CNY',
      mcc: m.category.mcc,
      entry_mode: this.#entryMode(),
      response_code: approved ? '00' : this.#pick(['05', '51', '55', '61']),
      latitude: round6(m.lat + (this.#rand() - 0.5) * 0.002),
      longitude: round6(m.lon + (this.#rand() - 0.5) * 0.002),
    }
  }

  #card(creditShare: number): Card {
    const r = this.#rand()
    const type: CardType = r < creditShare ? 'CREDIT' : r < 0.97 ? 'DEBIT' : 'PREPAID'
    // Hex in two parts split by a letter: a run of 13 or more digits could pass Luhn and look like a
    // card number (lib/luhn.ts), and twelve hex digits may all be decimal ones.
    const token = `tok${Math.floor(this.#rand() * 2 ** 48)
      .toString(16)
      .padStart(12, '0')}x${Math.floor(this.#rand() * 2 ** 32).toString(16)}`
    // A few dozen issuers, so that a BIN is shared by many cards as in life.
    const bin = String(622_200 + Math.floor(this.#rand() * 60) * 7)
    return { token, bin, type }
  }

  /** Non-zero cents. */
  #cents(): number {
    return 1 + Math.floor(this.#rand() * 99)
  }

  #dayStart(day: number): number {
    return this.opts.start + day * DAY_MS
  }

  #hourOf(profile: readonly number[]): number {
    const total = profile.reduce((s, w) => s + w, 0)
    let x = this.#rand() * total
    for (let i = 0; i < profile.length; i++) {
      x -= profile[i] ?? 0
      if (x <= 0) return i
    }
    return 12
  }

  #entryMode(): EntryMode {
    const r = this.#rand()
    return r < 0.45 ? 'CONTACTLESS' : r < 0.85 ? 'CHIP' : r < 0.95 ? 'QR' : r < 0.99 ? 'MAGSTRIPE' : 'MANUAL'
  }

  #poisson(mean: number): number {
    if (mean > 30) return Math.max(0, Math.round(mean + this.#normal() * Math.sqrt(mean)))
    const limit = Math.exp(-mean)
    let k = 0
    let p = this.#rand()
    while (p > limit) {
      k++
      p *= this.#rand()
    }
    return k
  }

  #pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.#rand() * items.length)]
    if (item === undefined) throw new Error('pick from an empty list')
    return item
  }

  #weighted(items: readonly Category[], total: number): Category {
    let x = this.#rand() * total
    for (const item of items) {
      x -= item.weight
      if (x <= 0) return item
    }
    return this.#pick(items)
  }

  #shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.#rand() * (i + 1))
      const a = items[i]
      const b = items[j]
      if (a === undefined || b === undefined) continue
      items[i] = b
      items[j] = a
    }
    return items
  }

  /** Standard normal by Box-Muller. */
  #normal(): number {
    const u = 1 - this.#rand()
    const v = this.#rand()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
}

function byTime(a: SimEvent, b: SimEvent): number {
  const ta = a.value.event_time
  const tb = b.value.event_time
  if (ta !== tb) return ta - tb
  const ia = a.topic === 'transactions' ? a.value.txn_id : a.value.event_id
  const ib = b.topic === 'transactions' ? b.value.txn_id : b.value.event_id
  return ia < ib ? -1 : ia > ib ? 1 : 0
}

function sale(value: TerminalTransaction): SimEvent {
  return { topic: 'transactions', value }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6
}
