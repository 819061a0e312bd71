import { describe, expect, it } from 'vitest'
import { assignPartitionNumbers } from '../../kafka/co-partitioned-assigner.ts'

const topics = (counts: Record<string, number>) =>
  new Map(Object.entries(counts).map(([t, n]) => [t, Array.from({ length: n }, (_, i) => i)]))

describe('co-partitioned assignment', () => {
  it.each([
    { members: 1, partitions: 6 },
    { members: 2, partitions: 6 },
    { members: 3, partitions: 6 },
    { members: 4, partitions: 6 },
    { members: 5, partitions: 3 },
  ])(
    'gives each member the same partition numbers of both topics ($members members, $partitions partitions)',
    ({ members, partitions }) => {
      const ids = Array.from({ length: members }, (_, i) => `m-${(i * 7) % members}-${i}`)
      const out = assignPartitionNumbers(ids, topics({ txns: partitions, events: partitions }))
      const seen = { txns: [] as number[], events: [] as number[] }
      for (const own of out.values()) {
        expect(own.txns ?? []).toEqual(own.events ?? [])
        seen.txns.push(...(own.txns ?? []))
        seen.events.push(...(own.events ?? []))
      }
      const all = Array.from({ length: partitions }, (_, i) => i)
      expect(seen.txns.sort((a, b) => a - b)).toEqual(all)
      expect(seen.events.sort((a, b) => a - b)).toEqual(all)
      // Balanced: no member has two more partition numbers than another.
      const sizes = [...out.values()].map((o) => (o.txns ?? []).length)
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    },
  )

  it('is the same whatever order the members come in, so every member computes one answer', () => {
    const a = assignPartitionNumbers(['b', 'a', 'c'], topics({ t: 6 }))
    const b = assignPartitionNumbers(['c', 'b', 'a'], topics({ t: 6 }))
    expect([...a].sort()).toEqual([...b].sort())
  })

  it('keeps both topics of a merchant together where round-robin would split them', () => {
    // Three members, four partitions per topic: round-robin over the list [events-0..3, txns-0..3] gives
    // events-0 and txns-1 to the first member. Here partition 1 of both goes to one member.
    const out = assignPartitionNumbers(['a', 'b', 'c'], topics({ events: 4, txns: 4 }))
    for (const own of out.values()) expect(own.events ?? []).toEqual(own.txns ?? [])
  })
})
