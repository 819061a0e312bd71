import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Message } from 'kafkajs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { runBacktest } from '../../backtest/run.ts'
import { parseBound, readTopicRange, type TopicReadStats, type TopicSource } from '../../backtest/topic.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { buildRulesConfig } from '../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import { DEFAULT_START, HistorySimulator, type SimEvent } from '../../simulator/history.ts'
import { deliverLate, parseLate } from '../../simulator/late.ts'
import { produceEvents, type ReadStats, readEventsFile, writeEventsFile } from '../../simulator/stream.ts'
import { sampleMerchantEvent, sampleTxn } from '../helpers/events.ts'
import { testKafka, uniqueName } from '../helpers/kafka.ts'

const dir = mkdtempSync(join(tmpdir(), 'backtest-topic-it-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const HOUR = 3_600_000
const ALLOWED_LATENESS = 6 * HOUR

function stats(): TopicReadStats {
  return { read: 0, rejected: 0, problems: [], ranges: [] }
}

async function collect(events: AsyncIterable<SimEvent>): Promise<SimEvent[]> {
  const out: SimEvent[] = []
  for await (const e of events) out.push(e)
  return out
}

describe('backtest of a topic range', () => {
  it('equals the file backtest of the same events, late ones included', async () => {
    const kafka = testKafka(inject('kafkaBrokers'))
    const codec = new EventCodec()
    const options = { seed: 27, merchants: 300, days: 3, historyDays: 2, start: DEFAULT_START }
    // More late events than the default, hours late ones beyond the allowed lateness among them.
    const late = parseLate('0.05@1m-30m,0.02@1h-24h')
    const stream = () => deliverLate(new HistorySimulator(options).events(), late, options.seed)
    const labels = new HistorySimulator(options).labels

    const file = join(dir, 'events.jsonl.gz')
    const written = await writeEventsFile(file, stream())
    const delivered = [...stream()]
    const delays = delivered.flatMap((e) =>
      e.deliveredAt === undefined ? [] : [e.deliveredAt - e.value.event_time],
    )
    expect(delays.length).toBeGreaterThan(written * 0.04)
    expect(delays.filter((d) => d > ALLOWED_LATENESS).length).toBeGreaterThan(10)

    // Partition counts unlike each other, so merchants' transactions and lifecycle events never line up.
    const topics = { transactions: uniqueName('bt-tx'), merchantEvents: uniqueName('bt-ev') }
    await ensureTopics(kafka, [topics.transactions], { partitions: 3, replicationFactor: 1 })
    await ensureTopics(kafka, [topics.merchantEvents], { partitions: 2, replicationFactor: 1 })
    expect(await produceEvents(kafka, codec, stream(), { topics, ratePerSecond: null })).toBe(written)

    const config = buildRulesConfig({}, RULES, 'defaults', ENTITY_RULES)
    const run = (events: AsyncIterable<SimEvent>) =>
      runBacktest({
        labels,
        events,
        configs: [{ name: 'A', config }],
        topK: 10,
        withStore: true,
        minCohort: 20,
        allowedLatenessMs: ALLOWED_LATENESS,
      })
    const fromFile: ReadStats = { read: 0, rejected: 0, problems: [] }
    const a = await run(readEventsFile(file, fromFile))
    const fromTopic = stats()
    const source: TopicSource = { ...topics, from: null, to: null }
    const b = await run(readTopicRange(kafka, codec, source, fromTopic))

    expect(fromTopic).toMatchObject({ read: written, rejected: 0 })
    expect(fromTopic.ranges).toHaveLength(5)
    expect(b.replay).toMatchObject({
      events: a.replay.events,
      transactions: a.replay.transactions,
      days: a.replay.days,
      firstEvent: a.replay.firstEvent,
      lastEvent: a.replay.lastEvent,
      baselineRefreshes: a.replay.baselineRefreshes,
    })
    expect(a.replay.events).toBe(written)
    const [fa, fb] = [a.metrics[0], b.metrics[0]]
    // Not an empty comparison: the rules flag merchants and the scorer alerts.
    expect(fa?.metrics.rules.filter((r) => r.flagged > 0).length).toBeGreaterThan(3)
    expect(fa?.alerts).toBeGreaterThan(0)
    expect(fb?.metrics.rules).toEqual(fa?.metrics.rules)
    expect(fb?.metrics).toEqual(fa?.metrics)
    expect(fb?.alerts).toBe(fa?.alerts)
    expect(fb?.hitUpdates).toBe(fa?.hitUpdates)
    // Finer than the metrics: every merchant's rules, highest score and level, and alerts with their times.
    const merchants = (r: typeof a) =>
      [...(r.replay.runs[0]?.merchants ?? [])].sort((x, y) => (x.merchant_id < y.merchant_id ? -1 : 1))
    expect(merchants(b)).toEqual(merchants(a))

    // The merge hands the replay the file's own sequence, event for event.
    const idOf = (e: SimEvent) => (e.topic === 'transactions' ? e.value.txn_id : e.value.event_id)
    const again = await collect(readTopicRange(kafka, codec, source, stats()))
    expect(again.map(idOf)).toEqual(delivered.map(idOf))
    expect(again.map((e) => e.deliveredAt)).toEqual(delivered.map((e) => e.deliveredAt))
  }, 300_000)

  it('reads exactly the records of an offset range and of a time range, and counts bad ones', async () => {
    const kafka = testKafka(inject('kafkaBrokers'))
    const codec = new EventCodec()
    const topic = uniqueName('bt-range')
    const lifecycle = uniqueName('bt-range-ev')
    await ensureTopics(kafka, [topic], { partitions: 3, replicationFactor: 1 })
    await ensureTopics(kafka, [lifecycle], { partitions: 1, replicationFactor: 1 })
    const producer = kafka.producer()
    await producer.connect()
    const pause = () => new Promise((r) => setTimeout(r, 20))
    // Ten records per partition and phase, Avro and JSON alternately; ids say phase, partition and offset.
    const offset = [0, 0, 0]
    const phase = async (name: string) => {
      const messages: Message[] = []
      for (let p = 0; p < 3; p++) {
        for (let i = 0; i < 10; i++) {
          const o = offset[p] ?? 0
          const txn = sampleTxn({ txn_id: `${name}-${p}-${o}`, event_time: Date.UTC(2026, 9, 20, p, o) })
          const value =
            i % 2 === 0
              ? await codec.encode(TERMINAL_TRANSACTION, txn, 'avro')
              : await codec.encode(TERMINAL_TRANSACTION, txn, 'json')
          messages.push({ partition: p, key: txn.merchant_id, value })
          offset[p] = o + 1
        }
      }
      await producer.send({ topic, messages })
      // Two lifecycle events per phase on the other topic.
      const events = [0, 1].map((i) =>
        sampleMerchantEvent({ event_id: `${name}-ev-${i}`, event_time: Date.UTC(2026, 9, 19, i) }),
      )
      await producer.send({
        topic: lifecycle,
        messages: await Promise.all(
          events.map(async (e) => ({
            key: e.merchant_id,
            value: await codec.encode(MERCHANT_EVENT, e, 'avro'),
          })),
        ),
      })
    }
    let t1 = ''
    let t2 = ''
    try {
      await phase('a')
      await pause()
      t1 = new Date().toISOString()
      await pause()
      await phase('b')
      // A raw card number and a broken value inside the time range: counted, not replayed, not fatal.
      await producer.send({
        topic,
        messages: [
          {
            partition: 1,
            key: 'x',
            value: await codec.encode(
              TERMINAL_TRANSACTION,
              sampleTxn({ txn_id: 'bad-card', card_token: '4111111111111111' }),
              'json',
            ),
          },
          { partition: 2, key: 'x', value: Buffer.from('{not json') },
        ],
      })
      offset[1] = (offset[1] ?? 0) + 1
      offset[2] = (offset[2] ?? 0) + 1
      await pause()
      t2 = new Date().toISOString()
      await pause()
      await phase('c')
    } finally {
      await producer.disconnect()
    }

    const read = async (from: string | null, to: string | null, withLifecycle = false) => {
      const s = stats()
      const source: TopicSource = {
        transactions: topic,
        merchantEvents: withLifecycle ? lifecycle : null,
        from: from === null ? null : parseBound(from),
        to: to === null ? null : parseBound(to),
      }
      const ids = (await collect(readTopicRange(kafka, codec, source, s))).map((e) =>
        e.topic === 'transactions' ? e.value.txn_id : e.value.event_id,
      )
      return { ids, stats: s }
    }

    // Offsets 5 to 12 on every partition: a-5..a-9 then b-10, b-11 of each.
    const byOffset = await read('5', '12')
    const expected = [0, 1, 2].flatMap((p) =>
      [5, 6, 7, 8, 9, 10, 11].map((o) => `${o < 10 ? 'a' : 'b'}-${p}-${o}`),
    )
    expect([...byOffset.ids].sort()).toEqual([...expected].sort())
    expect(byOffset.stats).toMatchObject({ read: 21, rejected: 0 })
    expect(byOffset.stats.ranges.map((r) => [r.partition, r.start, r.end])).toEqual([
      [0, 5, 12],
      [1, 5, 12],
      [2, 5, 12],
    ])
    // Merged across partitions by event time (none is late): partition 0's hour first.
    expect(byOffset.ids.slice(0, 7)).toEqual(expected.slice(0, 7))

    // Between the two instants: exactly phase b, and the two bad records.
    const byTime = await read(t1, t2)
    expect([...byTime.ids].sort()).toEqual(
      [0, 1, 2].flatMap((p) => Array.from({ length: 10 }, (_, i) => `b-${p}-${10 + i}`)).sort(),
    )
    expect(byTime.stats).toMatchObject({ read: 32, rejected: 2 })
    expect(byTime.stats.problems.join(' ')).toMatch(/card/i)
    expect(byTime.stats.problems.join(' ')).not.toContain('4111111111111111')

    // Lifecycle events are read from the start whatever --from is (a merchant's profile precedes the
    // range), and cut at a time --to, never at an offset of the other topic.
    const offsetsWithLifecycle = await read('5', '12', true)
    expect(offsetsWithLifecycle.ids.filter((id) => id.includes('-ev-')).sort()).toEqual([
      'a-ev-0',
      'a-ev-1',
      'b-ev-0',
      'b-ev-1',
      'c-ev-0',
      'c-ev-1',
    ])
    expect(offsetsWithLifecycle.ids).toHaveLength(21 + 6)
    const timesWithLifecycle = await read(t1, t2, true)
    expect(timesWithLifecycle.ids.filter((id) => id.includes('-ev-')).sort()).toEqual([
      'a-ev-0',
      'a-ev-1',
      'b-ev-0',
      'b-ev-1',
    ])
    // Merged by event time: the lifecycle events (the day before) come first.
    expect(timesWithLifecycle.ids.slice(0, 4).every((id) => id.includes('-ev-'))).toBe(true)

    // From a time to the end, and an empty range.
    expect((await read(t2, null)).ids).toHaveLength(30)
    const empty = await read('40', null)
    expect(empty.ids).toHaveLength(0)
    expect(empty.stats.read).toBe(0)
    // A topic that is not there is named at once, not after kafkajs's retries.
    const missing: TopicSource = {
      transactions: uniqueName('none'),
      merchantEvents: null,
      from: null,
      to: null,
    }
    await expect(collect(readTopicRange(kafka, codec, missing, stats()))).rejects.toThrow(/does not exist/)
  }, 180_000)
})
