/**
 * Building blocks of the fault suite (test/faults/ in full, test/integration/faults-*.test.ts reduced):
 * the service run in this process or as its own `node app/main.ts`, traffic that makes alerts happen,
 * and exact accounting of what reached ClickHouse and the alert topics. Faults are injected from the
 * outside only: a signal to the process, the broker stopped, the store's client wrapped.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import type { Kafka, KafkaMessage } from 'kafkajs'
import { expect } from 'vitest'
import { startService } from '../../app/service.ts'
import { loadConfig } from '../../config/load.ts'
import type { EventCodec } from '../../kafka/codec.ts'
import { createLogger, type Logger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { RISK_ALERT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import type { TerminalTransaction } from '../../schemas/types.generated.ts'
import type { Store } from '../../store/client.ts'

const root = new URL('../..', import.meta.url).pathname

// ---------------------------------------------------------------------------------------------------
// The service under test
// ---------------------------------------------------------------------------------------------------

/** Topic and group names of one service deployment, unique per test. */
export interface Deployment {
  prefix: string
  group: string
  transactions: string
  merchantEvents: string
  entityActivity: string
  ruleHits: string
  scoringState: string
  scoreEvents: string
  parked: string
  alertsOf: (acquirerId: string) => string
}

export function deployment(prefix: string): Deployment {
  return {
    prefix,
    group: `${prefix}-group`,
    transactions: `${prefix}.transactions`,
    merchantEvents: `${prefix}.merchant-events`,
    entityActivity: `${prefix}.entity-activity`,
    ruleHits: `${prefix}.rule-hits`,
    scoringState: `${prefix}.scoring-state`,
    scoreEvents: `${prefix}.score-events`,
    parked: `${prefix}.parked`,
    alertsOf: (acquirerId) => `${prefix}.alerts.${acquirerId}`,
  }
}

/** The environment of a service of deployment `d` on `brokers`, its store in `chdbPath`. */
export function serviceEnv(
  d: Deployment,
  brokers: string,
  chdbPath: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers,
    KAFKA_GROUP_ID: d.group,
    KAFKA_TOPIC_PARTITIONS: '4',
    TOPIC_TRANSACTIONS: d.transactions,
    TOPIC_MERCHANT_EVENTS: d.merchantEvents,
    TOPIC_ENTITY_ACTIVITY: d.entityActivity,
    TOPIC_RULE_HITS: d.ruleHits,
    TOPIC_SCORING_STATE: d.scoringState,
    TOPIC_SCORE_EVENTS: d.scoreEvents,
    TOPIC_PARKED: d.parked,
    ALERTS_TOPIC_PATTERN: `${d.prefix}.alerts.{acquirer}`,
    // The acquirers of faultTraffic (faults-scenarios.ts); the hostile-input suite adds its own.
    ACQUIRERS: 'acq-a,acq-b',
    CHDB_PATH: chdbPath,
    SIMULATOR: 'off',
    API_PORT: '0',
    // Short back-off so a fault's end is noticed quickly; the outage test sets its own.
    INGEST_RETRY_INITIAL_MS: '100',
    INGEST_RETRY_MAX_MS: '2000',
    // Peer cohorts are recomputed from what is stored at start-up and on a timer, so a restart would
    // change what the relative rules compare with; the fault tests compare runs event for event, so
    // cohorts stay below their floor and the rules on their absolute thresholds.
    RULES_MIN_COHORT: '1000000',
    LOG_LEVEL: 'info',
    ...extra,
  }
}

export interface InProcess {
  service: Awaited<ReturnType<typeof startService>>
  /** Every log line so far, parsed. */
  lines: () => Record<string, unknown>[]
}

/** Starts the service in this process, as app/main.ts would, with its log kept in memory. */
export async function startInProcess(env: Record<string, string>): Promise<InProcess> {
  const config = loadConfig({ env: { PATH: process.env.PATH ?? '', ...env } })
  const raw: string[] = []
  const logger: Logger = createLogger(config.log.level, {
    write: (s: string) => {
      raw.push(s)
    },
  })
  const service = await startService(config, { logger, now: Date.now, sleep })
  return { service, lines: () => parseLines(raw.join('')) }
}

export interface Spawned {
  child: ChildProcess
  lines: () => Record<string, unknown>[]
  stderr: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Runs the real entry point, `node app/main.ts`, as npm start would (see service.test.ts). */
export function spawnMain(env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', 'app/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  )
  return { child, lines: () => parseLines(out), stderr: () => err, exited }
}

function parseLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue
    try {
      out.push(JSON.parse(l))
    } catch {
      // A line cut by the kill: not a log record.
    }
  }
  return out
}

export async function waitForLine(
  run: { lines: () => Record<string, unknown>[]; stderr?: () => string },
  msg: string,
  timeoutMs = 120_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = run.lines().find((l) => l.msg === msg)
    if (found !== undefined) return found
    await sleep(200)
  }
  throw new Error(
    `no "${msg}" log line; stderr: ${run.stderr?.() ?? ''}; last lines: ${JSON.stringify(run.lines().slice(-5))}`,
  )
}

/** A free TCP port on loopback, for a broker that must come back on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

// ---------------------------------------------------------------------------------------------------
// Traffic
// ---------------------------------------------------------------------------------------------------

export interface Situation {
  acquirerId: string
  merchantId: string
}

export interface Traffic {
  /** In production order: every merchant's events spread evenly over the whole stream. */
  events: TerminalTransaction[]
  /** Card-testing merchants: each must get exactly one alert. */
  testers: Situation[]
}

const BINS = ['622202', '621700', '436742', '518710', '625800', '622848']

/**
 * Ordinary shops plus card-testing merchants (30 attempts on 30 cards in one local day, every other one
 * declined: decline_ratio, a strong rule, so HIGH and one alert, as in service.test.ts's end-to-end
 * test). Ordinary shops stay quiet on purpose: fresh cards, mixed debit and credit, varied BINs, amounts
 * with cents, daytime. Each merchant's events are spread over the whole stream, so a fault at any moment
 * splits every card-testing burst.
 */
export function faultTraffic(opts: {
  runId: string
  acquirers: readonly string[]
  shops: number
  perShop: number
  testers: number
  day?: number
}): Traffic {
  const day = opts.day ?? Date.UTC(2026, 10, 20, 1, 0, 0)
  const placed: { at: number; txn: TerminalTransaction }[] = []
  const acquirerOf = (i: number) => opts.acquirers[i % opts.acquirers.length] ?? 'acq-a'
  for (let m = 0; m < opts.shops; m++) {
    for (let i = 0; i < opts.perShop; i++) {
      const raw = 1_500 + ((m * 7_919 + i * 104_729) % 250_000)
      placed.push({
        at: (i + 0.5) / opts.perShop + m * 1e-9,
        txn: {
          txn_id: `${opts.runId}-s${m}-${i}`,
          event_time: day + (i % 600) * 60_000 + m * 1_000,
          acquirer_id: acquirerOf(m),
          merchant_id: `shop-${m}`,
          terminal_id: `ts-${m}`,
          card_token: `c-${opts.runId}-m${m}n${i}`,
          card_bin: BINS[(m + i) % BINS.length] ?? '622202',
          card_type: i % 3 === 0 ? 'DEBIT' : 'CREDIT',
          txn_type: 'PURCHASE',
          amount_minor: raw % 100 === 0 ? raw + 37 : raw,
          currency: 'CNY',
          mcc: '5411',
          entry_mode: 'CHIP',
          response_code: '00',
          latitude: 31.23,
          longitude: 121.47,
        },
      })
    }
  }
  const testers: Situation[] = []
  const attempts = 30
  for (let k = 0; k < opts.testers; k++) {
    const acquirerId = acquirerOf(k)
    const merchantId = `tester-${k}`
    testers.push({ acquirerId, merchantId })
    for (let i = 0; i < attempts; i++) {
      placed.push({
        at: (i + 0.5) / attempts + k * 1e-9 + 1e-12,
        txn: {
          txn_id: `${opts.runId}-t${k}-${i}`,
          event_time: day + 3_600_000 + i * 60_000 + k * 1_000,
          acquirer_id: acquirerId,
          merchant_id: merchantId,
          terminal_id: `tt-${k}`,
          card_token: `x-${opts.runId}-k${k}n${i}`,
          card_bin: BINS[i % BINS.length] ?? '622202',
          card_type: i % 3 === 0 ? 'DEBIT' : 'CREDIT',
          txn_type: 'PURCHASE',
          amount_minor: 1_000 + i * 113,
          currency: 'CNY',
          mcc: '5411',
          entry_mode: 'CHIP',
          response_code: i % 2 === 0 ? '05' : '00',
          latitude: 31.23,
          longitude: 121.47,
        },
      })
    }
  }
  placed.sort((a, b) => a.at - b.at)
  return { events: placed.map((p) => p.txn), testers }
}

/** Produces transactions as framed Avro keyed by merchant, in chunks; `pauseMs` between chunks. */
export async function produceTransactions(
  kafka: Kafka,
  codec: EventCodec,
  topic: string,
  events: readonly TerminalTransaction[],
  opts: { chunk?: number; pauseMs?: number; shouldStop?: () => boolean } = {},
): Promise<number> {
  const chunk = opts.chunk ?? 500
  const producer = kafka.producer()
  await producer.connect()
  let sent = 0
  try {
    for (let i = 0; i < events.length; i += chunk) {
      if (opts.shouldStop?.() === true) break
      const part = events.slice(i, i + chunk)
      await producer.send({
        topic,
        acks: -1,
        messages: await Promise.all(
          part.map(async (t) => ({
            key: t.merchant_id,
            value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
          })),
        ),
      })
      sent += part.length
      if (opts.pauseMs !== undefined && opts.pauseMs > 0) await sleep(opts.pauseMs)
    }
  } finally {
    await producer.disconnect()
  }
  return sent
}

// ---------------------------------------------------------------------------------------------------
// Kafka accounting
// ---------------------------------------------------------------------------------------------------

export interface GroupTopics {
  groupId: string
  topics: readonly string[]
}

/** The groups of a deployment's pipeline and the topics each consumes. */
export function pipelineGroups(d: Deployment): GroupTopics[] {
  return [
    { groupId: d.group, topics: [d.transactions, d.merchantEvents] },
    { groupId: `${d.group}.rules`, topics: [d.transactions, d.merchantEvents] },
    { groupId: `${d.group}.entities`, topics: [d.entityActivity] },
    { groupId: `${d.group}.scoring`, topics: [d.ruleHits] },
    { groupId: `${d.group}.sink`, topics: [d.ruleHits, d.scoreEvents] },
  ]
}

/** Messages not yet committed by each group, summed over its topics' partitions. */
export async function groupLag(
  kafka: Kafka,
  groups: readonly GroupTopics[],
): Promise<Record<string, number>> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const out: Record<string, number> = {}
    for (const g of groups) {
      let lag = 0
      const committed = await admin.fetchOffsets({ groupId: g.groupId, topics: [...g.topics] })
      for (const topic of g.topics) {
        const ends = await admin.fetchTopicOffsets(topic)
        const mine = committed.find((c) => c.topic === topic)
        for (const end of ends) {
          const at = mine?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1'
          const done = at === '-1' ? BigInt(end.low) : BigInt(at)
          const left = BigInt(end.high) - done
          if (left > 0n) lag += Number(left)
        }
      }
      out[g.groupId] = lag
    }
    return out
  } finally {
    await admin.disconnect()
  }
}

/**
 * Waits until every group of the pipeline has committed everything in its topics, twice in a row (a
 * stage downstream may still be producing what the next one reads).
 */
export async function waitDrained(
  kafka: Kafka,
  groups: readonly GroupTopics[],
  timeoutMs: number,
  describe: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let clean = 0
  let last: Record<string, number> = {}
  while (Date.now() < deadline) {
    try {
      last = await groupLag(kafka, groups)
      clean = Object.values(last).every((n) => n === 0) ? clean + 1 : 0
      if (clean >= 2) return
    } catch {
      // The broker may be coming back; the next round asks again.
      clean = 0
    }
    await sleep(1_000)
  }
  throw new Error(`pipeline not drained: lag ${JSON.stringify(last)}; ${describe()}`)
}

/** Sum of the committed offsets of `groupId` on `topic` (how many messages it has fully handled). */
export async function committedCount(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] })
    let n = 0
    for (const p of offsets?.partitions ?? []) if (p.offset !== '-1') n += Number(p.offset)
    return n
  } finally {
    await admin.disconnect()
  }
}

/**
 * Every message of a topic (read_committed, so aborted transactions are not shown), read until at least
 * `atLeast` arrived and then nothing more for `quietMs`: a duplicate arriving late is still caught.
 * A topic that does not exist reads as empty.
 */
export async function readAll(
  kafka: Kafka,
  topic: string,
  opts: { atLeast: number; quietMs?: number; timeoutMs?: number },
): Promise<KafkaMessage[]> {
  const admin = kafka.admin()
  await admin.connect()
  const exists = (await admin.listTopics()).includes(topic)
  await admin.disconnect()
  if (!exists) {
    if (opts.atLeast > 0) throw new Error(`topic ${topic} does not exist`)
    return []
  }
  const quietMs = opts.quietMs ?? 4_000
  const consumer = kafka.consumer({
    groupId: `reader-${topic}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    readUncommitted: false,
    maxWaitTimeInMs: 200,
  })
  const out: KafkaMessage[] = []
  let lastAt = Date.now()
  let joined = false
  consumer.on(consumer.events.GROUP_JOIN, () => {
    joined = true
    lastAt = Date.now()
  })
  try {
    await consumer.connect()
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ message }) => {
        out.push(message)
        lastAt = Date.now()
      },
    })
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
    while (Date.now() < deadline) {
      if (joined && out.length >= opts.atLeast && Date.now() - lastAt >= quietMs) return out
      await sleep(200)
    }
    throw new Error(`read ${out.length} of at least ${opts.atLeast} messages from ${topic}`)
  } finally {
    await consumer.disconnect()
  }
}

export interface AlertTally {
  /** How many times each alert_id was published. */
  perId: Map<string, number>
  /** alert_id → "acquirer/merchant/category/level". */
  situation: Map<string, string>
}

/** The alerts of every acquirer topic of a deployment, counted per alert_id. */
export async function tallyAlerts(
  kafka: Kafka,
  codec: EventCodec,
  d: Deployment,
  acquirers: readonly string[],
  expected: Readonly<Record<string, number>>,
): Promise<AlertTally> {
  const perId = new Map<string, number>()
  const situation = new Map<string, string>()
  for (const acquirerId of acquirers) {
    const messages = await readAll(kafka, d.alertsOf(acquirerId), { atLeast: expected[acquirerId] ?? 0 })
    for (const m of messages) {
      const decoded = await codec.decode(RISK_ALERT, m.value)
      if (!decoded.ok) throw decoded.error
      const a = decoded.record
      const id = String(a.alert_id)
      perId.set(id, (perId.get(id) ?? 0) + 1)
      situation.set(
        id,
        `${String(a.acquirer_id)}/${String(a.merchant_id)}/${String(a.category)}/${String(a.level)}`,
      )
    }
  }
  return { perId, situation }
}

/** Alerts expected per acquirer topic: one per card-testing merchant. */
export function expectedAlerts(testers: readonly Situation[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const t of testers) out[t.acquirerId] = (out[t.acquirerId] ?? 0) + 1
  return out
}

/** Asserts one alert per card-testing merchant, none for anybody else, and none published twice. */
export function expectOneAlertPerSituation(tally: AlertTally, testers: readonly Situation[]): void {
  const twice = [...tally.perId].filter(([, n]) => n !== 1)
  expect(twice).toEqual([])
  expect([...tally.situation.values()].sort()).toEqual(
    testers.map((t) => `${t.acquirerId}/${t.merchantId}/FRAUD/HIGH`).sort(),
  )
}

// ---------------------------------------------------------------------------------------------------
// ClickHouse accounting
// ---------------------------------------------------------------------------------------------------

export interface StoreFacts {
  /** Rows per txn_id in the raw table (not FINAL: a duplicate not yet merged away must show). */
  rowsPerId: Map<string, number>
  /** merchant_daily_v, one line per acquirer, merchant, local day and currency. */
  daily: string[]
  /** merchant_scores FINAL without the wall-clock column. */
  scores: string[]
}

/** What the store holds of one run: every query is parameterised, tables qualified by the database. */
export async function storeFacts(store: Store): Promise<StoreFacts> {
  const db = store.database
  const ids = await (
    await store.client.query({
      query: 'SELECT txn_id, toFloat64(count()) AS n FROM {db:Identifier}.transactions GROUP BY txn_id',
      query_params: { db },
      format: 'JSONEachRow',
    })
  ).json<{ txn_id: string; n: number }>()
  const daily = await (
    await store.client.query({
      query: `SELECT acquirer_id, merchant_id, toString(local_date) AS day, currency,
                toFloat64(attempts) AS attempts, toFloat64(declines) AS declines,
                toFloat64(approved_sales) AS approved_sales, toFloat64(approved_amount_minor) AS approved,
                toFloat64(credit_sales) AS credit_sales, toFloat64(debit_sales) AS debit_sales,
                toFloat64(whole_unit_sales) AS whole_unit_sales, toFloat64(night_sales) AS night_sales,
                toFloat64(max_ticket_minor) AS max_ticket, toFloat64(distinct_cards) AS cards
              FROM {db:Identifier}.merchant_daily_v
              ORDER BY acquirer_id, merchant_id, day, currency`,
      query_params: { db },
      format: 'JSONEachRow',
    })
  ).json<Record<string, unknown>>()
  const scores = await (
    await store.client.query({
      query: `SELECT acquirer_id, merchant_id, category, toFloat64(score) AS score, level, breakdown,
                toFloat64(hit_count) AS hit_count, families,
                toFloat64(toUnixTimestamp64Milli(scored_at)) AS scored_at
              FROM {db:Identifier}.merchant_scores FINAL
              ORDER BY acquirer_id, merchant_id, category`,
      query_params: { db },
      format: 'JSONEachRow',
    })
  ).json<Record<string, unknown>>()
  return {
    rowsPerId: new Map(ids.map((r) => [r.txn_id, Number(r.n)])),
    daily: daily.map((r) => JSON.stringify(r)),
    scores: scores.map((r) => JSON.stringify(r)),
  }
}

/** merchant_daily_v as the produced events imply it (the counts our traffic exercises). */
export function impliedDaily(events: readonly TerminalTransaction[], utcOffsetHours: number): string[] {
  const rows = new Map<string, { attempts: number; declines: number; sales: number; amount: number }>()
  for (const t of events) {
    const day = new Date(t.event_time + utcOffsetHours * 3_600_000).toISOString().slice(0, 10)
    const key = `${t.acquirer_id}|${t.merchant_id}|${day}|${t.currency}`
    const r = rows.get(key) ?? { attempts: 0, declines: 0, sales: 0, amount: 0 }
    r.attempts++
    if (t.response_code === '00') {
      r.sales++
      r.amount += t.amount_minor
    } else r.declines++
    rows.set(key, r)
  }
  return [...rows].map(([k, r]) => `${k}|${r.attempts}|${r.declines}|${r.sales}|${r.amount}`).sort()
}

/** The same projection of the stored merchant_daily_v, to compare with impliedDaily. */
export function storedDaily(facts: StoreFacts): string[] {
  return facts.daily
    .map((line) => {
      const r = JSON.parse(line)
      return `${r.acquirer_id}|${r.merchant_id}|${r.day}|${r.currency}|${r.attempts}|${r.declines}|${r.approved_sales}|${r.approved}`
    })
    .sort()
}

export interface Exactness {
  produced: number
  stored: number
  lost: number
  duplicated: number
}

/** Every produced id stored exactly once, and nothing else stored. */
export function exactness(events: readonly TerminalTransaction[], facts: StoreFacts): Exactness {
  let lost = 0
  let duplicated = 0
  let stored = 0
  const produced = new Set(events.map((e) => e.txn_id))
  for (const id of produced) {
    const n = facts.rowsPerId.get(id) ?? 0
    if (n === 0) lost++
    if (n > 1) duplicated += n - 1
  }
  for (const [id, n] of facts.rowsPerId) {
    stored += n
    if (!produced.has(id)) duplicated += n
  }
  return { produced: produced.size, stored, lost, duplicated }
}

/** One line of figures per fault test, for the report. */
export function report(name: string, figures: Record<string, unknown>): void {
  console.log(`[fault] ${name}: ${JSON.stringify(figures)}`)
}

// ---------------------------------------------------------------------------------------------------
// ClickHouse outage
// ---------------------------------------------------------------------------------------------------

export interface Outage {
  /** 'writes': inserts and DDL fail (the embedded engine's disk refusing); 'all': reads and pings too. */
  start(mode: 'writes' | 'all'): void
  end(): void
  /** Calls refused so far. */
  readonly refused: number
}

/**
 * Wraps the store's client (the one object every stage of the service writes through) so that its calls
 * fail as an unreachable server's do, until `end()`. The wrapping is the test's: production code has no
 * switch for it.
 */
export function clickhouseOutage(store: Store): Outage {
  const c = store.client
  const exec = c.exec.bind(c)
  const insert = c.insert.bind(c)
  const command = c.command.bind(c)
  const query = c.query.bind(c)
  const ping = c.ping.bind(c)
  let mode: 'writes' | 'all' | null = null
  let refused = 0
  const refuse = (): Promise<never> => {
    refused++
    const e = new Error('connect ECONNREFUSED 127.0.0.1:8123 (ClickHouse outage injected by the fault test)')
    return Promise.reject(Object.assign(e, { code: 'ECONNREFUSED' }))
  }
  c.exec = (p) => (mode === null ? exec(p) : refuse())
  c.insert = (p) => (mode === null ? insert(p) : refuse())
  c.command = (p) => (mode === null ? command(p) : refuse())
  c.query = (p) => (mode === 'all' ? refuse() : query(p))
  c.ping = (p) => (mode === 'all' ? refuse() : ping(p))
  return {
    start: (m) => {
      mode = m
    },
    end: () => {
      mode = null
    },
    get refused() {
      return refused
    },
  }
}

/** The sum of a metric's samples in a Prometheus exposition, over the label sets that match `labels`. */
export function metricSum(exposition: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

/** GET /readyz of an in-process service: the status code and its checks. */
export async function readyz(address: string): Promise<{ code: number; checks: unknown }> {
  const res = await fetch(`${address}/readyz`)
  const body: unknown = await res.json()
  const checks = typeof body === 'object' && body !== null && 'checks' in body ? body.checks : null
  return { code: res.status, checks }
}

/** Produces ready-made values (good and bad alike), keyed as given, in chunks. */
export async function produceRaw(
  kafka: Kafka,
  topic: string,
  messages: readonly { key: string; value: Buffer | null }[],
  chunk = 500,
): Promise<void> {
  const producer = kafka.producer()
  await producer.connect()
  try {
    for (let i = 0; i < messages.length; i += chunk)
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + chunk) })
  } finally {
    await producer.disconnect()
  }
}

/** A 16-digit number passing the Luhn check (a test card number), distinct per `n`. */
export function luhnCardNumber(n: number): string {
  const body = `411111${String(n).padStart(9, '0')}`
  let sum = 0
  for (let i = 0; i < body.length; i++) {
    // Doubling starts at the digit left of the check digit, i.e. the last digit of the body.
    let digit = Number(body[body.length - 1 - i])
    if (i % 2 === 0) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return `${body}${(10 - (sum % 10)) % 10}`
}

/** The kinds of malformed message the flood carries, and the DLQ reason each must get. */
export const POISON_KINDS = [
  'RISK_ERR_BAD_FRAME',
  'RISK_ERR_UNKNOWN_SCHEMA_ID',
  'RISK_ERR_AVRO_DECODE',
  'RISK_ERR_JSON_PARSE',
  'RISK_ERR_MISSING_FIELD',
  'RISK_ERR_INVALID_FIELD',
  'RISK_ERR_RAW_CARD_NUMBER',
  'RISK_ERR_FUTURE_EVENT',
] as const
export type PoisonKind = (typeof POISON_KINDS)[number]

/** One malformed message of `kind`, built from a valid transaction `t` (the n-th of the flood). */
export async function poison(
  codec: EventCodec,
  kind: PoisonKind,
  t: TerminalTransaction,
  n: number,
): Promise<{ value: Buffer | null; pan: string | null }> {
  const avro = (x: TerminalTransaction) => codec.encode(TERMINAL_TRANSACTION, x, 'avro')
  const json = (x: unknown) => Buffer.from(JSON.stringify(x), 'utf8')
  switch (kind) {
    case 'RISK_ERR_BAD_FRAME':
      return { value: Buffer.from(`garbage-${n}-\u0001\u0002`, 'utf8'), pan: null }
    case 'RISK_ERR_UNKNOWN_SCHEMA_ID': {
      const frame = await avro(t)
      frame.writeUInt32BE(900_000 + n, 1)
      return { value: frame, pan: null }
    }
    case 'RISK_ERR_AVRO_DECODE': {
      const frame = await avro(t)
      return { value: frame.subarray(0, 5 + Math.floor((frame.length - 5) / 2)), pan: null }
    }
    case 'RISK_ERR_JSON_PARSE':
      return { value: Buffer.from(`{"txn_id": "${t.txn_id}", "amount_minor": `, 'utf8'), pan: null }
    case 'RISK_ERR_MISSING_FIELD': {
      const { merchant_id: _, ...rest } = t
      return { value: json(rest), pan: null }
    }
    case 'RISK_ERR_INVALID_FIELD':
      return { value: json({ ...t, amount_minor: -100 - n }), pan: null }
    case 'RISK_ERR_RAW_CARD_NUMBER': {
      const pan = luhnCardNumber(n)
      return { value: await avro({ ...t, card_token: pan }), pan }
    }
    case 'RISK_ERR_FUTURE_EVENT':
      return { value: await avro({ ...t, event_time: Date.now() + 86_400_000 }), pan: null }
  }
}
