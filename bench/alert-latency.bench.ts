/**
 * Alert latency at a steady rate: the whole service (npm start's code: ingest, rules, entity stage,
 * scoring) on a local broker, fed in a worker thread (bench/latency-load.ts) by the simulator at a
 * fixed rate of legitimate traffic plus a card-testing burst at a fresh merchant every BURST_EVERY_MS.
 * For each alert, two latencies from the event that made the rule fire (its event time is the moment
 * the load produced it):
 *   - visible: until a read_committed consumer in this process receives the alert, i.e. what an
 *     acquirer's consumer sees (the alert only becomes visible when the scorer's transaction commits);
 *   - sent: until the alert's Kafka timestamp, set when the scorer sends it inside the transaction.
 *
 *   npm run bench:latency
 *   BENCH_RATES=1000,5000,10000 BENCH_SECONDS=60 npm run bench:latency
 *
 * The default rates are issue 14's two targets: p99 visible at most 250 ms at 2,000 events/s and 1 s at
 * 10,000/s; the last lines say whether each was met.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { Kafka, logLevel } from 'kafkajs'
import type { Registry } from 'prom-client'
import { startService } from '../app/service.ts'
import { EventCodec } from '../kafka/codec.ts'
import { startLocalKafka } from '../kafka-local/broker.ts'
import { createLogger } from '../lib/logger.ts'
import { sleep } from '../lib/retry.ts'
import { tailAlerts } from '../scoring/alerts-reader.ts'
import type { LoadSettings } from './latency-load.ts'
import { benchConfig } from './service-run.ts'
import { mainThreadCpuSeconds, processCpuSeconds } from './thread-cpu.ts'

const RATES = (process.env.BENCH_RATES ?? '2000,10000').split(',').map(Number)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 45)
const WARMUP_SECONDS = 10
const BURST_EVERY_MS = Number(process.env.BENCH_BURST_EVERY_MS ?? 250)
const ACQUIRER = 'acq-alpha'
/** Issue 14's p99 targets, ms, for the visible latency at these rates. */
const P99_TARGET_MS = new Map([
  [2000, 250],
  [10000, 1000],
])

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

/** Mean of each histogram the service keeps on the alert's path, from its Prometheus registry. */
async function stageBreakdown(registry: Registry): Promise<string> {
  const parts: string[] = []
  for (const metric of await registry.getMetricsAsJSON()) {
    if (String(metric.type) !== 'histogram') continue
    const sums = new Map<string, { sum: number; count: number }>()
    for (const v of metric.values) {
      const labels = v.labels as Record<string, string | number>
      const name = (v as { metricName?: string }).metricName ?? ''
      const key = Object.entries(labels)
        .filter(([k]) => k !== 'le')
        .map(([, x]) => x)
        .join(',')
      const e = sums.get(key) ?? { sum: 0, count: 0 }
      if (name.endsWith('_sum')) e.sum = v.value
      else if (name.endsWith('_count')) e.count = v.value
      else continue
      sums.set(key, e)
    }
    for (const [key, e] of sums) {
      if (e.count === 0) continue
      const seconds = metric.name.endsWith('_seconds')
      const short = metric.name.replace(/^risk_/, '').replace(/_seconds$/, '')
      if (short === 'rule_evaluation_duration' || metric.name.startsWith('nodejs_')) continue
      const mean = e.sum / e.count
      const shown = seconds ? `${(mean * 1000).toFixed(1)} ms` : mean.toFixed(0)
      parts.push(`${short}${key ? `{${key}}` : ''} ${shown} (n=${e.count})`)
    }
  }
  return parts.join('; ')
}

const dir = mkdtempSync(join(tmpdir(), 'bench-latency-'))
const local = await startLocalKafka({ dataDir: join(dir, 'kafka'), heapMb: 1024 })
const kafka = new Kafka({ clientId: 'bench', brokers: local.brokers, logLevel: logLevel.NOTHING })
const codec = new EventCodec({})
const results: string[] = []
const verdicts: string[] = []

try {
  for (const rate of RATES) {
    const run = `r${rate}-${Date.now().toString(36)}`
    // The acquirers of latency-load.ts's traffic.
    const config = benchConfig(run, {
      brokers: local.brokers,
      acquirers: [ACQUIRER, 'acq-beta'],
      chdbPath: join(dir, `chdb-${run}`),
      groupId: `bench-${run}`,
    })
    const service = await startService(config, {
      logger: createLogger(config.log.level),
      now: Date.now,
      sleep,
    })
    const sent: number[] = []
    const visible: number[] = []
    // Only bursts produced after the warm-up are measured.
    const measured = new Set<string>()
    // Not awaited: the topic only appears with the first alert.
    const tail = tailAlerts(kafka, codec, `${run}.alerts.${ACQUIRER}`, {
      fromBeginning: true,
      onAlert: (m) => {
        const a = m.alert
        if (a === null || typeof a.merchant_id !== 'string' || !measured.has(a.merchant_id)) return
        visible.push(Date.now() - Number(a.created_at))
        sent.push(m.timestamp - Number(a.created_at))
      },
    })
    const settings: LoadSettings = {
      brokers: local.brokers,
      run,
      topics: { transactions: config.topics.transactions, merchantEvents: config.topics.merchantEvents },
      rate,
      merchants: 5000,
      acquirer: ACQUIRER,
      warmupSeconds: WARMUP_SECONDS,
      seconds: SECONDS,
      burstEveryMs: BURST_EVERY_MS,
    }
    // Lag per stage (messages behind its input's end), sampled through the run: bounded means keeping up.
    const maxLag = new Map<string, number>()
    // How long a callback on the main thread (where every stage's Kafka client runs) waits for its turn.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 })
    const cpuBefore = process.cpuUsage()
    const mainBefore = mainThreadCpuSeconds()
    const brokerBefore = processCpuSeconds(local.pid)
    const lagTimer = setInterval(() => {
      for (const p of service.progress()) maxLag.set(p.stage, Math.max(maxLag.get(p.stage) ?? 0, p.lag))
    }, 500)
    const load = new Worker(new URL('./latency-load.ts', import.meta.url), { workerData: settings })
    type Done = { produced: number; seconds: number; loadCpuSeconds: number }
    const done = new Promise<Done>((resolve, reject) => {
      load.on('message', (m: { measured?: string; done?: boolean } & Partial<Done>) => {
        if (m.measured !== undefined) measured.add(m.measured)
        if (m.done === true)
          resolve({
            produced: m.produced ?? 0,
            seconds: m.seconds ?? 1,
            loadCpuSeconds: m.loadCpuSeconds ?? 0,
          })
      })
      load.on('error', reject)
    })
    loopDelay.enable()
    const { produced, seconds, loadCpuSeconds } = await done
    loopDelay.disable()
    const cpu = process.cpuUsage(cpuBefore)
    const mainCpu = mainThreadCpuSeconds() - mainBefore
    const brokerCpu = processCpuSeconds(local.pid) - brokerBefore
    clearInterval(lagTimer)
    const lagAtEnd = service.progress()
    await load.terminate()
    await sleep(5000)
    await (await tail)()
    const breakdown = await stageBreakdown(service.metrics.registry)
    await service.stop()
    const bursts = measured.size
    const v = [...visible].sort((x, y) => x - y)
    const t = [...sent].sort((x, y) => x - y)
    const line = `| ${rate.toLocaleString('en-US')} | ${bursts} | ${v.length} | ${quantile(v, 0.5)} | ${quantile(v, 0.99)} | ${v.at(-1) ?? 'n/a'} | ${quantile(t, 0.5)} | ${quantile(t, 0.99)} | ${Math.round(produced / seconds).toLocaleString('en-US')} |`
    results.push(line)
    const target = P99_TARGET_MS.get(rate)
    if (target !== undefined) {
      const p99 = quantile(v, 0.99)
      verdicts.push(
        `p99 visible at ${rate.toLocaleString('en-US')}/s: ${p99} ms, target ≤ ${target} ms: ${p99 <= target ? 'met' : 'NOT met'}`,
      )
    }
    console.log(line)
    console.log(`  mean per stage at ${rate}/s: ${breakdown}`)
    const perEvent = (cpuSeconds: number) => ((1e6 * cpuSeconds) / Math.max(1, produced)).toFixed(1)
    console.log(
      `  main thread's event-loop delay at ${rate}/s: median ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms, max ${(loopDelay.max / 1e6).toFixed(1)} ms; CPU-µs per event: process ${perEvent((cpu.user + cpu.system) / 1e6)} (of which the load's thread ${perEvent(loadCpuSeconds)}), main thread ${perEvent(mainCpu)}, broker ${perEvent(brokerCpu)}`,
    )
    console.log(
      `  lag per stage at ${rate}/s (messages behind), largest during the run / when the load stopped: ${lagAtEnd
        .map(
          (p) =>
            `${p.stage} ${(maxLag.get(p.stage) ?? 0).toLocaleString('en-US')} / ${p.lag.toLocaleString('en-US')}`,
        )
        .join('; ')}`,
    )
  }
  console.log(
    '\n| Rate (events/s) | Bursts | Alerts | Visible median ms | Visible p99 ms | Visible max ms | Sent median ms | Sent p99 ms | Load events/s achieved |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const r of results) console.log(r)
  if (verdicts.length > 0) console.log(`\n${verdicts.join('\n')}`)
} finally {
  await local.stop()
  rmSync(dir, { recursive: true, force: true })
}
