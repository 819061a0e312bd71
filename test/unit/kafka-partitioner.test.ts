import { randomBytes } from 'node:crypto'
import { Partitioners, type PartitionMetadata } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { keyPartition, Murmur2Partitioner, murmur2 } from '../../kafka/partitioner.ts'

const meta = (n: number, leaderless: readonly number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: leaderless.includes(i) ? -1 : 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }))

/** Keys of every length 0..40 and every tail length: ASCII, multi-byte UTF-8, and raw bytes. */
function keys(): (string | Buffer)[] {
  const out: (string | Buffer)[] = ['', 'a', 'ab', 'abc', 'abcd']
  for (let len = 0; len <= 40; len++) {
    const bytes = randomBytes(len)
    out.push(bytes)
    out.push(bytes.toString('hex').slice(0, len))
    out.push(`acq-é-${'ü'.repeat(len % 5)}-${bytes.toString('base64')}`)
    out.push(`card:${len}:😀${'x'.repeat(len)}`)
  }
  for (let i = 0; i < 2_000; i++) out.push(`acq-a|card|tok_${randomBytes(8).toString('hex')}`)
  return out
}

describe('the murmur2 partitioner', () => {
  it('puts every key where kafkajs DefaultPartitioner (the Java client) does', () => {
    const theirs = Partitioners.DefaultPartitioner()
    const ours = Murmur2Partitioner()
    for (const n of [1, 2, 6, 12, 13, 100]) {
      const partitionMetadata = meta(n)
      for (const key of keys()) {
        const expected = theirs({ topic: 't', partitionMetadata, message: { key, value: null } })
        expect(ours({ topic: 't', partitionMetadata, message: { key, value: null } })).toBe(expected)
        expect(keyPartition(key, n)).toBe(expected)
      }
    }
  })

  it('matches the Java client on known hashes', () => {
    // Values of org.apache.kafka.common.utils.Utils.murmur2, from the Java client's own test.
    expect(murmur2(Buffer.from('21'))).toBe(-973932308)
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482)
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536)
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829)
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971)
    expect(murmur2('abc')).toBe(murmur2(Buffer.from('abc')))
  })

  it('keeps a message’s own partition, and sends keyless messages round robin over partitions with a leader', () => {
    const ours = Murmur2Partitioner()
    const partitionMetadata = meta(4, [1])
    expect(ours({ topic: 't', partitionMetadata, message: { key: 'k', partition: 3, value: null } })).toBe(3)
    const seen = Array.from({ length: 9 }, () =>
      ours({ topic: 't', partitionMetadata, message: { value: null } }),
    )
    expect(new Set(seen)).toEqual(new Set([0, 2, 3]))
    for (let i = 3; i < seen.length; i++) expect(seen[i]).toBe(seen[i - 3])
    const none = meta(2, [0, 1])
    const a = ours({ topic: 'u', partitionMetadata: none, message: { value: null } })
    const b = ours({ topic: 'u', partitionMetadata: none, message: { value: null } })
    expect([a, b].sort()).toEqual([0, 1])
  })
})
