import { Partitioners } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import {
  type ActivityRecord,
  decodeActivities,
  encodeActivities,
  encodeActivity,
  entityKeyOf,
  entityPartitioner,
} from '../../../rules/entity/activity.ts'

const card = (i: number): ActivityRecord => ({
  id: `t-${i}`,
  kind: 'card',
  key: `card-${i % 7}`,
  acquirerId: 'acq-a',
  merchantId: `m-${i % 3}`,
  at: 1_767_225_600_000 + i,
  amount: 10 + i,
})

describe('activity messages', () => {
  it('carry a batch of records, or one record as before', () => {
    const records = [
      card(1),
      card(2),
      { ...card(3), kind: 'terminal' as const, bound: true, amount: undefined },
    ]
    const clean = records.map((r) => JSON.parse(JSON.stringify(r)) as ActivityRecord)
    expect(decodeActivities(encodeActivities(records))).toEqual(clean.map((record) => ({ ok: true, record })))
    expect(decodeActivities(encodeActivity(card(4)))).toEqual([{ ok: true, record: card(4) }])
  })

  it('skip a bad element of a batch and keep the others', () => {
    const value = Buffer.from(
      `[${encodeActivity(card(1)).toString()},{"id":"x"},${encodeActivity(card(2)).toString()}]`,
    )
    const decoded = decodeActivities(value)
    expect(decoded.map((d) => d.ok)).toEqual([true, false, true])
    expect(decodeActivities(Buffer.from('nope'))).toEqual([{ ok: false, problem: 'not JSON' }])
    expect(decodeActivities(null)).toEqual([{ ok: false, problem: 'empty value' }])
    expect(decodeActivities(Buffer.from('[]'))).toEqual([])
  })

  it('go to the partition the producer would have chosen for each record on its own', () => {
    const meta = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        partitionId: i,
        leader: 0,
        replicas: [0],
        isr: [0],
        partitionErrorCode: 0,
      }))
    for (const n of [1, 6, 13]) {
      const ours = entityPartitioner(n)
      const producer = Partitioners.DefaultPartitioner()
      const seen = new Set<number>()
      for (let i = 0; i < 200; i++) {
        const key = entityKeyOf({ acquirerId: 'acq-a', kind: 'card', key: `card-${i}` })
        const p = ours(key)
        seen.add(p)
        expect(p).toBe(producer({ topic: 't', partitionMetadata: meta(n), message: { key, value: null } }))
      }
      expect(seen.size).toBe(n)
    }
  })
})
