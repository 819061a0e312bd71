/**
 * Liveness faults: the service frozen past its session timeout, a stage expelled from its group with a
 * part in hand, a stage made unrecoverable, both cores saturated. Each on the real broker and chDB, with
 * the exact accounting of faults.ts: every event stored once, aggregates equal to what the events imply
 * (and, where a reference run is made, to an undisturbed run), every alert published once.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import type { PartitionStage, StageContext, StagePart } from '../../kafka/stage-runner.ts'
import { sleep } from '../../lib/retry.ts'
import {
  committedCount,
  type Deployment,
  deployment,
  exactness,
  expectedAlerts,
  expectOneAlertPerSituation,
  faultTraffic,
  groupLag,
  impliedDaily,
  metricSum,
  pipelineGroups,
  produceTransactions,
  report,
  serviceEnv,
  spawnMain,
  startInProcess,
  storedDaily,
  storeFacts,
  tallyAlerts,
  waitDrained,
  waitForLine,
} from './faults.ts'
import { factsOf, scratch, stopGracefully, type TrafficSize, writeLogLines } from './faults-scenarios.ts'
import { testKafka, uniqueName } from './kafka.ts'

const ACQUIRERS = ['acq-a', 'acq-b'] as const

/** The fastest the broker allows (group.min.session.timeout.ms), so a freeze of seconds expels. */
const SESSION = { KAFKA_SESSION_TIMEOUT_MS: '6000', KAFKA_HEARTBEAT_INTERVAL_MS: '1000' }

/** Joins of a stage's consumer group, from its log ('joined consumer group' per generation). */
function joins(lines: Record<string, unknown>[], stage: string): number {
  return lines.filter((l) => l.msg === 'joined consumer group' && l.component === stage).length
}

/** Blocks this process's one thread, as a frozen VM, a long GC pause or CPU steal would. */
function freezeThisProcess(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/**
 * The service frozen (SIGSTOP) for longer than its session timeout mid-stream, then resumed (SIGCONT):
 * nobody restarts it; it rejoins its groups and catches up, and the result equals an undisturbed run.
 */
export async function freezeScenario(
  brokers: string,
  size: TrafficSize & { freezeMs: number; paceMs: number; drainMs: number },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-freeze-')
  try {
    const traffic = faultTraffic({ runId: uniqueName('f'), acquirers: ACQUIRERS, ...size })
    const events = traffic.events
    const extra = { KAFKA_TOPIC_PARTITIONS: String(size.partitions), ...SESSION }

    const ref = deployment(uniqueName('fref'))
    const refRun = spawnMain(serviceEnv(ref, brokers, join(work.dir, 'ref'), extra))
    await waitForLine(refRun, 'pos-risk-monitor running')
    await produceTransactions(kafka, codec, ref.transactions, events)
    await waitDrained(kafka, pipelineGroups(ref), size.drainMs, () => refRun.stderr())
    await stopGracefully(refRun)

    const d = deployment(uniqueName('freeze'))
    const run = spawnMain(serviceEnv(d, brokers, join(work.dir, 'frozen'), extra))
    await waitForLine(run, 'pos-risk-monitor running')
    const joinsBefore = { ingest: 0, scoring: 0 }
    const producing = produceTransactions(kafka, codec, d.transactions, events, {
      chunk: 100,
      pauseMs: size.paceMs,
    })
    const target = Math.floor(events.length * 0.4)
    const deadline = Date.now() + size.drainMs
    while (Date.now() < deadline && (await committedCount(kafka, d.group, d.transactions)) < target)
      await sleep(100)
    joinsBefore.ingest = joins(run.lines(), 'ingest')
    joinsBefore.scoring = joins(run.lines(), 'scoring')
    const pid = run.child.pid
    run.child.kill('SIGSTOP')
    await sleep(size.freezeMs)
    run.child.kill('SIGCONT')
    const resumed = performance.now()
    await producing
    await waitDrained(kafka, pipelineGroups(d), size.drainMs, () => run.stderr())
    const catchUpSeconds = (performance.now() - resumed) / 1000
    // The same process caught up by itself: no restart, no exit.
    expect(run.child.exitCode).toBeNull()
    expect(run.child.pid).toBe(pid)
    const lines = run.lines()
    const rejoined = {
      ingest: joins(lines, 'ingest') - joinsBefore.ingest,
      scoring: joins(lines, 'scoring') - joinsBefore.scoring,
    }
    expect(rejoined.ingest, 'the ingest consumer rejoined after the freeze').toBeGreaterThanOrEqual(1)
    expect(lines.filter((l) => l.level === 'fatal')).toEqual([])
    await stopGracefully(run)

    const refFacts = await factsOf(join(work.dir, 'ref'))
    const facts = await factsOf(join(work.dir, 'frozen'))
    const exact = exactness(events, facts)
    expect(exact).toEqual({ produced: events.length, stored: events.length, lost: 0, duplicated: 0 })
    expect(storedDaily(facts)).toEqual(impliedDaily(events, 8))
    expect(facts.daily).toEqual(refFacts.daily)
    expect(facts.scores).toEqual(refFacts.scores)
    const expected = expectedAlerts(traffic.testers)
    const refAlerts = await tallyAlerts(kafka, codec, ref, ACQUIRERS, expected)
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expected)
    expectOneAlertPerSituation(alerts, traffic.testers)
    expect([...alerts.perId.keys()].sort()).toEqual([...refAlerts.perId.keys()].sort())

    report('sigstop', {
      events: events.length,
      partitions: size.partitions,
      frozenSeconds: size.freezeMs / 1000,
      sessionTimeoutSeconds: Number(SESSION.KAFKA_SESSION_TIMEOUT_MS) / 1000,
      frozenAtCommitted: target,
      rejoins: rejoined,
      catchUpSeconds: Number(catchUpSeconds.toFixed(1)),
      stored: exact.stored,
      losses: exact.lost,
      duplicates: exact.duplicated,
      alerts: alerts.perId.size,
      alertsPublishedTwice: [...alerts.perId.values()].filter((n) => n > 1).length,
    })
  } finally {
    work.remove()
  }
}

/**
 * One stage's part made slower than the session timeout, twice: first by waiting (the stage heartbeats
 * meanwhile and keeps its membership: no rebalance at all), then by blocking the process's thread after
 * the part's work and before its commit (the coordinator expels the member; it rejoins, and the part is
 * read again without being applied twice). Every event stored once, one alert per situation.
 */
export async function expulsionScenario(
  brokers: string,
  size: TrafficSize & {
    stage: 'ingest' | 'rules' | 'entities' | 'scoring' | 'sink'
    slowMs: number
    blockMs: number
    drainMs: number
  },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-expel-')
  const d = deployment(uniqueName(`expel-${size.stage}`))
  const inproc = await startInProcess(
    serviceEnv(d, brokers, join(work.dir, 'chdb'), {
      KAFKA_TOPIC_PARTITIONS: String(size.partitions),
      ...SESSION,
    }),
  )
  const { service } = inproc
  try {
    const stage = service.stages.find((s) => s.runner.name === size.stage)
    if (stage === undefined) throw new Error(`no ${size.stage} stage`)
    const traffic = faultTraffic({ runId: uniqueName('e'), acquirers: ACQUIRERS, ...size })
    const events = traffic.events
    // Two thirds of each card-testing burst is past decline_ratio's floor, so every stage has parts.
    const split = Math.floor((events.length * 2) / 3)

    // 1. Slow but alive: the part waits longer than a session; the ticker heartbeats through it.
    const slow = interceptOnce(stage, async (run, ctx) => {
      await sleep(size.slowMs)
      await run(ctx)
    })
    await produceTransactions(kafka, codec, d.transactions, events.slice(0, split))
    await waitDrained(kafka, pipelineGroups(d), size.drainMs)
    expect(slow.fired(), 'the slow part happened').toBe(true)
    const joinsAfterSlow = joins(inproc.lines(), size.stage)
    expect(joinsAfterSlow, 'no rebalance while a slow part was in hand').toBe(1)

    // 2. Frozen with the part's work done and its commit not yet made: expelled, then rejoined. A stage
    // that commits in its own transaction is frozen as it asks to commit; the others after the part. The
    // rules stage is frozen after its part too: frozen inside its commit, its member was found back in
    // the group by the broker's answer to the next heartbeat (two partitions in hand at once; not
    // understood yet), while entities and scoring cover the same code path expelled before the commit.
    // Either way every event must be stored and counted once.
    const blocked = interceptOnce(stage, async (run, ctx) => {
      if (stage.commits === 'stage' && size.stage !== 'rules') {
        await run({
          ...ctx,
          confirm: async () => {
            freezeThisProcess(size.blockMs)
            await ctx.confirm()
          },
        })
      } else {
        await run(ctx)
        freezeThisProcess(size.blockMs)
      }
    })
    await produceTransactions(kafka, codec, d.transactions, events.slice(split))
    await waitDrained(kafka, pipelineGroups(d), size.drainMs)
    expect(blocked.fired(), 'the frozen part happened').toBe(true)
    const lines = inproc.lines()
    expect(joins(lines, size.stage), 'the stage rejoined its group').toBeGreaterThan(joinsAfterSlow)

    const facts = await storeFacts(service.store)
    const exact = exactness(events, facts)
    expect(exact).toEqual({ produced: events.length, stored: events.length, lost: 0, duplicated: 0 })
    expect(storedDaily(facts)).toEqual(impliedDaily(events, 8))
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expectedAlerts(traffic.testers))
    expectOneAlertPerSituation(alerts, traffic.testers)
    const exposition = await service.metrics.registry.metrics()
    // kafkajs rejoined by itself, or the runner replaced the consumer; a crash left unhandled would
    // have stopped the stage, and the drain above would have timed out.
    report(`expelled-${size.stage}`, {
      events: events.length,
      partitions: size.partitions,
      slowPartSeconds: size.slowMs / 1000,
      frozenSeconds: size.blockMs / 1000,
      joins: joins(lines, size.stage),
      membershipLost: lines.filter((l) => l.msg === 'membership lost with a batch in hand').length,
      continuityBreaks: lines.filter((l) => String(l.msg).startsWith('partition state dropped')).length,
      consumerReplacements: metricSum(exposition, 'risk_kafka_consumer_replacements_total'),
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
 * Wraps the next part the stage processes (the test's wrapping of a running object, like the store
 * outage of faults.ts: production code has no switch for it), then puts the stage back as it was.
 */
function interceptOnce(
  stage: PartitionStage,
  around: (run: (ctx: StageContext) => Promise<void>, ctx: StageContext) => Promise<void>,
): { fired: () => boolean } {
  const original = stage.process.bind(stage)
  let fired = false
  stage.process = async (part: StagePart, ctx: StageContext) => {
    if (fired || part.messages.length === 0) return original(part, ctx)
    fired = true
    stage.process = original
    await around((c) => original(part, c), ctx)
  }
  return { fired: () => fired }
}

/**
 * A stage made unrecoverable (the topic it consumes deleted under it): /healthz fails first, then the
 * process logs the cause once and exits non-zero within the liveness timeout, for its supervisor.
 */
export async function unrecoverableScenario(
  brokers: string,
  size: TrafficSize & { livenessMs: number; drainMs: number },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-dead-')
  const d = deployment(uniqueName('dead'))
  const run = spawnMain(
    serviceEnv(d, brokers, join(work.dir, 'chdb'), {
      KAFKA_TOPIC_PARTITIONS: String(size.partitions),
      LIVENESS_TIMEOUT_MS: String(size.livenessMs),
    }),
  )
  try {
    const listening = await waitForLine(run, 'dashboard API listening')
    await waitForLine(run, 'pos-risk-monitor running')
    const address = String(listening.address)
    const traffic = faultTraffic({ runId: uniqueName('u'), acquirers: ACQUIRERS, ...size })
    await produceTransactions(kafka, codec, d.transactions, traffic.events)
    await waitDrained(kafka, pipelineGroups(d), size.drainMs, () => run.stderr())
    expect((await fetch(`${address}/healthz`)).status).toBe(200)

    const admin = kafka.admin()
    await admin.connect()
    await admin.deleteTopics({ topics: [d.ruleHits] })
    await admin.disconnect()
    const deleted = performance.now()
    let failingAt: number | null = null
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null
    void run.exited.then((e) => {
      exit = e
    })
    while (exit === null && performance.now() - deleted < size.livenessMs * 3) {
      if (failingAt === null) {
        const res = await fetch(`${address}/healthz`).catch(() => null)
        if (res !== null && res.status === 503) failingAt = performance.now()
      }
      await sleep(250)
    }
    const exitedAt = performance.now()
    expect(
      exit,
      `exited within ${(size.livenessMs * 3) / 1000} s; last lines: ${JSON.stringify(
        run
          .lines()
          .filter((l) => l.level !== 'info')
          .slice(-20),
      )}`,
    ).toEqual({ code: 70, signal: null })
    expect(failingAt, '/healthz failed before the exit').not.toBeNull()
    const fatal = run.lines().filter((l) => l.level === 'fatal')
    expect(fatal.length).toBeGreaterThanOrEqual(1)
    expect(fatal[0]?.msg).toBe(
      'a pipeline stage could not recover; stopping the process so that its supervisor restarts it',
    )
    expect(String(fatal[0]?.cause)).toMatch(/topic missing|retrying|failing|crashed/)
    const exitSeconds = (exitedAt - deleted) / 1000
    // The watchdog acts at the timeout; the stop before the exit is bounded by 15 s.
    expect(exitSeconds).toBeLessThan(size.livenessMs / 1000 + 20)
    report('unrecoverable-topic-deleted', {
      livenessTimeoutSeconds: size.livenessMs / 1000,
      healthzFailingAfterSeconds: Number((((failingAt ?? exitedAt) - deleted) / 1000).toFixed(1)),
      exitAfterSeconds: Number(exitSeconds.toFixed(1)),
      exitCode: 70,
      stage: fatal[0]?.stage,
      cause: fatal[0]?.cause,
    })
  } finally {
    if (run.child.exitCode === null) {
      run.child.kill('SIGKILL')
      await run.exited
    }
    work.remove()
  }
}

/** Busy loops, one per `n`, each a process of its own spinning on a core until stopped. */
function burnCores(n: number): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
}

/**
 * Both cores saturated by busy processes while the service ingests a stream: it falls behind (lag
 * grows) and catches up afterwards, without one consumer crash or replacement, and with every event
 * stored once and every alert published once.
 */
export async function cpuSaturationScenario(
  brokers: string,
  size: TrafficSize & { burners: number; burnMs: number; drainMs: number },
): Promise<void> {
  const kafka = testKafka(brokers)
  const codec = new EventCodec({})
  const work = scratch('fault-cpu-')
  const d: Deployment = deployment(uniqueName('cpu'))
  const run = spawnMain(
    serviceEnv(d, brokers, join(work.dir, 'chdb'), { KAFKA_TOPIC_PARTITIONS: String(size.partitions) }),
  )
  let burners: ChildProcess[] = []
  try {
    const listening = await waitForLine(run, 'dashboard API listening')
    await waitForLine(run, 'pos-risk-monitor running')
    const traffic = faultTraffic({ runId: uniqueName('c'), acquirers: ACQUIRERS, ...size })
    const events = traffic.events
    const started = performance.now()
    burners = burnCores(size.burners)
    const lagSamples: number[] = []
    let producing = true
    const produced = produceTransactions(kafka, codec, d.transactions, events, { chunk: 2_000 }).finally(
      () => {
        producing = false
      },
    )
    const sampleLag = async () => {
      const lag = await groupLag(kafka, [{ groupId: d.group, topics: [d.transactions] }])
      lagSamples.push(lag[d.group] ?? 0)
    }
    while (performance.now() - started < size.burnMs || producing) {
      await sampleLag().catch(() => {})
      await sleep(2_000)
    }
    for (const b of burners) b.kill('SIGKILL')
    burners = []
    const burnedSeconds = (performance.now() - started) / 1000
    await produced
    await waitDrained(kafka, pipelineGroups(d), size.drainMs, () => run.stderr())
    const drainedSeconds = (performance.now() - started) / 1000
    await sampleLag()

    const exposition = await (await fetch(`${String(listening.address)}/metrics`)).text()
    const crashes = metricSum(exposition, 'risk_kafka_consumer_crashes_total')
    const replacements = metricSum(exposition, 'risk_kafka_consumer_replacements_total')
    expect(Math.max(...lagSamples), 'the service fell behind under load').toBeGreaterThan(0)
    expect(lagSamples.at(-1)).toBe(0)
    expect(crashes).toBe(0)
    expect(replacements).toBe(0)
    expect(run.lines().filter((l) => l.level === 'fatal' || l.level === 'error')).toEqual([])
    await stopGracefully(run)

    const facts = await factsOf(join(work.dir, 'chdb'))
    const exact = exactness(events, facts)
    expect(exact).toEqual({ produced: events.length, stored: events.length, lost: 0, duplicated: 0 })
    expect(storedDaily(facts)).toEqual(impliedDaily(events, 8))
    const alerts = await tallyAlerts(kafka, codec, d, ACQUIRERS, expectedAlerts(traffic.testers))
    expectOneAlertPerSituation(alerts, traffic.testers)
    report('cpu-saturated', {
      events: events.length,
      partitions: size.partitions,
      burners: size.burners,
      burnedSeconds: Number(burnedSeconds.toFixed(1)),
      drainedAfterSeconds: Number(drainedSeconds.toFixed(1)),
      maxLag: Math.max(...lagSamples),
      lagSamples: lagSamples.length,
      consumerCrashes: crashes,
      consumerReplacements: replacements,
      stored: exact.stored,
      losses: exact.lost,
      duplicates: exact.duplicated,
      alerts: alerts.perId.size,
      alertsPublishedTwice: [...alerts.perId.values()].filter((n) => n > 1).length,
    })
  } finally {
    for (const b of burners) b.kill('SIGKILL')
    if (run.child.exitCode === null) {
      run.child.kill('SIGKILL')
      await run.exited
    }
    work.remove()
  }
}
