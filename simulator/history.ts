/**
 * The labelled simulator: a seeded, reproducible history of a population of merchants over whole days,
 * with cash-out, compliance and look-alike scenarios mixed into legitimate traffic, and the label of
 * every merchant. Pure: no clock and no I/O; the same options give the same events and labels.
 *
 * The legitimate population is built from the facts of DOMAIN.md rather than from the rules'
 * assumptions: one card population per city shared by the acquirer's merchants (a card pays at several
 * shops a week, mostly near its holder's home), regular customers shared by neighbouring shops, opening
 * hours, weekdays, month-end and holidays, shops opening and ramping up during the month, most shops
 * small and a few large, and the look-alike trades with their shapes (hotel guests charged day after
 * day, bar tabs, businesses buying at several wholesalers, school fees at the start of the month, fleet
 * fuel cards at truck stops).
 * What a population looks like (cities, shares, tactics, calendar) is a PopulationSpec
 * (simulator/population.ts).
 *
 * Traffic is generated day by day in the merchants' local time and handed out in event-time order, a
 * day at a time, so a month of a few thousand merchants never sits in memory.
 */
import type { MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { type Card, CityCards, newCard, paymentType } from './cards.ts'
import { type Category, type City, holidayFactor, LOOKALIKES, monthFactor, ORDINARY } from './catalogue.ts'
import { prng } from './generator.ts'
import { type LabelsFile, type MerchantLabel, SCENARIOS, type ScenarioSpec, type Tactic } from './labels.ts'
import { checkPopulation, POPULATION_A, type PopulationSpec } from './population.ts'

export { DEFAULT_START } from './population.ts'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
const MINUTE_MS = 60_000

/**
 * Where MCC jumping goes for a lower card fee: a supermarket's discounted rate, a charity's nil one
 * (DOMAIN.md: transactions submitted, or the merchant registered, under a cheaper category).
 */
const CHEAPER_MCCS: readonly string[] = ['5411', '8398']

/**
 * One event of the simulated stream, tagged with the topic it belongs to. `deliveredAt` is set on an
 * event delivered late (simulator/late.ts): when it reached the acquirer, after its event time.
 */
export type SimEvent =
  | { readonly topic: 'transactions'; readonly value: TerminalTransaction; readonly deliveredAt?: number }
  | { readonly topic: 'merchantEvents'; readonly value: MerchantEvent; readonly deliveredAt?: number }

/**
 * A population (population A's values for whatever is not given) and the run's id. `seed`, `merchants`,
 * `days` and `start` are always given: they are what a caller means by "a history".
 */
export interface HistoryOptions extends Partial<PopulationSpec> {
  seed: number
  merchants: number
  days: number
  start: number
  /** Prefix of transaction ids, so two runs never collide in one store; `s<seed>` by default. */
  runId?: string
}

/** How a cash-out merchant swipes: its tactics and its card pools. */
interface CashOut {
  tactics: ReadonlySet<Tactic>
  cards: Card[]
  debitCards: Card[]
  /** The merchants sharing the card pool: a ring, or the two merchants of a card cycle. */
  group: SimMerchant[]
  /** card_cycle: each card's statement day (0–27) and its phase (0–3) in the two-month moves. */
  cycleDay: number[]
  cycleHome: number[]
  /** Share of days with cash-out. */
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
  /** mcc_reregistration: the local days of the re-registrations and the MCC each registers. */
  registrations?: { day: number; mcc: string }[]
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
  /** Neighbourhood within the city: where its regulars live and most walk-in cards come from. */
  hood: number
  lat: number
  lon: number
  terminals: string[]
  regulars: Card[]
  size: number
  /** Local day of onboarding relative to the first measured day (negative: before it). */
  onboardedDay: number
  /** Days a new shop takes to reach its full trade. */
  rampDays: number
  account: string
  label: MerchantLabel
  cashOut: CashOut | null
  breach: Breach | null
  /** Hotels: the guests staying, and the last night of each stay. */
  guests: { card: Card; until: number }[]
  /** An honest terminal swap: sales before it still run on the old terminals. */
  swap: { at: number; old: string[] } | null
  /**
   * Re-registrations of the MCC made so far, oldest first: a sale is submitted under the MCC registered
   * at its time (the category's before the first).
   */
  mccChanges: { at: number; mcc: string }[]
  /** Truck stops: the fleet cards of the haulage firms that fill up there, and each fleet's trucks. */
  fleet: { card: Card; trucks: number }[]
}

type Role =
  | { kind: 'scenario'; spec: ScenarioSpec; group: number; member: number }
  | { kind: 'plain'; category: Category }

/**
 * A population's month: see the file comment. The measured month starts at `start`; `historyDays` of
 * traffic before it may warm a store (0 by default: the store starts empty, as a new deployment).
 */
export class HistorySimulator {
  readonly merchants: SimMerchant[] = []
  readonly opts: PopulationSpec & { runId: string }
  readonly #rand: () => number
  readonly #offsetMs: number
  readonly #cities = new Map<string, CityCards>()
  /** Per city, the business cards its wholesalers share. */
  readonly #business = new Map<string, Card[]>()
  #seq = 0
  #eventSeq = 0
  #started = false

  constructor(options: HistoryOptions) {
    const { runId, ...spec } = options
    this.opts = { ...POPULATION_A, ...spec, runId: runId ?? `s${options.seed}` }
    checkPopulation(this.opts)
    this.#rand = prng(this.opts.seed)
    this.#offsetMs = this.opts.timeZoneOffsetHours * HOUR_MS
    this.#populate()
  }

  get labels(): LabelsFile {
    const sign = this.opts.timeZoneOffsetHours < 0 ? '-' : '+'
    const abs = Math.abs(this.opts.timeZoneOffsetHours)
    return {
      population: this.opts.name,
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
    // (accounts, terminals, guests): a second pass would be another history. Build another simulator.
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
    const spec = this.opts
    const n = spec.merchants
    // Roles first, then shuffled over merchant numbers: ids say nothing about labels.
    const roles: Role[] = []
    let group = 0
    // At least one group of every scenario a population has at all, so every one is measured; none of
    // a kind whose share is zero (an ordinary-only population).
    const addScenario = (s: ScenarioSpec, count: number) => {
      if (count <= 0) return
      const members = Math.max(s.groupSize, Math.round(count / s.groupSize) * s.groupSize)
      for (let i = 0; i < members; i += s.groupSize) {
        for (let k = 0; k < s.groupSize; k++) roles.push({ kind: 'scenario', spec: s, group, member: k })
        group++
      }
    }
    const cashOut = SCENARIOS.filter((s) => s.label === 'fraud' && s.id !== 'card_testing')
    const cashWeight = (s: ScenarioSpec) => spec.tacticWeights[s.id] ?? s.per1000
    const cashTotal = cashOut.reduce((sum, s) => sum + cashWeight(s), 0)
    for (const s of cashOut) {
      const w = cashWeight(s)
      if (w > 0) addScenario(s, (n * spec.cashOutShare * w) / cashTotal)
    }
    for (const s of SCENARIOS.filter((x) => x.id === 'card_testing'))
      addScenario(s, n * spec.cardTestingShare)
    const compliance = SCENARIOS.filter((s) => s.label === 'compliance')
    const complianceWeight = (s: ScenarioSpec) => spec.complianceWeights[s.id] ?? s.per1000
    const complianceTotal = compliance.reduce((sum, s) => sum + complianceWeight(s), 0)
    for (const s of compliance) {
      const w = complianceWeight(s)
      if (w > 0) addScenario(s, (n * spec.complianceShare * w) / complianceTotal)
    }

    const lookWeight = (c: Category) => spec.lookalikeWeights[c.lookalike ?? ''] ?? c.weight
    const lookTotal = LOOKALIKES.reduce((s, c) => s + lookWeight(c), 0)
    for (const c of LOOKALIKES) {
      const w = lookWeight(c)
      // None of a kind the population does not have (weight 0), as for the scenarios above; at least one
      // of every other kind, so every kind it has is measured.
      if (w <= 0) continue
      const count = Math.max(1, Math.round((n * spec.lookalikeShare * w) / lookTotal))
      for (let i = 0; i < count; i++) roles.push({ kind: 'plain', category: c })
    }
    const ordinaryTotal = ORDINARY.reduce((s, c) => s + c.weight, 0)
    while (roles.length < n) roles.push({ kind: 'plain', category: this.#weighted(ORDINARY, ordinaryTotal) })
    if (roles.length > n)
      throw new Error(
        `${n} merchants cannot hold the ${roles.length} scenario and look-alike merchants; use more`,
      )

    const slots = this.#shuffle(Array.from({ length: n }, (_, i) => i))
    const bySlot: (SimMerchant | undefined)[] = new Array(n)
    const groups = new Map<number, SimMerchant[]>()
    const scenarioRoles: { m: SimMerchant; role: Extract<Role, { kind: 'scenario' }> }[] = []
    roles.forEach((role, r) => {
      const slot = slots[r] ?? r
      const first = role.kind === 'scenario' ? groups.get(role.group)?.[0] : undefined
      // A group belongs to one acquirer and one city (rings, shared accounts and terminals are local).
      const acquirerId = first?.acquirerId ?? this.#acquirer()
      const category = role.kind === 'plain' ? role.category : this.#scenarioCategory(role.spec)
      const m = this.#merchant(slot, acquirerId, category, first?.city)
      bySlot[slot] = m
      if (role.kind === 'plain') {
        m.label.label = category.lookalike === null ? 'legit' : 'lookalike'
        m.label.scenario = category.lookalike ?? 'legit'
      } else {
        const members = groups.get(role.group) ?? []
        members.push(m)
        groups.set(role.group, members)
        scenarioRoles.push({ m, role })
      }
    })
    for (const m of bySlot) if (m !== undefined) this.merchants.push(m)
    this.#cardPopulation()
    for (const m of this.merchants) {
      m.regulars = this.#regularsOf(m)
      m.fleet = this.#fleetOf(m)
    }
    for (const { m, role } of scenarioRoles)
      this.#assign(m, role.spec, groups.get(role.group) ?? [m], role.member)
    this.#legitLifecycleNoise()
  }

  #acquirer(): string {
    let x = this.#rand()
    for (const a of this.opts.acquirers) {
      x -= a.share
      if (x <= 0) return a.id
    }
    return this.opts.acquirers[0]?.id ?? 'acq-alpha'
  }

  #city(): City {
    let x = this.#rand() * this.opts.cities.reduce((s, c) => s + c.share, 0)
    for (const c of this.opts.cities) {
      x -= c.share
      if (x <= 0) return c.city
    }
    const c = this.opts.cities[0]
    if (c === undefined) throw new Error('a population without cities')
    return c.city
  }

  /**
   * Cash-out merchants register as ordinary shops (their peers are mostly honest ones), except, in some
   * populations, a share of those whose swipes carry the playbook's own traces, which hide among
   * jewellers and furniture stores. Compliance cases are honest shops of any ordinary category apart
   * from the breach; mcc_mismatch registers in a dearer category than the one it submits under.
   */
  #scenarioCategory(s: ScenarioSpec): Category {
    if (s.id === 'mcc_mismatch') return this.#pick(ORDINARY.filter((c) => c.mcc !== '5411'))
    if (s.id === 'paper_mcc_jump') {
      // A shop of the standard fee tier (not a grocery or a fuel station, which pay the discounted rate
      // already), so that every re-registration, to a cheaper category or back, moves it to another tier.
      const standard = ORDINARY.filter((c) => !CHEAPER_MCCS.includes(c.mcc) && c.mcc !== '5541')
      return this.#weighted(
        standard,
        standard.reduce((sum, c) => sum + c.weight, 0),
      )
    }
    const traced = s.tactics.some((t) => t === 'card_pairs' || t === 'structuring' || t === 'ring')
    if (s.label === 'fraud' && traced && this.#rand() < this.opts.cashOutAsLookalike)
      return this.#pick(LOOKALIKES.filter((c) => ['5944', '5712', '5722'].includes(c.mcc)))
    // In proportion to the honest shops of each category, as a fraudster picks a common front: drawn
    // evenly, a rare category (fuel stations) ended up a third cash-out.
    if (s.label === 'fraud') {
      const fronts = ORDINARY.filter((c) => c.ticket < 1000)
      return this.#weighted(
        fronts,
        fronts.reduce((sum, c) => sum + c.weight, 0),
      )
    }
    return this.#weighted(
      ORDINARY,
      ORDINARY.reduce((sum, c) => sum + c.weight, 0),
    )
  }

  #merchant(i: number, acquirerId: string, category: Category, near?: City): SimMerchant {
    const city = near ?? this.#city()
    const merchantId = `m-${this.opts.seed}-${i.toString().padStart(6, '0')}`
    const terminals = Array.from(
      { length: 1 + Math.floor(this.#rand() * 2.5) },
      (_, t) => `t-${merchantId}-${t}`,
    )
    // Most merchants have traded for years; a few are young, and some open during the month.
    const r = this.#rand()
    const onboardedDay =
      r < this.opts.newShopShare
        ? Math.floor(this.#rand() * this.opts.days * 0.7)
        : r < this.opts.newShopShare + 0.05
          ? -Math.floor(10 + this.#rand() * 70)
          : -Math.floor(120 + this.#rand() * 900)
    // Log-normal sizes with mean 1: most shops small, a few large.
    const size = Math.exp(this.#normal() * 0.8 - 0.32)
    return {
      acquirerId,
      merchantId,
      name: `${city.name} ${category.name} ${i}`,
      category,
      city,
      hood: 0,
      // Registered within ~7 km of the city centre.
      lat: round6(city.lat + (this.#rand() - 0.5) * 0.12),
      lon: round6(city.lon + (this.#rand() - 0.5) * 0.12),
      terminals,
      regulars: [],
      size,
      onboardedDay,
      rampDays: 20 + Math.floor(this.#rand() * 40),
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
      guests: [],
      swap: null,
      mccChanges: [],
      fleet: [],
    }
  }

  /**
   * One card population per city, sized by the city's daily sales (`cardsPerDailySale` cards per sale
   * of a day), with a neighbourhood for about every 30 merchants; and the business cards its
   * wholesalers share (each business buys at two or three of them).
   */
  #cardPopulation(): void {
    const byCity = new Map<string, SimMerchant[]>()
    for (const m of this.merchants) byCity.set(m.city.name, [...(byCity.get(m.city.name) ?? []), m])
    for (const [name, list] of byCity) {
      const hoods = Math.max(1, Math.round(list.length / 30))
      for (const m of list) m.hood = Math.floor(this.#rand() * hoods)
      const daily = list.reduce((s, m) => s + m.category.dailyTxns * m.size, 0)
      const count = Math.max(200, Math.round(daily * this.opts.cardsPerDailySale))
      this.#cities.set(name, new CityCards(this.#rand, count, hoods, () => this.#normal()))
      const wholesalers = list.filter((m) => m.category.business === true)
      const businesses = Math.round(wholesalers.reduce((s, m) => s + m.category.regularCount, 0) / 2.5)
      this.#business.set(
        name,
        Array.from({ length: Math.max(10, businesses) }, () =>
          newCard(this.#rand, this.#rand() < 0.6 ? 'CREDIT' : 'DEBIT'),
        ),
      )
    }
  }

  #cards(m: SimMerchant): CityCards {
    const c = this.#cities.get(m.city.name)
    if (c === undefined) throw new Error(`no card population for ${m.city.name}`)
    return c
  }

  /** Regular customers: cards of the merchant's neighbourhood (businesses for a wholesaler). */
  #regularsOf(m: SimMerchant): Card[] {
    const c = m.category
    const count = Math.max(3, Math.round(c.regularCount * (0.5 + this.#rand()) * Math.sqrt(m.size)))
    if (c.business === true) {
      const pool = this.#business.get(m.city.name) ?? []
      return Array.from({ length: Math.min(count, pool.length) }, () => this.#pick(pool))
    }
    const cards = this.#cards(m)
    return Array.from({ length: count }, () =>
      cards.draw(this.#rand, paymentType(this.#rand, c.creditShare), m.hood),
    )
  }

  /** A truck stop's fleets: a company card each (debit or prepaid: fuel cards are not credit). */
  #fleetOf(m: SimMerchant): { card: Card; trucks: number }[] {
    const f = m.category.fleets
    if (f === undefined) return []
    const [lo, hi] = f.trucks
    const count = Math.max(3, Math.round(f.cards * (0.6 + 0.8 * this.#rand()) * Math.sqrt(m.size)))
    return Array.from({ length: count }, () => ({
      card: newCard(this.#rand, this.#rand() < 0.5 ? 'DEBIT' : 'PREPAID'),
      trucks: lo + Math.floor(this.#rand() * (hi - lo + 1)),
    }))
  }

  /** A walk-in customer's card: from the neighbourhood most of the time, else from anywhere in the city. */
  #walkIn(m: SimMerchant): Card {
    const hood = this.#rand() < this.opts.localShare ? m.hood : null
    return this.#cards(m).draw(this.#rand, paymentType(this.#rand, m.category.creditShare), hood)
  }

  /** A visitor from another city (a hotel guest). */
  #visitor(m: SimMerchant): Card {
    const others = [...this.#cities.entries()].filter(([name]) => name !== m.city.name)
    const [, cards] = others.length > 0 ? this.#pick(others) : [m.city.name, this.#cards(m)]
    return cards.draw(this.#rand, paymentType(this.#rand, m.category.creditShare), null)
  }

  /** Gives a scenario merchant its label and behaviour; `members` is its whole group. */
  #assign(m: SimMerchant, spec: ScenarioSpec, members: SimMerchant[], member: number): void {
    m.label.label = spec.label
    m.label.scenario = spec.id
    m.label.tactics = [...spec.tactics]
    m.label.expected_rules = [...spec.expectedRules]
    const days = this.opts.days
    if (spec.label === 'fraud') {
      if (spec.id === 'card_testing') {
        m.breach = { tactic: 'card_testing', fromDay: Math.floor(this.#rand() * 6) }
        return
      }
      // The shop front is little more than a front: most swipes are cash-out.
      m.size *= this.opts.shopFront
      const shared = members[0]?.cashOut
      const ring = spec.tactics.includes('ring') || spec.id === 'card_cycle'
      const cards =
        shared !== undefined && shared !== null && member > 0 && ring
          ? shared.cards
          : Array.from(
              {
                length: spec.tactics.includes('ring')
                  ? 30 + Math.floor(this.#rand() * 25)
                  : spec.id === 'card_cycle'
                    ? 24
                    : 10 + Math.floor(this.#rand() * 6),
              },
              () => this.#farmedCard(m),
            )
      m.cashOut = {
        tactics: new Set(spec.tactics),
        cards,
        debitCards: Array.from({ length: 6 }, () => this.#cards(m).draw(this.#rand, 'DEBIT', null)),
        group: members,
        cycleDay: shared?.cycleDay ?? cards.map(() => Math.floor(this.#rand() * 28)),
        cycleHome: shared?.cycleHome ?? cards.map(() => Math.floor(this.#rand() * 4)),
        activeShare: spec.id === 'card_cycle' ? 1 : this.opts.cashOutDays,
      }
      if (spec.id === 'bust_out') m.onboardedDay = -Math.floor(3 + this.#rand() * 10)
      return
    }
    const fromDay = Math.floor(days * (0.1 + this.#rand() * 0.45))
    switch (spec.id) {
      case 'relocation':
        m.breach = {
          tactic: 'relocation',
          fromDay,
          city: this.#pick(this.opts.cities.map((c) => c.city).filter((c) => c !== m.city)),
        }
        return
      case 'mcc_mismatch':
        m.breach = {
          tactic: 'mcc_mismatch',
          fromDay,
          mcc: this.#pick(CHEAPER_MCCS),
          share: 0.3 + this.#rand() * 0.4,
        }
        return
      case 'paper_mcc_jump': {
        // A shop that has traded for a while: re-registering in its first weeks would be a new shop
        // still finding its category, another story.
        if (m.onboardedDay > -30) m.onboardedDay = -Math.floor(30 + this.#rand() * 300)
        // Two or three changes spread over the days with some jitter, so that a few days always separate
        // two of them; each to another MCC than the one registered, a cheaper one or back to its own.
        const changes = 2 + Math.floor(this.#rand() * 2)
        const step = days / (changes + 1)
        const pool = [m.category.mcc, ...CHEAPER_MCCS]
        let mcc = m.category.mcc
        const registrations: { day: number; mcc: string }[] = []
        for (let k = 1; k <= changes; k++) {
          const current = mcc
          mcc = this.#pick(pool.filter((x) => x !== current))
          registrations.push({ day: Math.floor(step * (k + (this.#rand() - 0.5) * 0.5)), mcc })
        }
        m.breach = { tactic: 'mcc_reregistration', fromDay: registrations[0]?.day ?? 0, registrations }
        return
      }
      case 'settlement_churn':
        m.breach = { tactic: 'settlement_churn', fromDay: Math.min(fromDay, Math.floor(days * 0.3)) }
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

  /**
   * A card run through a cash-out terminal: a credit card of the city that its holder also shops with,
   * `cardOverlap` of the time, else one used for nothing else; farmers favour one lax issuer.
   */
  #farmedCard(m: SimMerchant): Card {
    if (this.#rand() < this.opts.cardOverlap) return this.#cards(m).draw(this.#rand, 'CREDIT', null)
    return newCard(this.#rand, 'CREDIT', this.#rand() < 0.4 ? 3 : undefined)
  }

  /** Honest lifecycle changes that must not look like churn or sharing: one account change, a terminal swap. */
  #legitLifecycleNoise(): void {
    for (const m of this.merchants) {
      if (m.label.label !== 'legit' && m.label.label !== 'lookalike') continue
      const r = this.#rand()
      const fromDay = Math.floor(this.#rand() * this.opts.days)
      if (r < this.opts.lifecycleNoise / 2) m.breach = { tactic: 'settlement_churn', fromDay, honest: true }
      else if (r < this.opts.lifecycleNoise)
        m.breach = { tactic: 'terminal_double_bound', fromDay, honest: true }
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
    // Paperwork happens at 04:30, when no category trades much: a sale of the same day must not
    // precede the binding it relies on (or follow the unbinding) by accident of the simulation.
    const at = this.#dayStart(day) + 4.5 * HOUR_MS + Math.floor(this.#rand() * 10 * MINUTE_MS)
    if (b.tactic === 'settlement_churn') {
      // Honest: one change. Churn: a change every week or so from the first day of the breach.
      const changeDay =
        b.honest === true ? day === b.fromDay : day >= b.fromDay && (day - b.fromDay) % 6 === 0
      if (changeDay) {
        m.account = `acct-${m.merchantId}-${day}`
        this.#event(out, m, at, 'SETTLEMENT_ACCOUNT_CHANGED', { settlement_account_token: m.account })
      }
    } else if (b.tactic === 'mcc_reregistration') {
      const change = b.registrations?.find((r) => r.day === day)
      if (change !== undefined) {
        this.#event(out, m, at, 'MCC_CHANGED', { registered_mcc: change.mcc })
        m.mccChanges.push({ at, mcc: change.mcc })
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
        // A bar's sales after midnight belong to the night before the swap: they ran on the old one.
        m.swap = { at: at + MINUTE_MS, old: m.terminals }
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

  /** The merchant's expected sales on `day`: size, weekday, month, holidays and, for a new shop, its ramp. */
  #expectedSales(m: SimMerchant, day: number): number {
    const c = m.category
    const local = new Date(this.#dayStart(day) + this.#offsetMs)
    const date = local.toISOString().slice(0, 10)
    let mean = c.dailyTxns * m.size * (c.week[local.getUTCDay()] ?? 1) * monthFactor(local.getUTCDate(), c)
    mean *= holidayFactor(date, c.season)
    const open = day - m.onboardedDay
    if (open <= m.rampDays) mean *= Math.min(1, 0.2 + (0.8 * open) / m.rampDays) * (open <= 3 ? 1.5 : 1)
    return mean
  }

  #trade(m: SimMerchant, day: number, out: SimEvent[]): void {
    const c = m.category
    const mean = this.#expectedSales(m, day)
    // A small shop is shut now and then (illness, stock-taking).
    if (mean <= 0 || this.#rand() < 0.02) return
    const dayStart = this.#dayStart(day)
    if (c.stays !== undefined) this.#hotelGuests(m, day, mean, out)
    const walkIns =
      c.stays === undefined ? this.#poisson(mean) : this.#poisson(mean * (1 - c.stays.guestShare))
    // A regular comes once a day, now and then twice: a second pick of the same card that day is
    // mostly somebody else.
    const today = new Set<Card>()
    for (let i = 0; i < walkIns; i++) {
      const at = dayStart + this.#hourOf(c.hours) * HOUR_MS + Math.floor(this.#rand() * HOUR_MS)
      let card = this.#rand() < c.regulars ? this.#pick(m.regulars) : this.#walkIn(m)
      if (today.has(card) && this.#rand() < 0.9) card = this.#walkIn(m)
      today.add(card)
      if (c.tabs !== undefined && this.#rand() < 0.5) {
        // A party runs a tab: a round now and then, each paid with the same card.
        const rounds = 1 + Math.floor(this.#rand() * c.tabs.rounds)
        let t = at
        // The day's events go out together: a tab still open at midnight is closed at the last round.
        for (let k = 0; k < rounds && t < dayStart + DAY_MS; k++) {
          out.push(sale(this.#txn(m, t, card, this.#price(c, 0.6))))
          const [lo, hi] = c.tabs.gapMinutes
          t += Math.floor((lo + this.#rand() * (hi - lo)) * MINUTE_MS)
        }
        continue
      }
      out.push(sale(this.#txn(m, at, card, this.#price(c))))
    }
    if (c.fleets !== undefined) this.#fleetFillUps(m, day, mean, out)
  }

  /**
   * A truck stop's fleets: each fleet passing today pays with its one card for every truck of it that
   * fills up, at any hour, now and then a truck of a convoy a few minutes after the one before.
   */
  #fleetFillUps(m: SimMerchant, day: number, mean: number, out: SimEvent[]): void {
    const f = m.category.fleets
    if (f === undefined) return
    // Holidays and a new stop's ramp thin the fleets as they thin the walk-in trade.
    const busy = Math.min(1, mean / (m.category.dailyTxns * m.size))
    const dayStart = this.#dayStart(day)
    for (const { card, trucks } of m.fleet) {
      if (this.#rand() >= f.activeShare * busy) continue
      let last: number | null = null
      for (let k = 0; k < trucks; k++) {
        // Not every truck of a fleet needs fuel here today; the first one did, or the fleet would not be.
        if (last !== null && this.#rand() < 0.15) continue
        const follow: number | null =
          last !== null && this.#rand() < 0.2 ? last + (2 + this.#rand() * 13) * MINUTE_MS : null
        const at: number =
          follow !== null && follow < dayStart + DAY_MS
            ? Math.floor(follow)
            : dayStart + this.#hourOf(f.hours) * HOUR_MS + Math.floor(this.#rand() * HOUR_MS)
        // A truck's tank: litres at the pump price, so cents on all but about one fill-up in a hundred.
        const major = f.ticket * Math.exp(this.#normal() * f.sigma)
        out.push(sale(this.#txn(m, at, card, Math.max(100, Math.round(major * 100)))))
        last = at
      }
    }
  }

  /** Hotel guests: arrivals from other cities stay a few nights and are charged every day of the stay. */
  #hotelGuests(m: SimMerchant, day: number, mean: number, out: SimEvent[]): void {
    const stays = m.category.stays
    if (stays === undefined) return
    const [lo, hi] = stays.nights
    const arrivals = this.#poisson((mean * stays.guestShare) / ((lo + hi) / 2) / 1.3)
    for (let i = 0; i < arrivals; i++)
      m.guests.push({ card: this.#visitor(m), until: day + lo + Math.floor(this.#rand() * (hi - lo + 1)) })
    const dayStart = this.#dayStart(day)
    for (const g of m.guests) {
      out.push(
        sale(
          this.#txn(
            m,
            dayStart + this.#hourOf(m.category.hours) * HOUR_MS + Math.floor(this.#rand() * HOUR_MS),
            g.card,
            this.#price(m.category),
          ),
        ),
      )
      if (this.#rand() < 0.3)
        out.push(
          sale(
            this.#txn(
              m,
              dayStart + (18 + Math.floor(this.#rand() * 5)) * HOUR_MS,
              g.card,
              this.#price(m.category, 0.25),
            ),
          ),
        )
    }
    m.guests = m.guests.filter((g) => g.until > day)
  }

  #price(c: Category, scale = 1): number {
    const major = c.ticket * scale * Math.exp(this.#normal() * c.sigma)
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

  /**
   * card_cycle: each card is swiped just after its statement day and again about 16 days later (the
   * cash that repays the bill), so it comes back in consecutive months; after two months at one member
   * it moves on to the other's terminal. Staggered per card, so each member has cards all month.
   */
  #cycle(m: SimMerchant, co: CashOut, day: number, out: SimEvent[]): void {
    const index = co.group.indexOf(m)
    const local = new Date(this.#dayStart(day) + this.#offsetMs)
    const dom = local.getUTCDate() - 1
    const month = local.getUTCFullYear() * 12 + local.getUTCMonth()
    const dayStart = this.#dayStart(day)
    co.cards.forEach((card, k) => {
      const statement = co.cycleDay[k] ?? 0
      const repay = statement + 16
      // The month of the statement this swipe belongs to: a repayment may fall in the next month.
      let cycle: number
      if (dom === statement || (repay < 28 && dom === repay)) cycle = month
      else if (repay >= 28 && dom === repay - 28) cycle = month - 1
      else return
      // Two months at a member, then the next; four phases so every member has cards every month.
      const phase = co.cycleHome[k] ?? 0
      if (Math.floor((cycle + phase) / 2) % co.group.length !== index) return
      const at = dayStart + 10 * HOUR_MS + Math.floor(this.#rand() * 9 * HOUR_MS)
      out.push(sale(this.#txn(m, at, card, (6_000 + Math.floor(this.#rand() * 6_000)) * 100 + this.#cents())))
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
          newCard(this.#rand, this.#rand() < 0.7 ? 'CREDIT' : 'DEBIT'),
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
    const terminal = this.#pick(m.swap !== null && at < m.swap.at ? m.swap.old : m.terminals)
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
      mcc: registeredMcc(m, at),
      entry_mode: this.#entryMode(),
      response_code: approved ? '00' : this.#pick(['05', '51', '55', '61']),
      latitude: round6(m.lat + (this.#rand() - 0.5) * 0.002),
      longitude: round6(m.lon + (this.#rand() - 0.5) * 0.002),
    }
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

  #entryMode(): TerminalTransaction['entry_mode'] {
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

/** The MCC `m` was registered under at `at`: what its sales are submitted under, short of a breach. */
function registeredMcc(m: SimMerchant, at: number): string {
  let mcc = m.category.mcc
  for (const c of m.mccChanges) if (c.at <= at) mcc = c.mcc
  return mcc
}

function sale(value: TerminalTransaction): SimEvent {
  return { topic: 'transactions', value }
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6
}
