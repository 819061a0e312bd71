import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka, Producer } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { RiskError } from '../../lib/errors.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { buildRulesConfig } from '../../rules/engine/config.ts'
import type { HitUpdate } from '../../rules/engine/engine.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { hitMessages } from '../../rules/hits.ts'
import { RULES } from '../../rules/index.ts'
import { RISK_ALERT, SCORE_EVENT } from '../../schemas/contract.ts'
import type { ScoreChange } from '../../schemas/types.generated.ts'
import { tailAlerts } from '../../scoring/alerts-reader.ts'
import { stateKeyOf } from '../../scoring/changelog.ts'
import { applyHit, emptyMerchantState } from '../../scoring/model.ts'
import { ScoringStage } from '../../scoring/stage.ts'
import { SinkStage } from '../../sink/stage.ts'
import { openStore, type Store } from '../../store/client.ts'
import { readAll } from '../helpers/faults.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 20, 4)

const model = buildRulesConfig({}, RULES, 'test', ENTITY_RULES).scoring
const category = new Map<string, 'fraud' | 'compliance'>([...model.rules].map(([id, r]) => [id, r.category]))

function hitOf(acquirerId: string, merchantId: string, ruleId: string, at: number): HitUpdate {
  return {
    hitId: `${merchantId}:${ruleId}:${at}`,
    acquirerId,
    merchantId,
    ruleId,
    ruleVersion: 1,
    category: category.get(ruleId) ?? 'fraud',
    finding: {
      observed: 0.9,
      threshold: 0.3,
      windowStart: at - DAY,
      windowEnd: at,
      sampleTxnIds: [`${merchantId}-t1`, `${merchantId}-t2`],
      detail: `${ruleId}: 0.9 over 0.3`,
    },
    detectedAt: at,
    configHash: 'test',
  }
}

describe('scoring stage on the real broker', () => {
  let kafka: Kafka
  let dir: string
  let store: Store
  let producer: Producer
  let sink: SinkStage
  const codec = new EventCodec({})
  const prefix = uniqueName('score')
  const topics = {
    hits: `${prefix}.rule-hits`,
    state: `${prefix}.scoring-state`,
    scoreEvents: `${prefix}.score-events`,
    parked: `${prefix}.parked`,
  }
  /** Hit updates onto the hits topic, as the rules stages publish them. */
  const hits = {
    publish: async (h: readonly HitUpdate[]) => {
      await producer.send({ topic: topics.hits, acks: -1, messages: await hitMessages(codec, h) })
    },
  }
  const alertTopicOf = (acquirerId: string) => `${prefix}.alerts.${acquirerId}`
  /** The registry's answer: acq-a and acq-b are served, any other acquirer is not. */
  const servedTopicOf = (acquirerId: string) => {
    if (acquirerId !== 'acq-a' && acquirerId !== 'acq-b')
      throw new RiskError('RISK_ERR_UNKNOWN_ACQUIRER', `acquirer ${acquirerId} is not served`)
    return alertTopicOf(acquirerId)
  }
  const groupId = `${prefix}-scoring`
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn')
  let stage: ScoringStage | null = null

  async function startStage(): Promise<ScoringStage> {
    const s = new ScoringStage({
      kafka,
      codec,
      model: () => model,
      topics,
      alertTopicOf: servedTopicOf,
      // acq-b reads JSON, everyone else framed Avro.
      alertFormatOf: (a) => (a === 'acq-b' ? 'json' : 'avro'),
      groupId,
      logger,
      now: Date.now,
      sleep,
      retryInitialMs: 100,
      retryMaxMs: 1000,
      restoreTimeoutMs: 30_000,
    })
    await s.start()
    stage = s
    return s
  }

  /** Waits until the scoring group's committed offsets reach the end of the hits topic. */
  async function processed(): Promise<void> {
    const admin = kafka.admin()
    await admin.connect()
    try {
      await waitFor(
        async () => {
          const ends = await admin.fetchTopicOffsets(topics.hits)
          const [committed] = await admin.fetchOffsets({ groupId, topics: [topics.hits] })
          return ends.every((e) => {
            const offset = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1'
            // A partition never written has nothing to commit (-1, or -2 after a rewind to earliest).
            return BigInt(offset) >= BigInt(e.high) || (BigInt(offset) < 0n && e.high === e.low)
          })
        },
        async () =>
          `the scoring group did not reach the end of the hits topic: ends ${JSON.stringify(
            await admin.fetchTopicOffsets(topics.hits),
          )}, committed ${JSON.stringify(await admin.fetchOffsets({ groupId, topics: [topics.hits] }))}`,
        60_000,
      )
    } finally {
      await admin.disconnect()
    }
  }

  /** Every committed alert on a topic: read until the topic has been quiet for a while. */
  async function alertsOn(topic: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = []
    let last = Date.now()
    const stop = await tailAlerts(kafka, codec, topic, {
      fromBeginning: true,
      onAlert: (m) => {
        if (m.alert === null) throw new Error(`undecodable alert: ${m.problem}`)
        out.push(m.alert)
        last = Date.now()
      },
    })
    // Joining the group and the first fetch take a moment; then two quiet seconds mean the end.
    await sleep(1500)
    while (Date.now() - last < 2000) await sleep(200)
    await stop()
    return out
  }

  async function rows<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const rs = await store.client.query({ query, query_params: params, format: 'JSONEachRow' })
    return rs.json<T>()
  }

  /** Waits until the sink has stored every score event published so far. */
  async function sunk(scoreEvents: number): Promise<void> {
    await waitFor(
      async () => sink.stats.scoreEvents >= scoreEvents,
      () => `the sink stored ${sink.stats.scoreEvents} of ${scoreEvents} score events`,
    )
  }

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    dir = mkdtempSync(join(tmpdir(), 'scoring-test-'))
    store = await openStore({ database: 'scoring_test', chdbPath: join(dir, 'chdb') })
    await ensureTopics(
      kafka,
      [topics.hits, topics.scoreEvents, topics.parked, alertTopicOf('acq-a'), alertTopicOf('acq-b')],
      { partitions: 2, replicationFactor: 1 },
    )
    await ensureTopics(kafka, [topics.state], {
      partitions: 2,
      replicationFactor: 1,
      configEntries: { [topics.state]: [{ name: 'cleanup.policy', value: 'compact' }] },
    })
    producer = kafka.producer()
    await producer.connect()
    // The sink stores what scoring decides, as the service runs it beside the scoring stage.
    sink = new SinkStage({
      kafka,
      store,
      codec,
      topics: { ruleHits: topics.hits, scoreEvents: topics.scoreEvents },
      groupId: `${prefix}-sink`,
      concurrency: 2,
      maxPartSize: 500,
      logger,
      now: Date.now,
      sleep,
      retryInitialMs: 100,
      retryMaxMs: 1000,
    })
    await sink.start()
  })

  afterAll(async () => {
    await stage?.stop()
    await sink?.stop()
    await producer?.disconnect()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  // A cash-out merchant: structuring, repeated cards and a fixed swipe pause, each strong.
  const cashOut = [
    hitOf('acq-a', 'm-cash', 'structuring', T0),
    hitOf('acq-a', 'm-cash', 'repeated_card', T0 + 60_000),
    hitOf('acq-a', 'm-cash', 'swipe_gap', T0 + 120_000),
  ]
  // A car dealer: large, round, near-round, high tickets. One family (amount), all weak: no score.
  const dealer = [
    hitOf('acq-a', 'm-dealer', 'round_amount', T0),
    hitOf('acq-a', 'm-dealer', 'near_round_amount', T0 + 60_000),
    hitOf('acq-a', 'm-dealer', 'high_ticket', T0 + 120_000),
  ]
  // Another acquirer's merchant with a relocated terminal: a compliance alert and a mandatory case.
  const relocated = [hitOf('acq-b', 'm-b1', 'relocation', T0)]

  it('publishes one alert for the cash-out merchant on its acquirer topic, none for the look-alike, none across acquirers', async () => {
    const s = await startStage()
    await hits.publish([...cashOut, ...dealer, ...relocated])
    await processed()

    const a = await alertsOn(alertTopicOf('acq-a'))
    expect(a).toHaveLength(1)
    const alert = a[0]
    expect(alert?.merchant_id).toBe('m-cash')
    expect(alert?.acquirer_id).toBe('acq-a')
    expect(alert?.category).toBe('FRAUD')
    expect(alert?.level).toBe('CRITICAL')
    expect(alert?.score).toBe(100)
    expect(alert?.previous_level).toBeNull()
    const reasons = alert?.reasons
    if (!Array.isArray(reasons)) throw new Error('no reasons')
    // The alert is the moment of escalation: structuring and repeated cards already made 100.
    expect(reasons.map((r: { rule_id: string }) => r.rule_id).sort()).toEqual([
      'repeated_card',
      'structuring',
    ])
    expect(reasons[0]?.sample_txn_ids).toEqual(['m-cash-t1', 'm-cash-t2'])

    // acq-b's topic carries its own merchant's alert, in JSON, and nothing of acq-a.
    const b = await alertsOn(alertTopicOf('acq-b'))
    expect(b.map((x) => [x.merchant_id, x.category, x.level])).toEqual([['m-b1', 'COMPLIANCE', 'HIGH']])
    expect(s.stats.bad).toBe(0)

    // ClickHouse, through the sink: the alerts, the scores with their breakdown, the case regulation
    // asks for. Three merchants changed, one score event each.
    await sunk(3)
    expect(sink.stats.bad).toBe(0)
    const stored = await rows<{ alert_id: string; merchant_id: string; level: string; acquirer_id: string }>(
      'SELECT alert_id, merchant_id, level, acquirer_id FROM alerts FINAL ORDER BY acquirer_id',
      {},
    )
    expect(stored.map((r) => [r.acquirer_id, r.merchant_id, r.level])).toEqual([
      ['acq-a', 'm-cash', 'CRITICAL'],
      ['acq-b', 'm-b1', 'HIGH'],
    ])
    expect(stored[0]?.alert_id).toBe(alert?.alert_id)
    const scores = await rows<{
      merchant_id: string
      category: string
      score: number
      level: string
      breakdown: string
    }>(
      'SELECT merchant_id, category, score, level, breakdown FROM merchant_scores FINAL ORDER BY merchant_id, category',
      {},
    )
    const byMerchant = Object.fromEntries(scores.map((r) => [`${r.merchant_id}/${r.category}`, r]))
    expect(byMerchant['m-cash/fraud']?.score).toBe(100)
    expect(byMerchant['m-dealer/fraud']?.score).toBe(0)
    expect(byMerchant['m-dealer/fraud']?.level).toBe('LOW')
    const breakdown: { rule_id: string; counted: boolean }[] = JSON.parse(
      byMerchant['m-dealer/fraud']?.breakdown ?? '[]',
    )
    expect(breakdown.map((c) => c.counted)).toEqual([false, false, false])
    expect(byMerchant['m-b1/compliance']?.level).toBe('HIGH')
    const cases = await rows<{ merchant_id: string; status: string; opened_by: string }>(
      'SELECT merchant_id, status, opened_by FROM cases FINAL WHERE acquirer_id = {a:String}',
      { a: 'acq-b' },
    )
    expect(cases).toEqual([{ merchant_id: 'm-b1', status: 'open', opened_by: 'system' }])
  })

  it('publishes no duplicate after a restart that reads the same hits again', async () => {
    await stage?.stop()
    stage = null
    // The same hits again, as a restarted rules stage re-sends them, while the scorer is down.
    await hits.publish([...cashOut, ...dealer, ...relocated])
    const s = await startStage()
    await processed()
    expect(s.stats.restores).toBeGreaterThan(0)
    expect(s.merchantCount).toBeGreaterThanOrEqual(1)
    expect(await alertsOn(alertTopicOf('acq-a'))).toHaveLength(1)
    expect(await alertsOn(alertTopicOf('acq-b'))).toHaveLength(1)
  })

  it('publishes no duplicate when the group is rewound and every hit is processed again', async () => {
    await stage?.stop()
    stage = null
    const admin = kafka.admin()
    await admin.connect()
    await admin.resetOffsets({ groupId, topic: topics.hits, earliest: true })
    await admin.disconnect()
    const s = await startStage()
    await processed()
    expect(s.stats.hits).toBeGreaterThanOrEqual(14)
    expect(s.stats.alerts).toBe(0)
    expect(await alertsOn(alertTopicOf('acq-a'))).toHaveLength(1)
  })

  it('escalates again when the merchant rises, with the level it came from', async () => {
    // The dealer turns into something else: repeated cards on top of its amount pattern.
    await hits.publish([hitOf('acq-a', 'm-dealer', 'repeated_card', T0 + DAY)])
    await processed()
    const a = await alertsOn(alertTopicOf('acq-a'))
    expect(a.map((x) => x.merchant_id)).toEqual(['m-cash', 'm-dealer'])
    // 60 for repeated cards, plus the amount hits, now counted in combination (decayed one day).
    expect(a[1]?.level).toBe('CRITICAL')
    expect(a[1]?.previous_level).toBe('LOW')
  })

  it('parks the alert of an acquirer it does not serve, and goes on alerting for the others', async () => {
    const before = stage?.stats.parked ?? 0
    await hits.publish([
      hitOf('acq-zz', 'm-zz', 'structuring', T0 + 2 * DAY),
      hitOf('acq-zz', 'm-zz', 'repeated_card', T0 + 2 * DAY + 60_000),
      hitOf('acq-a', 'm-next', 'structuring', T0 + 2 * DAY),
      hitOf('acq-a', 'm-next', 'repeated_card', T0 + 2 * DAY + 60_000),
    ])
    await processed()
    const parked = await readAll(kafka, topics.parked, { atLeast: 1, quietMs: 1_500 })
    expect(parked).toHaveLength(1)
    const headers = parked[0]?.headers ?? {}
    expect(String(headers['x-parked-kind'])).toBe('alert')
    expect(String(headers['x-parked-error-code'])).toBe('RISK_ERR_UNKNOWN_ACQUIRER')
    const alert = await codec.decode(RISK_ALERT, parked[0]?.value ?? null)
    expect(alert.ok && alert.record.merchant_id).toBe('m-zz')
    expect((stage?.stats.parked ?? 0) - before).toBe(1)
    // The served acquirer's alert went out in the same part.
    const a = await alertsOn(alertTopicOf('acq-a'))
    expect(a.map((x) => x.merchant_id)).toContain('m-next')
    expect(stage?.ready).toBe(true)
  })
  it('takes over a changelog written by the previous version: a whole-state record keeps its hits', async () => {
    await stage?.stop()
    stage = null
    const at = T0 + 3 * DAY
    // A weak amount hit alone scores nothing; beside a weak hit of another family it makes HIGH.
    const [sent] = await producer.send({
      topic: topics.hits,
      acks: -1,
      messages: await hitMessages(codec, [hitOf('acq-a', 'm-upgrade', 'credit_debit_mix', at)]),
    })
    // What the previous version left in the changelog partition of that hit: the whole state, hits
    // included, under the merchant's key.
    const legacy = emptyMerchantState('acq-a', 'm-upgrade')
    const old = hitOf('acq-a', 'm-upgrade', 'round_amount', at - 3_600_000)
    applyHit(model, legacy, { ...old, ...old.finding })
    expect(legacy.fraud.level).toBe('LOW')
    await producer.send({
      topic: topics.state,
      acks: -1,
      messages: [
        {
          key: stateKeyOf('acq-a', 'm-upgrade'),
          partition: sent?.partition,
          // That version kept the hits as an object by id, which is how it wrote them.
          value: Buffer.from(JSON.stringify({ ...legacy, hits: Object.fromEntries(legacy.hits) }), 'utf8'),
        },
      ],
    })
    const first = await startStage()
    await processed()
    const alert = (await alertsOn(alertTopicOf('acq-a'))).find((x) => x.merchant_id === 'm-upgrade')
    expect(alert?.level).toBe('HIGH')
    // The merchant's next change moved its hits to records of their own, beside a head without hits.
    const records = await readAll(kafka, topics.state, { atLeast: 1, quietMs: 1_500 })
    const ofMerchant = records.filter((m) =>
      m.key?.toString('utf8').startsWith(stateKeyOf('acq-a', 'm-upgrade')),
    )
    const head = ofMerchant.at(-1)
    expect(head?.key?.toString('utf8')).toBe(stateKeyOf('acq-a', 'm-upgrade'))
    expect(JSON.parse(String(head?.value))).not.toHaveProperty('hits')
    expect(
      ofMerchant
        .filter((m) => m.value !== null && !('acquirerId' in JSON.parse(String(m.value))))
        .map((m) => JSON.parse(String(m.value)).ruleId)
        .sort(),
    ).toEqual(['credit_debit_mix', 'round_amount'])
    // A restart restores both hits from those records: the next hit scores beside both.
    await first.stop()
    stage = null
    await hits.publish([hitOf('acq-a', 'm-upgrade', 'credit_debit_mix', at + 60_000)])
    const second = await startStage()
    await processed()
    expect(second.stats.alerts).toBe(0)
    const events = await readAll(kafka, topics.scoreEvents, { atLeast: 1, quietMs: 1_500 })
    const fraud: ScoreChange[] = []
    for (const m of events) {
      const d = await codec.decodeInternal(SCORE_EVENT, m.value)
      if (d.ok && d.record.merchant_id === 'm-upgrade')
        fraud.push(...d.record.scores.filter((c) => c.category === 'fraud'))
    }
    const latest = fraud.at(-1)
    expect([latest?.level, latest?.hit_count]).toEqual(['HIGH', 3])
  })
})

describe('scores decay on the partition clock', () => {
  let kafka: Kafka
  const codec = new EventCodec({})
  const prefix = uniqueName('decay')
  const hitsTopic = `${prefix}.rule-hits`
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn')
  const H = 3_600_000

  /**
   * A stage reading the hits topic from the start with a group, changelog and outputs of its own; it
   * returns with the fraud scores of m-decay it published, in order.
   */
  async function run(name: string): Promise<{ stage: ScoringStage; scores: ScoreChange[] }> {
    const own = {
      hits: hitsTopic,
      state: `${prefix}.${name}.state`,
      scoreEvents: `${prefix}.${name}.score-events`,
      parked: `${prefix}.${name}.parked`,
    }
    const alerts = `${prefix}.${name}.alerts`
    await ensureTopics(kafka, [own.scoreEvents, own.parked, alerts], { partitions: 1, replicationFactor: 1 })
    await ensureTopics(kafka, [own.state], {
      partitions: 1,
      replicationFactor: 1,
      configEntries: { [own.state]: [{ name: 'cleanup.policy', value: 'compact' }] },
    })
    const s = new ScoringStage({
      kafka,
      codec,
      model: () => model,
      topics: own,
      alertTopicOf: () => alerts,
      alertFormatOf: () => 'json',
      groupId: `${prefix}-${name}`,
      // A hit per part: the score of every step is published (a part publishes a merchant's latest).
      maxPartSize: 1,
      logger,
      now: Date.now,
      sleep,
      retryInitialMs: 100,
      retryMaxMs: 1000,
      restoreTimeoutMs: 30_000,
    })
    await s.start()
    try {
      await waitFor(
        async () => s.stats.hits >= 11,
        () => `${name} read ${s.stats.hits} hits`,
        60_000,
      )
    } finally {
      await s.stop()
    }
    const scores: ScoreChange[] = []
    for (const m of await readAll(kafka, own.scoreEvents, { atLeast: 1, quietMs: 1_500 })) {
      const d = await codec.decodeInternal(SCORE_EVENT, m.value)
      if (!d.ok) throw new Error(`undecodable score event: ${d.error.message}`)
      if (d.record.merchant_id !== 'm-decay') continue
      scores.push(...d.record.scores.filter((c) => c.category === 'fraud'))
    }
    return { stage: s, scores }
  }

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    // One partition: both merchants' hits move one clock.
    await ensureTopics(kafka, [hitsTopic], { partitions: 1, replicationFactor: 1 })
    const producer = kafka.producer()
    await producer.connect()
    // m-decay goes HIGH on repeated cards; then only another merchant's hits come, a day apart.
    await producer.send({
      topic: hitsTopic,
      acks: -1,
      messages: await hitMessages(codec, [
        hitOf('acq-a', 'm-decay', 'repeated_card', T0),
        ...Array.from({ length: 10 }, (_, d) =>
          hitOf('acq-a', 'm-clock', 'round_amount', T0 + (d + 1) * DAY),
        ),
      ]),
    })
    await producer.disconnect()
  })

  it('brings a merchant flagged HIGH down to LOW after its half-life with no hit of its own, and a replay publishes the same scores', async () => {
    const first = await run('first')
    const scores = first.scores
    expect(scores[0]).toMatchObject({ score: 60, level: 'HIGH' })
    // Velocity points halve every 7 days: ten days later it is LOW, through MEDIUM, all by the clock.
    expect(scores.at(-1)).toMatchObject({ score: Math.round(60 * 2 ** (-10 / 7)), level: 'LOW' })
    expect(scores.map((r) => r.level)).toContain('MEDIUM')
    // Decay passes fall on whole hours of event time.
    for (const r of scores.slice(1)) expect(r.scored_at % H).toBe(0)
    expect(first.stage.stats.alerts).toBe(1)

    // A second group replays the same hits from scratch: the same scores, nothing added.
    const second = await run('second')
    expect(second.scores).toEqual(scores)
    expect(second.stage.stats.alerts).toBe(1)
  }, 180_000)
})
