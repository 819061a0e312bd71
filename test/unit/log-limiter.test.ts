import { describe, expect, it } from 'vitest'
import { LogLimiter } from '../../lib/log-limiter.ts'

describe('LogLimiter', () => {
  it('logs the first of a key in a window, counts the rest, and reports them once the window is over', () => {
    let now = 0
    const limiter = new LogLimiter({ perWindow: 3, windowMs: 60_000, now: () => now })
    const admitted = Array.from({ length: 10 }, () => limiter.admit('RISK_ERR_UNKNOWN_ACQUIRER'))
    expect(admitted).toEqual([true, true, true, false, false, false, false, false, false, false])
    // Another key has a window of its own.
    expect(limiter.admit('RISK_ERR_SCHEMA')).toBe(true)
    now = 59_999
    expect(limiter.due()).toEqual([])
    now = 60_000
    expect(limiter.due()).toEqual([{ key: 'RISK_ERR_UNKNOWN_ACQUIRER', suppressed: 7, windowMs: 60_000 }])
    // Reported once; the next window logs again.
    expect(limiter.due()).toEqual([])
    expect(limiter.admit('RISK_ERR_UNKNOWN_ACQUIRER')).toBe(true)
  })

  it('keeps counting into a window that is over until it is reported, and reports everything at shutdown', () => {
    let now = 0
    const limiter = new LogLimiter({ perWindow: 1, windowMs: 1_000, now: () => now })
    limiter.admit('a')
    limiter.admit('a')
    now = 5_000
    // Not yet reported: this one is counted with the window it belongs to, not logged.
    expect(limiter.admit('a')).toBe(false)
    limiter.admit('b')
    limiter.admit('b')
    expect(limiter.due(true)).toEqual([
      { key: 'a', suppressed: 2, windowMs: 5_000 },
      { key: 'b', suppressed: 1, windowMs: 0 },
    ])
  })

  it('refuses a cap or window that would log nothing', () => {
    expect(() => new LogLimiter({ perWindow: 0, windowMs: 1, now: Date.now })).toThrow(RangeError)
    expect(() => new LogLimiter({ perWindow: 1, windowMs: 0, now: Date.now })).toThrow(RangeError)
  })
})
