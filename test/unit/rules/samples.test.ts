import { describe, expect, it } from 'vitest'
import { Recent, SampleLayout, Samples } from '../../../rules/engine/window.ts'
import { prng } from '../../../simulator/generator.ts'

/**
 * Rules took a Recent<string> of their own for sample ids; they now take rings of the merchant's
 * Samples. Every ring must hold, in order, what a Recent of its capacity held, for each merchant.
 */
describe('Samples', () => {
  it('rings of several merchants behave as Recents of their own under random pushes and clears', () => {
    const rand = prng(17)
    const layout = new SampleLayout()
    const capacities = [5, 5, 32, 1, 3, 127]
    const merchants = Array.from({ length: 3 }, () => {
      const samples = new Samples(layout)
      return {
        samples,
        rings: capacities.map((c) => samples.ring(c)),
        recents: capacities.map((c) => new Recent<string>(c)),
      }
    })
    // Every merchant gets the same ring objects: they read the bound merchant's ids.
    expect(merchants[1]?.rings).toEqual(merchants[0]?.rings)
    for (let n = 0; n < 5_000; n++) {
      const m = merchants[Math.floor(rand() * merchants.length)]
      const k = Math.floor(rand() * capacities.length)
      const ring = m?.rings[k]
      const recent = m?.recents[k]
      if (m === undefined || ring === undefined || recent === undefined) throw new Error('no ring')
      layout.current = m.samples
      if (rand() < 0.02) {
        ring.clear()
        recent.clear()
      } else {
        ring.push(`id-${n}`)
        recent.push(`id-${n}`)
      }
      for (const other of merchants) {
        layout.current = other.samples
        expect(other.rings.map((r) => r.toArray())).toEqual(other.recents.map((r) => r.toArray()))
      }
    }
  })

  it('gives an empty ring before any push, and refuses a ring taken after the first sample', () => {
    const samples = new Samples()
    const ring = samples.ring(5)
    expect(ring.toArray()).toEqual([])
    ring.push('a')
    expect(ring.toArray()).toEqual(['a'])
    expect(() => samples.ring(5)).toThrow(/before the first sample/)
    expect(() => new Samples(new SampleLayout()).ring(5).push('x')).toThrow(/no merchant bound/)
    // A ring's counter packs its length and next slot: capacities stay under 128.
    expect(() => new Samples().ring(128)).toThrow(/capacity/)
  })

  it('keeps only the ids its rings hold: a ring never pushed to, or cleared, takes no slot', () => {
    const samples = new Samples()
    const [large, unused, small] = [samples.ring(64), samples.ring(5), samples.ring(5)]
    if (large === undefined || unused === undefined || small === undefined) throw new Error('no ring')
    large.push('a')
    large.push('b')
    small.push('c')
    // The rings' bits, then a counter and the ids of each ring that holds any.
    expect(samples.slots().length).toBe(1 + (1 + 2) + (1 + 1))
    expect([large.toArray(), unused.toArray(), small.toArray()]).toEqual([['a', 'b'], [], ['c']])
    for (let i = 0; i < 7; i++) small.push(`s${i}`)
    expect(small.toArray()).toEqual(['s2', 's3', 's4', 's5', 's6'])
    expect(samples.slots().length).toBe(1 + (1 + 2) + (1 + 5))
    small.clear()
    expect(samples.slots().length).toBe(1 + (1 + 2))
    expect([large.toArray(), unused.toArray(), small.toArray()]).toEqual([['a', 'b'], [], []])
    small.push('d')
    expect([large.toArray(), small.toArray()]).toEqual([['a', 'b'], ['d']])
  })
})
