import { describe, expect, it } from 'vitest'
import { DayRing, DayTable, Recent } from '../../../rules/engine/window.ts'
import { prng } from '../../../simulator/generator.ts'

/**
 * DayTable replaced DayRing in the rules: it must keep, refuse and visit exactly the days a DayRing
 * of objects did, with the same counters and the same samples (a Recent per day).
 */
interface Bucket {
  a: number
  b: number
  samples: Recent<string>
}

describe('DayTable', () => {
  it.each([1, 2, 7, 30, 31])('behaves as a DayRing of %i days on random out-of-order days', (size) => {
    const rand = prng(size)
    const ring = new DayRing<Bucket>(size, () => ({ a: 0, b: 0, samples: new Recent<string>(3) }))
    const table = new DayTable(size, 2, 3)
    let day = 20_000
    for (let i = 0; i < 3_000; i++) {
      // Mostly forward, in small and large steps, sometimes back by up to twice the window.
      const r = rand()
      day +=
        r < 0.6 ? 0 : r < 0.85 ? 1 : r < 0.95 ? Math.floor(rand() * 2 * size) : -Math.floor(rand() * 2 * size)
      const bucket = ring.at(day)
      const row = table.at(day)
      expect(row < 0, `day ${day}`).toBe(bucket === undefined)
      if (bucket !== undefined) {
        const v = Math.floor(rand() * 1_000) / 7
        bucket.a += v
        bucket.b++
        bucket.samples.push(`id-${i}`)
        table.add(row, 0, v)
        table.add(row, 1, 1)
        table.pushSample(row, `id-${i}`)
      }
      const to = day + Math.floor(rand() * 3) - 1
      const from = to - Math.floor(rand() * (size + 2))
      const seen: [number, number, number, string[]][] = []
      ring.forEach(from, to, (b, d) => seen.push([d, b.a, b.b, b.samples.toArray()]))
      const visited: [number, number, number, string[]][] = []
      for (let o = table.first(from, to); o >= 0; o = table.next(o, to))
        visited.push([table.dayOf(o), table.get(o, 0), table.get(o, 1), table.samples(o)])
      expect(visited).toEqual(seen)
      const probe = day - Math.floor(rand() * (size + 1))
      const peeked = table.peek(probe)
      expect(peeked < 0 ? null : table.get(peeked, 1)).toEqual(ring.peek(probe)?.b ?? null)
    }
  })

  it('clears the samples of a day without touching its counters', () => {
    const table = new DayTable(3, 1, 2)
    const row = table.at(100)
    table.add(row, 0, 5)
    table.pushSample(row, 'a')
    table.pushSample(row, 'b')
    table.pushSample(row, 'c')
    expect(table.samples(row)).toEqual(['b', 'c'])
    table.clearSamples(row)
    expect(table.samples(row)).toEqual([])
    expect(table.get(row, 0)).toBe(5)
  })
})
