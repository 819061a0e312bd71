import { describe, expect, it } from 'vitest'
import { packBuffers, unpackBuffers } from '../../../rules/worker-protocol.ts'

describe('packed byte strings', () => {
  it('come back as they went, nulls and empty strings included, over one buffer', () => {
    const values = [
      Buffer.from('alpha'),
      null,
      Buffer.alloc(0),
      Buffer.from([0, 255, 7]),
      null,
      Buffer.from('ω'),
    ]
    const packed = packBuffers(values)
    expect(packed.bytes.byteLength).toBe(5 + 0 + 3 + 2)
    const back = unpackBuffers(packed)
    expect(back.map((b) => (b === null ? null : [...b]))).toEqual(
      values.map((b) => (b === null ? null : [...b])),
    )
    const shared = back.filter((b) => b !== null).map((b) => b.buffer)
    expect(new Set(shared).size).toBe(1)
  })

  it('copies views of a larger buffer, not the buffer behind them', () => {
    const slab = Buffer.from('0123456789')
    const packed = packBuffers([slab.subarray(2, 4), slab.subarray(7)])
    expect(packed.bytes.byteLength).toBe(5)
    expect(unpackBuffers(packed).map((b) => b?.toString())).toEqual(['23', '789'])
  })

  it('packs nothing into an empty buffer', () => {
    const packed = packBuffers([])
    expect(packed.bytes.byteLength).toBe(0)
    expect(unpackBuffers(packed)).toEqual([])
  })
})
