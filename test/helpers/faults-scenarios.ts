/**
 * The fault scenarios, sized by the caller: test/integration/faults-*.test.ts runs them small in CI,
 * test/faults/*.test.ts runs them at full size (`npm run test:faults`). Each performs its fault on the
 * real broker and the real ClickHouse engine, asserts exact counts, and reports its figures.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { EventCodec } from '../../ingest/codec.ts'
import { sleep } from '../../lib/retry.ts'
import { openStore } from '../../store/client.ts'
import {
  committedCount,
  deployment,
  exactness,
  expectedAlerts,
  expectOneAlertPerSituation,
  faultTraffic,
  impliedDaily,
  pipelineGroups,
  produceTransactions,
  report,
  type Spawned,
  type StoreFacts,
  serviceEnv,
  spawnMain,
  storedDaily,
  storeFacts,
  tallyAlerts,
  waitDrained,
  waitForLine,
} from './faults.ts'
import { testKafka, uniqueName } from './kafka.ts'

const ACQUIRERS = ['acq-a', 'acq-b'] as const

export interface TrafficSize {
  shops: number
  perShop: number
  testers: number
  partitions: number
}

/** A scratch directory removed by the returned function. */
export function scratch(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

async function factsOf(chdbPath: string): Promise<StoreFacts> {
  const store = await openStore({ database: 'pos_risk', chdbPath })
  try {
    return await storeFacts(store)
  } finally {
    await store.close()
  }
}

async function stopGracefully(run: Spawned): Promise<void> {
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
