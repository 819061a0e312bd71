/**
 * The rules worker: the rules stage's state (rules/core.ts) on a thread of its own, so that the decode,
 * validation and rule engine of every event run beside the main thread's Kafka clients, ingest, scoring
 * and ClickHouse writes instead of taking turns with them. Started by rules/worker-client.ts, which
 * says what crosses the thread boundary; this side only answers its requests, in the order sent.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { EventCodec } from '../kafka/codec.ts'
import { SchemaRegistryClient } from '../kafka/schema-registry.ts'
import { isRiskError } from '../lib/errors.ts'
import { type BaselineSnapshot, baselineIn, peersIn } from './baselines.ts'
import { type AppliedPart, RulesCore } from './core.ts'
import { buildRulesConfig, createEngine, type RulesConfig, type WhitelistEntry } from './engine/config.ts'
import { activityWanted } from './entity/engine.ts'
import { ENTITY_RULES } from './entity/index.ts'
import { RULES } from './index.ts'
import { combinedWhitelist } from './whitelist.ts'
import {
  packBuffers,
  type Request,
  type Response,
  unpackBuffers,
  type WorkerSetup,
} from './worker-protocol.ts'

const port = parentPort
if (port === null) throw new Error('rules/worker.ts runs as a worker thread')
const setup = workerData as WorkerSetup

let rules: RulesConfig = buildRules(setup.rules)
let wantsActivity = activityWanted(rules.entityRules)
let granted: readonly WhitelistEntry[] = setup.granted
let baselines: BaselineSnapshot = setup.baselines
let known = new Set(setup.known)
const timings: [string, number][] = []

const timeZoneOf = (acquirerId: string): string =>
  setup.timeZones.byAcquirer[acquirerId] ?? setup.timeZones.default

const engine = createEngine(rules, {
  timeZoneOf,
  allowedLatenessMs: setup.allowedLatenessMs,
  peersOf: (acquirerId, mcc, latitude, longitude) => peersIn(baselines, acquirerId, mcc, latitude, longitude),
  baselineOf: (acquirerId, merchantId) => baselineIn(baselines, acquirerId, merchantId),
  ruleTiming: (ruleId, seconds) => {
    // Sampled (one event in TIMING_SAMPLE_EVERY): a short list crosses back with each part.
    if (timings.length < 10_000) timings.push([ruleId, seconds])
  },
})
engine.reconfigure({ isWhitelisted: combinedWhitelist(rules.isWhitelisted, granted) })

const codec =
  setup.schemaRegistry === null
    ? new EventCodec({})
    : new EventCodec({ schemaRegistry: new SchemaRegistryClient(setup.schemaRegistry) })

const core = new RulesCore({
  engine,
  codec,
  acquirers: { isKnown: (id) => known.has(id) },
  maxFutureSkewMs: setup.maxFutureSkewMs,
  allowedLatenessMs: setup.allowedLatenessMs,
  timings,
  wantsActivity: (r) => wantsActivity(r),
})

function buildRules(source: { raw: unknown; name: string }): RulesConfig {
  return buildRulesConfig(source.raw, RULES, source.name, ENTITY_RULES)
}

async function handle(req: Request): Promise<{ result: unknown; transfer: ArrayBuffer[] }> {
  switch (req.op) {
    case 'apply': {
      const values = unpackBuffers(req.values)
      const applied = await core.apply(req.partition, {
        transactions: req.transactions,
        values,
        stamps: req.stamps,
        activityPartitions: req.activityPartitions,
      })
      return packApplied(applied)
    }
    case 'replay':
      core.replay(req.partition, req.events)
      return { result: core.state, transfer: [] }
    case 'load':
      core.load(req.partition)
      return { result: core.state, transfer: [] }
    case 'forget':
      return { result: core.forget(req.partition), transfer: [] }
    case 'stats':
      return { result: core.stats(), transfer: [] }
    case 'baselines':
      baselines = req.snapshot
      engine.referencesChanged()
      return { result: null, transfer: [] }
    case 'whitelist':
      granted = req.granted
      engine.reconfigure({ isWhitelisted: combinedWhitelist(rules.isWhitelisted, granted) })
      return { result: null, transfer: [] }
    case 'rules':
      rules = buildRules(req.source)
      wantsActivity = activityWanted(rules.entityRules)
      engine.reconfigure({
        layersOf: rules.layersOf,
        configHash: rules.hash,
        isWhitelisted: combinedWhitelist(rules.isWhitelisted, granted),
      })
      return { result: rules.hash, transfer: [] }
    case 'acquirers':
      known = new Set(req.known)
      return { result: null, transfer: [] }
  }
}

/** The part's output with its message bodies in two transferred buffers, not thousands of small copies. */
function packApplied(a: AppliedPart): { result: unknown; transfer: ArrayBuffer[] } {
  const hits = packBuffers(a.hits.map((h) => h.value))
  const activity = packBuffers(a.activity.map((r) => r.value))
  const result = {
    ...a,
    hits: { keys: a.hits.map((h) => h.key), values: hits },
    activity: { partitions: a.activity.map((r) => [r.partition, r.records]), values: activity },
  }
  return { result, transfer: [hits.bytes.buffer as ArrayBuffer, activity.bytes.buffer as ArrayBuffer] }
}

// Requests are answered one after another in the order sent: a configuration change posted before a
// part is in force for it, and a partition's requests keep their order.
let queue: Promise<void> = Promise.resolve()
port.on('message', (req: Request) => {
  queue = queue.then(async () => {
    let res: Response
    let transfer: ArrayBuffer[] = []
    try {
      const done = await handle(req)
      res = { id: req.id, ok: true, result: done.result }
      transfer = done.transfer
    } catch (e) {
      res = {
        id: req.id,
        ok: false,
        error: isRiskError(e)
          ? { code: e.code, message: e.message, context: e.context }
          : { code: null, message: e instanceof Error ? (e.stack ?? e.message) : String(e), context: {} },
      }
    }
    port.postMessage(res, transfer)
  })
})

// Built: the client's start() resolves with the state (the widest window for the rebuilds).
port.postMessage({ id: 0, ok: true, result: core.state } satisfies Response)
