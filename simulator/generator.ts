/**
 * Seeded, reproducible terminal traffic: merchants of several categories and cities, their terminals
 * and regular customers, prices with cents where real shops have them. Pure: the caller passes the
 * clock. This is the legitimate baseline; labelled abuse scenarios are layered on top of it.
 */
import type { CardType, EntryMode, MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
// late.ts imports prng from here: a cycle, harmless since neither uses the other while loading.
import { drawDelay, LATE_SALT, type LateClass } from './late.ts'

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG; the same seed gives the same stream. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface CategoryProfile {
  mcc: string
  name: string
  /** Median ticket in major units. */
  ticket: number
  /** Spread of log(ticket). */
  sigma: number
  /** Share of approved volume paid by credit card. */
  creditShare: number
  /** Prices end in cents (a supermarket) or in whole units (a car dealer). */
  cents: boolean
  /** Share of regular customers among swipes. */
  regulars: number
  weight: number
}

export const CATEGORIES: readonly CategoryProfile[] = [
  {
    mcc: '5411',
    name: 'Grocery',
    ticket: 85,
    sigma: 0.8,
    creditShare: 0.35,
    cents: true,
    regulars: 0.5,
    weight: 30,
  },
  {
    mcc: '5812',
    name: 'Restaurant',
    ticket: 160,
    sigma: 0.6,
    creditShare: 0.45,
    cents: true,
    regulars: 0.3,
    weight: 25,
  },
  {
    mcc: '5813',
    name: 'Bar',
    ticket: 220,
    sigma: 0.7,
    creditShare: 0.5,
    cents: true,
    regulars: 0.3,
    weight: 5,
  },
  {
    mcc: '5311',
    name: 'Department store',
    ticket: 420,
    sigma: 0.9,
    creditShare: 0.55,
    cents: true,
    regulars: 0.1,
    weight: 10,
  },
  {
    mcc: '5732',
    name: 'Electronics',
    ticket: 1800,
    sigma: 0.9,
    creditShare: 0.65,
    cents: false,
    regulars: 0.05,
    weight: 8,
  },
  {
    mcc: '7011',
    name: 'Hotel',
    ticket: 780,
    sigma: 0.5,
    creditShare: 0.7,
    cents: true,
    regulars: 0.05,
    weight: 6,
  },
  {
    mcc: '5944',
    name: 'Jeweller',
    ticket: 6500,
    sigma: 0.8,
    creditShare: 0.75,
    cents: false,
    regulars: 0.05,
    weight: 3,
  },
  {
    mcc: '5511',
    name: 'Car dealer',
    ticket: 48000,
    sigma: 0.5,
    creditShare: 0.8,
    cents: false,
    regulars: 0.02,
    weight: 2,
  },
  {
    mcc: '5999',
    name: 'Miscellaneous retail',
    ticket: 260,
    sigma: 0.9,
    creditShare: 0.45,
    cents: true,
    regulars: 0.2,
    weight: 11,
  },
]

export const CITIES = [
  { name: 'Shanghai', lat: 31.2304, lon: 121.4737 },
  { name: 'Beijing', lat: 39.9042, lon: 116.4074 },
  { name: 'Shenzhen', lat: 22.5431, lon: 114.0579 },
  { name: 'Chengdu', lat: 30.5728, lon: 104.0668 },
  { name: 'Hangzhou', lat: 30.2741, lon: 120.1551 },
] as const

export interface SimMerchant {
  acquirerId: string
  merchantId: string
  name: string
  category: CategoryProfile
  lat: number
  lon: number
  terminals: string[]
  regulars: SimCard[]
  /** Relative traffic. */
  size: number
}

export interface SimCard {
  token: string
  bin: string
  type: CardType
}

/** The acquirers of the live traffic unless told otherwise; the service serves them when it simulates. */
export const SIMULATED_ACQUIRERS: readonly string[] = ['acq-alpha', 'acq-beta']

export interface SimulatorOptions {
  seed: number
  merchants: number
  acquirers?: readonly string[]
  /** Distinguishes runs so that transaction ids of two runs never collide. */
  runId: string
  /**
   * Late delivery (simulator/late.ts): a transaction produced now carries an event time this much in
   * the past, as when a terminal uploads a batch late. Drawn from a generator of its own, so the other
   * draws, hence the traffic itself, are the same with or without it. None by default.
   */
  late?: readonly LateClass[]
}

export class TrafficSimulator {
  readonly merchants: SimMerchant[] = []
  readonly #rand: () => number
  readonly #runId: string
  readonly #late: readonly LateClass[]
  readonly #lateRand: () => number
  readonly #cumulative: number[] = []
  #seq = 0

  constructor(opts: SimulatorOptions) {
    this.#rand = prng(opts.seed)
    this.#runId = opts.runId
    this.#late = opts.late ?? []
    this.#lateRand = prng((opts.seed ^ LATE_SALT) >>> 0)
    const acquirers = opts.acquirers ?? SIMULATED_ACQUIRERS
    const totalWeight = CATEGORIES.reduce((s, c) => s + c.weight, 0)
    for (let i = 0; i < opts.merchants; i++) {
      const category = this.#weighted(CATEGORIES, (c) => c.weight / totalWeight)
      const city = this.#pick(CITIES)
      const merchantId = `m-${opts.seed}-${i.toString().padStart(6, '0')}`
      const terminalCount = 1 + Math.floor(this.#rand() * 3)
      const regulars = Array.from({ length: 5 + Math.floor(this.#rand() * 40) }, () =>
        this.#card(category.creditShare),
      )
      this.merchants.push({
        acquirerId: acquirers[i % acquirers.length] ?? 'acq-alpha',
        merchantId,
        name: `${city.name} ${category.name} ${i}`,
        category,
        // Registered within ~10 km of the city centre.
        lat: city.lat + (this.#rand() - 0.5) * 0.15,
        lon: city.lon + (this.#rand() - 0.5) * 0.15,
        terminals: Array.from({ length: terminalCount }, (_, t) => `t-${merchantId}-${t}`),
        regulars,
        size: Math.exp(this.#normal() * 0.8),
      })
    }
    let sum = 0
    for (const m of this.merchants) {
      sum += m.size
      this.#cumulative.push(sum)
    }
  }

  /** Onboarding and terminal binding of every merchant, dated `daysBefore` days before `now`. */
  lifecycle(now: number, daysBefore = 90): MerchantEvent[] {
    const out: MerchantEvent[] = []
    for (const m of this.merchants) {
      const onboarded = now - daysBefore * 86_400_000
      const base = {
        acquirer_id: m.acquirerId,
        merchant_id: m.merchantId,
        registered_mcc: null,
        merchant_name: null,
        latitude: null,
        longitude: null,
        settlement_account_token: null,
        terminal_id: null,
      }
      out.push({
        ...base,
        event_id: `e-${m.merchantId}-onboarded`,
        event_time: onboarded,
        kind: 'ONBOARDED',
        registered_mcc: m.category.mcc,
        merchant_name: m.name,
        latitude: m.lat,
        longitude: m.lon,
        settlement_account_token: `acct-${m.merchantId}`,
      })
      m.terminals.forEach((terminal, t) => {
        out.push({
          ...base,
          event_id: `e-${m.merchantId}-bound-${t}`,
          event_time: onboarded + 3_600_000,
          kind: 'TERMINAL_BOUND',
          terminal_id: terminal,
        })
      })
    }
    return out
  }

  /** The next legitimate transaction at time `now`. */
  next(now: number): TerminalTransaction {
    const m = this.#merchantBySize()
    const c = m.category
    const card = this.#rand() < c.regulars ? this.#pick(m.regulars) : this.#card(c.creditShare)
    let major = c.ticket * Math.exp(this.#normal() * c.sigma)
    // Whole-unit shops still price at odd amounts (1,899 not 1,900); cent shops have cents.
    major = c.cents
      ? Math.round(major * 100) / 100
      : Math.max(1, Math.round(major) - (this.#rand() < 0.6 ? 1 : 0))
    const approved = this.#rand() < 0.975
    this.#seq++
    const late = this.#late.length === 0 ? 0 : drawDelay(this.#late, this.#lateRand)
    return {
      txn_id: `tx-${this.#runId}-${this.#seq}`,
      event_time: now - late,
      acquirer_id: m.acquirerId,
      merchant_id: m.merchantId,
      terminal_id: this.#pick(m.terminals),
      card_token: card.token,
      card_bin: card.bin,
      card_type: card.type,
      txn_type: this.#rand() < 0.985 ? 'PURCHASE' : 'REFUND',
      amount_minor: Math.max(1, Math.round(major * 100)),
      currency: 'CNY',
      mcc: c.mcc,
      entry_mode: this.#entryMode(),
      response_code: approved ? '00' : this.#pick(['05', '51', '55', '61']),
      latitude: m.lat + (this.#rand() - 0.5) * 0.002,
      longitude: m.lon + (this.#rand() - 0.5) * 0.002,
    }
  }

  #card(creditShare: number): SimCard {
    const r = this.#rand()
    const type: CardType = r < creditShare ? 'CREDIT' : r < 0.97 ? 'DEBIT' : 'PREPAID'
    // Hex in two parts split by a letter: a run of 13 or more digits could pass Luhn and look like a
    // card number (lib/luhn.ts), and twelve hex digits may all be decimal ones.
    const token = `tok${Math.floor(this.#rand() * 2 ** 48)
      .toString(16)
      .padStart(12, '0')}x${Math.floor(this.#rand() * 2 ** 32).toString(16)}`
    const bin = String(400000 + Math.floor(this.#rand() * 250000))
    return { token, bin, type }
  }

  #entryMode(): EntryMode {
    const r = this.#rand()
    return r < 0.45 ? 'CONTACTLESS' : r < 0.85 ? 'CHIP' : r < 0.95 ? 'QR' : r < 0.99 ? 'MAGSTRIPE' : 'MANUAL'
  }

  #merchantBySize(): SimMerchant {
    const total = this.#cumulative[this.#cumulative.length - 1] ?? 0
    const x = this.#rand() * total
    let lo = 0
    let hi = this.#cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.#cumulative[mid] ?? 0) < x) lo = mid + 1
      else hi = mid
    }
    const m = this.merchants[lo]
    if (m === undefined) throw new Error('the simulator has no merchants')
    return m
  }

  #pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.#rand() * items.length)]
    if (item === undefined) throw new Error('pick from an empty list')
    return item
  }

  #weighted<T>(items: readonly T[], weight: (t: T) => number): T {
    let x = this.#rand()
    for (const item of items) {
      x -= weight(item)
      if (x <= 0) return item
    }
    return this.#pick(items)
  }

  /** Standard normal by Box-Muller. */
  #normal(): number {
    const u = 1 - this.#rand()
    const v = this.#rand()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
}
