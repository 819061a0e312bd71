import { describe, expect, it } from 'vitest'
import { chunkBySize, MAX_SEND_BYTES, messageBytes } from '../../kafka/chunks.ts'

const msg = (bytes: number, i = 0) => ({
  key: `k${i}`,
  value: Buffer.alloc(bytes),
  headers: { 'x-dlq-error-code': 'X' },
})

describe('chunkBySize', () => {
  it('keeps every message, in order, in runs under the limit', () => {
    const messages = Array.from({ length: 3000 }, (_, i) => msg(900, i))
    const chunks = chunkBySize(messages)
    expect(chunks.flat()).toEqual(messages)
    expect(chunks.length).toBeGreaterThan(5)
    for (const c of chunks)
      expect(c.reduce((n, m) => n + messageBytes(m), 0)).toBeLessThanOrEqual(MAX_SEND_BYTES)
  })

  it('sends a message larger than the limit alone, and nothing for nothing', () => {
    const chunks = chunkBySize([msg(10), msg(2_000_000), msg(10)], 1000)
    expect(chunks.map((c) => c.length)).toEqual([1, 1, 1])
    expect(chunkBySize([])).toEqual([])
  })

  it('counts keys, values and headers', () => {
    expect(messageBytes({ key: 'abc', value: Buffer.alloc(100), headers: { h: 'xyz' } })).toBe(
      64 + 3 + 100 + 1 + 8 + 3,
    )
    expect(messageBytes({ key: null, value: null })).toBe(64)
  })
})
