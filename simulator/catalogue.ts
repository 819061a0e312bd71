/**
 * The merchant categories of the labelled simulator (simulator/history.ts): how each trades, when, and
 * whether it is one of the legitimate look-alikes of cash-out (DOMAIN.md). The figures are plausible
 * shapes, not statistics of a real acquirer; what matters is that categories differ the way real ones
 * do (tickets, cents, credit share, round prices, hours, repeat customers).
 */

/** Weights of the 24 local hours of the day. */
export type HourProfile = readonly number[]

const h = (spec: Record<number, number>): HourProfile => Array.from({ length: 24 }, (_, i) => spec[i] ?? 0)

export const HOURS = {
  grocery: h({
    7: 3,
    8: 5,
    9: 6,
    10: 6,
    11: 7,
    12: 7,
    13: 6,
    14: 5,
    15: 5,
    16: 6,
    17: 8,
    18: 9,
    19: 8,
    20: 6,
    21: 3,
  }),
  retail: h({ 10: 4, 11: 6, 12: 6, 13: 6, 14: 7, 15: 7, 16: 7, 17: 7, 18: 7, 19: 7, 20: 5, 21: 3 }),
  restaurant: h({ 11: 6, 12: 12, 13: 8, 14: 2, 17: 5, 18: 11, 19: 11, 20: 6, 21: 3 }),
  office: h({ 8: 4, 9: 8, 10: 9, 11: 9, 12: 5, 13: 6, 14: 9, 15: 9, 16: 8, 17: 4 }),
  // Bars and hotels trade at night: the night_share look-alikes.
  bar: h({ 0: 8, 1: 6, 2: 4, 3: 1, 17: 2, 18: 4, 19: 6, 20: 9, 21: 11, 22: 12, 23: 11 }),
  hotel: h({
    0: 2,
    1: 1,
    2: 1,
    7: 6,
    8: 9,
    9: 9,
    10: 8,
    11: 8,
    12: 4,
    14: 5,
    15: 5,
    16: 4,
    17: 4,
    18: 4,
    19: 4,
    20: 4,
    21: 4,
    22: 4,
    23: 3,
  }),
  market: h({ 5: 6, 6: 10, 7: 12, 8: 12, 9: 10, 10: 8, 11: 6, 12: 3 }),
} as const satisfies Record<string, HourProfile>

export interface Category {
  readonly mcc: string
  readonly name: string
  /** Median ticket, major units. */
  readonly ticket: number
  /** Spread of log(ticket). */
  readonly sigma: number
  /** Share of sales paid by credit card (by count). */
  readonly creditShare: number
  /** Prices end in cents (a supermarket) or in whole units (a car dealer). */
  readonly cents: boolean
  /** Share of sales at an exact round price (a hundred or a thousand): tuition, deposits. */
  readonly roundShare: number
  /** Share of sales paid by one of the merchant's regular customers. */
  readonly regulars: number
  /** Regular customers per merchant (a market stall has many). */
  readonly regularCount: number
  /** Sales per day of a merchant of size 1. */
  readonly dailyTxns: number
  readonly hours: HourProfile
  /** Set for the legitimate look-alikes of cash-out: the scenario their label names. */
  readonly lookalike: string | null
  /** Relative number of merchants among the plain legitimate population (0 for look-alikes). */
  readonly weight: number
}

const base = { roundShare: 0, regulars: 0.2, regularCount: 30, lookalike: null, weight: 0 }

/** Ordinary categories: the legitimate population, and the registered categories of cash-out merchants. */
export const ORDINARY: readonly Category[] = [
  {
    ...base,
    mcc: '5411',
    name: 'Grocery',
    ticket: 85,
    sigma: 0.8,
    creditShare: 0.35,
    cents: true,
    regulars: 0.5,
    dailyTxns: 40,
    hours: HOURS.grocery,
    weight: 30,
  },
  {
    ...base,
    mcc: '5812',
    name: 'Restaurant',
    ticket: 160,
    sigma: 0.6,
    creditShare: 0.45,
    cents: true,
    regulars: 0.3,
    dailyTxns: 28,
    hours: HOURS.restaurant,
    weight: 25,
  },
  {
    ...base,
    mcc: '5311',
    name: 'Department store',
    ticket: 420,
    sigma: 0.9,
    creditShare: 0.55,
    cents: true,
    regulars: 0.1,
    dailyTxns: 22,
    hours: HOURS.retail,
    weight: 12,
  },
  {
    ...base,
    mcc: '5732',
    name: 'Electronics',
    ticket: 1800,
    sigma: 0.9,
    creditShare: 0.65,
    cents: false,
    regulars: 0.05,
    dailyTxns: 8,
    hours: HOURS.retail,
    weight: 8,
  },
  {
    ...base,
    mcc: '5999',
    name: 'Miscellaneous retail',
    ticket: 260,
    sigma: 0.9,
    creditShare: 0.45,
    cents: true,
    regulars: 0.2,
    dailyTxns: 14,
    hours: HOURS.retail,
    weight: 15,
  },
]

/**
 * The look-alikes (DOMAIN.md): large, often round, mostly-credit payments; large tickets; night trade;
 * many repeat customers. Each is a scenario of its own in the labels.
 */
export const LOOKALIKES: readonly Category[] = [
  {
    ...base,
    mcc: '5511',
    name: 'Car dealer',
    ticket: 48_000,
    sigma: 0.5,
    creditShare: 0.8,
    cents: false,
    roundShare: 0.35,
    regulars: 0.02,
    dailyTxns: 1.6,
    hours: HOURS.office,
    lookalike: 'car_dealer',
  },
  {
    ...base,
    mcc: '5944',
    name: 'Jeweller',
    ticket: 6500,
    sigma: 0.8,
    creditShare: 0.78,
    cents: false,
    roundShare: 0.2,
    regulars: 0.05,
    dailyTxns: 3,
    hours: HOURS.retail,
    lookalike: 'jeweller',
  },
  {
    ...base,
    mcc: '5712',
    name: 'Furniture store',
    ticket: 5200,
    sigma: 0.7,
    creditShare: 0.72,
    cents: false,
    roundShare: 0.2,
    regulars: 0.02,
    dailyTxns: 2.5,
    hours: HOURS.retail,
    lookalike: 'furniture_store',
  },
  {
    ...base,
    mcc: '5722',
    name: 'Appliance store',
    ticket: 3800,
    sigma: 0.7,
    creditShare: 0.7,
    cents: false,
    roundShare: 0.1,
    regulars: 0.02,
    dailyTxns: 3.5,
    hours: HOURS.retail,
    lookalike: 'appliance_store',
  },
  {
    ...base,
    mcc: '8062',
    name: 'Hospital',
    ticket: 1500,
    sigma: 1.0,
    creditShare: 0.6,
    cents: true,
    roundShare: 0.3,
    regulars: 0.05,
    dailyTxns: 20,
    hours: HOURS.office,
    lookalike: 'hospital',
  },
  {
    ...base,
    mcc: '8211',
    name: 'School',
    ticket: 9000,
    sigma: 0.5,
    creditShare: 0.75,
    cents: false,
    roundShare: 0.8,
    regulars: 0.01,
    dailyTxns: 2,
    hours: HOURS.office,
    lookalike: 'school',
  },
  {
    ...base,
    mcc: '5300',
    name: 'Wholesaler',
    ticket: 16_000,
    sigma: 0.7,
    creditShare: 0.6,
    cents: true,
    roundShare: 0.05,
    regulars: 0.5,
    regularCount: 25,
    dailyTxns: 4,
    hours: HOURS.office,
    lookalike: 'wholesaler',
  },
  {
    ...base,
    mcc: '5813',
    name: 'Bar',
    ticket: 260,
    sigma: 0.7,
    creditShare: 0.55,
    cents: true,
    regulars: 0.3,
    dailyTxns: 22,
    hours: HOURS.bar,
    lookalike: 'night_bar',
  },
  {
    ...base,
    mcc: '7011',
    name: 'Hotel',
    ticket: 780,
    sigma: 0.5,
    creditShare: 0.7,
    cents: true,
    regulars: 0.03,
    dailyTxns: 10,
    hours: HOURS.hotel,
    lookalike: 'hotel',
  },
  {
    ...base,
    mcc: '5499',
    name: 'Market stall',
    ticket: 28,
    sigma: 0.6,
    creditShare: 0.2,
    cents: false,
    regulars: 0.85,
    regularCount: 60,
    dailyTxns: 35,
    hours: HOURS.market,
    lookalike: 'market_stall',
  },
]

export const CITIES = [
  { name: 'Shanghai', lat: 31.2304, lon: 121.4737 },
  { name: 'Beijing', lat: 39.9042, lon: 116.4074 },
  { name: 'Shenzhen', lat: 22.5431, lon: 114.0579 },
  { name: 'Chengdu', lat: 30.5728, lon: 104.0668 },
  { name: 'Hangzhou', lat: 30.2741, lon: 120.1551 },
] as const

export type City = (typeof CITIES)[number]

export function categoryByMcc(mcc: string): Category {
  const c = [...ORDINARY, ...LOOKALIKES].find((x) => x.mcc === mcc)
  if (c === undefined) throw new Error(`no simulated category ${mcc}`)
  return c
}
