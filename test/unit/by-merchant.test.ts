import { describe, expect, it } from 'vitest'
import { merchantOrder } from '../../rules/by-merchant.ts'
import { prng } from '../../simulator/generator.ts'

describe('merchantOrder', () => {
  it.each([
    ['no events', [], []],
    ['one merchant', ['a', 'a', 'a'], [0, 1, 2]],
    ['interleaved merchants', ['a', 'b', 'a', 'c', 'b', 'a'], [0, 2, 5, 1, 4, 3]],
    ['each merchant once', ['c', 'b', 'a'], [0, 1, 2]],
  ])('%s', (_name, keys, expected) => {
    expect([...merchantOrder(keys)]).toEqual(expected)
  })

  it("is a permutation that keeps each merchant's events in their order, merchants by first event", () => {
    const rand = prng(5)
    for (let round = 0; round < 50; round++) {
      const keys = Array.from({ length: Math.floor(rand() * 300) }, () => `m-${Math.floor(rand() * 40)}`)
      const order = [...merchantOrder(keys)]
      expect([...order].sort((a, b) => a - b)).toEqual(keys.map((_, i) => i))
      const reordered = order.map((i) => keys[i])
      // Each merchant's events form one run, the runs in order of the merchants' first events.
      const runs = reordered.filter((k, i) => i === 0 || reordered[i - 1] !== k)
      expect(runs).toEqual([...new Set(keys)])
      // Within a merchant, the delivery order.
      for (const m of new Set(keys))
        expect(order.filter((i) => keys[i] === m)).toEqual(keys.flatMap((k, i) => (k === m ? [i] : [])))
    }
  })
})
