/**
 * ISO 4217 minor-unit exponents: how many decimal places an amount in a currency has, so that
 * `amount_minor / 10 ** exponent` is the amount in major units (yuan, dollars, yen).
 *
 * Events carry amounts in minor units only; the round-amount signals of the cash-out playbook ("never
 * swipe exact round sums", "never use cents") are about major units, so every such check goes through
 * this table. A currency missing from it is taken to have two decimals, which is what most of the world
 * uses; the table lists the common two-decimal currencies too, so that a reader sees they were
 * considered rather than forgotten.
 */

/** Exponent used for a currency code that is not in {@link CURRENCY_EXPONENTS}. */
export const DEFAULT_CURRENCY_EXPONENT = 2

/**
 * Minor-unit exponent per ISO 4217 alphabetic code. A Map, not an object literal, so that a code such
 * as `constructor` read from an event can never find something on Object.prototype.
 */
export const CURRENCY_EXPONENTS: ReadonlyMap<string, number> = new Map(
  Object.entries({
    // No minor unit.
    BIF: 0,
    CLP: 0,
    DJF: 0,
    GNF: 0,
    ISK: 0,
    JPY: 0,
    KMF: 0,
    KRW: 0,
    PYG: 0,
    RWF: 0,
    UGX: 0,
    UYI: 0,
    VND: 0,
    VUV: 0,
    XAF: 0,
    XOF: 0,
    XPF: 0,
    // Three decimals (fils, baisa, millimes).
    BHD: 3,
    IQD: 3,
    JOD: 3,
    KWD: 3,
    LYD: 3,
    OMR: 3,
    TND: 3,
    // Four decimals (accounting units).
    CLF: 4,
    UYW: 4,
    // Two decimals: the common ones, listed explicitly.
    AED: 2,
    AUD: 2,
    BRL: 2,
    CAD: 2,
    CHF: 2,
    CNY: 2,
    CZK: 2,
    DKK: 2,
    EUR: 2,
    GBP: 2,
    HKD: 2,
    HUF: 2,
    IDR: 2,
    ILS: 2,
    INR: 2,
    KZT: 2,
    MOP: 2,
    MXN: 2,
    MYR: 2,
    NOK: 2,
    NZD: 2,
    PHP: 2,
    PKR: 2,
    PLN: 2,
    RUB: 2,
    SAR: 2,
    SEK: 2,
    SGD: 2,
    THB: 2,
    TRY: 2,
    TWD: 2,
    USD: 2,
    ZAR: 2,
  }),
)

/** Minor-unit exponent of an ISO 4217 code; {@link DEFAULT_CURRENCY_EXPONENT} for an unknown code. */
export function currencyExponent(currency: string): number {
  return CURRENCY_EXPONENTS.get(currency) ?? DEFAULT_CURRENCY_EXPONENT
}

// Powers of ten for the exponents in the table, so the per-event checks below do no Math.pow.
const POW10 = [1, 10, 100, 1_000, 10_000] as const

/** How many minor units make one major unit (100 for CNY, 1 for JPY, 1,000 for KWD). */
export function minorPerMajor(currency: string): number {
  return POW10[currencyExponent(currency)] ?? 10 ** currencyExponent(currency)
}

/** True when the amount has no minor part: 120.00 CNY, any JPY amount. */
export function isWholeUnit(amountMinor: number, currency: string): boolean {
  return amountMinor % minorPerMajor(currency) === 0
}

/** True when the amount in major units is a positive multiple of 1,000: 1,000, 5,000, 20,000 CNY. */
export function isRoundThousand(amountMinor: number, currency: string): boolean {
  const thousand = 1_000 * minorPerMajor(currency)
  return amountMinor >= thousand && amountMinor % thousand === 0
}
