import { describe, expect, it } from 'vitest'
import {
  CURRENCY_EXPONENTS,
  currencyExponent,
  DEFAULT_CURRENCY_EXPONENT,
  isRoundThousand,
  isWholeUnit,
  minorPerMajor,
} from '../../lib/currency.ts'

describe('currencyExponent', () => {
  it.each([
    ['CNY', 2],
    ['USD', 2],
    ['EUR', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['VND', 0],
    ['KWD', 3],
    ['BHD', 3],
    ['CLF', 4],
    // Unknown codes fall back to two decimals rather than failing an event.
    ['XXX', DEFAULT_CURRENCY_EXPONENT],
    ['', DEFAULT_CURRENCY_EXPONENT],
  ])('%s has %i decimals', (code, exponent) => {
    expect(currencyExponent(code)).toBe(exponent)
  })

  it('has only ISO-shaped codes and exponents 0 to 4', () => {
    for (const [code, exponent] of CURRENCY_EXPONENTS) {
      expect(code).toMatch(/^[A-Z]{3}$/)
      expect([0, 2, 3, 4]).toContain(exponent)
    }
  })

  it('does not look codes up on the prototype', () => {
    expect(currencyExponent('toString')).toBe(DEFAULT_CURRENCY_EXPONENT)
    expect(currencyExponent('constructor')).toBe(DEFAULT_CURRENCY_EXPONENT)
  })
})

describe('minorPerMajor', () => {
  it.each([
    ['CNY', 100],
    ['JPY', 1],
    ['KWD', 1_000],
    ['CLF', 10_000],
  ])('%s', (code, factor) => {
    expect(minorPerMajor(code)).toBe(factor)
  })
})

describe('isWholeUnit', () => {
  it.each([
    [12_000, 'CNY', true],
    [12_050, 'CNY', false],
    [1, 'CNY', false],
    [100, 'CNY', true],
    [1, 'JPY', true],
    [12_345, 'JPY', true],
    [5_000, 'KWD', true],
    [5_500, 'KWD', false],
  ])('%i minor units of %s → %s', (amount, code, expected) => {
    expect(isWholeUnit(amount, code)).toBe(expected)
  })
})

describe('isRoundThousand', () => {
  it.each([
    [100_000, 'CNY', true], // 1,000.00
    [1_000_000, 'CNY', true], // 10,000.00
    [5_000_000, 'CNY', true], // 50,000.00
    [99_900, 'CNY', false], // 999.00
    [100_001, 'CNY', false], // 1,000.01
    [995_000, 'CNY', false], // 9,950.00: near-round, not round
    [1_000, 'CNY', false], // 10.00: a multiple of 1,000 minor units is not 1,000 major units
    [1_000, 'JPY', true],
    [30_000, 'JPY', true],
    [999, 'JPY', false],
    [1_500, 'JPY', false],
    [1_000_000, 'KWD', true], // 1,000.000
    [100_000, 'KWD', false], // 100.000
    [100_000, 'XXX', true], // unknown: two decimals
  ])('%i minor units of %s → %s', (amount, code, expected) => {
    expect(isRoundThousand(amount, code)).toBe(expected)
  })
})
