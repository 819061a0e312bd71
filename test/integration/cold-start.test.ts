import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { HistorySimulator } from '../../simulator/history.ts'
import { population } from '../../simulator/population.ts'
import { produceEvents } from '../../simulator/stream.ts'
import { openStore } from '../../store/client.ts'
import { spawnMain } from '../helpers/faults.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

const DAY = 86_400_000
const dir = mkdtempSync(join(tmpdir(), 'cold-start-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * A new deployment: the real service (`node app/main.ts`) on an empty store, fed four days of ordinary
 * traffic (legitimate shops and look-alikes, no abuse) through the real broker. No baseline exists for
 * most of it, and what there is rests on a few days: no merchant may come out above LOW.
 */
describe('a cold store fed a few days of ordinary traffic', () => {
  it('puts no merchant above LOW and raises no alert', async () => {
    const kafka = testKafka(inject('kafkaBrokers'))
    const prefix = uniqueName('cold')
    const topics = { transactions: `${prefix}.transactions`, merchantEvents: `${prefix}.merchant-events` }
    const groupId = `${prefix}-group`
    // Ordinary traffic only: the shares of abuse are zero.
    const spec = population('A', {
      seed: 99,
      merchants: 300,
      days: 4,
      start: Math.floor((Date.now() - 6 * DAY) / DAY) * DAY - 8 * 3_600_000,
      cashOutShare: 0,
      complianceShare: 0,
      cardTestingShare: 0,
    })
    const sim = new HistorySimulator(spec)
    // The distinct sales the store must hold at the end (a redelivered sale is stored once).
    const sales = new Set<string>()
    // The last local day (+08:00, the default zone) of the traffic: the rules finish the day before.
    let latest = 0
    for (const e of new HistorySimulator(spec).events())
      if (e.topic === 'transactions') {
        sales.add(e.value.txn_id)
        latest = Math.max(latest, e.value.event_time)
      }
    const finished = new Date((Math.floor((latest + 8 * 3_600_000) / DAY) - 1) * DAY)
      .toISOString()
      .slice(0, 10)
    expect(new Set(sim.labels.merchants.map((l) => l.label))).toEqual(new Set(['legit', 'lookalike']))
    await ensureTopics(kafka, [topics.transactions, topics.merchantEvents], {
      partitions: 2,
      replicationFactor: 1,
    })
    const events = await produceEvents(kafka, new EventCodec({}), sim.events(), {
      topics,
      ratePerSecond: null,
    })

    // The real entry point, as npm start runs it.
    const run = spawnMain({
      API_PORT: '0',
      KAFKA_BROKERS: inject('kafkaBrokers'),
      KAFKA_GROUP_ID: groupId,
      KAFKA_TOPIC_PARTITIONS: '2',
      TOPIC_TRANSACTIONS: topics.transactions,
      TOPIC_MERCHANT_EVENTS: topics.merchantEvents,
      TOPIC_ENTITY_ACTIVITY: `${prefix}.entity-activity`,
      TOPIC_RULE_HITS: `${prefix}.rule-hits`,
      TOPIC_SCORING_STATE: `${prefix}.scoring-state`,
      TOPIC_SCORE_EVENTS: `${prefix}.score-events`,
      TOPIC_PARKED: `${prefix}.parked`,
      ACQUIRERS: spec.acquirers.map((a) => a.id).join(','),
      ALERTS_TOPIC_PATTERN: `${prefix}.alerts.{acquirer}`,
      CHDB_PATH: join(dir, 'chdb'),
      SIMULATOR: 'off',
      // Refresh the baselines often, as a new deployment does while it has none.
      RULES_BASELINE_REFRESH_MS: '10000',
      LOG_LEVEL: 'info',
    })
    const admin = kafka.admin()
    await admin.connect()
    try {
      // Every stage has read all its input: ingest and the rules both input topics, then the entity,
      // scoring and sink groups theirs.
      const caughtUp = async (group: string, topic: string) => {
        // A topic the service has not created yet is not caught up with.
        const ends = await admin.fetchTopicOffsets(topic).catch(() => null)
        if (ends === null) return false
        const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
        return ends.every((e) => {
          const at = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1'
          return BigInt(at) >= BigInt(e.high) || e.high === e.low
        })
      }
      const inputs: [string, string][] = [
        [groupId, topics.transactions],
        [groupId, topics.merchantEvents],
        [`${groupId}.rules`, topics.transactions],
        [`${groupId}.rules`, topics.merchantEvents],
        [`${groupId}.entities`, `${prefix}.entity-activity`],
        [`${groupId}.scoring`, `${prefix}.rule-hits`],
        [`${groupId}.sink`, `${prefix}.score-events`],
      ]
      const behind = async () => {
        const out: string[] = []
        for (const [group, topic] of inputs)
          if (!(await caughtUp(group, topic))) out.push(`${group} on ${topic}`)
        return out
      }
      await waitFor(
        async () => (await behind()).length === 0,
        async () =>
          `the service did not catch up with ${events} events (behind: ${(await behind()).join(', ')}); log: ${JSON.stringify(run.lines().slice(-8))}; stderr: ${run.stderr().slice(-2000)}`,
        240_000,
      )
      // The entity stage publishes derived links back to its topic: let it settle, then check again.
      await new Promise((r) => setTimeout(r, 5000))
      await waitFor(
        async () =>
          (await caughtUp(`${groupId}.entities`, `${prefix}.entity-activity`)) &&
          (await caughtUp(`${groupId}.scoring`, `${prefix}.rule-hits`)) &&
          (await caughtUp(`${groupId}.sink`, `${prefix}.rule-hits`)) &&
          (await caughtUp(`${groupId}.sink`, `${prefix}.score-events`)),
        () => `the entity, scoring and sink stages did not settle; stderr: ${run.stderr().slice(-2000)}`,
        60_000,
      )
      // The baselines follow the rules' event time: refreshed as they finished days, ending on the last
      // day they finished, never on the day they were still in although the store had it.
      const throughs = () =>
        run
          .lines()
          .filter((l) => l.msg === 'rule baselines refreshed')
          .flatMap((l) => Object.values((l.through ?? {}) as Record<string, string>))
      await waitFor(
        async () => throughs().includes(finished),
        () => `no baseline refresh through ${finished}: ${JSON.stringify(throughs())}`,
        60_000,
      )
      expect(throughs().every((d) => d <= finished)).toBe(true)
    } finally {
      await admin.disconnect()
      run.child.kill('SIGTERM')
    }
    expect((await run.exited).code).toBe(0)

    const store = await openStore({ database: 'pos_risk', chdbPath: join(dir, 'chdb') })
    try {
      const query = async <T>(sql: string) =>
        (await store.client.query({ query: sql, format: 'JSONEachRow' })).json<T>()
      const [stored] = await query<{ n: string | number }>('SELECT count() AS n FROM transactions')
      expect(Number(stored?.n)).toBe(sales.size)
      // Rules did fire (on their floors, with nothing to compare with), and scoring saw them...
      const [hits] = await query<{ n: string | number }>('SELECT count() AS n FROM rule_hits')
      expect(Number(hits?.n)).toBeGreaterThan(0)
      // ...and left every merchant LOW, with no alert.
      const levels = await query<{ merchant_id: string; category: string; level: string; score: number }>(
        "SELECT merchant_id, category, level, score FROM merchant_scores FINAL WHERE level != 'LOW'",
      )
      expect(levels).toEqual([])
      const [alerts] = await query<{ n: string | number }>('SELECT count() AS n FROM alerts')
      expect(Number(alerts?.n)).toBe(0)
    } finally {
      await store.close()
    }
  }, 420_000)
})
