import { describe, expect, it } from 'vitest'
import { AuthThrottle } from '../../dashboard-api/key-guard.ts'

describe('the failed-authentication throttle', () => {
  function throttle() {
    let now = 1_000_000
    const t = new AuthThrottle({ perAddress: 3, total: 5, windowMs: 60_000, now: () => now })
    return { t, advance: (ms: number) => (now += ms) }
  }

  it('lets an address fail its budget, then refuses it until the window ends', () => {
    const { t, advance } = throttle()
    expect([1, 2, 3, 4].map(() => t.take('10.0.0.1'))).toEqual([true, true, true, false])
    expect(t.take('10.0.0.2')).toBe(true)
    expect(t.retryAfterSeconds()).toBe(60)
    advance(59_000)
    expect(t.take('10.0.0.1')).toBe(false)
    expect(t.retryAfterSeconds()).toBe(1)
    advance(1_000)
    expect(t.take('10.0.0.1')).toBe(true)
  })

  it('refuses every address once the total is spent, whatever each one did', () => {
    const { t } = throttle()
    const taken = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((address) => t.take(address))
    expect(taken).toEqual([true, true, true, true, true, false, false])
  })

  it('gives a unit back when the key turned out good', () => {
    const { t } = throttle()
    for (let i = 0; i < 10; i++) {
      expect(t.take('10.0.0.1')).toBe(true)
      t.giveBack('10.0.0.1')
    }
    expect([1, 2, 3, 4].map(() => t.take('10.0.0.1'))).toEqual([true, true, true, false])
  })
})
