import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { RISK_ALERT, TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import { openStore } from '../../store/client.ts'
import { txn } from '../helpers/events.ts'
import { readTopic, testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

const root = new URL('../..', import.meta.url).pathname
const dirs: string[] = []

interface Run {
  child: ChildProcess
  lines: () => Record<string, unknown>[]
  stderr: () => string
  exited: Promise<number | null>
}

/** Runs the real entry point, `node app/main.ts`, as npm start would, with the given environment. */
function runMain(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', 'app/main.ts'], {
    cwd: root,
    // A free port for the HTTP server unless a test says otherwise: tests run side by side.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', API_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as under a supervisor or a terminal: tests can signal the whole group.
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
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  return { child, lines, stderr: () => err, exited }
}

async function waitForLine(run: Run, msg: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const found = run.lines().find((l) => l.msg === msg)
    if (found !== undefined) return found
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(
    `no "${msg}" log line; stderr: ${run.stderr()}; stdout: ${JSON.stringify(run.lines().slice(-5))}`,
  )
}

/** What ingest counted for the transactions topic, from a running service's /metrics. */
async function ingestCounts(api: unknown): Promise<{ stored: number; duplicates: number; scored: boolean }> {
  const text = await (await fetch(`${String(api)}/metrics`)).text()
  const count = (name: string) =>
    Number(
      new RegExp(`^risk_ingest_events_${name}_total\\{topic="[^"]*\\.transactions"\\} (\\d+)`, 'm').exec(
        text,
      )?.[1] ?? 0,
    )
  return {
    stored: count('stored'),
    duplicates: count('duplicate'),
    // The scorer's lag series appears with its first part in this process.
    scored: /risk_kafka_consumer_lag\{client="scoring"/.test(text),
  }
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('the service entry point (npm start)', () => {
  it('refuses a bad configuration naming the key, and starts nothing', async () => {
    const run = runMain({ KAFKA_TOPIC_PARTITIONS: 'lots', CLICKHOUSE_DATABASE: 'x-y' })
    expect(await run.exited).toBe(2)
    expect(run.stderr()).toContain('kafka.topicPartitions (KAFKA_TOPIC_PARTITIONS)')
    expect(run.stderr()).toContain('clickhouse.database (CLICKHOUSE_DATABASE)')
  })

  it('creates its topics, ingests simulated traffic, and stops cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'service-test-'))
    dirs.push(dir)
    const prefix = uniqueName('svc')
    const run = runMain({
      KAFKA_BROKERS: inject('kafkaBrokers'),
      KAFKA_GROUP_ID: `${prefix}-group`,
      KAFKA_TOPIC_PARTITIONS: '2',
      TOPIC_TRANSACTIONS: `${prefix}.transactions`,
      TOPIC_MERCHANT_EVENTS: `${prefix}.merchant-events`,
      TOPIC_ENTITY_ACTIVITY: `${prefix}.entity-activity`,
      TOPIC_RULE_HITS: `${prefix}.rule-hits`,
      TOPIC_SCORING_STATE: `${prefix}.scoring-state`,
      TOPIC_SCORE_EVENTS: `${prefix}.score-events`,
      TOPIC_PARKED: `${prefix}.parked`,
      ALERTS_TOPIC_PATTERN: `${prefix}.alerts.{acquirer}`,
      CHDB_PATH: join(dir, 'chdb'),
      SIMULATOR: 'on',
      SIMULATOR_RATE: '400',
      SIMULATOR_MERCHANTS: '20',
      LOG_LEVEL: 'info',
    })
    const created = await waitForLine(run, 'created topics')
    expect(created.created).toEqual([
      `${prefix}.transactions`,
      `${prefix}.merchant-events`,
      `${prefix}.transactions.dlq`,
      `${prefix}.merchant-events.dlq`,
      `${prefix}.entity-activity`,
      `${prefix}.rule-hits`,
      `${prefix}.scoring-state`,
      `${prefix}.score-events`,
      `${prefix}.parked`,
    ])
    await waitForLine(run, 'pos-risk-monitor running')
    await new Promise((r) => setTimeout(r, 3000))
    run.child.kill('SIGTERM')
    expect(await run.exited).toBe(0)
    const stopped = run.lines().find((l) => l.msg === 'ingest stopped')
    const stats = stopped?.stats as { stored: number; rejected: number } | undefined
    expect(stats?.stored).toBeGreaterThan(500)
    expect(stats?.rejected).toBe(0)
    expect(run.lines().some((l) => l.msg === 'stopped')).toBe(true)

    // What the service said it stored is what ClickHouse holds, after the process is gone.
    const store = await openStore({ database: 'pos_risk', chdbPath: join(dir, 'chdb') })
    try {
      const rs = await store.client.query({
        query: 'SELECT (SELECT count() FROM transactions) + (SELECT count() FROM merchant_events) AS n',
        format: 'JSONEachRow',
      })
      const [row] = await rs.json<{ n: string | number }>()
      expect(Number(row?.n)).toBe(stats?.stored)
    } finally {
      await store.close()
    }
  })

  it('reloads the rules file on SIGHUP to its process group, keeps a valid config over a bad one, and its own broker survives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'service-hup-'))
    dirs.push(dir)
    const rulesFile = join(dir, 'rules.json')
    writeFileSync(rulesFile, JSON.stringify({ rules: { decline_ratio: { threshold: 0.3 } } }))
    const run = runMain({
      // No KAFKA_BROKERS: the service starts its own broker, on free ports.
      KAFKA_LOCAL_DATA_DIR: join(dir, 'kafka'),
      KAFKA_LOCAL_PORT: '0',
      KAFKA_LOCAL_CONTROLLER_PORT: '0',
      CHDB_PATH: join(dir, 'chdb'),
      RULES_CONFIG_FILE: rulesFile,
      SIMULATOR: 'off',
    })
    const ready = await waitForLine(run, 'rule engine ready', 120_000)
    await waitForLine(run, 'pos-risk-monitor running', 60_000)
    const pid = run.child.pid
    if (pid === undefined) throw new Error('no pid')

    writeFileSync(rulesFile, JSON.stringify({ rules: { decline_ratio: { threshold: 0.4 } } }))
    process.kill(-pid, 'SIGHUP')
    const reloaded = await waitForLine(run, 'rules configuration reloaded')
    expect(reloaded.configHash).not.toBe(ready.configHash)

    writeFileSync(rulesFile, JSON.stringify({ rules: { decline_ratio: { threshold: 'high' } } }))
    process.kill(-pid, 'SIGHUP')
    const refused = await waitForLine(
      run,
      'rules configuration not reloaded; the previous one stays in force',
    )
    expect(String(refused.message)).toContain('rules.decline_ratio.threshold')

    // The group's signals reached the service only: its broker is still up, so it stops cleanly.
    expect(run.lines().some((l) => l.msg === 'the local Kafka broker exited')).toBe(false)
    process.kill(-pid, 'SIGINT')
    expect(await run.exited).toBe(0)
    expect(run.lines().some((l) => l.msg === 'stopped')).toBe(true)
  })
})

describe('the whole pipeline, events to alerts', () => {
  it('alerts once for a card-testing merchant on its acquirer topic only, and not again after re-reading every event', async () => {
    const brokers = inject('kafkaBrokers')
    const kafka = testKafka(brokers)
    const codec = new EventCodec({})
    const dir = mkdtempSync(join(tmpdir(), 'service-alerts-'))
    dirs.push(dir)
    const prefix = uniqueName('e2e')
    const group = `${prefix}-group`
    const env = {
      KAFKA_BROKERS: brokers,
      KAFKA_GROUP_ID: group,
      KAFKA_TOPIC_PARTITIONS: '2',
      TOPIC_TRANSACTIONS: `${prefix}.transactions`,
      TOPIC_MERCHANT_EVENTS: `${prefix}.merchant-events`,
      TOPIC_ENTITY_ACTIVITY: `${prefix}.entity-activity`,
      TOPIC_RULE_HITS: `${prefix}.rule-hits`,
      TOPIC_SCORING_STATE: `${prefix}.scoring-state`,
      TOPIC_SCORE_EVENTS: `${prefix}.score-events`,
      TOPIC_PARKED: `${prefix}.parked`,
      ALERTS_TOPIC_PATTERN: `${prefix}.alerts.{acquirer}`,
      ALERTS_ACQUIRER_FORMATS: 'acq-b=json',
      ACQUIRERS: 'acq-a,acq-b',
      CHDB_PATH: join(dir, 'chdb'),
      SIMULATOR: 'off',
      LOG_LEVEL: 'info',
    }
    const first = runMain(env)
    const running = await waitForLine(first, 'pos-risk-monitor running')

    // Card testing at m-testing (acq-a): 30 attempts on 30 cards in one local day, half declined.
    // A look-alike at acq-a with 30 ordinary approved sales, and a merchant of acq-b alike.
    const day = Date.UTC(2026, 10, 20, 2, 0, 0)
    const events = [
      ...Array.from({ length: 30 }, (_, i) =>
        txn({
          acquirer_id: 'acq-a',
          merchant_id: 'm-testing',
          event_time: day + i * 60_000,
          card_token: `tok-testing-${i}`,
          response_code: i % 2 === 0 ? '05' : '00',
        }),
      ),
      ...Array.from({ length: 30 }, (_, i) =>
        txn({ acquirer_id: 'acq-a', merchant_id: 'm-grocer', event_time: day + i * 60_000 }),
      ),
      ...Array.from({ length: 30 }, (_, i) =>
        txn({ acquirer_id: 'acq-b', merchant_id: 'm-b', event_time: day + i * 60_000 }),
      ),
    ]
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: env.TOPIC_TRANSACTIONS,
      messages: await Promise.all(
        events.map(async (t) => ({
          key: t.merchant_id,
          value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
        })),
      ),
    })
    await producer.disconnect()

    // Each known acquirer's topic exists from start-up (acquirers/registry.ts); acq-a's gets the alert.
    const admin = kafka.admin()
    await admin.connect()
    await waitFor(
      async () => (await admin.listTopics()).includes(`${prefix}.alerts.acq-a`),
      () => `no alert topic for acq-a; log: ${JSON.stringify(first.lines().slice(-5))}`,
      90_000,
    )
    const [message] = await readTopic(kafka, `${prefix}.alerts.acq-a`, 1, 30_000)
    const decoded = await codec.decode(RISK_ALERT, message?.value ?? null)
    if (!decoded.ok) throw decoded.error
    expect(decoded.record.merchant_id).toBe('m-testing')
    expect(decoded.record.level).toBe('HIGH')
    expect(decoded.record.category).toBe('FRAUD')
    const reasons = decoded.record.reasons
    expect(Array.isArray(reasons) ? reasons.map((r: { rule_id: string }) => r.rule_id) : null).toEqual([
      'decline_ratio',
    ])
    // The same process serves the metrics of what it did.
    const exposition = await (await fetch(`${String(running.api)}/metrics`)).text()
    expect(exposition).toMatch(/risk_alerts_total\{level="HIGH",category="fraud"\} 1/)
    expect(exposition).toMatch(/risk_rule_hits_total\{rule="decline_ratio",category="fraud"\} [1-9]/)
    expect(exposition).toMatch(/risk_merchants_by_level\{level="HIGH",category="fraud"\} 1/)
    // The alert does not wait for ClickHouse: ingest may not have stored the events yet (its fetch waits
    // for a megabyte or half a second). Stopped before that, the first run stores fewer than all, and
    // the second stores the rest as new, rightly; the test's premise is that everything was stored.
    await waitFor(
      async () => (await ingestCounts(running.api)).stored >= events.length,
      async () =>
        `the first run did not store every event: ${JSON.stringify(await ingestCounts(running.api))}`,
      60_000,
    )
    first.child.kill('SIGTERM')
    expect(await first.exited).toBe(0)

    // Offsets lost while the service is down: the restarted ingest and rules stages read every event
    // again; the store drops them as duplicates, the rules publish the same hits again.
    await admin.deleteGroups([group, `${group}.rules`, `${group}.entities`])
    await admin.disconnect()
    const second = runMain(env)
    const again = await waitForLine(second, 'pos-risk-monitor running')
    await waitForLine(second, 'scoring state restored')
    // Until ingest has read every event again and the scorer has taken a part of the hits the rules
    // sent again (its lag series appears with its first part), rather than a fixed wait.
    await waitFor(
      async () => {
        const c = await ingestCounts(again.api)
        return c.stored + c.duplicates >= events.length && c.scored
      },
      async () =>
        `the restarted service did not re-read everything: ${JSON.stringify(await ingestCounts(again.api))}`,
      90_000,
    )
    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
    const ingest = second.lines().find((l) => l.msg === 'ingest stopped')?.stats as
      | { duplicates: number }
      | undefined
    expect(ingest?.duplicates).toBe(events.length)
    const scoring = second.lines().find((l) => l.msg === 'scoring stage stopped')?.stats as
      | { hits: number; alerts: number }
      | undefined
    // The rules sent their hits again; the scorer already held them.
    expect(scoring?.hits).toBeGreaterThan(0)
    expect(scoring?.alerts).toBe(0)

    const quiet = async (topic: string) => {
      const got = await readTopic(kafka, topic, 1_000_000, 5_000).catch((e: unknown) => String(e))
      return typeof got === 'string' ? Number(/read (\d+) of/.exec(got)?.[1] ?? -1) : got.length
    }
    expect(await quiet(`${prefix}.alerts.acq-a`)).toBe(1)
    // acq-b's merchant did nothing wrong: its topic, created when the service started, is empty.
    expect(await quiet(`${prefix}.alerts.acq-b`)).toBe(0)
  })
})
