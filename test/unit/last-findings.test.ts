import { describe, expect, it } from 'vitest'
import {
  ENTRY,
  emptyFindings,
  entryOf,
  findingKey,
  isSame,
  keySpan,
  remember,
  textHash,
} from '../../rules/engine/last-findings.ts'

const NOV = Date.UTC(2026, 10, 1)

describe("the key of a rule's last finding", () => {
  it('is distinct for every rule and window start, before 1970 and at the limits too', () => {
    const span = keySpan(17)
    expect(span).toBe(32)
    const big = Math.floor(Number.MAX_SAFE_INTEGER / span) - 1
    const starts = [0, 1, -1, 86_400_000, -86_400_000, NOV, Date.UTC(1969, 6, 20), big, -big]
    const keys = new Set<number | null>()
    for (const start of starts) for (let rule = 0; rule < 17; rule++) keys.add(findingKey(rule, start, span))
    expect(keys.has(null)).toBe(false)
    expect(keys.size).toBe(starts.length * 17)
  })

  it('is null (never remembered, always written) where it could not be exact', () => {
    const span = keySpan(17)
    expect(findingKey(0, 1.5, span)).toBeNull()
    expect(findingKey(0, Number.NaN, span)).toBeNull()
    expect(findingKey(span, NOV, span)).toBeNull()
    expect(findingKey(1, Number.MAX_SAFE_INTEGER, span)).toBeNull()
  })

  it('spans every rule index of an engine', () => {
    for (const n of [0, 1, 2, 17, 31, 32, 33]) {
      const span = keySpan(n)
      expect(span).toBeGreaterThan(n)
      expect(Math.log2(span) % 1).toBe(0)
    }
  })
})

describe("a merchant's last findings", () => {
  it('tells a finding written last from one that changed in any field', () => {
    const f = emptyFindings()
    const d = textHash('40.0% of approved volume')
    remember(f, -1, 7, 0.4, 0.3, NOV, d, 0, 64)
    const at = entryOf(f, 7)
    expect(at).toBe(0)
    expect(isSame(f, at, 0.4, 0.3, NOV, d, 0)).toBe(true)
    expect(isSame(f, at, 0.41, 0.3, NOV, d, 0)).toBe(false)
    expect(isSame(f, at, 0.4, 0.31, NOV, d, 0)).toBe(false)
    expect(isSame(f, at, 0.4, 0.3, NOV + 1, d, 0)).toBe(false)
    expect(isSame(f, at, 0.4, 0.3, NOV, textHash('41.0% of approved volume'), 0)).toBe(false)
    expect(isSame(f, at, 0.4, 0.3, NOV, d, 1)).toBe(false)
    expect(entryOf(f, 8)).toBe(-1)
  })

  it('compares numbers as their texts would: NaN is NaN, and 0 is -0', () => {
    const f = emptyFindings()
    remember(f, -1, 1, Number.NaN, 0, NOV, 5, 0, 64)
    expect(isSame(f, 0, Number.NaN, -0, NOV, 5, 0)).toBe(true)
  })

  it('keeps the most recently updated entries, moving an updated one to the end', () => {
    const f = emptyFindings()
    for (let k = 0; k < 3; k++) remember(f, -1, k, k, 0, NOV, 0, 0, 3)
    // Updating key 0 moves it after 1 and 2; a fourth key then drops the oldest, 1.
    remember(f, entryOf(f, 0), 0, 10, 0, NOV, 0, 0, 3)
    remember(f, -1, 3, 3, 0, NOV, 0, 0, 3)
    expect(f.length).toBe(3 * ENTRY)
    expect([0, 1, 2].map((i) => f[i * ENTRY])).toEqual([2, 0, 3])
    expect(entryOf(f, 1)).toBe(-1)
    expect(isSame(f, entryOf(f, 0), 10, 0, NOV, 0, 0)).toBe(true)
  })
})

describe('the hash of a detail', () => {
  it('is the same for equal texts, however they were built, and differs for near texts', () => {
    const n = 12
    const built = [String(n), ' of 40 sales', ' at night'].join('')
    expect(textHash(built)).toBe(textHash('12 of 40 sales at night'))
    const seen = new Set<number>()
    for (let i = 0; i < 20_000; i++)
      seen.add(textHash(`${(i / 10).toFixed(1)}% of approved volume (${i} of 40)`))
    expect(seen.size).toBe(20_000)
    expect(textHash('ab')).not.toBe(textHash('ba'))
    expect(textHash('')).not.toBe(textHash('\u0000'))
  })

  it('is an exact integer of at most 53 bits', () => {
    for (const t of ['', 'x', 'a longer detail text with digits 1234567890 and ünïcödé 🙂']) {
      const h = textHash(t)
      expect(Number.isSafeInteger(h)).toBe(true)
      expect(h).toBeGreaterThanOrEqual(0)
    }
  })
})
