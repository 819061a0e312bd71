import { describe, expect, it } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { type AppliedPart, RulesCore, type StoredEvent } from '../../rules/core.ts'
import { buildRulesConfig, createEngine } from '../../rules/engine/config.ts'
import { activityWanted } from '../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'
import { MERCHANT_EVENT, RULE_HIT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import type { TerminalTransaction } from '../../schemas/types.generated.ts'
import { TrafficSimulator } from '../../simulator/generator.ts'

const start = Date.UTC(2026, 9, 1)
const sim = new TrafficSimulator({ seed: 4, merchants: 30, runId: 'core-order' })
const lifecycle = sim.lifecycle(start)
// Four days of a few dozen merchants' sales, interleaved as they come.
const txns: TerminalTransaction[] = Array.from({ length: 6_000 }, (_, i) => sim.next(start + i * 57_600))
const codec = new EventCodec({})
const config = buildRulesConfig({}, RULES, 'test', ENTITY_RULES)

function core(): RulesCore {
  const c = new RulesCore({
    engine: createEngine(config, { timeZoneOf: () => '+08:00', allowedLatenessMs: 21_600_000 }),
    codec,
    acquirers: { isKnown: () => true },
    maxFutureSkewMs: 300_000,
    allowedLatenessMs: 21_600_000,
    wantsActivity: activityWanted(config.entityRules),
  })
  c.load(0)
  return c
}

/** The parts' published hits (each hit's last update) and activity (per partition, in order). */
async function run(
  partSize: number,
): Promise<{ hits: Map<string, string>; activity: Map<number, string[]> }> {
  const c = core()
  const outs: AppliedPart[] = []
  const apply = async (transactions: boolean, values: Buffer[], stamps: number[]) =>
    outs.push(await c.apply(0, { transactions, values, stamps, activityPartitions: 4 }))
  await apply(
    false,
    await Promise.all(lifecycle.map((e) => codec.encode(MERCHANT_EVENT, e, 'avro'))),
    lifecycle.map((e) => e.event_time),
  )
  for (let i = 0; i < txns.length; i += partSize) {
    const part = txns.slice(i, i + partSize)
    await apply(
      true,
      await Promise.all(part.map((t) => codec.encode(TERMINAL_TRANSACTION, t, 'avro'))),
      part.map((t) => t.event_time),
    )
  }
  return published(outs)
}

/** The parts' published hits (each hit's last update) and activity (per partition, in order). */
async function published(
  outs: readonly AppliedPart[],
): Promise<{ hits: Map<string, string>; activity: Map<number, string[]> }> {
  const hits = new Map<string, string>()
  const activity = new Map<number, string[]>()
  for (const out of outs) {
    for (const h of out.hits) {
      // The hit's id is in its value: the last update of each id is what a consumer keeps.
      const decoded = await codec.decode(RULE_HIT, h.value)
      if (!decoded.ok) throw new Error('a hit that does not decode')
      const record = decoded.record as { hit_id: string }
      hits.set(record.hit_id, h.value.toString('hex'))
    }
    for (const a of out.activity) {
      const list = activity.get(a.partition) ?? []
      list.push(...(JSON.parse(a.value.toString('utf8')) as unknown[]).map((r) => JSON.stringify(r)))
      activity.set(a.partition, list)
    }
  }
  return { hits, activity }
}

describe('RulesCore.apply, a merchant at a time', () => {
  it('publishes for a part of interleaved merchants what the same events one part each publish', async () => {
    const one = await run(1)
    const whole = await run(txns.length)
    expect(one.hits.size).toBeGreaterThan(20)
    expect(whole.hits).toEqual(one.hits)
    // The activity in delivery order: what the cross-merchant rules read is unchanged.
    expect([...one.activity.values()].flat().length).toBeGreaterThan(100)
    expect(whole.activity).toEqual(one.activity)
  })

  it('rebuilds from stored events a merchant at a time the state that one event at a time gives', async () => {
    const stored: StoredEvent[] = [
      ...lifecycle.map((value): StoredEvent => ({ kind: 'merchantEvents', value })),
      ...txns.slice(0, 5_000).map((value): StoredEvent => ({ kind: 'transactions', value })),
    ]
    // The state shows in what the next events find, and in which of them are taken as duplicates (the
    // 500 sent again, but for those past the lateness horizon).
    const next = txns.slice(4_500)
    const values = await Promise.all(next.map((t) => codec.encode(TERMINAL_TRANSACTION, t, 'avro')))
    const thenApply = async (replay: (c: RulesCore) => void) => {
      const c = core()
      replay(c)
      const out = await c.apply(0, {
        transactions: true,
        values,
        stamps: next.map((t) => t.event_time),
        activityPartitions: 4,
      })
      return { duplicates: out.duplicates, ...(await published([out])) }
    }
    const whole = await thenApply((c) => c.replay(0, stored))
    const single = await thenApply((c) => {
      for (const e of stored) c.replay(0, [e])
    })
    expect(whole.duplicates).toBeGreaterThan(400)
    expect(whole.hits.size).toBeGreaterThan(5)
    expect(whole).toEqual(single)
  })
})
