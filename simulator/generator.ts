/**
 * Live terminal traffic for `npm start`: legitimate only, produced at the wall clock. Pure: the caller
 * passes the clock.
 *
 * The merchants (categories, cities, terminals, regular customers) come from the seed, so a restarted
 * service finds the shops it knew. The stream of sales comes from the seed *and the run id*: a restart
 * continues with new draws instead of replaying the same cards at the same shops minutes later, which
 * swipe_gap and repeated_card would rightly read as a pattern. Cards belong to one large population per
 * city (derived from their index, so a million cost no memory), each paying at several shops; a regular
 * customer comes back at most once in 20 hours, however fast the traffic runs, and not within 20 hours
 * of a start (the previous run's visits are not known).
 */
import type { CardType, EntryMode, MerchantEvent, TerminalTransaction } from '../schemas/types.generated.ts'
import { paymentType } from './cards.ts'
import { type Category, CITIES, type City, LOOKALIKES, ORDINARY } from './catalogue.ts'
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

/** FNV-1a of a string: seeds the stream from the run id, names cards from their index. */
function hash32(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Cards per city: at 50 sales a second a card still pays about once a day. */
const CITY_CARDS = 1_000_000
/** Hours before a regular customer comes back to the same shop. */
const REGULAR_GAP_MS = 20 * 3_600_000
/** Share of the demo's merchants that are look-alikes (DOMAIN.md: 10–15%). */
const LOOKALIKE_SHARE = 0.12
/**
 * The look-alike kinds the demo draws from: not those of weight 0 (truck stops), whose trade (fleet
 * cards) only the labelled simulator makes, and which would change the shops a seed gives.
 */
const LIVE_LOOKALIKES = LOOKALIKES.filter((c) => c.weight > 0)

export interface SimMerchant {
  acquirerId: string
  merchantId: string
  name: string
  category: Category
  city: number
  lat: number
  lon: number
  terminals: string[]
  /** Card indices (in the city's population) of its regular customers, and when each came last. */
  regulars: number[]
  regularSeen: number[]
  /** Relative traffic: its category's daily sales times its size. */
  weight: number
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
  /**
   * Distinguishes runs: transaction ids never collide, and the stream of sales is drawn from a
   * generator seeded by it, so each run (a restart) continues the traffic rather than repeating it.
   */
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
  readonly #seed: number
  readonly #rand: () => number
  readonly #runId: string
  readonly #late: readonly LateClass[]
  readonly #lateRand: () => number
  readonly #cumulative: number[] = []
  #seq = 0
  /** The clock at the first sale this run produced. */
  #startedAt: number | null = null

  constructor(opts: SimulatorOptions) {
    this.#seed = opts.seed
    const population = prng(opts.seed)
    this.#rand = prng(hash32(`${opts.seed}\u0000${opts.runId}`))
    this.#runId = opts.runId
    this.#late = opts.late ?? []
    this.#lateRand = prng((opts.seed ^ LATE_SALT) >>> 0)
    const acquirers = opts.acquirers ?? SIMULATED_ACQUIRERS
    const ordinaryWeight = ORDINARY.reduce((s, c) => s + c.weight, 0)
    const pick = <T>(items: readonly T[]): T => {
      const item = items[Math.floor(population() * items.length)]
      if (item === undefined) throw new Error('pick from an empty list')
      return item
    }
    const normal = () => Math.sqrt(-2 * Math.log(1 - population())) * Math.cos(2 * Math.PI * population())
    for (let i = 0; i < opts.merchants; i++) {
      let category: Category
      if (population() < LOOKALIKE_SHARE) category = pick(LIVE_LOOKALIKES)
      else {
        let x = population() * ordinaryWeight
        category = pick(ORDINARY)
        for (const c of ORDINARY) {
          x -= c.weight
          if (x <= 0) {
            category = c
            break
          }
        }
      }
      const city = Math.floor(population() * CITIES.length)
      const where: City = CITIES[city] ?? { name: 'Shanghai', lat: 31.2304, lon: 121.4737 }
      const merchantId = `m-${opts.seed}-${i.toString().padStart(6, '0')}`
      const size = Math.exp(normal() * 0.8 - 0.32)
      const regulars = Array.from(
        { length: Math.max(3, Math.round(category.regularCount * (0.5 + population()) * Math.sqrt(size))) },
        () => cardIndex(paymentType(population, category.creditShare), population),
      )
      this.merchants.push({
        acquirerId: acquirers[i % acquirers.length] ?? 'acq-alpha',
        merchantId,
        name: `${where.name} ${category.name} ${i}`,
        category,
        city,
        // Registered within ~7 km of the city centre.
        lat: where.lat + (population() - 0.5) * 0.12,
        lon: where.lon + (population() - 0.5) * 0.12,
        terminals: Array.from({ length: 1 + Math.floor(population() * 3) }, (_, t) => `t-${merchantId}-${t}`),
        regulars,
        regularSeen: regulars.map(() => Number.NEGATIVE_INFINITY),
        weight: category.dailyTxns * size,
      })
    }
    let sum = 0
    for (const m of this.merchants) {
      sum += m.weight
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

  /** The card of index `i` in the population of city `city` (the same card every time). */
  card(city: number, i: number): SimCard {
    const h1 = hash32(`${this.#seed}:${city}:${i}`)
    const h2 = hash32(`${i}:${city}:${this.#seed}:card`)
    // Hex in two parts split by a letter: sixteen hex digits may all be decimal ones, and such a run
    // could pass Luhn and look like a card number (lib/luhn.ts) to the service's own input check.
    const token = `tok${h1.toString(16).padStart(8, '0')}x${h2.toString(16).padStart(8, '0')}c${city}`
    const type: CardType = i < CITY_CARDS * 0.5 ? 'CREDIT' : i < CITY_CARDS * 0.97 ? 'DEBIT' : 'PREPAID'
    // A few dozen issuers, so that a BIN is shared by many cards as in life.
    const bin = String(622_200 + (h2 % 48) * 7 + (type === 'CREDIT' ? 1000 : 2000))
    return { token, bin, type }
  }

  /** The next legitimate transaction at time `now`. */
  next(now: number): TerminalTransaction {
    const m = this.#merchantByWeight()
    const c = m.category
    let index = -1
    // A started generator does not know when its regulars last came (a restart forgot it): it treats
    // them all as just seen, so none comes back within the gap of a visit the previous run made.
    this.#startedAt ??= now
    if (this.#rand() < c.regulars) {
      const r = Math.floor(this.#rand() * m.regulars.length)
      if (Math.max(m.regularSeen[r] ?? 0, this.#startedAt) <= now - REGULAR_GAP_MS) {
        m.regularSeen[r] = now
        index = m.regulars[r] ?? -1
      }
    }
    if (index < 0) index = cardIndex(paymentType(this.#rand, c.creditShare), this.#rand)
    const card = this.card(m.city, index)
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
      amount_minor: this.#price(c),
      currency: 'CNY',
      mcc: c.mcc,
      entry_mode: this.#entryMode(),
      response_code: approved ? '00' : this.#pick(['05', '51', '55', '61']),
      latitude: m.lat + (this.#rand() - 0.5) * 0.002,
      longitude: m.lon + (this.#rand() - 0.5) * 0.002,
    }
  }

  /** A price in minor units, as the category prices: cents or whole units, some round. */
  #price(c: Category): number {
    const major = c.ticket * Math.exp(this.#normal() * c.sigma)
    if (this.#rand() < c.roundShare) {
      const unit = major >= 2000 ? 1000 : 100
      return Math.max(1, Math.round(major / unit)) * unit * 100
    }
    if (c.cents) return Math.max(1, Math.round(major * 100))
    // Whole-unit shops still price at odd amounts (1,899 rather than 1,900).
    return Math.max(1, Math.round(major) - (this.#rand() < 0.6 ? 1 : 0)) * 100
  }

  #entryMode(): EntryMode {
    const r = this.#rand()
    return r < 0.45 ? 'CONTACTLESS' : r < 0.85 ? 'CHIP' : r < 0.95 ? 'QR' : r < 0.99 ? 'MAGSTRIPE' : 'MANUAL'
  }

  #merchantByWeight(): SimMerchant {
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

  /** Standard normal by Box-Muller. */
  #normal(): number {
    const u = 1 - this.#rand()
    const v = this.#rand()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }
}

/** A random card index of the given type: cards are laid out credit, then debit, then prepaid. */
function cardIndex(type: CardType, rand: () => number): number {
  const [from, to] = type === 'CREDIT' ? [0, 0.5] : type === 'DEBIT' ? [0.5, 0.97] : [0.97, 1]
  return Math.floor((from + rand() * (to - from)) * CITY_CARDS)
}
