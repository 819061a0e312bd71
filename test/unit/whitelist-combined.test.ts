import { describe, expect, it } from 'vitest'
import { combinedWhitelist, whitelistIndex } from '../../rules/whitelist.ts'

const T = Date.UTC(2026, 10, 22)

describe('the combined whitelist', () => {
  const granted = [
    {
      acquirerId: 'acq-a',
      merchantId: 'm-1',
      ruleId: 'round_amount',
      reason: 'jeweller',
      expiresAt: T + 1000,
      grantedBy: 'sup',
    },
    {
      acquirerId: 'acq-a',
      merchantId: 'm-1',
      ruleId: 'round_amount',
      reason: 'older',
      expiresAt: T - 1000,
      grantedBy: 'sup',
    },
  ]
  const fromFile = (a: string, m: string, r: string) => a === 'acq-a' && m === 'm-2' && r === 'night_share'
  const isWhitelisted = combinedWhitelist(fromFile, granted)

  it('honours a granted entry until its latest expiry', () => {
    expect(isWhitelisted('acq-a', 'm-1', 'round_amount', T)).toBe(true)
    expect(isWhitelisted('acq-a', 'm-1', 'round_amount', T + 1000)).toBe(false)
  })

  it('never crosses merchants, rules or acquirers', () => {
    expect(isWhitelisted('acq-b', 'm-1', 'round_amount', T)).toBe(false)
    expect(isWhitelisted('acq-a', 'm-3', 'round_amount', T)).toBe(false)
    expect(isWhitelisted('acq-a', 'm-1', 'near_round_amount', T)).toBe(false)
  })

  it("keeps the rules file's entries", () => {
    expect(isWhitelisted('acq-a', 'm-2', 'night_share', T)).toBe(true)
    expect(combinedWhitelist(() => false, [])('acq-a', 'm-2', 'night_share', T)).toBe(false)
  })
})

describe('the whitelist index', () => {
  const entry = (acquirerId: string, merchantId: string, ruleId: string, expiresAt: number) => ({
    acquirerId,
    merchantId,
    ruleId,
    reason: 'test',
    expiresAt,
    grantedBy: 'sup',
  })

  it('keeps ids apart that a joined key would confuse', () => {
    // Joined with NUL, ('a\0b', 'c') and ('a', 'b\0c') were the same key.
    const isWhitelisted = whitelistIndex([entry('a\u0000b', 'c', 'round_amount', T + 1)])
    expect(isWhitelisted('a\u0000b', 'c', 'round_amount', T)).toBe(true)
    expect(isWhitelisted('a', 'b\u0000c', 'round_amount', T)).toBe(false)
  })

  it('takes the latest expiry of a merchant rule, whatever the order of its entries', () => {
    const entries = [entry('acq', 'm', 'night_share', T + 10), entry('acq', 'm', 'night_share', T - 10)]
    for (const list of [entries, [...entries].reverse()]) {
      const isWhitelisted = whitelistIndex(list)
      expect(isWhitelisted('acq', 'm', 'night_share', T + 9)).toBe(true)
      expect(isWhitelisted('acq', 'm', 'night_share', T + 10)).toBe(false)
      expect(isWhitelisted('acq', 'm', 'round_amount', T)).toBe(false)
    }
  })

  it('whitelists nothing without entries', () => {
    expect(whitelistIndex([])('acq', 'm', 'night_share', T)).toBe(false)
  })
})
