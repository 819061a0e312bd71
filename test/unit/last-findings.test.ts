import { describe, expect, it } from 'vitest'
import {
  ENTRY,
  entryOf,
  findingKey,
  isSame,
  keySpan,
  remember,
  textHash,
} from '../../rules/engine/last-findings.ts'
import { doubles } from '../../rules/engine/window.ts'

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
    const f = doubles()
    const d = textHash('40.0% of approved volume')
    remember(f, -1, 7, 0.4, 0.3, NOV, d, 0, 1, 64)
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
    const f = doubles()
    remember(f, -1, 1, Number.NaN, 0, NOV, 5, 0, 1, 64)
    expect(isSame(f, 0, Number.NaN, -0, NOV, 5, 0)).toBe(true)
  })

  it('keeps the most recently updated entries: an update in place, a new one over the least recent', () => {
    const f = doubles()
    let seq = 0
    for (let k = 0; k < 3; k++) remember(f, -1, k, k, 0, NOV, 0, 0, seq++, 3)
    // Updating key 0 makes 1 the least recently updated; a fourth key then takes 1's place.
    remember(f, entryOf(f, 0), 0, 10, 0, NOV, 0, 0, seq++, 3)
    remember(f, -1, 3, 3, 0, NOV, 0, 0, seq++, 3)
    expect(f.length).toBe(3 * ENTRY)
    expect(entryOf(f, 1)).toBe(-1)
    expect(isSame(f, entryOf(f, 0), 10, 0, NOV, 0, 0)).toBe(true)
    expect(isSame(f, entryOf(f, 2), 2, 0, NOV, 0, 0)).toBe(true)
    expect(isSame(f, entryOf(f, 3), 3, 0, NOV, 0, 0)).toBe(true)
    // Then 2 is the least recent, then 0.
    remember(f, -1, 4, 4, 0, NOV, 0, 0, seq++, 3)
    expect(entryOf(f, 2)).toBe(-1)
    remember(f, -1, 5, 5, 0, NOV, 0, 0, seq++, 3)
    expect(entryOf(f, 0)).toBe(-1)
    expect([3, 4, 5].every((k) => entryOf(f, k) >= 0)).toBe(true)
  })

  it('drops what a Map in order of update would drop, over a long random run', () => {
    let state = 7
    const rand = () => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
      return state / 2 ** 32
    }
    const f = doubles()
    const map = new Map<number, number>()
    for (let seq = 0; seq < 5_000; seq++) {
      const key = Math.floor(rand() * 20)
      const value = Math.floor(rand() * 3)
      const at = entryOf(f, key)
      if (at >= 0 && isSame(f, at, value, 0, NOV, 0, 0)) continue
      remember(f, at, key, value, 0, NOV, 0, 0, seq, 8)
      map.delete(key)
      map.set(key, value)
      if (map.size > 8) map.delete(map.keys().next().value as number)
      for (const [k, v] of map) expect(isSame(f, entryOf(f, k), v, 0, NOV, 0, 0)).toBe(true)
      expect(f.length).toBe(map.size * ENTRY)
    }
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
