/**
 * The card population of a simulated city: cards that belong to cardholders, each with a home
 * neighbourhood and an activity level, shared by every merchant of the city. A purchase draws a card of
 * the type the shop's customers pay with, from the shop's neighbourhood most of the time and from the
 * whole city otherwise, weighted by activity; so an active card pays at several different merchants a
 * week, and neighbouring shops share their regulars, as in life (DOMAIN.md).
 */
import type { CardType } from '../schemas/types.generated.ts'

export interface Card {
  readonly token: string
  readonly bin: string
  readonly type: CardType
}

/** Issuers: a card's BIN names its issuer and product (credit or debit). */
const ISSUERS = 48

export function newCard(rand: () => number, type: CardType, issuer?: number): Card {
  // Hex in two parts split by a letter: a run of 13 to 19 hex digits may be all decimal ones and pass
  // Luhn, and the service's input check (lib/luhn.ts) would take it for a card number.
  const token = `tok${Math.floor(rand() * 2 ** 48)
    .toString(16)
    .padStart(12, '0')}x${Math.floor(rand() * 2 ** 32)
    .toString(16)
    .padStart(8, '0')}`
  const i = issuer ?? Math.floor(rand() * ISSUERS)
  const bin = String(622_200 + i * 7 + (type === 'CREDIT' ? 1 : type === 'DEBIT' ? 2 : 3) * 1000)
  return { token, bin, type }
}

/** The card type of one payment at a shop whose customers pay by credit `creditShare` of the time. */
export function paymentType(rand: () => number, creditShare: number): CardType {
  const r = rand()
  return r < creditShare ? 'CREDIT' : r < creditShare + (1 - creditShare) * 0.97 ? 'DEBIT' : 'PREPAID'
}

const TYPES: readonly CardType[] = ['CREDIT', 'DEBIT', 'PREPAID']

/** Cards of one type in one place, with cumulative activity weights for a weighted draw. */
class WeightedCards {
  readonly cards: Card[] = []
  readonly #weights: number[] = []
  #cumulative: Float64Array = new Float64Array(0)

  add(card: Card, weight: number): void {
    this.cards.push(card)
    this.#weights.push(weight)
  }

  seal(): void {
    this.#cumulative = new Float64Array(this.#weights.length)
    let sum = 0
    this.#weights.forEach((w, i) => {
      sum += w
      this.#cumulative[i] = sum
    })
  }

  get size(): number {
    return this.cards.length
  }

  draw(rand: () => number): Card | undefined {
    const c = this.#cumulative
    if (c.length === 0) return undefined
    const x = rand() * (c[c.length - 1] ?? 0)
    let lo = 0
    let hi = c.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((c[mid] ?? 0) < x) lo = mid + 1
      else hi = mid
    }
    return this.cards[lo]
  }
}

export class CityCards {
  readonly #city = new Map<CardType, WeightedCards>()
  readonly #hoods: Map<CardType, WeightedCards>[] = []
  readonly hoods: number

  /**
   * `count` cards of the city, spread over `hoods` neighbourhoods, each with a log-normal activity (a few
   * cards are used a lot, most now and then); about half are credit cards.
   */
  constructor(rand: () => number, count: number, hoods: number, normal: () => number) {
    this.hoods = Math.max(1, hoods)
    for (const t of TYPES) this.#city.set(t, new WeightedCards())
    for (let k = 0; k < this.hoods; k++) this.#hoods.push(new Map(TYPES.map((t) => [t, new WeightedCards()])))
    for (let i = 0; i < count; i++) {
      const r = rand()
      const type: CardType = r < 0.5 ? 'CREDIT' : r < 0.97 ? 'DEBIT' : 'PREPAID'
      const card = newCard(rand, type)
      const weight = Math.exp(normal() * 0.8)
      const hood = Math.floor(rand() * this.hoods)
      this.#city.get(type)?.add(card, weight)
      this.#hoods[hood]?.get(type)?.add(card, weight)
    }
    for (const w of this.#city.values()) w.seal()
    for (const m of this.#hoods) for (const w of m.values()) w.seal()
  }

  get size(): number {
    let n = 0
    for (const w of this.#city.values()) n += w.size
    return n
  }

  /** A card of `type` from neighbourhood `hood`, or from anywhere in the city when `hood` is null. */
  draw(rand: () => number, type: CardType, hood: number | null): Card {
    const pool = hood === null ? this.#city.get(type) : this.#hoods[hood]?.get(type)
    const card = pool?.draw(rand) ?? this.#city.get(type)?.draw(rand) ?? this.#city.get('DEBIT')?.draw(rand)
    if (card === undefined) throw new Error('a city without cards')
    return card
  }
}
