import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { Kafka, Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type RunningService, startService } from '../../app/service.ts'
import { loadConfig } from '../../config/load.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import type { Store } from '../../store/client.ts'
import { dateTime64 } from '../../store/transactions.ts'
import { dashboardQueries, promqlForTest, sqlForTest } from '../helpers/dashboards.ts'
import { merchantEvent, txn } from '../helpers/events.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'
import { alertRules, PROMETHEUS_DIR, type RunningPrometheus, startPrometheus } from '../helpers/prometheus.ts'

const NOW = Date.UTC(2026, 10, 22, 0, 0, 0)

/**
 * The monitoring works end to end: the real service (npm start's code: ingest, rules, scoring, the API
 * serving /metrics) runs on the real broker and a real chDB store, a real Prometheus scrapes it, and
 * every PromQL expression of the dashboards and the alerting rules is evaluated by that Prometheus;
 * every SQL panel runs on the service's store.
 */
describe('Prometheus scrapes the running service; every dashboard and alert query works', () => {
  let kafka: Kafka
  let producer: Producer
  let dir: string
  let service: RunningService
  let store: Store
  let prometheus: RunningPrometheus
  const codec = new EventCodec({})
  const prefix = uniqueName('prom')
  const topics = { transactions: `${prefix}.transactions`, merchantEvents: `${prefix}.merchant-events` }
  // Ordinary sales at four merchants, and card testing at a fifth: 30 attempts, half declined, which
  // makes the rules, the scorer and so the risk metrics do real work.
  const day = Date.UTC(2026, 10, 21, 2, 0, 0)
  const good = [
    ...Array.from({ length: 60 }, (_, i) => txn({ merchant_id: `m-${i % 4}` })),
    ...Array.from({ length: 30 }, (_, i) =>
      txn({
        acquirer_id: 'acq-prom',
        merchant_id: 'm-testing',
        event_time: day + i * 60_000,
        card_token: `tok-prom-${i}`,
        response_code: i % 2 === 0 ? '05' : '00',
      }),
    ),
  ]

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'))
    const config = loadConfig({
      env: {
        KAFKA_BROKERS: inject('kafkaBrokers'),
        KAFKA_GROUP_ID: `${prefix}-group`,
        KAFKA_TOPIC_PARTITIONS: '2',
        TOPIC_TRANSACTIONS: topics.transactions,
        TOPIC_MERCHANT_EVENTS: topics.merchantEvents,
        TOPIC_ENTITY_ACTIVITY: `${prefix}.entity-activity`,
        TOPIC_RULE_HITS: `${prefix}.rule-hits`,
        TOPIC_SCORING_STATE: `${prefix}.scoring-state`,
        TOPIC_SCORE_EVENTS: `${prefix}.score-events`,
        TOPIC_PARKED: `${prefix}.parked`,
        ALERTS_TOPIC_PATTERN: `${prefix}.alerts.{acquirer}`,
        ACQUIRERS: 'acq-prom,acq-test',
        CHDB_PATH: join(dir, 'chdb'),
        CLICKHOUSE_DATABASE: 'prometheus_test',
        SIMULATOR: 'off',
        API_PORT: '0',
        API_HOST: '127.0.0.1',
      },
    })
    service = await startService(config, { logger: createLogger('silent'), now: Date.now, sleep })
    store = service.store
    const ingest = service.ingest
    const address = service.api?.address
    if (ingest === null || address === undefined) throw new Error('the service runs no pipeline or no API')
    producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: topics.transactions,
      messages: [
        ...(await Promise.all(
          good.map(async (t) => ({
            key: t.merchant_id,
            value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
          })),
        )),
        // Rejected for three reasons, so the rejects-by-reason panel has series.
        { key: 'm-0', value: Buffer.from('neither Avro nor JSON') },
        { key: 'm-0', value: Buffer.from(JSON.stringify({ ...txn(), amount_minor: -5 })) },
        { key: 'm-0', value: Buffer.from(JSON.stringify({ ...txn(), card_token: '4111111111111111' })) },
      ],
    })
    await producer.send({
      topic: topics.merchantEvents,
      messages: [{ key: 'm-0', value: Buffer.from(JSON.stringify(merchantEvent({ merchant_id: 'm-0' }))) }],
    })
    await waitFor(
      async () => ingest.stats.consumed >= good.length + 4 && (service.scoring?.stats.alerts ?? 0) >= 1,
      () =>
        `consumed ${ingest.stats.consumed} of ${good.length + 4}, alerts ${service.scoring?.stats.alerts}`,
      60_000,
    )

    prometheus = await startPrometheus(address.replace(/^https?:\/\//, ''), [
      join(PROMETHEUS_DIR, 'alerts.yml'),
    ])
    // Enough scrapes for rate() over the test's 30 s rate interval to have two samples and more.
    await waitFor(
      async () => {
        const r = await prometheus.query('count_over_time(up{job="pos-risk-monitor"}[1m])')
        return r.ok && Number(sampleValue(r.result[0])) >= 5
      },
      () => 'Prometheus has not scraped the metrics endpoint 5 times',
    )
  })

  afterAll(async () => {
    await prometheus?.stop()
    await producer?.disconnect()
    await service?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('scrapes the ingest counts of the real pipeline', async () => {
    const consumed = await prometheus.query(
      `sum(risk_ingest_events_consumed_total{topic="${topics.transactions}"})`,
    )
    expect(consumed.ok && Number(sampleValue(consumed.result[0]))).toBe(good.length + 3)
    const rejected = await prometheus.query('sum by (reason) (risk_ingest_events_rejected_total)')
    expect(rejected.ok && rejected.result.length).toBe(3)
    const inserts = await prometheus.query('sum by (table) (risk_clickhouse_insert_duration_seconds_count)')
    // transactions, merchant_events, rule_hits, merchant_scores, score_history, alerts at least.
    expect(inserts.ok && inserts.result.length).toBeGreaterThanOrEqual(6)
    const alerts = await prometheus.query('sum(risk_alerts_total{level="HIGH",category="fraud"})')
    // Card testing at m-testing; the ordinary sales at m-0..m-3 (a few cards shopping at all four, as
    // real cards do) raise nothing.
    expect(alerts.ok && Number(sampleValue(alerts.result[0]))).toBe(1)
    const rebalances = await prometheus.query('sum(risk_kafka_rebalances_total{client="ingest"})')
    expect(rebalances.ok && Number(sampleValue(rebalances.result[0]))).toBeGreaterThanOrEqual(1)
  })

  it('answers every PromQL query of the dashboards with data', async () => {
    const queries = dashboardQueries().filter((q) => q.expr !== undefined)
    expect(queries.length).toBeGreaterThan(30)
    const failures: string[] = []
    for (const q of queries) {
      const expr = promqlForTest(q.expr ?? '')
      const r = await prometheus.query(expr)
      if (!r.ok)
        failures.push(`${q.dashboard} "${q.panel}" ${q.refId}: ${r.errorType}: ${r.error}\n  ${expr}`)
      else if (r.result.length === 0)
        failures.push(`${q.dashboard} "${q.panel}" ${q.refId}: no data\n  ${expr}`)
    }
    expect(failures).toEqual([])
  })

  it('evaluates every alerting rule without error', async () => {
    const rules = alertRules()
    for (const rule of rules) {
      const r = await prometheus.query(rule.expr)
      expect(r.ok, `${rule.alert}: ${r.ok ? '' : r.error}`).toBe(true)
    }
    // And Prometheus itself evaluates the rule file (every second here) without an error on any rule.
    await waitFor(
      async () => loadedRules(await prometheus.get('/api/v1/rules')).every((x) => x.lastEvaluation > 0),
      () => 'the alerting rules have not all been evaluated yet',
    )
    const loaded = loadedRules(await prometheus.get('/api/v1/rules'))
    expect(loaded.map((x) => x.name).sort()).toEqual(rules.map((x) => x.alert).sort())
    for (const x of loaded) expect(x.health, `${x.name}: ${x.lastError}`).toBe('ok')
  })

  it('runs every ClickHouse query of the dashboards on the store, with rows to show', async () => {
    await insertScoresAlertsHits(store)
    const queries = dashboardQueries().filter((q) => q.rawSql !== undefined)
    expect(queries.length).toBeGreaterThanOrEqual(5)
    for (const q of queries) {
      const sql = sqlForTest(q.rawSql ?? '', NOW - 86_400_000, NOW)
      const rs = await store.client.query({ query: sql, format: 'JSONEachRow' })
      const rows = await rs.json<Record<string, unknown>>()
      expect(rows.length, `${q.panel}: ${sql}`).toBeGreaterThan(0)
    }
  })
})

function sampleValue(sample: unknown): unknown {
  const value = typeof sample === 'object' && sample !== null ? Reflect.get(sample, 'value') : undefined
  return Array.isArray(value) ? value[1] : undefined
}

interface LoadedRule {
  name: string
  health: string
  lastError: string
  lastEvaluation: number
}

/** The rules of `/api/v1/rules`, with their health and when they were last evaluated. */
function loadedRules(data: Record<string, unknown>): LoadedRule[] {
  const groups: unknown = data.groups
  const out: LoadedRule[] = []
  for (const g of Array.isArray(groups) ? groups : []) {
    const rules: unknown = Reflect.get(g, 'rules')
    for (const r of Array.isArray(rules) ? rules : []) {
      const at = Date.parse(String(Reflect.get(r, 'lastEvaluation')))
      out.push({
        name: String(Reflect.get(r, 'name')),
        health: String(Reflect.get(r, 'health')),
        lastError: String(Reflect.get(r, 'lastError') ?? ''),
        // Never evaluated: Prometheus reports the zero time, year 1.
        lastEvaluation: Number.isNaN(at) || at < 0 ? 0 : at,
      })
    }
  }
  return out
}

/** A few rows as the scoring stage (issue #4) will write them, so the SQL panels have rows. */
async function insertScoresAlertsHits(store: Store): Promise<void> {
  const at = dateTime64(NOW - 3_600_000)
  const insert = async (table: string, rows: Record<string, unknown>[]) => {
    const result = await store.client.exec({
      query: `INSERT INTO {db:Identifier}.${table} FORMAT JSONEachRow`,
      query_params: { db: store.database },
      values: Readable.from([`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`]),
    })
    result.stream.resume()
    await finished(result.stream)
  }
  await insert(
    'merchant_scores',
    [
      ['m-0', 'fraud', 91, 'CRITICAL'],
      ['m-1', 'fraud', 64, 'HIGH'],
      ['m-2', 'compliance', 35, 'MEDIUM'],
    ].map(([merchant, category, score, level]) => ({
      acquirer_id: 'acq-test',
      merchant_id: merchant,
      category,
      score,
      level,
      breakdown: '[]',
      hit_count: 2,
      families: ['amount_pattern'],
      scored_at: at,
      written_at: at,
    })),
  )
  await insert('alerts', [
    {
      acquirer_id: 'acq-test',
      alert_id: 'alert-1',
      merchant_id: 'm-0',
      category: 'fraud',
      level: 'CRITICAL',
      previous_level: 'HIGH',
      score: 91,
      families: ['amount_pattern'],
      rule_ids: ['round_amount', 'structuring'],
      reasons: '[]',
      topic: 'risk.alerts.acq-test',
      created_at: at,
      written_at: at,
    },
  ])
  await insert('rule_hits', [
    {
      acquirer_id: 'acq-test',
      merchant_id: 'm-0',
      rule_id: 'round_amount',
      window_start: dateTime64(NOW - 86_400_000),
      window_end: at,
      hit_id: 'hit-1',
      rule_version: 1,
      category: 'fraud',
      observed: 0.6,
      threshold: 0.3,
      sample_txn_ids: ['tx-1'],
      detail: 'round amounts',
      config_hash: 'test',
      detected_at: at,
      written_at: at,
    },
  ])
}
