import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { type BacktestResult, runBacktest } from '../../backtest/run.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { buildRulesConfig } from '../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'
import { MERCHANT_EVENT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import { DEFAULT_START, HistorySimulator } from '../../simulator/history.ts'
import { produceEvents, type ReadStats, readEventsFile, writeEventsFile } from '../../simulator/stream.ts'
import { sampleTxn } from '../helpers/events.ts'
import { readTopic, testKafka, uniqueName } from '../helpers/kafka.ts'

const dir = mkdtempSync(join(tmpdir(), 'backtest-it-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('backtest of a simulated stream, end to end', () => {
  const options = { seed: 21, merchants: 300, days: 8, start: DEFAULT_START }
  const labels = new HistorySimulator(options).labels
  const file = join(dir, 'events.jsonl.gz')
  let written = 0
  const stats: ReadStats = { read: 0, rejected: 0, problems: [] }
  let result: BacktestResult

  it('writes the stream to a file and replays it through the engines, the scorer and chDB baselines', async () => {
    written = await writeEventsFile(file, new HistorySimulator(options).events())
    // A hand-edited line with a raw card number: rejected as ingest would, never replayed.
    const plain = join(dir, 'events.jsonl')
    // Same seed, same history: the second file holds the same events as the first.
    expect(await writeEventsFile(plain, new HistorySimulator(options).events())).toBe(written)
    appendFileSync(
      plain,
      `${JSON.stringify({ topic: 'transactions', value: sampleTxn({ card_token: '4111111111111111' }) })}\n`,
    )

    const defaults = buildRulesConfig({}, RULES, 'defaults', ENTITY_RULES)
    // The comparison: structuring switched off by thresholds it can never reach.
    const strict = buildRulesConfig(
      { rules: { structuring: { swipeShareThreshold: 1, minBandDays: 31 } } },
      RULES,
      'strict',
      ENTITY_RULES,
    )
    result = await runBacktest({
      labels,
      events: readEventsFile(plain, stats),
      configs: [
        { name: 'A', config: defaults },
        { name: 'B', config: strict },
      ],
      topK: 10,
      withStore: true,
      minCohort: 20,
      allowedLatenessMs: 6 * 3_600_000,
    })
    expect(stats.rejected).toBe(1)
    expect(stats.problems[0]).toMatch(/card/i)
    expect(stats.problems[0]).not.toContain('4111111111111111')
    expect(result.replay.events).toBe(written)
    expect(result.replay.days).toBe(8)
    // One refresh per day with sales: peers and baselines follow the replay.
    expect(result.replay.baselineRefreshes).toBe(8)
  }, 240_000)

  it('finds the scenarios the rules are made for, and the comparison switches structuring off', () => {
    const [a, b] = result.metrics
    const rule = (m: typeof a, id: string) => m?.metrics.rules.find((r) => r.rule === id)
    const ids = (scenario: string) => labels.merchants.filter((l) => l.scenario === scenario).length
    // Every structuring merchant hit by structuring, and no legitimate one (a naive cash-out may be too);
    // none at all in B.
    const structuring = ids('structuring') + ids('structuring_pairs')
    expect(structuring).toBeGreaterThan(0)
    expect(rule(a, 'structuring')).toMatchObject({ expected: structuring, caught: structuring, precision: 1 })
    expect(rule(b, 'structuring')).toMatchObject({ flagged: 0, precision: null })
    // Card testers by decline_ratio. card_ring needs eight shared cards each back for a second large
    // sale, more than eight days of a ring give (the month's backtest measures it): here it must at least
    // not fire on anyone else.
    expect(rule(a, 'decline_ratio')?.caught).toBe(ids('card_testing'))
    const ring = rule(a, 'card_ring')
    expect(ring?.expected).toBe(ids('ring') + ids('ring_evasive'))
    expect(ring?.flagged).toBe(ring?.truePositives)
    // Every structuring merchant was alerted: structuring is a strong rule.
    const scenario = a?.metrics.scenarios.find((s) => s.scenario === 'structuring')
    expect(scenario?.alerted).toBe(ids('structuring'))
    expect(a?.metrics.overall.alertsPerDay).toBeGreaterThan(0)
    expect(a?.alerts).toBeGreaterThan(b?.alerts ?? 0)
  })

  it('reads the gzip file back event for event', async () => {
    const again: ReadStats = { read: 0, rejected: 0, problems: [] }
    let n = 0
    for await (const _ of readEventsFile(file, again)) n++
    expect(n).toBe(written)
    expect(again.rejected).toBe(0)
  })
})

describe('simulated history to Kafka', () => {
  it('produces every event as framed Avro to the two topics, keyed by merchant', async () => {
    const kafka = testKafka(inject('kafkaBrokers'))
    const topics = { transactions: uniqueName('simtx'), merchantEvents: uniqueName('simev') }
    const sim = new HistorySimulator({ seed: 3, merchants: 300, days: 1, start: DEFAULT_START })
    const events = [...sim.events()]
    const txns = events.filter((e) => e.topic === 'transactions').length
    await ensureTopics(kafka, [topics.transactions, topics.merchantEvents], {
      partitions: 2,
      replicationFactor: 1,
    })
    const codec = new EventCodec()
    const progress: number[] = []
    const sent = await produceEvents(kafka, codec, events, {
      topics,
      ratePerSecond: null,
      progress: (done) => progress.push(done),
    })
    expect(sent).toBe(events.length)
    expect(progress.at(-1)).toBe(events.length)
    const lifecycle = await readTopic(kafka, topics.merchantEvents, events.length - txns)
    const sales = await readTopic(kafka, topics.transactions, txns)
    expect(sales).toHaveLength(txns)
    const first = sales[0]
    const decoded = await codec.decode(TERMINAL_TRANSACTION, first?.value ?? null)
    expect(decoded.ok && decoded.record.merchant_id).toBe(first?.key?.toString())
    const event = await codec.decode(MERCHANT_EVENT, lifecycle[0]?.value ?? null)
    expect(event.ok).toBe(true)
  }, 120_000)
})
