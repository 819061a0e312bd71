/**
 * The hostile-input suite, pipeline half (issue 16): the findings of the review replayed against the
 * running service on the real broker and chDB, from outside, as an attacker would: a producer writing
 * to the input topics and an admin client of the API. The API half is hostile-api.test.ts.
 */
import type { KafkaMessage } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { createApiKey } from '../../dashboard-api/repositories/api-keys.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { DLQ_HEADERS } from '../../kafka/dlq.ts'
import { maskCardNumbers } from '../../lib/luhn.ts'
import { MERCHANT_EVENT, RISK_ALERT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import type { MerchantEvent, TerminalTransaction } from '../../schemas/types.generated.ts'
import { DISGUISES, pansIn } from '../helpers/card-disguises.ts'
import { merchantEvent, txn } from '../helpers/events.ts'
import {
  type Deployment,
  deployment,
  expectedAlerts,
  expectOneAlertPerSituation,
  faultTraffic,
  type InProcess,
  pipelineGroups,
  produceTransactions,
  readAll,
  readyz,
  serviceEnv,
  startInProcess,
  tallyAlerts,
  waitDrained,
} from '../helpers/faults.ts'
import { scratch } from '../helpers/faults-scenarios.ts'
import { testKafka, topicsUnder, uniqueName } from '../helpers/kafka.ts'

/** The texts a Kafka message carries: its value (as UTF-8), key, and header names and values. */
function textsOf(m: KafkaMessage): string[] {
  const out = [m.value?.toString('utf8') ?? '', m.key?.toString('utf8') ?? '']
  for (const [name, v] of Object.entries(m.headers ?? {})) {
    out.push(name)
    for (const x of Array.isArray(v) ? v : [v]) if (x !== undefined) out.push(x.toString())
  }
  return out
}

describe('hostile input against the running service', () => {
  const brokers = inject('kafkaBrokers')
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('hostile-')
  let d: Deployment
  let run: InProcess
  let api = ''
  let admin: Record<string, string> = {}
  /** Messages dead-lettered from the transactions topic so far, by every test. */
  let deadSoFar = 0
  /** Of which for an unknown acquirer. */
  let unknownSoFar = 0

  beforeAll(async () => {
    d = deployment(uniqueName('hostile'))
    run = await startInProcess(
      serviceEnv(d, brokers, `${work.dir}/chdb`, {
        ACQUIRERS: 'acq-a',
        KAFKA_TOPIC_PARTITIONS: '2',
        API_HOST: '127.0.0.1',
      }),
    )
    api = run.service.api?.address ?? ''
    const key = await createApiKey(
      run.service.store,
      { name: 'hostile-admin', role: 'admin', scope: '*', createdBy: 'test' },
      Date.now(),
    )
    admin = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' }
  })

  afterAll(async () => {
    await run?.service.stop()
    work.remove()
  })

  async function register(acquirerId: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`${api}/v1/acquirers`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ acquirer_id: acquirerId }),
    })
    return { status: res.status, body: await res.text() }
  }

  /**
   * The transactions' dead letters of `code`, once the `added` this test expects are all there
   * (partitions interleave, so they are told apart by their reason, not their position).
   */
  async function deadLetters(code: string, added: number): Promise<KafkaMessage[]> {
    deadSoFar += added
    const all = await readAll(kafka, `${d.transactions}.dlq`, { atLeast: deadSoFar })
    expect(all).toHaveLength(deadSoFar)
    return all.filter((m) => String(m.headers?.[DLQ_HEADERS.code]) === code)
  }

  async function drained(): Promise<void> {
    await waitDrained(kafka, pipelineGroups(d), 180_000, () =>
      JSON.stringify(run.service.ingest?.lastFailure?.toLog() ?? null),
    )
  }

  it('refuses an acquirer whose alert topic would collide; its events go to the DLQ while the others alert', async () => {
    const before = await topicsUnder(kafka, d.prefix)
    const zz = await register('acq_zz')
    expect(zz.status).toBe(201)
    expect(JSON.parse(zz.body)).toMatchObject({ alert_topic: `${d.prefix}.alerts.acq_zz` })
    const colliding = await register('acq.zz')
    expect(colliding.status).toBe(409)
    expect(colliding.body).toContain(`${d.prefix}.alerts.acq_zz`)
    expect(await topicsUnder(kafka, d.prefix)).toEqual([...before, `${d.prefix}.alerts.acq_zz`].sort())

    // Card testing at a merchant of each known acquirer, and the same from the refused id.
    const good = faultTraffic({
      runId: uniqueName('ok'),
      acquirers: ['acq-a', 'acq_zz'],
      shops: 4,
      perShop: 10,
      testers: 2,
    })
    const hostile = faultTraffic({
      runId: uniqueName('zz'),
      acquirers: ['acq.zz'],
      shops: 1,
      perShop: 10,
      testers: 1,
    })
    await produceTransactions(kafka, codec, d.transactions, [...hostile.events, ...good.events])
    await drained()

    const dead = await deadLetters('RISK_ERR_UNKNOWN_ACQUIRER', hostile.events.length)
    unknownSoFar += hostile.events.length
    expect(dead).toHaveLength(unknownSoFar)
    for (const m of dead) {
      expect(String(m.headers?.[DLQ_HEADERS.code])).toBe('RISK_ERR_UNKNOWN_ACQUIRER')
      expect(String(m.headers?.[DLQ_HEADERS.field])).toBe('acquirer_id')
    }
    const alerts = await tallyAlerts(kafka, codec, d, ['acq-a', 'acq_zz'], expectedAlerts(good.testers))
    expectOneAlertPerSituation(alerts, good.testers)
    expect(await readyz(api)).toMatchObject({ code: 200 })
    expect(await topicsUnder(kafka, d.prefix)).toEqual([...before, `${d.prefix}.alerts.acq_zz`].sort())

    const listed = JSON.parse(await (await fetch(`${api}/v1/acquirers`, { headers: admin })).text())
    expect(
      listed.items.map((a: { acquirer_id: string; source: string }) => `${a.acquirer_id}:${a.source}`),
    ).toEqual(['acq-a:configured', 'acq_zz:registered'])
  })

  it('creates no topic for a flood of 1,000 invented acquirers, each card testing, and keeps alerting', async () => {
    const before = await topicsUnder(kafka, d.prefix)
    const invented = Array.from({ length: 1000 }, (_, i) => `inv-${i}`)
    const flood = faultTraffic({
      runId: uniqueName('inv'),
      acquirers: invented,
      shops: 0,
      perShop: 0,
      testers: 1000,
    })
    const after = faultTraffic({
      runId: uniqueName('af'),
      acquirers: ['acq-a'],
      shops: 0,
      perShop: 0,
      testers: 1,
    })
    const late = after.events.map((t) => ({ ...t, merchant_id: `after-flood-${t.merchant_id}` }))
    await produceTransactions(kafka, codec, d.transactions, [...flood.events, ...late])
    await drained()

    // Every invented acquirer's event, besides those of the refused id in the test before.
    const dead = await deadLetters('RISK_ERR_UNKNOWN_ACQUIRER', flood.events.length)
    unknownSoFar += flood.events.length
    expect(dead).toHaveLength(unknownSoFar)
    expect(await topicsUnder(kafka, d.prefix)).toEqual(before)
    expect(await readyz(api)).toMatchObject({ code: 200 })
    const alerts = await readAll(kafka, d.alertsOf('acq-a'), { atLeast: 2 })
    const merchants = await Promise.all(
      alerts.map(async (m) => {
        const decoded = await codec.decode(RISK_ALERT, m.value)
        return decoded.ok ? String(decoded.record.merchant_id) : 'undecodable'
      }),
    )
    expect(merchants).toContain('after-flood-tester-0')
    const rows = await run.service.store.client.query({
      query: `SELECT toFloat64(count()) AS n FROM {db:Identifier}.transactions WHERE startsWith(acquirer_id, 'inv-')`,
      query_params: { db: run.service.store.database },
      format: 'JSONEachRow',
    })
    expect(await rows.json()).toEqual([{ n: 0 }])
  })

  it('lets no card number in, in any disguise, in any field, key or header, and none comes out anywhere', async () => {
    const messages: { key: string; value: Buffer; headers?: Record<string, string>; field: string }[] = []
    const txnFields = Object.entries(txn({ acquirer_id: 'acq-a' }))
      .filter(([, v]) => typeof v === 'string')
      .map(([k]) => k)
    const eventFields = [
      'event_id',
      'acquirer_id',
      'merchant_id',
      'terminal_id',
      'kind',
      'registered_mcc',
      'merchant_name',
      'settlement_account_token',
    ]
    const asAvro = (field: string) =>
      ![
        'card_type',
        'txn_type',
        'entry_mode',
        'kind',
        'currency',
        'mcc',
        'response_code',
        'card_bin',
        'registered_mcc',
      ].includes(field)
    const eventMessages: typeof messages = []
    for (const { text } of DISGUISES) {
      for (const field of txnFields) {
        const t: TerminalTransaction = { ...txn({ acquirer_id: 'acq-a' }), [field]: text }
        messages.push({ key: 'm-1', value: Buffer.from(JSON.stringify(t)), field })
        if (asAvro(field))
          messages.push({ key: 'm-1', value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'), field })
      }
      for (const field of eventFields) {
        const e: MerchantEvent = { ...merchantEvent({ acquirer_id: 'acq-a' }), [field]: text }
        eventMessages.push({ key: 'm-1', value: Buffer.from(JSON.stringify(e)), field })
        if (asAvro(field))
          eventMessages.push({ key: 'm-1', value: await codec.encode(MERCHANT_EVENT, e, 'avro'), field })
      }
      const clean = await codec.encode(TERMINAL_TRANSACTION, txn({ acquirer_id: 'acq-a' }), 'avro')
      messages.push({ key: text, value: clean, field: 'kafka.key' })
      messages.push({ key: 'm-1', value: clean, headers: { 'x-note': text }, field: 'kafka.headers.x-note' })
      messages.push({ key: 'm-1', value: clean, headers: { [text]: 'x' }, field: `kafka.headers.${text}` })
    }
    const producer = kafka.producer()
    await producer.connect()
    try {
      for (const [topic, list] of [
        [d.transactions, messages],
        [d.merchantEvents, eventMessages],
      ] as const) {
        for (let i = 0; i < list.length; i += 200)
          await producer.send({
            topic,
            acks: -1,
            messages: list
              .slice(i, i + 200)
              .map((m) => ({ key: m.key, value: m.value, headers: m.headers ?? {} })),
          })
      }
    } finally {
      await producer.disconnect()
    }
    await drained()

    // Each one dead-lettered, for a card number in the field it was in (named masked, never quoted).
    const dead = await deadLetters('RISK_ERR_RAW_CARD_NUMBER', messages.length)
    expect(dead).toHaveLength(messages.length)
    const deadEvents = await readAll(kafka, `${d.merchantEvents}.dlq`, { atLeast: eventMessages.length })
    expect(deadEvents).toHaveLength(eventMessages.length)
    const fields = (list: KafkaMessage[]) => list.map((m) => String(m.headers?.[DLQ_HEADERS.field])).sort()
    expect(new Set(deadEvents.map((m) => String(m.headers?.[DLQ_HEADERS.code])))).toEqual(
      new Set(['RISK_ERR_RAW_CARD_NUMBER']),
    )
    expect(new Set(fields(dead))).toEqual(new Set(messages.map((m) => maskCardNumbers(m.field))))
    expect(new Set(fields(deadEvents))).toEqual(new Set(eventMessages.map((m) => m.field)))

    // Read back everything the service wrote: no PAN anywhere, in any form.
    const leaks: string[] = []
    const check = (where: string, text: string) => {
      for (const pan of pansIn(text)) leaks.push(`${where}: ${pan}`)
    }
    for (const m of [...dead, ...deadEvents]) for (const t of textsOf(m)) check('dlq', t)
    for (const topic of [
      d.entityActivity,
      d.ruleHits,
      d.scoringState,
      d.alertsOf('acq-a'),
      d.alertsOf('acq_zz'),
    ]) {
      const all = await readAll(kafka, topic, { atLeast: 0, quietMs: 2_000 })
      for (const m of all) for (const t of textsOf(m)) check(topic, t)
      for (const m of topic.includes('.alerts.') ? all : []) {
        const decoded = await codec.decode(RISK_ALERT, m.value)
        check(topic, JSON.stringify(decoded.ok ? decoded.record : decoded.error.message))
      }
    }
    for (const line of run.lines()) check('log', JSON.stringify(line))
    const store = run.service.store
    const tables = await (
      await store.client.query({
        query: `SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT IN ('MaterializedView', 'View')`,
        query_params: { db: store.database },
        format: 'JSONEachRow',
      })
    ).json<{ name: string }>()
    expect(tables.length).toBeGreaterThan(10)
    for (const { name } of tables) {
      const rs = await store.client.query({
        query: 'SELECT * FROM {db:Identifier}.{t:Identifier}',
        query_params: { db: store.database, t: name },
        format: 'JSONEachRow',
      })
      for (const row of await rs.json<Record<string, unknown>>())
        check(`clickhouse ${name}`, JSON.stringify(row))
    }
    expect(leaks).toEqual([])
    expect(await readyz(api)).toMatchObject({ code: 200 })
  })
})
