import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { RiskError } from '../../lib/errors.ts'
import { buildScoringModel } from '../../scoring/config.ts'
import type { ScoringModel } from '../../scoring/model.ts'
import { buildEntityRules, type CompiledEntityRule, type RegisteredEntityRule } from '../entity/engine.ts'
import { whitelistIndex } from '../whitelist.ts'
import {
  CALIBRATION_DEFAULTS,
  type Calibration,
  type CompiledRule,
  type EngineOptions,
  RuleEngine,
} from './engine.ts'
import type { OverrideLayers, RegisteredRule } from './registry.ts'

/** A per-merchant, per-rule exemption granted by an analyst, with its reason and expiry. */
export interface WhitelistEntry {
  acquirerId: string
  merchantId: string
  ruleId: string
  reason: string
  expiresAt: number
  grantedBy: string | null
}

export interface RulesConfig {
  /** Short sha256 of the canonical configuration; recorded on every hit it produced. */
  hash: string
  rules: CompiledRule[]
  /** The cross-merchant rules (rules/entity/), compiled with the file's `entities` section. */
  entityRules: CompiledEntityRule[]
  /** The validated overrides of each rule, for a reload into a running engine. */
  layersOf(ruleId: string): OverrideLayers | undefined
  whitelist: WhitelistEntry[]
  isWhitelisted(acquirerId: string, merchantId: string, ruleId: string, at: number): boolean
  /** The scoring model (the file's `scoring` section), resolved against every rule above. */
  scoring: ScoringModel
  /** What the relative rules' baselines must rest on before they are used (the `calibration` section). */
  calibration: Calibration
  /** What it was built from (the parsed file) and its name: a worker thread builds the same from them. */
  source: { raw: unknown; name: string }
}

type Obj = { readonly [key: string]: unknown }

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const MCC = /^\d{4}$/

/**
 * Validates a rules configuration (the parsed JSON of the rules file) against the registry and
 * compiles the rules with it. Every problem is reported at once with the path of the bad key; an
 * unknown rule, parameter or key, a wrong type, or a whitelist entry for a rule that regulation does
 * not allow to be silenced stops start-up (RISK_ERR_CONFIG).
 *
 * Shape:
 *   { "rules":     { "<rule>": { "<param>": value } },
 *     "mcc":       { "<mcc>": { "<rule>": { ... } } },
 *     "acquirers": { "<acquirer>": { "rules": { ... }, "mcc": { "<mcc>": { "<rule>": { ... } } } } },
 *     "whitelist": [ { "acquirer_id", "merchant_id", "rule_id", "reason", "expires_at", "granted_by"? } ] }
 * The most specific layer wins: acquirer+MCC, then acquirer, then MCC, then `rules`, then defaults.
 */
export function buildRulesConfig(
  raw: unknown,
  registry: readonly RegisteredRule[],
  source = 'rules config',
  entityRegistry: readonly RegisteredEntityRule[] = [],
): RulesConfig {
  const problems: string[] = []
  const byId = new Map(registry.map((r) => [r.meta.id, r]))
  const layers = new Map<
    string,
    OverrideLayers & {
      byMcc: Map<string, Obj>
      byAcquirer: Map<string, Obj>
      byAcquirerMcc: Map<string, Obj>
    }
  >()
  for (const r of registry) {
    layers.set(r.meta.id, { global: {}, byMcc: new Map(), byAcquirer: new Map(), byAcquirerMcc: new Map() })
  }
  const root = raw ?? {}
  if (!isObj(root)) throw configError(source, ['(root): expected a JSON object'])
  for (const key of Object.keys(root)) {
    if (!['rules', 'mcc', 'acquirers', 'entities', 'whitelist', 'scoring', 'calibration'].includes(key))
      problems.push(
        `${key}: unknown key (expected rules, mcc, acquirers, entities, whitelist, scoring, calibration)`,
      )
  }

  /** Reads `{ "<rule>": { params } }` at `path`, passing each rule's overrides to `put`. */
  const ruleBlock = (block: unknown, path: string, put: (ruleId: string, overrides: Obj) => void) => {
    if (block === undefined) return
    if (!isObj(block)) {
      problems.push(`${path}: expected an object of rule ids`)
      return
    }
    for (const [ruleId, overrides] of Object.entries(block)) {
      const rule = byId.get(ruleId)
      if (rule === undefined) {
        problems.push(`${path}.${ruleId}: unknown rule`)
        continue
      }
      if (!isObj(overrides)) {
        problems.push(`${path}.${ruleId}: expected an object of parameters`)
        continue
      }
      const found = rule.check(overrides, `${path}.${ruleId}`)
      if (found.length > 0) problems.push(...found)
      else put(ruleId, overrides)
    }
  }
  const layer = (ruleId: string) => {
    const l = layers.get(ruleId)
    if (l === undefined) throw new Error(`no layers for ${ruleId}`)
    return l
  }
  const mccBlock = (block: unknown, path: string, put: (mcc: string, ruleId: string, o: Obj) => void) => {
    if (block === undefined) return
    if (!isObj(block)) {
      problems.push(`${path}: expected an object of MCCs`)
      return
    }
    for (const [mcc, rules] of Object.entries(block)) {
      if (!MCC.test(mcc)) {
        problems.push(`${path}.${mcc}: not a four-digit MCC`)
        continue
      }
      ruleBlock(rules, `${path}.${mcc}`, (ruleId, o) => put(mcc, ruleId, o))
    }
  }

  ruleBlock(root.rules, 'rules', (id, o) => {
    layer(id).global = o
  })
  mccBlock(root.mcc, 'mcc', (mcc, id, o) => layer(id).byMcc.set(mcc, o))
  if (root.acquirers !== undefined) {
    if (!isObj(root.acquirers)) problems.push('acquirers: expected an object of acquirer ids')
    else {
      for (const [acq, block] of Object.entries(root.acquirers)) {
        const path = `acquirers.${acq}`
        if (!isObj(block)) {
          problems.push(`${path}: expected an object with rules and mcc`)
          continue
        }
        for (const key of Object.keys(block)) {
          if (key !== 'rules' && key !== 'mcc')
            problems.push(`${path}.${key}: unknown key (expected rules, mcc)`)
        }
        ruleBlock(block.rules, `${path}.rules`, (id, o) => layer(id).byAcquirer.set(acq, o))
        mccBlock(block.mcc, `${path}.mcc`, (mcc, id, o) =>
          layer(id).byAcquirerMcc.set(`${acq}\u0000${mcc}`, o),
        )
      }
    }
  }

  let entityRules: CompiledEntityRule[] = []
  try {
    entityRules = buildEntityRules(root.entities, entityRegistry, 'entities')
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e))
  }
  const whitelistable = new Map<string, boolean>()
  for (const r of registry) whitelistable.set(r.meta.id, r.meta.whitelistable)
  for (const r of entityRules) whitelistable.set(r.meta.id, r.meta.whitelistable)
  const whitelist = parseWhitelist(root.whitelist, whitelistable, problems)
  const scoring = buildScoringModel(
    root.scoring,
    [...registry.map((r) => r.meta), ...entityRules.map((r) => r.meta)],
    problems,
  )
  const calibration = parseCalibration(root.calibration, problems)
  if (problems.length > 0) throw configError(source, problems)

  const rules = registry.map((r) => r.compile(layer(r.meta.id)))
  return {
    hash: createHash('sha256').update(canonicalJson(root)).digest('hex').slice(0, 16),
    rules,
    entityRules,
    layersOf: (ruleId) => layers.get(ruleId),
    whitelist,
    isWhitelisted: whitelistIndex(whitelist),
    scoring,
    calibration,
    source: { raw, name: source },
  }
}

/**
 * The `calibration` section: `{ "minPopulation": n, "minDays": d }`, each optional. Until an acquirer's
 * population has `minPopulation` merchants with enough sales and its data spans `minDays` local days,
 * the relative rules see no baseline (cohorts included) and fall back to their floors, which scoring
 * counts only beside calibrated evidence: a new deployment's first week is quiet, not loud.
 */
function parseCalibration(raw: unknown, problems: string[]): Calibration {
  if (raw === undefined) return CALIBRATION_DEFAULTS
  if (!isObj(raw)) {
    problems.push('calibration: expected an object')
    return CALIBRATION_DEFAULTS
  }
  const out = { ...CALIBRATION_DEFAULTS }
  for (const [key, v] of Object.entries(raw)) {
    if (key !== 'minPopulation' && key !== 'minDays') {
      problems.push(`calibration.${key}: unknown key (expected minPopulation, minDays)`)
      continue
    }
    const max = key === 'minDays' ? 30 : 1_000_000
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
      problems.push(`calibration.${key}: expected an integer in [1, ${max}]`)
      continue
    }
    out[key] = v
  }
  return out
}

/** Reads and builds the rules configuration from a JSON file; a missing path means all defaults. */
export function loadRulesConfig(
  path: string | null,
  registry: readonly RegisteredRule[],
  entityRegistry: readonly RegisteredEntityRule[] = [],
): RulesConfig {
  if (path === null) return buildRulesConfig({}, registry, 'default rules config', entityRegistry)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    throw configError(path, [`cannot read: ${e instanceof Error ? e.message : String(e)}`])
  }
  return buildRulesConfig(raw, registry, path, entityRegistry)
}

function parseWhitelist(
  raw: unknown,
  whitelistable: ReadonlyMap<string, boolean>,
  problems: string[],
): WhitelistEntry[] {
  if (raw === undefined) return []
  if (!Array.isArray(raw)) {
    problems.push('whitelist: expected a list of entries')
    return []
  }
  const out: WhitelistEntry[] = []
  raw.forEach((entry: unknown, i) => {
    const path = `whitelist[${i}]`
    if (!isObj(entry)) {
      problems.push(`${path}: expected an object`)
      return
    }
    const allowed = ['acquirer_id', 'merchant_id', 'rule_id', 'reason', 'expires_at', 'granted_by']
    for (const key of Object.keys(entry)) {
      if (!allowed.includes(key))
        problems.push(`${path}.${key}: unknown key (expected ${allowed.join(', ')})`)
    }
    const text = (key: string, required: boolean): string | null => {
      const v = entry[key]
      if (v === undefined && !required) return null
      if (typeof v !== 'string' || v.trim() === '') {
        problems.push(`${path}.${key}: required, a non-empty string`)
        return null
      }
      return v
    }
    const acquirerId = text('acquirer_id', true)
    const merchantId = text('merchant_id', true)
    const ruleId = text('rule_id', true)
    const reason = text('reason', true)
    const expires = text('expires_at', true)
    const grantedBy = text('granted_by', false)
    const expiresAt = expires === null ? Number.NaN : Date.parse(expires)
    if (expires !== null && !Number.isFinite(expiresAt))
      problems.push(`${path}.expires_at: "${expires}" is not an ISO-8601 time`)
    if (ruleId !== null) {
      const canWhitelist = whitelistable.get(ruleId)
      if (canWhitelist === undefined) problems.push(`${path}.rule_id: unknown rule "${ruleId}"`)
      else if (!canWhitelist) {
        problems.push(
          `${path}.rule_id: ${ruleId} cannot be whitelisted (regulation requires every hit to be reviewed)`,
        )
      }
    }
    if (
      acquirerId !== null &&
      merchantId !== null &&
      ruleId !== null &&
      reason !== null &&
      Number.isFinite(expiresAt)
    ) {
      out.push({ acquirerId, merchantId, ruleId, reason, expiresAt, grantedBy })
    }
  })
  return out
}

function configError(source: string, problems: string[]): RiskError {
  return new RiskError(
    'RISK_ERR_CONFIG',
    `invalid rules configuration ${source}:\n  ${problems.join('\n  ')}`,
    {
      context: { key: problems[0]?.split(':')[0] ?? null, source },
    },
  )
}

/** JSON with object keys sorted, so the hash does not depend on key order or whitespace. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`
  if (isObj(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v) ?? 'null'
}

export interface EngineSetup {
  timeZoneOf: (acquirerId: string) => string
  allowedLatenessMs: number
  /** Peer cohorts; none by default (the rules use their absolute thresholds). */
  peersOf?: EngineOptions['peersOf']
  /** Own baselines; none by default. */
  baselineOf?: EngineOptions['baselineOf']
  /** Sampled per-rule evaluation times (metrics); none by default. */
  ruleTiming?: EngineOptions['ruleTiming']
}

/** A rule engine running a loaded configuration: its rules, whitelist and hash. */
export function createEngine(config: RulesConfig, setup: EngineSetup): RuleEngine {
  return new RuleEngine({
    rules: config.rules,
    timeZoneOf: setup.timeZoneOf,
    allowedLatenessMs: setup.allowedLatenessMs,
    isWhitelisted: config.isWhitelisted,
    configHash: config.hash,
    peersOf: setup.peersOf ?? (() => null),
    calibration: config.calibration,
    baselineOf: setup.baselineOf ?? (() => null),
    ...(setup.ruleTiming === undefined ? {} : { ruleTiming: setup.ruleTiming }),
  })
}
