import { describe, expect, it } from 'vitest'
import { idHash, MAX_PROBE, MerchantIds, RecentIds } from '../../rules/core.ts'
import { prng } from '../../simulator/generator.ts'

/**
 * The de-duplication as it was before MerchantIds (a Map of ids per merchant): the reference the
 * table must agree with, event by event.
 */
class MapRecentIds {
  readonly #byMerchant = new Map<
    string,
    { partition: number; watermark: number; ids: Map<string, number>; pruneAt: number }
  >()

  admit(
    partition: number,
    acquirerId: string,
    merchantId: string,
    id: string,
    eventTime: number,
    latenessMs: number,
  ): boolean {
    const key = `${acquirerId}\u0000${merchantId}`
    let m = this.#byMerchant.get(key)
    if (m === undefined) {
      m = { partition, watermark: eventTime, ids: new Map(), pruneAt: 64 }
      this.#byMerchant.set(key, m)
    }
    m.partition = partition
    if (m.ids.has(id)) return false
    if (eventTime > m.watermark) m.watermark = eventTime
    m.ids.set(id, eventTime)
    if (m.ids.size >= m.pruneAt) {
      const horizon = m.watermark - latenessMs
      for (const [k, t] of m.ids) if (t < horizon) m.ids.delete(k)
      m.pruneAt = Math.max(64, m.ids.size * 2)
    }
    return true
  }

  partitionOf(acquirerId: string, merchantId: string): number | undefined {
    return this.#byMerchant.get(`${acquirerId}\u0000${merchantId}`)?.partition
  }

  retain(keep: (acquirerId: string, merchantId: string, partition: number) => boolean): void {
    for (const [key, m] of this.#byMerchant) {
      const [a = '', b = ''] = key.split('\u0000')
      if (!keep(a, b, m.partition)) this.#byMerchant.delete(key)
    }
  }
}

const LATENESS = 1_000

describe('RecentIds', () => {
  it.each([1, 2, 3])(
    'admits exactly what the Map of ids per merchant admitted (random stream %i: duplicates, late and out-of-order events, releases)',
    (seed) => {
      const next = prng(seed)
      const table = new RecentIds()
      const reference = new MapRecentIds()
      const merchants = Array.from({ length: 12 }, (_, i) => [`acq-${i % 2}`, `m-${i}`] as const)
      let now = 0
      let admitted = 0
      let refused = 0
      for (let n = 0; n < 60_000; n++) {
        const [acquirer, merchant] = merchants[Math.floor(next() * merchants.length)] ?? ['acq-0', 'm-0']
        now += Math.floor(next() * 20)
        // Mostly in order, some late (a few beyond the horizon), ids from a pool that repeats.
        const time = next() < 0.1 ? now - Math.floor(next() * 3 * LATENESS) : now
        const id = next() < 0.3 ? `tx-${Math.floor(next() * 100)}` : `tx-${n}`
        const partition = Math.floor(next() * 3)
        const got = table.admit(partition, acquirer, merchant, id, time, LATENESS)
        expect(got).toBe(reference.admit(partition, acquirer, merchant, id, time, LATENESS))
        if (got) admitted++
        else refused++
        if (n % 5_000 === 4_999) {
          const drop = Math.floor(next() * 3)
          table.retain((_a, _m, p) => p !== drop)
          reference.retain((_a, _m, p) => p !== drop)
        }
      }
      for (const [a, m] of merchants) expect(table.partitionOf(a, m)).toBe(reference.partitionOf(a, m))
      expect(admitted).toBeGreaterThan(10_000)
      expect(refused).toBeGreaterThan(1_000)
    },
  )
})

describe('MerchantIds', () => {
  it('keeps a duplicate out with its first time, through growth and pruning', () => {
    const ids = new MerchantIds()
    for (let i = 0; i < 1_000; i++) expect(ids.add(`id-${i}`, idHash(`id-${i}`, 7), i)).toBe(true)
    expect(ids.size).toBe(1_000)
    expect(ids.add('id-500', idHash('id-500', 7), 5_000)).toBe(false)
    // The duplicate did not refresh id-500's time: it goes with the others before 600.
    ids.prune(600)
    expect(ids.size).toBe(400)
    expect(ids.add('id-500', idHash('id-500', 7), 5_000)).toBe(true)
    expect(ids.add('id-600', idHash('id-600', 7), 5_000)).toBe(false)
    expect(ids.crowded).toBe(false)
  })

  it('moves to a Map when hashes collide (a flood of crafted ids), and still answers exactly', () => {
    const ids = new MerchantIds()
    // Every id with the same hash: each look-up would walk all of them.
    for (let i = 0; i < 500; i++) expect(ids.add(`flood-${i}`, 12_345, i)).toBe(true)
    expect(ids.crowded).toBe(true)
    expect(ids.size).toBe(500)
    for (let i = 0; i < 500; i += 50) expect(ids.add(`flood-${i}`, 12_345, 9_999)).toBe(false)
    ids.prune(250)
    expect(ids.size).toBe(250)
    expect(ids.add('flood-10', 12_345, 9_999)).toBe(true)
    expect(ids.add('flood-300', 12_345, 9_999)).toBe(false)
  })

  it(`walks at most ${MAX_PROBE} slots before it moves`, () => {
    const ids = new MerchantIds()
    for (let i = 0; i <= MAX_PROBE; i++) ids.add(`c-${i}`, 1, i)
    expect(ids.crowded).toBe(false)
    ids.add('c-last', 1, 0)
    expect(ids.crowded).toBe(true)
    expect(ids.size).toBe(MAX_PROBE + 2)
  })

  it('hashes ids to non-zero values that differ with the seed', () => {
    expect(idHash('tx-1', 1)).not.toBe(0)
    expect(idHash('', 0)).not.toBe(0)
    expect(idHash('tx-1', 1)).not.toBe(idHash('tx-1', 2))
    expect(idHash('tx-1', 1)).toBe(idHash('tx-1', 1))
  })
})
