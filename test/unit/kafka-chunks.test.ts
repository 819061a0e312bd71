import { describe, expect, it } from 'vitest'
import {
  chunkBySize,
  MAX_SEND_BYTES,
  messageBytes,
  packBySize,
  type TopicMessages,
} from '../../kafka/chunks.ts'

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

describe('packBySize', () => {
  const bytesOf = (r: TopicMessages[]) =>
    r.reduce((n, e) => n + e.messages.reduce((k, m) => k + messageBytes(m), 0), 0)

  it('puts small sends of several topics into one request', () => {
    const hits = [msg(100, 1), msg(100, 2)]
    const activity = [msg(50, 3)]
    expect(
      packBySize([
        ['hits', hits],
        ['activity', activity],
        ['none', []],
      ]),
    ).toEqual([
      [
        { topic: 'hits', messages: hits },
        { topic: 'activity', messages: activity },
      ],
    ])
    expect(packBySize([])).toEqual([])
  })

  it("keeps every topic's messages in order in requests under the limit", () => {
    const a = Array.from({ length: 1500 }, (_, i) => msg(900, i))
    const b = Array.from({ length: 700 }, (_, i) => msg(300, 10_000 + i))
    const requests = packBySize([
      ['a', a],
      ['b', b],
    ])
    expect(requests.length).toBeGreaterThan(2)
    for (const r of requests) expect(bytesOf(r)).toBeLessThanOrEqual(MAX_SEND_BYTES)
    const of = (topic: string) =>
      requests.flatMap((r) => r.filter((e) => e.topic === topic).flatMap((e) => e.messages))
    expect(of('a')).toEqual(a)
    expect(of('b')).toEqual(b)
    // The last request of 'a' is shared with the first of 'b' when it has room.
    expect(requests.some((r) => r.length === 2)).toBe(true)
  })

  it('sends a message larger than the limit alone', () => {
    const requests = packBySize(
      [
        ['a', [msg(10), msg(2_000_000)]],
        ['b', [msg(10)]],
      ],
      1000,
    )
    expect(requests.map((r) => r.map((e) => [e.topic, e.messages.length]))).toEqual([
      [['a', 1]],
      [['a', 1]],
      [['b', 1]],
    ])
  })
})
