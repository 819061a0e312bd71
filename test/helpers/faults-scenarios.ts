/**
 * The fault scenarios, sized by the caller: test/integration/faults-*.test.ts runs them small in CI,
 * test/faults/*.test.ts runs them at full size (`npm run test:faults`). Each performs its fault on the
 * real broker and the real ClickHouse engine, asserts exact counts, and reports its figures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { DLQ_HEADERS } from '../../kafka/dlq.ts'
import { startLocalKafka } from '../../kafka-local/broker.ts'
import { sleep } from '../../lib/retry.ts'
import { TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import { openStore } from '../../store/client.ts'
import {
  clickhouseOutage,
  committedCount,
  deployment,
  exactness,
  expectedAlerts,
  expectOneAlertPerSituation,
  faultTraffic,
  freePort,
  groupLag,
  impliedDaily,
  metricSum,
  POISON_KINDS,
  pipelineGroups,
  poison,
  produceRaw,
  produceTransactions,
  readAll,
  readyz,
  report,
  type Spawned,
  type StoreFacts,
  serviceEnv,
  spawnMain,
  startInProcess,
  storedDaily,
  storeFacts,
  tallyAlerts,
  waitDrained,
  waitForLine,
} from './faults.ts'
import { testKafka, uniqueName, waitFor } from './kafka.ts'

const ACQUIRERS = ['acq-a', 'acq-b'] as const

export interface TrafficSize {
  shops: number
  perShop: number
  testers: number
  partitions: number
}

/** Writes log lines (a service instance's, as captured) to `file`, one JSON object per line. */
export function writeLogLines(file: string, lines: readonly Record<string, unknown>[]): void {
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'))
}

/**
 * Writes the log lines of a failed scenario's service instances (JSON lines, one file each) to a
 * directory that is kept, and returns the error with that directory named: a failure that does not
 * reproduce leaves its logs behind.
 */
export function withKeptLogs(
  scenario: string,
  instances: Record<string, { lines: () => Record<string, unknown>[] }>,
  e: unknown,
): unknown {
  try {
    const dir = mkdtempSync(join(tmpdir(), `fault-logs-${scenario}-`))
    for (const [name, instance] of Object.entries(instances))
      writeLogLines(join(dir, `${name}.jsonl`), instance.lines())
    if (e instanceof Error) e.message = `${e.message}\n(the service instances' logs are kept in ${dir})`
  } catch {}
  return e
}

/** A scratch directory removed by the returned function. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** What the store in `chdbPath` holds, read after the service that wrote it stopped. */
export async function factsOf(chdbPath: string): Promise<StoreFacts> {
  const store = await openStore({ database: 'pos_risk', chdbPath })
  try {
    return await storeFacts(store)
  } finally {
    await store.close()
  }
}

/** SIGTERM, and the exit status 0 of a clean stop. */
export async function stopGracefully(run: Spawned): Promise<void> {
  run.child.kill('SIGTERM')
  const { code } = await run.exited
  expect(code, run.stderr()).toBe(0)
}

/**
 * SIGKILL at random moments mid-stream, each followed by a restart; compared with an uninterrupted run
 * of the same events: every event stored once (count and ids), merchant_daily_v as the events imply
 * and equal to the uninterrupted run's, merchant_scores FINAL equal, the same alerts, each published once.
 */
export async function sigkillScenario(
  brokers: string,
  size: TrafficSize & { kills: number; paceMs: number; drainMs: number },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-kill-')
  try {
    const traffic = faultTraffic({ runId: uniqueName('k'), acquirers: ACQUIRERS, ...size })
    const events = traffic.events
    const partitions = { KAFKA_TOPIC_PARTITIONS: String(size.partitions) }

    // The uninterrupted run, the yardstick.
    const ref = deployment(uniqueName('ref'))
    const refStarted = performance.now()
    const refRun = spawnMain(serviceEnv(ref, brokers, join(work.dir, 'ref'), partitions))
    await waitForLine(refRun, 'pos-risk-monitor running')
    await produceTransactions(kafka, codec, ref.transactions, events)
    await waitDrained(kafka, pipelineGroups(ref), size.drainMs, () => refRun.stderr())
    await stopGracefully(refRun)
    const refSeconds = (performance.now() - refStarted) / 1000

    // The same events, produced at a steady pace, with the service killed and started again.
    const d = deployment(uniqueName('kill'))
    const env = serviceEnv(d, brokers, join(work.dir, 'killed'), partitions)
    const started = performance.now()
    let run = spawnMain(env)
    await waitForLine(run, 'pos-risk-monitor running')
    const producing = produceTransactions(kafka, codec, d.transactions, events, {
      chunk: 100,
      pauseMs: size.paceMs,
    })
    const kills: { atCommitted: number; of: number; downSeconds: number }[] = []
    for (let k = 0; k < size.kills; k++) {
      // A random point inside the k-th slice of the stream, by what the group has committed.
      const slice = events.length / size.kills
      const target = Math.floor(slice * (k + 0.15 + Math.random() * 0.6))
      const deadline = Date.now() + size.drainMs
      let at = 0
      while (Date.now() < deadline) {
        at = await committedCount(kafka, d.group, d.transactions)
        if (at >= target) break
        await sleep(100)
      }
      expect(at, `never reached ${target} committed before kill ${k + 1}`).toBeGreaterThanOrEqual(target)
      run.child.kill('SIGKILL')
      const { signal } = await run.exited
      expect(signal).toBe('SIGKILL')
      const down = performance.now()
      run = spawnMain(env)
      await waitForLine(run, 'pos-risk-monitor running')
      kills.push({ atCommitted: at, of: events.length, downSeconds: (performance.now() - down) / 1000 })
    }
    await producing
    await waitDrained(kafka, pipelineGroups(d), size.drainMs, () => run.stderr())
    await stopGracefully(run)
    const seconds = (performance.now() - started) / 1000
    const lastStats = run.lines().find((l) => l.msg === 'ingest stopped')?.stats

    const refFacts = await factsOf(join(work.dir, 'ref'))
    const facts = await factsOf(join(work.dir, 'killed'))
    const exact = exactness(events, facts)
    expect(exact).toEqual({ produced: events.length, stored: events.length, lost: 0, duplicated: 0 })
    expect(exactness(events, refFacts)).toEqual(exact)
    expect(storedDaily(facts)).toEqual(impliedDaily(events, 8))
    expect(facts.daily).toEqual(refFacts.daily)
    expect(facts.scores.length).toBeGreaterThan(0)
    expect(facts.scores).toEqual(refFacts.scores)

    const expected = expectedAlerts(traffic.testers)
    const refAlerts = await tallyAlerts(kafka, codec, ref, ACQUIRERS, expected)
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expected)
    expectOneAlertPerSituation(refAlerts, traffic.testers)
    expectOneAlertPerSituation(alerts, traffic.testers)
    expect([...alerts.perId.keys()].sort()).toEqual([...refAlerts.perId.keys()].sort())

    report('sigkill', {
      events: events.length,
      partitions: size.partitions,
      kills,
      seconds: Number(seconds.toFixed(1)),
      uninterruptedSeconds: Number(refSeconds.toFixed(1)),
      stored: exact.stored,
      losses: exact.lost,
      duplicates: exact.duplicated,
      alerts: alerts.perId.size,
      alertsPublishedTwice: [...alerts.perId.values()].filter((n) => n > 1).length,
      scoreRows: facts.scores.length,
      dailyRows: facts.daily.length,
      lastRunIngest: lastStats,
    })
  } finally {
    work.remove()
  }
}

/**
 * ClickHouse writes failing for `outageMs` while traffic keeps coming: the consumer stops storing and
 * committing, retries with exponential back-off, /readyz answers 503, and afterwards it catches up with
 * every event stored once and one alert per card-testing merchant.
 */
export async function clickhouseOutageScenario(
  brokers: string,
  size: TrafficSize & { outageMs: number; mode: 'writes' | 'all'; drainMs: number },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-ch-')
  const retryInitialMs = 250
  const retryMaxMs = 4_000
  const d = deployment(uniqueName('chdown'))
  const inproc = await startInProcess(
    serviceEnv(d, brokers, join(work.dir, 'chdb'), {
      KAFKA_TOPIC_PARTITIONS: String(size.partitions),
      INGEST_RETRY_INITIAL_MS: String(retryInitialMs),
      INGEST_RETRY_MAX_MS: String(retryMaxMs),
    }),
  )
  const { service } = inproc
  try {
    const ingest = service.ingest
    const address = service.api?.address
    if (ingest === null || address === undefined) throw new Error('the service runs no ingest or no API')
    const traffic = faultTraffic({ runId: uniqueName('o'), acquirers: ACQUIRERS, ...size })
    const events = traffic.events
    const third = Math.floor(events.length / 3)
    const started = performance.now()

    await produceTransactions(kafka, codec, d.transactions, events.slice(0, third))
    await waitDrained(kafka, pipelineGroups(d), size.drainMs)
    expect(await readyz(address)).toMatchObject({ code: 200 })
    const storedBefore = ingest.stats.stored
    const outage = clickhouseOutage(service.store)
    outage.start(size.mode)
    const outageStarted = performance.now()
    // Traffic goes on during the outage: Kafka holds it.
    const during = produceTransactions(kafka, codec, d.transactions, events.slice(third, 2 * third))
    const probes: { code: number; checks: unknown }[] = []
    while (performance.now() - outageStarted < size.outageMs) {
      probes.push(await readyz(address))
      await sleep(1_000)
    }
    await during
    const storedDuring = ingest.stats.stored - storedBefore
    const retriesDuring = ingest.stats.retries
    const lagAtEnd = await groupLagOf(kafka, d)
    outage.end()
    const healed = performance.now()
    await produceTransactions(kafka, codec, d.transactions, events.slice(2 * third))
    await waitDrained(kafka, pipelineGroups(d), size.drainMs)
    const catchUpSeconds = (performance.now() - healed) / 1000
    const after = await readyz(address)

    // Paused: nothing stored while the store refused, the backlog waited in Kafka.
    expect(storedDuring).toBe(0)
    expect(lagAtEnd).toBeGreaterThanOrEqual(third)
    // Not ready for (nearly) the whole outage: the first probe may come before the first failed write.
    const notReady = probes.filter((p) => p.code === 503).length
    expect(notReady).toBeGreaterThanOrEqual(probes.length - 2)
    expect(probes.at(-1)).toMatchObject({ code: 503, checks: { kafka: false } })
    expect(after).toMatchObject({ code: 200, checks: { clickhouse: true, kafka: true } })
    // Exponential back-off, capped: attempt n waited initial · 2^(n-1), at most the maximum.
    const retries = inproc
      .lines()
      .filter((l) => l.msg === 'retrying' && l.component === 'ingest')
      .map((l) => ({ attempt: Number(l.attempt), delayMs: Number(l.delayMs) }))
    expect(retries.length).toBeGreaterThan(0)
    for (const r of retries)
      expect(r.delayMs).toBe(Math.min(retryInitialMs * 2 ** (r.attempt - 1), retryMaxMs))
    expect(Math.max(...retries.map((r) => r.delayMs))).toBe(retryMaxMs)
    expect(inproc.lines().filter((l) => String(l.msg).includes('crashed'))).toEqual([])

    const facts = await storeFacts(service.store)
    const exact = exactness(events, facts)
    expect(exact).toEqual({ produced: events.length, stored: events.length, lost: 0, duplicated: 0 })
    expect(storedDaily(facts)).toEqual(impliedDaily(events, 8))
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expectedAlerts(traffic.testers))
    expectOneAlertPerSituation(alerts, traffic.testers)

    report(`clickhouse-outage-${size.mode}`, {
      events: events.length,
      partitions: size.partitions,
      outageSeconds: size.outageMs / 1000,
      producedDuringOutage: third,
      storedDuringOutage: storedDuring,
      lagAtOutageEnd: lagAtEnd,
      callsRefused: outage.refused,
      ingestRetries: retriesDuring,
      longestBackoffMs: Math.max(...retries.map((r) => r.delayMs)),
      readyzDuringOutage: `${notReady}/${probes.length} not ready`,
      catchUpSeconds: Number(catchUpSeconds.toFixed(1)),
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      stored: exact.stored,
      losses: exact.lost,
      duplicates: exact.duplicated,
      alerts: alerts.perId.size,
      alertsPublishedTwice: [...alerts.perId.values()].filter((n) => n > 1).length,
    })
  } finally {
    await service.stop()
    work.remove()
  }
}

async function groupLagOf(kafka: ReturnType<typeof testKafka>, d: ReturnType<typeof deployment>) {
  const lag = await groupLag(kafka, [{ groupId: d.group, topics: [d.transactions] }])
  return lag[d.group] ?? 0
}

/**
 * The broker stopped mid-stream (a controlled shutdown, or SIGKILL) and started again on the same ports
 * and data directory: the service reconnects by itself and continues, every event stored once, one
 * alert per card-testing merchant.
 */
export async function brokerRestartScenario(
  size: TrafficSize & { downMs: number; signal: 'SIGTERM' | 'SIGKILL'; drainMs: number },
): Promise<void> {
  const work = scratch('fault-broker-')
  const dataDir = join(work.dir, 'kafka')
  const ports = { port: await freePort(), controllerPort: await freePort() }
  let broker = await startLocalKafka({ dataDir, ...ports })
  const brokers = broker.brokers.join(',')
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const d = deployment(uniqueName('brk'))
  let inproc: Awaited<ReturnType<typeof startInProcess>> | null = null
  try {
    inproc = await startInProcess(
      serviceEnv(d, brokers, join(work.dir, 'chdb'), { KAFKA_TOPIC_PARTITIONS: String(size.partitions) }),
    )
    const { service } = inproc
    const ingest = service.ingest
    if (ingest === null) throw new Error('the service runs no ingest')
    const traffic = faultTraffic({ runId: uniqueName('b'), acquirers: ACQUIRERS, ...size })
    const events = traffic.events
    const half = Math.floor(events.length / 2)
    const started = performance.now()

    // Stopped while the first half is being worked through.
    await produceTransactions(kafka, codec, d.transactions, events.slice(0, half))
    const stopAt = Math.floor(half * (0.2 + Math.random() * 0.5))
    while (ingest.stats.stored < stopAt) await sleep(20)
    const storedWhenStopped = ingest.stats.stored
    if (size.signal === 'SIGKILL') {
      process.kill(broker.pid, 'SIGKILL')
      await broker.exited
    } else await broker.stop()
    const stopped = performance.now()
    await sleep(size.downMs)
    broker = await startLocalKafka({ dataDir, ...ports })
    const back = performance.now()
    const downSeconds = (back - stopped) / 1000
    // What each stage says of itself, for a drain that does not finish: stuck in hand, or idle and behind.
    const stagesNow = () =>
      JSON.stringify({
        health: service.stages.map((s) => s.health()),
        stats: service.stages.map((s) => ({ stage: s.runner.name, ...s.runner.stats })),
      })
    // Nobody restarts the service: it must reconnect and finish the first half by itself.
    await waitDrained(kafka, pipelineGroups(d), size.drainMs, stagesNow)
    const caughtUpSeconds = (performance.now() - back) / 1000
    await produceTransactions(kafka, codec, d.transactions, events.slice(half))
    await waitDrained(kafka, pipelineGroups(d), size.drainMs, stagesNow)
    const seconds = (performance.now() - started) / 1000

    const facts = await storeFacts(service.store)
    const exact = exactness(events, facts)
    expect(exact).toEqual({ produced: events.length, stored: events.length, lost: 0, duplicated: 0 })
    expect(storedDaily(facts)).toEqual(impliedDaily(events, 8))
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expectedAlerts(traffic.testers))
    expectOneAlertPerSituation(alerts, traffic.testers)
    // kafkajs restarts a consumer that finds no broker at all (its design for a cluster gone away; one
    // node here), and gives up on one that cannot find its group coordinator in time: the runner replaced
    // every consumer kafkajs gave up on, and the drain above shows they all caught up by themselves.
    const exposition = await service.metrics.registry.metrics()
    const gaveUp = metricSum(exposition, 'risk_kafka_consumer_crashes_total', { restart: 'false' })
    const restarts = metricSum(exposition, 'risk_kafka_consumer_crashes_total', { restart: 'true' })
    const replacements = metricSum(exposition, 'risk_kafka_consumer_replacements_total')
    expect(replacements).toBeGreaterThanOrEqual(gaveUp)
    expect(inproc.lines().filter((l) => l.level === 'fatal')).toEqual([])

    report(`broker-restart-${size.signal}`, {
      events: events.length,
      partitions: size.partitions,
      firstHalf: half,
      storedWhenStopped,
      brokerDownSeconds: Number(downSeconds.toFixed(1)),
      caughtUpSecondsAfterBrokerBack: Number(caughtUpSeconds.toFixed(1)),
      seconds: Number(seconds.toFixed(1)),
      stored: exact.stored,
      losses: exact.lost,
      duplicates: exact.duplicated,
      replayedDuplicatesDropped: ingest.stats.duplicates,
      ingestRetries: ingest.stats.retries,
      alerts: alerts.perId.size,
      alertsPublishedTwice: [...alerts.perId.values()].filter((n) => n > 1).length,
      consumersGivenUp: gaveUp,
      kafkajsRestartsWithoutBroker: restarts,
      consumerReplacements: replacements,
    })
  } finally {
    if (process.env.FAULTS_DUMP !== undefined && inproc !== null)
      writeLogLines(process.env.FAULTS_DUMP, inproc.lines())
    await inproc?.service.stop()
    await broker.stop()
    work.remove()
  }
}

/** Partitions of `topic` in the newest 'joined consumer group' line of an instance's ingest. */
function assignedPartitions(lines: Record<string, unknown>[], topic: string): number[] | null {
  const joins = lines.filter((l) => l.msg === 'joined consumer group' && l.component === 'ingest')
  const assignment = joins.at(-1)?.assignment
  if (typeof assignment !== 'object' || assignment === null) return null
  const list: unknown = Object.entries(assignment).find(([t]) => t === topic)?.[1]
  return Array.isArray(list) ? list.map(Number) : null
}

/**
 * Two instances in one consumer group sharing one store (one process: chDB binds a data directory to
 * one process), one stopped halfway through every card-testing burst: the other takes its partitions,
 * rebuilds their rule state from ClickHouse and their scoring state from the changelog, and the bursts
 * split across the hand-over still alert, once each.
 */
export async function handOverScenario(
  brokers: string,
  size: TrafficSize & { drainMs: number },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-handover-')
  const d = deployment(uniqueName('ho'))
  const env = serviceEnv(d, brokers, join(work.dir, 'chdb'), {
    KAFKA_TOPIC_PARTITIONS: String(size.partitions),
  })
  const a = await startInProcess(env)
  const b = await startInProcess(env)
  let aStopped = false
  try {
    const all = Array.from({ length: size.partitions }, (_, i) => i)
    const deadline = Date.now() + 120_000
    let ofA: number[] | null = null
    let ofB: number[] | null = null
    while (Date.now() < deadline) {
      ofA = assignedPartitions(a.lines(), d.transactions)
      ofB = assignedPartitions(b.lines(), d.transactions)
      if (ofA !== null && ofB !== null && [...ofA, ...ofB].sort().join() === all.join()) break
      await sleep(200)
    }
    if (ofA === null || ofB === null || ofA.length === 0 || ofB.length === 0)
      throw new Error(`the group did not split: A ${JSON.stringify(ofA)}, B ${JSON.stringify(ofB)}`)
    const aOwned = ofA

    const traffic = faultTraffic({ runId: uniqueName('h'), acquirers: ACQUIRERS, ...size })
    const events = traffic.events
    // Every merchant's events are spread over the stream: the first half holds 15 of each tester's 30
    // attempts, below decline_ratio's floor of 20, so no burst can alert before the hand-over.
    const half = Math.floor(events.length / 2)
    const started = performance.now()
    await produceTransactions(kafka, codec, d.transactions, events.slice(0, half))
    await waitDrained(kafka, pipelineGroups(d), size.drainMs)
    const alertsBefore = await tallyAlerts(kafka, codec, d, ACQUIRERS, {})
    expect(alertsBefore.perId.size).toBe(0)

    const stopping = performance.now()
    await a.service.stop()
    aStopped = true
    const stopSeconds = (performance.now() - stopping) / 1000
    await produceTransactions(kafka, codec, d.transactions, events.slice(half))
    await waitDrained(kafka, pipelineGroups(d), size.drainMs)
    const seconds = (performance.now() - started) / 1000
    expect(assignedPartitions(b.lines(), d.transactions)).toEqual(all)

    const store = b.service.store
    const facts = await storeFacts(store)
    const exact = exactness(events, facts)
    expect(exact).toEqual({ produced: events.length, stored: events.length, lost: 0, duplicated: 0 })
    expect(storedDaily(facts)).toEqual(impliedDaily(events, 8))
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expectedAlerts(traffic.testers))
    expectOneAlertPerSituation(alerts, traffic.testers)

    // The bursts whose partitions moved from A to B: their first half lived in A's rule state.
    const rows = await (
      await store.client.query({
        query: `SELECT DISTINCT merchant_id, toFloat64(kafka_partition) AS p FROM {db:Identifier}.transactions
                WHERE startsWith(merchant_id, 'tester-')`,
        query_params: { db: store.database },
        format: 'JSONEachRow',
      })
    ).json<{ merchant_id: string; p: number }>()
    const movedTesters = rows.filter((r) => aOwned.includes(Number(r.p))).length
    expect(movedTesters).toBeGreaterThan(0)
    const rebuilt = b
      .lines()
      .filter((l) => l.msg === 'rule state rebuilt from ClickHouse' && Number(l.transactions) > 0)
    const restored = b.lines().filter((l) => l.msg === 'scoring state restored')
    expect(rebuilt.length).toBeGreaterThanOrEqual(1)

    report('two-instances-one-stopped', {
      events: events.length,
      partitions: size.partitions,
      partitionsOfStopped: aOwned,
      stopSeconds: Number(stopSeconds.toFixed(1)),
      burstsSplitAcrossHandOver: traffic.testers.length,
      burstsMovedWithTheirPartition: movedTesters,
      ruleStateRebuilds: rebuilt.map((l) => ({ partition: l.partition, transactions: l.transactions })),
      scoringRestores: restored.length,
      seconds: Number(seconds.toFixed(1)),
      stored: exact.stored,
      losses: exact.lost,
      duplicates: exact.duplicated,
      alertsBeforeHandOver: alertsBefore.perId.size,
      alerts: alerts.perId.size,
      alertsPublishedTwice: [...alerts.perId.values()].filter((n) => n > 1).length,
    })
  } catch (e) {
    throw withKeptLogs('handover', { a, b }, e)
  } finally {
    if (!aStopped) await a.service.stop()
    await b.service.stop()
    work.remove()
  }
}

/**
 * A flood of malformed messages interleaved with good ones: every bad one in the DLQ once with its
 * reason (counted per reason), card numbers never in the DLQ copy, every good one stored once, one
 * alert per card-testing merchant; throughput measured without and with the flood (reported only).
 */
export async function poisonFloodScenario(
  brokers: string,
  size: TrafficSize & { poison: number; drainMs: number },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-poison-')
  const d = deployment(uniqueName('poison'))
  const inproc = await startInProcess(
    serviceEnv(d, brokers, join(work.dir, 'chdb'), { KAFKA_TOPIC_PARTITIONS: String(size.partitions) }),
  )
  const { service } = inproc
  try {
    const ingest = service.ingest
    if (ingest === null) throw new Error('the service runs no ingest')
    const clean = faultTraffic({ runId: uniqueName('pc'), acquirers: ACQUIRERS, ...size, testers: 0 })
    const mixed = faultTraffic({ runId: uniqueName('pm'), acquirers: ACQUIRERS, ...size })

    // Good events alone, as the yardstick.
    let t0 = performance.now()
    await produceTransactions(kafka, codec, d.transactions, clean.events)
    await waitDrained(kafka, pipelineGroups(d), size.drainMs)
    const cleanSeconds = (performance.now() - t0) / 1000

    // The flood: bad messages spread evenly among as many good ones.
    const expectedByCode: Record<string, number> = {}
    const pans = new Set<string>()
    const placed: { at: number; key: string; value: Buffer | null }[] = []
    for (let i = 0; i < size.poison; i++) {
      const kind = POISON_KINDS[i % POISON_KINDS.length] ?? 'RISK_ERR_BAD_FRAME'
      const base = mixed.events[i % mixed.events.length]
      if (base === undefined) throw new Error('no events to build poison from')
      const bad = await poison(codec, kind, { ...base, txn_id: `bad-${i}` }, i)
      if (bad.pan !== null) pans.add(bad.pan)
      expectedByCode[kind] = (expectedByCode[kind] ?? 0) + 1
      placed.push({ at: (i + 0.5) / size.poison, key: `bad-key-${i}`, value: bad.value })
    }
    for (let i = 0; i < mixed.events.length; i++) {
      const t = mixed.events[i]
      if (t === undefined) continue
      placed.push({
        at: (i + 0.25) / mixed.events.length,
        key: t.merchant_id,
        value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
      })
    }
    placed.sort((x, y) => x.at - y.at)
    const rejectedBefore = ingest.stats.rejected
    t0 = performance.now()
    await produceRaw(kafka, d.transactions, placed)
    await waitDrained(kafka, pipelineGroups(d), size.drainMs, () =>
      JSON.stringify({ ingest: ingest.stats, lastFailure: ingest.lastFailure?.toLog() ?? null }),
    )
    const mixedSeconds = (performance.now() - t0) / 1000

    const dlq = await readAll(kafka, `${d.transactions}.dlq`, { atLeast: size.poison })
    const byCode: Record<string, number> = {}
    const sources = new Set<string>()
    let leakedPans = 0
    for (const m of dlq) {
      const code = String(m.headers?.[DLQ_HEADERS.code] ?? 'none')
      byCode[code] = (byCode[code] ?? 0) + 1
      sources.add(`${String(m.headers?.[DLQ_HEADERS.partition])}/${String(m.headers?.[DLQ_HEADERS.offset])}`)
      const text = m.value?.toString('latin1') ?? ''
      for (const pan of pans) if (text.includes(pan)) leakedPans++
    }
    expect(byCode).toEqual(expectedByCode)
    expect(dlq.length).toBe(size.poison)
    expect(sources.size).toBe(size.poison)
    expect(leakedPans).toBe(0)
    expect(ingest.stats.rejected - rejectedBefore).toBe(size.poison)
    // Nor in the log: a rejected card number is never written anywhere.
    const log = JSON.stringify(inproc.lines())
    expect([...pans].filter((pan) => log.includes(pan))).toEqual([])

    const good = [...clean.events, ...mixed.events]
    const facts = await storeFacts(service.store)
    const exact = exactness(good, facts)
    expect(exact).toEqual({ produced: good.length, stored: good.length, lost: 0, duplicated: 0 })
    expect(storedDaily(facts)).toEqual(impliedDaily(good, 8))
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expectedAlerts(mixed.testers))
    expectOneAlertPerSituation(alerts, mixed.testers)

    report('poison-flood', {
      good: good.length,
      poison: size.poison,
      partitions: size.partitions,
      dlqByReason: byCode,
      dlqMessages: dlq.length,
      cardNumbersLeaked: leakedPans,
      clean: {
        events: clean.events.length,
        seconds: Number(cleanSeconds.toFixed(1)),
        eventsPerSecond: Math.round(clean.events.length / cleanSeconds),
      },
      flooded: {
        messages: placed.length,
        goodEvents: mixed.events.length,
        seconds: Number(mixedSeconds.toFixed(1)),
        messagesPerSecond: Math.round(placed.length / mixedSeconds),
        goodEventsPerSecond: Math.round(mixed.events.length / mixedSeconds),
      },
      stored: exact.stored,
      losses: exact.lost,
      duplicates: exact.duplicated,
      alerts: alerts.perId.size,
      alertsPublishedTwice: [...alerts.perId.values()].filter((n) => n > 1).length,
    })
  } finally {
    if (process.env.FAULTS_DUMP !== undefined) writeLogLines(process.env.FAULTS_DUMP, inproc.lines())
    await service.stop()
    work.remove()
  }
}

/**
 * The rules worker thread killed twice mid-stream (as an uncaught error or an out-of-memory end would):
 * the parts in hand fail, a new worker starts, every partition's state is rebuilt from ClickHouse, and
 * what the service stores and alerts equals what it would have without the crashes: every event once,
 * one alert per situation, none twice.
 */
export async function rulesWorkerCrashScenario(
  brokers: string,
  size: TrafficSize & { crashes: number; drainMs: number },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-worker-')
  const d = deployment(uniqueName('wcrash'))
  const inproc = await startInProcess(
    serviceEnv(d, brokers, join(work.dir, 'chdb'), {
      KAFKA_TOPIC_PARTITIONS: String(size.partitions),
      INGEST_RETRY_INITIAL_MS: '100',
      INGEST_RETRY_MAX_MS: '1000',
      RULES_MAX_BATCH: '200',
    }),
  )
  const { service } = inproc
  try {
    const worker = service.rulesWorker
    const rules = service.stages.find((s) => s.runner.name === 'rules')
    if (worker === null || rules === undefined) throw new Error('the service runs no rules worker')
    const rebuilds = () => Number(Reflect.get(Reflect.get(rules, 'stats') as object, 'rebuilds'))
    const traffic = faultTraffic({ runId: uniqueName('w'), acquirers: ACQUIRERS, ...size })
    const events = traffic.events
    const started = performance.now()
    const slice = Math.ceil(events.length / (size.crashes + 1))
    const rebuiltBefore: number[] = []
    for (let i = 0; i <= size.crashes; i++) {
      const sending = produceTransactions(
        kafka,
        codec,
        d.transactions,
        events.slice(i * slice, (i + 1) * slice),
      )
      if (i < size.crashes) {
        // Mid-slice: parts in hand when the worker goes. But only once every partition has rebuilt since
        // the last crash (or built its state at all): a crash in the middle of a rebuild interrupts it,
        // and the partition then rebuilds once for two crashes, which the count below would take for a
        // rebuild that never happened.
        await sleep(1_500)
        const due = (rebuiltBefore[0] ?? 0) + i * size.partitions
        await waitFor(
          async () => rebuilds() >= (i === 0 ? size.partitions : due),
          () => `${rebuilds()} rebuilds before crash ${i + 1}`,
          120_000,
        )
        rebuiltBefore.push(rebuilds())
        await worker.crash()
      }
      await sending
    }
    await waitDrained(kafka, pipelineGroups(d), size.drainMs)

    expect(worker.starts).toBe(size.crashes + 1)
    // Each crash cost a rebuild of the partitions the stage held (all of them: one instance).
    expect(rebuilds()).toBeGreaterThanOrEqual((rebuiltBefore[0] ?? 0) + size.crashes * size.partitions)
    const lost = inproc.lines().filter((l) => String(l.msg).startsWith('rules worker exited'))
    expect(lost.length).toBe(size.crashes)
    const facts = await storeFacts(service.store)
    const exact = exactness(events, facts)
    expect(exact).toEqual({ produced: events.length, stored: events.length, lost: 0, duplicated: 0 })
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expectedAlerts(traffic.testers))
    expectOneAlertPerSituation(alerts, traffic.testers)
    report('rules-worker-crash', {
      events: events.length,
      partitions: size.partitions,
      crashes: size.crashes,
      workerStarts: worker.starts,
      rebuilds: rebuilds(),
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
      stored: exact.stored,
      losses: exact.lost,
      duplicates: exact.duplicated,
      alerts: alerts.perId.size,
      alertsPublishedTwice: [...alerts.perId.values()].filter((n) => n > 1).length,
    })
  } finally {
    await service.stop()
    work.remove()
  }
}
