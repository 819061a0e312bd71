/**
 * The merchant categories of the labelled simulator (simulator/history.ts): how each trades, when, and
 * whether it is one of the legitimate look-alikes of cash-out (DOMAIN.md). The figures are plausible
 * shapes, not statistics of a real acquirer; what matters is that categories differ the way real ones
 * do (tickets, cents, credit share, round prices, hours, weekdays, holidays, repeat customers), so that
 * a rule tuned to one kind of shop meets the others.
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
  fastFood: h({ 7: 5, 8: 7, 9: 3, 11: 7, 12: 11, 13: 7, 14: 3, 17: 5, 18: 8, 19: 6, 20: 4, 21: 3, 22: 2 }),
  office: h({ 8: 4, 9: 8, 10: 9, 11: 9, 12: 5, 13: 6, 14: 9, 15: 9, 16: 8, 17: 4 }),
  fuel: h({
    6: 3,
    7: 6,
    8: 7,
    9: 5,
    10: 4,
    11: 4,
    12: 4,
    13: 4,
    14: 4,
    15: 4,
    16: 5,
    17: 7,
    18: 7,
    19: 5,
    20: 4,
    21: 3,
    22: 2,
    23: 1,
    0: 1,
  }),
  salon: h({ 10: 4, 11: 6, 12: 5, 13: 6, 14: 7, 15: 8, 16: 8, 17: 7, 18: 6, 19: 5, 20: 3 }),
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
  // A truck stop on a highway never closes: motorists mostly by day, some through the night.
  highway: h({
    0: 2,
    1: 2,
    2: 2,
    3: 2,
    4: 2,
    5: 3,
    6: 4,
    7: 6,
    8: 7,
    9: 6,
    10: 5,
    11: 5,
    12: 5,
    13: 5,
    14: 5,
    15: 5,
    16: 6,
    17: 7,
    18: 7,
    19: 6,
    20: 5,
    21: 4,
    22: 3,
    23: 3,
  }),
  // Haulage runs round the clock (many cities let trucks in only at night): fill-ups at every hour, the
  // night's somewhat fewer than the day's.
  fleet: h({
    0: 3,
    1: 3,
    2: 3,
    3: 3,
    4: 3,
    5: 4,
    6: 5,
    7: 5,
    8: 5,
    9: 5,
    10: 5,
    11: 5,
    12: 5,
    13: 5,
    14: 5,
    15: 5,
    16: 5,
    17: 5,
    18: 5,
    19: 5,
    20: 5,
    21: 5,
    22: 4,
    23: 4,
  }),
  hospital: h({
    0: 1,
    1: 1,
    2: 1,
    3: 1,
    4: 1,
    5: 1,
    6: 2,
    7: 4,
    8: 9,
    9: 10,
    10: 10,
    11: 9,
    12: 5,
    13: 6,
    14: 9,
    15: 9,
    16: 8,
    17: 5,
    18: 3,
    19: 2,
    20: 2,
    21: 2,
    22: 1,
    23: 1,
  }),
} as const satisfies Record<string, HourProfile>

/** Multipliers of the days of the week, Sunday first (0 closes the shop that day). */
export type WeekProfile = readonly [number, number, number, number, number, number, number]

const FLAT: WeekProfile = [1, 1, 1, 1, 1, 1, 1]
const WEEKEND_SHOPPING: WeekProfile = [1.2, 0.9, 0.9, 0.95, 1, 1.1, 1.3]
const WEEKEND_DINING: WeekProfile = [1.1, 0.8, 0.85, 0.9, 1, 1.25, 1.35]
const NIGHTLIFE: WeekProfile = [0.7, 0.5, 0.6, 0.7, 0.9, 1.5, 1.7]
const WORKDAYS: WeekProfile = [0, 1.05, 1.05, 1.05, 1.05, 1, 0.4]
const CLINIC: WeekProfile = [0.4, 1.2, 1.1, 1.1, 1.1, 1, 0.6]
const SHOWROOM: WeekProfile = [1.4, 0.7, 0.8, 0.8, 0.9, 1.1, 1.6]

/**
 * How holidays and the calendar move a category (see holidayFactor): everyday needs barely, shops and
 * showrooms up before a festival, offices, schools and wholesale close during it, hotels fill.
 */
export type Season =
  | 'staple'
  | 'dining'
  | 'shopping'
  | 'luxury'
  | 'office'
  | 'lodging'
  | 'night'
  | 'school'
  | 'care'

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
  /** Regular customers per merchant of size 1 (a market stall has many). */
  readonly regularCount: number
  /** Sales per day of a merchant of size 1. */
  readonly dailyTxns: number
  readonly hours: HourProfile
  readonly week: WeekProfile
  readonly season: Season
  /** Set for the legitimate look-alikes of cash-out: the scenario their label names. */
  readonly lookalike: string | null
  /** Relative number of merchants (ordinary ones among the ordinary, look-alikes among look-alikes). */
  readonly weight: number
  /** Bars: a party pays several rounds with one card, minutes apart. */
  readonly tabs?: { readonly rounds: number; readonly gapMinutes: readonly [number, number] }
  /** Hotels: guests stay several nights and are charged every day of their stay. */
  readonly stays?: { readonly nights: readonly [number, number]; readonly guestShare: number }
  /** Wholesalers: their regulars are businesses that also buy at the city's other wholesalers. */
  readonly business?: boolean
  /** Schools: most payments fall in the first days of a month (fees), by this factor. */
  readonly termStart?: number
  /**
   * Truck stops: haulage fleets whose fuel card (debit or prepaid, a company's, used for nothing else)
   * pays for each of the fleet's trucks that fills up there, several a day, at any hour.
   */
  readonly fleets?: {
    /** Fleet cards of a truck stop of size 1. */
    readonly cards: number
    /** Trucks of one fleet that come by on a day it passes: each card's own number, in this range. */
    readonly trucks: readonly [number, number]
    /** Share of days a fleet passes (on ordinary days; fewer over holidays, as the walk-in trade). */
    readonly activeShare: number
    /** Median fill-up of a truck, major units, and the spread of its log. */
    readonly ticket: number
    readonly sigma: number
    readonly hours: HourProfile
  }
}

const base = { roundShare: 0, regulars: 0.2, regularCount: 30, lookalike: null, weight: 1 }

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
    regulars: 0.45,
    regularCount: 60,
    dailyTxns: 45,
    hours: HOURS.grocery,
    week: WEEKEND_SHOPPING,
    season: 'staple',
    weight: 26,
  },
  {
    ...base,
    mcc: '5812',
    name: 'Restaurant',
    ticket: 160,
    sigma: 0.6,
    creditShare: 0.45,
    cents: true,
    regulars: 0.25,
    regularCount: 40,
    dailyTxns: 30,
    hours: HOURS.restaurant,
    week: WEEKEND_DINING,
    season: 'dining',
    weight: 20,
  },
  {
    ...base,
    mcc: '5814',
    name: 'Fast food',
    ticket: 38,
    sigma: 0.5,
    creditShare: 0.3,
    cents: true,
    regulars: 0.3,
    regularCount: 50,
    dailyTxns: 55,
    hours: HOURS.fastFood,
    week: FLAT,
    season: 'dining',
    weight: 8,
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
    dailyTxns: 24,
    hours: HOURS.retail,
    week: WEEKEND_SHOPPING,
    season: 'shopping',
    weight: 8,
  },
  {
    ...base,
    mcc: '5651',
    name: 'Clothing',
    ticket: 320,
    sigma: 0.7,
    creditShare: 0.55,
    cents: false,
    regulars: 0.1,
    dailyTxns: 12,
    hours: HOURS.retail,
    week: WEEKEND_SHOPPING,
    season: 'shopping',
    weight: 8,
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
    week: WEEKEND_SHOPPING,
    season: 'shopping',
    weight: 6,
  },
  {
    ...base,
    mcc: '5912',
    name: 'Pharmacy',
    ticket: 95,
    sigma: 0.7,
    creditShare: 0.35,
    cents: true,
    regulars: 0.35,
    regularCount: 50,
    dailyTxns: 28,
    hours: HOURS.grocery,
    week: FLAT,
    season: 'staple',
    weight: 8,
  },
  {
    ...base,
    mcc: '5541',
    name: 'Fuel station',
    ticket: 320,
    sigma: 0.4,
    creditShare: 0.5,
    cents: true,
    regulars: 0.3,
    regularCount: 80,
    dailyTxns: 40,
    hours: HOURS.fuel,
    week: FLAT,
    season: 'staple',
    weight: 5,
  },
  {
    ...base,
    mcc: '7230',
    name: 'Beauty salon',
    ticket: 260,
    sigma: 0.6,
    creditShare: 0.4,
    cents: false,
    roundShare: 0.3,
    regulars: 0.5,
    regularCount: 40,
    dailyTxns: 10,
    hours: HOURS.salon,
    week: WEEKEND_SHOPPING,
    season: 'shopping',
    weight: 5,
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
    week: WEEKEND_SHOPPING,
    season: 'shopping',
    weight: 12,
  },
]

/**
 * The look-alikes (DOMAIN.md): large, often round, mostly-credit payments; large tickets; night trade;
 * many repeat customers; guests charged day after day; businesses buying at several wholesalers. Each
 * is a scenario of its own in the labels.
 */
export const LOOKALIKES: readonly Category[] = [
  {
    ...base,
    mcc: '5511',
    name: 'Car dealer',
    ticket: 48_000,
    sigma: 0.6,
    creditShare: 0.8,
    cents: false,
    roundShare: 0.4,
    regulars: 0.02,
    dailyTxns: 1.8,
    hours: HOURS.office,
    week: SHOWROOM,
    season: 'luxury',
    lookalike: 'car_dealer',
    weight: 1,
  },
  {
    ...base,
    mcc: '5944',
    name: 'Jeweller',
    ticket: 6500,
    sigma: 0.8,
    creditShare: 0.78,
    cents: false,
    roundShare: 0.25,
    regulars: 0.05,
    dailyTxns: 3.5,
    hours: HOURS.retail,
    week: WEEKEND_SHOPPING,
    season: 'luxury',
    lookalike: 'jeweller',
    weight: 1.2,
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
    week: SHOWROOM,
    season: 'luxury',
    lookalike: 'furniture_store',
    weight: 1,
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
    week: SHOWROOM,
    season: 'luxury',
    lookalike: 'appliance_store',
    weight: 0.8,
  },
  {
    ...base,
    mcc: '8062',
    name: 'Hospital',
    ticket: 1500,
    sigma: 1.15,
    creditShare: 0.6,
    cents: true,
    roundShare: 0.3,
    regulars: 0.08,
    dailyTxns: 20,
    hours: HOURS.hospital,
    week: CLINIC,
    season: 'care',
    lookalike: 'hospital',
    weight: 1,
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
    dailyTxns: 2.2,
    hours: HOURS.office,
    week: WORKDAYS,
    season: 'school',
    lookalike: 'school',
    weight: 1,
    termStart: 4,
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
    regulars: 0.6,
    regularCount: 25,
    dailyTxns: 4,
    hours: HOURS.office,
    week: WORKDAYS,
    season: 'office',
    lookalike: 'wholesaler',
    weight: 1,
    business: true,
  },
  {
    ...base,
    mcc: '5813',
    name: 'Bar',
    ticket: 180,
    sigma: 0.6,
    creditShare: 0.55,
    cents: true,
    regulars: 0.3,
    regularCount: 40,
    dailyTxns: 24,
    hours: HOURS.bar,
    week: NIGHTLIFE,
    season: 'night',
    lookalike: 'night_bar',
    weight: 1.3,
    tabs: { rounds: 4, gapMinutes: [12, 55] },
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
    dailyTxns: 12,
    hours: HOURS.hotel,
    week: [1.1, 0.9, 0.9, 0.9, 1, 1.2, 1.3],
    season: 'lodging',
    lookalike: 'hotel',
    weight: 1.2,
    stays: { nights: [1, 6], guestShare: 0.6 },
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
    regularCount: 70,
    dailyTxns: 38,
    hours: HOURS.market,
    week: [1.2, 1, 1, 1, 1, 1.1, 1.3],
    season: 'staple',
    lookalike: 'market_stall',
    weight: 1.2,
  },
  // Fleet cards swiped several times a day for large amounts, day and night, at a fuel station's MCC, so
  // its peers are the city's fuel stations: the look-alike of repeated_card, night_share and high_ticket
  // that an independently written month had. Weight 0: only the populations that name it have truck
  // stops (lookalikeWeights), so the reference month A stays as it was.
  {
    ...base,
    mcc: '5541',
    name: 'Truck stop',
    ticket: 380,
    sigma: 0.5,
    creditShare: 0.45,
    cents: true,
    regulars: 0.1,
    regularCount: 40,
    dailyTxns: 30,
    hours: HOURS.highway,
    week: FLAT,
    season: 'staple',
    lookalike: 'truck_stop',
    weight: 0,
    fleets: { cards: 10, trucks: [1, 5], activeShare: 0.8, ticket: 950, sigma: 0.45, hours: HOURS.fleet },
  },
]

export interface City {
  readonly name: string
  readonly lat: number
  readonly lon: number
}

export const CITIES: readonly City[] = [
  { name: 'Shanghai', lat: 31.2304, lon: 121.4737 },
  { name: 'Beijing', lat: 39.9042, lon: 116.4074 },
  { name: 'Shenzhen', lat: 22.5431, lon: 114.0579 },
  { name: 'Chengdu', lat: 30.5728, lon: 104.0668 },
  { name: 'Hangzhou', lat: 30.2741, lon: 120.1551 },
  { name: 'Guangzhou', lat: 23.1291, lon: 113.2644 },
  { name: 'Wuhan', lat: 30.5928, lon: 114.3055 },
  { name: "Xi'an", lat: 34.3416, lon: 108.9398 },
  { name: 'Nanjing', lat: 32.0603, lon: 118.7969 },
]

export function cityByName(name: string): City {
  const c = CITIES.find((x) => x.name === name)
  if (c === undefined) throw new Error(`no simulated city ${name}`)
  return c
}

/** The category of an MCC; the ordinary one where a look-alike shares it (a truck stop, a fuel station). */
export function categoryByMcc(mcc: string): Category {
  const c = [...ORDINARY, ...LOOKALIKES].find((x) => x.mcc === mcc)
  if (c === undefined) throw new Error(`no simulated category ${mcc}`)
  return c
}

/**
 * Holidays of the calendars the presets span, by local date: what each season does that day. A festival
 * is preceded by shopping (gifts, gold, food), closes offices, schools and wholesale, empties many
 * restaurants and shops for days, and fills hotels. Days absent here are ordinary days.
 */
const HOLIDAYS: Readonly<Record<string, Partial<Record<Season, number>>>> = {
  ...span('2026-10-01', 7, {
    shopping: 1.4,
    luxury: 1.5,
    dining: 1.3,
    lodging: 1.6,
    night: 1.3,
    office: 0.15,
    school: 0,
    care: 0.6,
  }),
  '2026-11-11': { shopping: 1.7, luxury: 1.4 },
  '2026-11-10': { shopping: 1.2 },
  // Spring Festival 2026 (17 February): a fortnight of shopping, then a week when much of the city closes.
  ...span('2026-02-04', 6, { staple: 1.25, shopping: 1.35, luxury: 1.7, dining: 1.1 }),
  ...span('2026-02-10', 5, { staple: 1.5, shopping: 1.5, luxury: 1.9, dining: 1.2, office: 0.8 }),
  ...span('2026-02-15', 7, {
    staple: 0.45,
    shopping: 0.35,
    luxury: 0.3,
    dining: 0.5,
    office: 0,
    school: 0,
    care: 0.5,
    night: 0.4,
    lodging: 1.4,
  }),
  ...span('2026-02-22', 4, {
    staple: 0.8,
    shopping: 0.75,
    luxury: 0.7,
    dining: 0.8,
    office: 0.6,
    school: 0.3,
    care: 0.9,
    night: 0.8,
  }),
  '2026-03-03': { dining: 1.3, night: 1.2 },
}

function span(
  from: string,
  days: number,
  f: Partial<Record<Season, number>>,
): Record<string, Partial<Record<Season, number>>> {
  const out: Record<string, Partial<Record<Season, number>>> = {}
  const t = Date.parse(`${from}T00:00:00Z`)
  for (let d = 0; d < days; d++) out[new Date(t + d * 86_400_000).toISOString().slice(0, 10)] = f
  return out
}

/** The holiday multiplier of a season on a local date (YYYY-MM-DD); 1 on ordinary days. */
export function holidayFactor(date: string, season: Season): number {
  return HOLIDAYS[date]?.[season] ?? 1
}

/** The payday bump at the end of the month (people spend after the 25th), and school fees at its start. */
export function monthFactor(dayOfMonth: number, c: Category): number {
  if (c.termStart !== undefined) return dayOfMonth <= 7 ? c.termStart : 0.5
  if (c.season === 'office' || c.season === 'care') return 1
  return dayOfMonth >= 25 ? 1.1 : dayOfMonth <= 3 ? 1.05 : 1
}
