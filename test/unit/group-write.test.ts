import { describe, expect, it } from 'vitest'
import { GroupWrite } from '../../lib/group-write.ts'

/** A write that records its items and finishes when the test says so. */
function gated() {
  const writes: number[][] = []
  const gates: { open: () => void; fail: (e: Error) => void }[] = []
  const write = new GroupWrite<number>(
    (items) =>
      new Promise<void>((resolve, reject) => {
        writes.push(items)
        gates.push({ open: resolve, fail: reject })
      }),
  )
  return { write, writes, gates }
}

const turn = () => new Promise((r) => setImmediate(r))

describe('GroupWrite', () => {
  it("writes one turn's callers together, and resolves each when that write succeeded", async () => {
    const { write, writes, gates } = gated()
    let settled = 0
    const a = write.add([1, 2]).then(() => settled++)
    const b = write.add([3]).then(() => settled++)
    await turn()
    expect(writes).toEqual([[1, 2, 3]])
    await turn()
    expect(settled).toBe(0)
    gates[0]?.open()
    await Promise.all([a, b])
    expect(settled).toBe(2)
    expect(write.writes).toBe(1)
  })

  it('gathers what arrives during a write into the next one, started when it ends', async () => {
    const { write, writes, gates } = gated()
    const first = write.add([1])
    await turn()
    // Three callers over two turns while the first write is in flight.
    const later = [write.add([2]), write.add([3, 4])]
    await turn()
    later.push(write.add([5]))
    await turn()
    expect(writes).toEqual([[1]])
    gates[0]?.open()
    await first
    await turn()
    expect(writes).toEqual([[1], [2, 3, 4, 5]])
    gates[1]?.open()
    await Promise.all(later)
    expect(write.writes).toBe(2)
  })

  it('rejects every caller of a failed write with its error, and the next write still goes', async () => {
    const { write, writes, gates } = gated()
    const a = write.add([1])
    const b = write.add([2])
    await turn()
    gates[0]?.fail(new Error('store down'))
    await expect(a).rejects.toThrow('store down')
    await expect(b).rejects.toThrow('store down')
    // The callers retry: their items go again, together.
    const again = Promise.all([write.add([1]), write.add([2])])
    await turn()
    expect(writes).toEqual([
      [1, 2],
      [1, 2],
    ])
    gates[1]?.open()
    await again
  })

  it('rejects the callers when the write throws before it starts', async () => {
    const write = new GroupWrite<number>(() => {
      throw new Error('bad rows')
    })
    await expect(write.add([1])).rejects.toThrow('bad rows')
    // Not stuck: the next items make a write of their own.
    await expect(write.add([2])).rejects.toThrow('bad rows')
    expect(write.writes).toBe(2)
  })

  it('resolves an empty add at once, without a write', async () => {
    const { write, writes } = gated()
    await write.add([])
    await turn()
    expect(writes).toEqual([])
    expect(write.writes).toBe(0)
  })
})
