import { readFileSync } from 'node:fs'
import { RiskError } from '../lib/errors.ts'
import { parseLate } from '../simulator/late.ts'
import { isSetting } from './settings.ts'
import { CONFIG_SPEC, type Config, timeZoneProblem } from './spec.ts'

export interface LoadOptions {
  /** Environment to read (process.env by default in the caller; passed in so tests need no globals). */
  env: Readonly<Record<string, string | undefined>>
  /** Path of an optional JSON file with the same nested keys as the spec; `CONFIG_FILE` otherwise. */
  file?: string | null
}

type Node = { readonly [key: string]: unknown }

function isNode(v: unknown): v is Node {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Builds the configuration: environment variable, else the file's value, else the default. Every
 * problem is collected and reported at once, each with the path of the key and its variable, so an
 * operator fixes a broken deployment in one round.
 */
export function loadConfig(opts: LoadOptions): Config {
  const filePath = opts.file ?? opts.env.CONFIG_FILE ?? null
  let fileValues: unknown = {}
  if (filePath !== null && filePath !== '') {
    try {
      fileValues = JSON.parse(readFileSync(filePath, 'utf8'))
    } catch (e) {
      throw new RiskError(
        'RISK_ERR_CONFIG',
        `config file ${filePath}: ${e instanceof Error ? e.message : String(e)}`,
        {
          context: { key: 'CONFIG_FILE' },
        },
      )
    }
    if (!isNode(fileValues)) {
      throw new RiskError('RISK_ERR_CONFIG', `config file ${filePath}: expected a JSON object`, {
        context: { key: 'CONFIG_FILE' },
      })
    }
  }
  const problems: string[] = []
  const result = walk(CONFIG_SPEC, isNode(fileValues) ? fileValues : {}, [], opts.env, problems, filePath)
  if (problems.length > 0) {
    throw new RiskError('RISK_ERR_CONFIG', `invalid configuration:\n  ${problems.join('\n  ')}`, {
      context: { key: problems[0]?.split(' ')[0] ?? null },
    })
  }
  // The walk mirrors CONFIG_SPEC key by key and parses every leaf with its setting, so the built object
  // has exactly the inferred shape; TypeScript cannot follow a recursive walk, hence this one cast.
  const config = result as Config
  const tz = timeZoneProblem(config.time.defaultTimeZone)
  if (tz !== null) {
    throw new RiskError(
      'RISK_ERR_CONFIG',
      `invalid configuration:\n  time.defaultTimeZone (DEFAULT_TIME_ZONE): ${tz}`,
      {
        context: { key: 'time.defaultTimeZone' },
      },
    )
  }
  if (config.kafka.heartbeatIntervalMs * 3 > config.kafka.sessionTimeoutMs) {
    throw new RiskError(
      'RISK_ERR_CONFIG',
      `invalid configuration:\n  kafka.heartbeatIntervalMs (KAFKA_HEARTBEAT_INTERVAL_MS): ${config.kafka.heartbeatIntervalMs} is more than a third of kafka.sessionTimeoutMs (${config.kafka.sessionTimeoutMs})`,
      { context: { key: 'kafka.heartbeatIntervalMs' } },
    )
  }
  try {
    parseLate(config.simulator.late)
  } catch (e) {
    throw new RiskError(
      'RISK_ERR_CONFIG',
      `invalid configuration:\n  simulator.late (SIMULATOR_LATE): ${(e as Error).message}`,
      { context: { key: 'simulator.late' } },
    )
  }
  return config
}

function walk(
  spec: Node,
  file: Node,
  path: string[],
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
  filePath: string | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(file)) {
    if (!(key in spec)) problems.push(`${[...path, key].join('.')} (in ${filePath}): unknown key`)
  }
  for (const [key, node] of Object.entries(spec)) {
    const keyPath = [...path, key].join('.')
    if (isSetting(node)) {
      const fromEnv = env[node.env]
      const raw = fromEnv !== undefined ? fromEnv : file[key]
      if (raw === undefined) {
        if (node.default === undefined) problems.push(`${keyPath} (${node.env}): required`)
        else out[key] = node.default
        continue
      }
      const parsed = node.parse(raw)
      if (parsed.ok) out[key] = parsed.value
      else {
        const source = fromEnv !== undefined ? node.env : `${node.env}, from ${filePath}`
        problems.push(`${keyPath} (${source}): ${node.secret ? 'invalid value' : parsed.problem}`)
      }
    } else if (isNode(node)) {
      const sub = file[key]
      if (sub !== undefined && !isNode(sub)) {
        problems.push(`${keyPath} (in ${filePath}): expected an object`)
        continue
      }
      out[key] = walk(node, sub ?? {}, [...path, key], env, problems, filePath)
    }
  }
  return out
}

/** The configuration with secrets masked, for the start-up log. */
export function describeConfig(config: Config): Record<string, unknown> {
  return mask(CONFIG_SPEC, config)
}

function mask(spec: Node, values: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const v = isNode(values) ? values : {}
  for (const [key, node] of Object.entries(spec)) {
    if (isSetting(node)) out[key] = node.secret && v[key] !== '' ? '***' : v[key]
    else if (isNode(node)) out[key] = mask(node, v[key])
  }
  return out
}
