import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { openStore } from '../../store/client.ts'
import { uniqueName } from '../helpers/kafka.ts'

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
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
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
