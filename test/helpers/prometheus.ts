import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'

export const DEPLOY_DIR = resolve(import.meta.dirname, '../../deploy')
export const PROMETHEUS_DIR = join(DEPLOY_DIR, 'prometheus')

/** promtool and prometheus come from Debian's `prometheus` package (.ci/run installs it). */
export const promtool = (): string => process.env.PROMTOOL ?? 'promtool'
export const prometheusBinary = (): string => process.env.PROMETHEUS ?? 'prometheus'

export interface AlertRule {
  alert: string
  expr: string
  labels: Record<string, string>
  annotations: Record<string, string>
}

function record(x: unknown): Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? Object.fromEntries(Object.entries(x)) : {}
}

function strings(x: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(record(x))) if (typeof v === 'string') out[k] = v
  return out
}

/** The alerting rules of deploy/prometheus/alerts.yml. */
export function alertRules(): AlertRule[] {
  const file = record(parse(readFileSync(join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')))
  const groups = Array.isArray(file.groups) ? file.groups : []
  const out: AlertRule[] = []
  for (const g of groups) {
    const rules = record(g).rules
    for (const r of Array.isArray(rules) ? rules : []) {
      const rule = record(r)
      if (typeof rule.alert !== 'string' || typeof rule.expr !== 'string') continue
      out.push({
        alert: rule.alert,
        expr: rule.expr,
        labels: strings(rule.labels),
        annotations: strings(rule.annotations),
      })
    }
  }
  return out
}

function addressOf(server: Server): AddressInfo {
  const a = server.address()
  if (a === null || typeof a === 'string') throw new Error('server has no TCP address')
  return a
}

/** A free TCP port on the loopback interface (closed again before it is returned). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = addressOf(server)
  await new Promise<void>((ok) => server.close(() => ok()))
  return port
}

export interface RunningPrometheus {
  readonly url: string
  /** GET an API path (`/api/v1/rules`) and return the parsed `data`. */
  get(path: string): Promise<Record<string, unknown>>
  /** `/api/v1/query` at the current time; the parsed `data` or the error Prometheus gave. */
  query(expr: string): Promise<QueryResult>
  stop(): Promise<void>
}

export type QueryResult =
  | { ok: true; resultType: string; result: unknown[] }
  | { ok: false; errorType: string; error: string }

/**
 * Starts a real Prometheus in a temporary directory on a free port, scraping `target` every second
 * under the production job name (so `up{job="pos-risk-monitor"}` means the same as in alerts.yml),
 * and evaluating `ruleFiles` every second.
 */
export async function startPrometheus(
  target: string,
  ruleFiles: readonly string[] = [],
): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'))
  const port = await freePort()
  const config = join(dir, 'prometheus.yml')
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      ...(ruleFiles.length === 0 ? [] : ['rule_files:', ...ruleFiles.map((f) => `  - '${f}'`)]),
      'scrape_configs:',
      '  - job_name: pos-risk-monitor',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  )
  const child: ChildProcess = spawn(
    prometheusBinary(),
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let log = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000)
  })
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()))
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const deadline = Date.now() + 30_000
    while (!(await ready(url))) {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log}`)
      if (Date.now() > deadline) throw new Error(`prometheus not ready after 30 s:\n${log}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  } catch (e) {
    await stop()
    throw e
  }
  return {
    url,
    stop,
    async get(path) {
      const body = record(await (await fetch(`${url}${path}`)).json())
      if (body.status !== 'success') throw new Error(`${path}: ${String(body.error)}`)
      return record(body.data)
    },
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: expr }),
      })
      const body = record(await res.json())
      const data = record(body.data)
      if (body.status === 'success') {
        return {
          ok: true,
          resultType: String(data.resultType),
          result: Array.isArray(data.result) ? data.result : [],
        }
      }
      return { ok: false, errorType: String(body.errorType), error: String(body.error) }
    },
  }
}

async function ready(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/-/ready`)).ok
  } catch {
    return false
  }
}
