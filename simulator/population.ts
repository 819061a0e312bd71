/**
 * What a simulated deployment looks like: its cities, its share of look-alikes and of cash-out merchants,
 * the tactics those use, how far the farmed cards also shop, the calendar it spans. Two presets that
 * deliberately differ in every one of these (A and B) are what the backtest judges a rule change on: a
 * change that helps one and hurts the other shows side by side.
 */
import { CITIES, type City, cityByName, LOOKALIKES } from './catalogue.ts'
import { SCENARIOS } from './labels.ts'

export interface PopulationSpec {
  /** The preset's name, carried into the labels. */
  name: string
  seed: number
  merchants: number
  /** Measured days from `start`. */
  days: number
  /** Days of traffic before `start` (0: the store starts empty at `start`, as a new deployment). */
  historyDays: number
  /** UTC ms of the first measured local day's start. */
  start: number
  timeZoneOffsetHours: number
  /** Acquirers and the share of merchants each holds. */
  acquirers: readonly { readonly id: string; readonly share: number }[]
  /** Cities and the share of merchants in each. */
  cities: readonly { readonly city: City; readonly share: number }[]
  /** Share of merchants that are legitimate look-alikes (DOMAIN.md: 10–15%). */
  lookalikeShare: number
  /**
   * Relative weight of each look-alike kind (by scenario name); the catalogue's weight when absent. A
   * kind of weight 0 is left out (the catalogue gives 0 to the kinds only some populations have).
   */
  lookalikeWeights: Readonly<Record<string, number>>
  /** Share of merchants that cash out (all cash-out scenarios together). */
  cashOutShare: number
  /** Relative weight of each cash-out scenario (by id); the catalogue's per1000 when absent. */
  tacticWeights: Readonly<Record<string, number>>
  /** Share of merchants that breach compliance, and that test cards. */
  complianceShare: number
  /**
   * Relative weight of each compliance scenario (by id); the catalogue's per1000 when absent. A
   * scenario of weight 0 is left out (the catalogue gives 0 to those only some populations have).
   */
  complianceWeights: Readonly<Record<string, number>>
  cardTestingShare: number
  /** The shop front of a cash-out merchant: its honest trade, as a share of a shop of its size. */
  shopFront: number
  /** Share of farmed cards that are also ordinary cards of the city, shopping at ordinary merchants. */
  cardOverlap: number
  /** Share of days a cash-out merchant cashes out. */
  cashOutDays: number
  /** Share of cash-out merchants with playbook traces that register under a look-alike MCC. */
  cashOutAsLookalike: number
  /** Share of merchants that open during the measured days (and ramp up). */
  newShopShare: number
  /** Cards in a city per sale of a day there: fewer cards means each card shops more. */
  cardsPerDailySale: number
  /** Share of a card's purchases made in its own neighbourhood. */
  localShare: number
  /** Share of merchants with an honest account change or terminal swap during the days. */
  lifecycleNoise: number
}

const DAY_MS = 86_400_000

/**
 * Population A: the reference month (from 17 October 2026, across a month boundary and Singles' Day),
 * five large cities, 11% look-alikes, cash-out merchants whose shop front is small and whose farmed
 * cards rarely shop elsewhere.
 */
export const POPULATION_A: PopulationSpec = {
  name: 'A',
  seed: 42,
  merchants: 1500,
  days: 30,
  historyDays: 0,
  start: Date.parse('2026-10-17T00:00:00+08:00'),
  timeZoneOffsetHours: 8,
  acquirers: [
    { id: 'acq-alpha', share: 0.6 },
    { id: 'acq-beta', share: 0.4 },
  ],
  cities: [
    { city: cityByName('Shanghai'), share: 0.32 },
    { city: cityByName('Beijing'), share: 0.26 },
    { city: cityByName('Shenzhen'), share: 0.2 },
    { city: cityByName('Chengdu'), share: 0.12 },
    { city: cityByName('Hangzhou'), share: 0.1 },
  ],
  lookalikeShare: 0.11,
  lookalikeWeights: {},
  cashOutShare: 0.08,
  tacticWeights: {},
  complianceShare: 0.03,
  complianceWeights: {},
  cardTestingShare: 0.004,
  shopFront: 0.15,
  cardOverlap: 0.1,
  cashOutDays: 0.85,
  cashOutAsLookalike: 0,
  newShopShare: 0.03,
  cardsPerDailySale: 1.4,
  localShare: 0.6,
  lifecycleNoise: 0.08,
}

/**
 * Population B: unlike A on purpose. Another seed and calendar (February 2026, across the Spring Festival, when much of the city closes for a week after a fortnight of shopping), other cities, 15%
 * look-alikes weighted toward night trade and showrooms, cash-out merchants with three times the shop
 * front, farmed cards that mostly also shop like anyone's, rings and card cycles over naive swipes,
 * some cash-out registered under look-alike MCCs, one acquirer holding most merchants, a tighter card
 * population (each card shops more) and more shops opening. And two kinds A lacks, each a few merchants
 * on top of the others: paper MCC jumpers (the registered MCC changed two or three times in the month,
 * every sale under the MCC of the day) and truck stops (fleets' debit and prepaid fuel cards swiped
 * several times a day, day and night, for large fill-ups). A was fixed before they came and is the
 * team's reference month: it must stay as it is.
 */
export const POPULATION_B: PopulationSpec = {
  name: 'B',
  seed: 7,
  merchants: 1300,
  days: 30,
  historyDays: 0,
  start: Date.parse('2026-02-04T00:00:00+08:00'),
  timeZoneOffsetHours: 8,
  acquirers: [
    { id: 'acq-north', share: 0.8 },
    { id: 'acq-south', share: 0.2 },
  ],
  cities: [
    { city: cityByName('Guangzhou'), share: 0.3 },
    { city: cityByName('Wuhan'), share: 0.25 },
    { city: cityByName('Chengdu'), share: 0.2 },
    { city: cityByName("Xi'an"), share: 0.15 },
    { city: cityByName('Nanjing'), share: 0.1 },
  ],
  // 15% look-alikes before the truck stops, which come on top, so that the other kinds keep their numbers.
  lookalikeShare: 0.1538,
  lookalikeWeights: {
    night_bar: 1.8,
    hotel: 1.5,
    car_dealer: 1.3,
    furniture_store: 1.3,
    school: 0.7,
    truck_stop: 0.3,
  },
  cashOutShare: 0.09,
  tacticWeights: {
    ring: 9,
    ring_evasive: 8,
    card_cycle: 8,
    credit_mix: 7,
    naive: 1,
    structuring: 3,
    whole_units: 5,
    near_round: 5,
    card_pairs: 4,
    playbook_evasive: 5,
    structuring_pairs: 3,
    bust_out: 4,
  },
  // The paper MCC jumpers come on top of the other compliance cases (2.5% of merchants before them),
  // which keep their numbers.
  complianceShare: 0.029,
  complianceWeights: { paper_mcc_jump: 4 },
  cardTestingShare: 0.005,
  shopFront: 0.45,
  cardOverlap: 0.7,
  cashOutDays: 0.7,
  cashOutAsLookalike: 0.15,
  newShopShare: 0.06,
  cardsPerDailySale: 0.9,
  localShare: 0.45,
  lifecycleNoise: 0.1,
}

export const POPULATIONS: Readonly<Record<string, PopulationSpec>> = { A: POPULATION_A, B: POPULATION_B }

/** The default measured start of population A, kept for callers that build their own options. */
export const DEFAULT_START = POPULATION_A.start

/** Checks a spec; throws an Error naming the bad field. */
export function checkPopulation(p: PopulationSpec): void {
  const share = (name: string, v: number) => {
    if (!(v >= 0 && v <= 1)) throw new Error(`${name}: expected a share in [0, 1], got ${v}`)
  }
  if (!Number.isInteger(p.merchants) || p.merchants < 1)
    throw new Error('merchants: expected a positive integer')
  if (!Number.isInteger(p.days) || p.days < 1) throw new Error('days: expected a positive integer')
  if (!Number.isInteger(p.historyDays) || p.historyDays < 0)
    throw new Error('historyDays: expected an integer >= 0')
  for (const k of [
    'lookalikeShare',
    'cashOutShare',
    'complianceShare',
    'cardTestingShare',
    'shopFront',
    'cardOverlap',
    'cashOutDays',
    'cashOutAsLookalike',
    'newShopShare',
    'localShare',
    'lifecycleNoise',
  ] as const)
    share(k, p[k])
  if (p.lookalikeShare + p.cashOutShare + p.complianceShare + p.cardTestingShare > 0.6)
    throw new Error('look-alikes, cash-out, compliance and card testing together exceed 60% of merchants')
  if (p.acquirers.length === 0) throw new Error('acquirers: at least one')
  if (p.cities.length === 0) throw new Error('cities: at least one')
  if (!(p.cardsPerDailySale > 0)) throw new Error('cardsPerDailySale: expected a positive number')
  const known = (field: string, weights: Readonly<Record<string, number>>, names: readonly string[]) => {
    for (const [k, w] of Object.entries(weights)) {
      if (!names.includes(k)) throw new Error(`${field}.${k}: unknown scenario`)
      if (!(w >= 0)) throw new Error(`${field}.${k}: expected a weight >= 0, got ${w}`)
    }
  }
  known(
    'tacticWeights',
    p.tacticWeights,
    SCENARIOS.map((s) => s.id),
  )
  known(
    'complianceWeights',
    p.complianceWeights,
    SCENARIOS.filter((s) => s.label === 'compliance').map((s) => s.id),
  )
  known(
    'lookalikeWeights',
    p.lookalikeWeights,
    LOOKALIKES.map((c) => c.lookalike ?? ''),
  )
  for (const c of p.cities)
    if (!CITIES.includes(c.city)) throw new Error(`cities: unknown city ${c.city.name}`)
}

/** A preset with overrides (seed, size, days, start), checked. */
export function population(name: string, overrides: Partial<PopulationSpec> = {}): PopulationSpec {
  const preset = POPULATIONS[name]
  if (preset === undefined)
    throw new Error(`unknown population ${name} (known: ${Object.keys(POPULATIONS).join(', ')})`)
  const spec = { ...preset, ...overrides }
  checkPopulation(spec)
  return spec
}

/** The first local day of the spec's traffic, UTC ms. */
export function firstDayStart(p: PopulationSpec): number {
  return p.start - p.historyDays * DAY_MS
}
