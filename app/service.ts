import type { Config } from '../config/spec.ts'
import type { RunningApi } from '../dashboard-api/index.ts'
import type { IngestStage } from '../ingest/stage.ts'
import type { PartitionStage } from '../kafka/stage-runner.ts'
import type { Logger } from '../lib/logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { loadRulesConfig } from '../rules/engine/config.ts'
import type { RuleEngine } from '../rules/engine/engine.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { RULES } from '../rules/index.ts'
import type { WorkerRules } from '../rules/worker-client.ts'
import type { ScoringStage } from '../scoring/stage.ts'
import type { LiveSimulator } from '../simulator/producer.ts'
import type { Store } from '../store/client.ts'
import {
  acquirers,
  api,
  apiOnly,
  type Component,
  entityStage,
  ingestStage,
  liveness,
  localBroker,
  ruleEngines,
  rulesConfiguration,
  rulesStage,
  type ServiceDeps,
  scoringStage,
  simulator,
  sinkStage,
  storeAndClient,
  topics,
  Wiring,
} from './components.ts'

export type { ServiceDeps }

export interface RunningService {
  readonly brokers: readonly string[]
  readonly store: Store
  /** Null in the `api` role. */
  readonly ingest: IngestStage | null
  /** The HTTP server (dashboard API, /metrics, /healthz, /readyz); null when `api.enabled` is off. */
  readonly api: RunningApi | null
  readonly simulator: LiveSimulator | null
  readonly rules: RuleEngine | null
  /** The rules worker thread, when the rules run on one (RULES_WORKER). */
  readonly rulesWorker: WorkerRules | null
  readonly scoring: ScoringStage | null
  readonly metrics: Metrics
  /** The pipeline's stages in data-flow order (ingest, entities, scoring); empty in the `api` role. */
  readonly stages: readonly PartitionStage[]
  /** Per stage: ready, healthy, messages behind (the progress log). */
  progress(): { stage: string; ready: boolean; healthy: boolean; lag: number }[]
  /** Re-reads the rules configuration file (SIGHUP); throws RISK_ERR_CONFIG and keeps the old one when invalid. */
  reloadRules(): string | null
  /** Stops every component in the reverse of the start order, the pipeline's stages together (`stopComponents`). */
  stop(): Promise<void>
}

/**
 * The service as an ordered list of components (app/components.ts). They start in this order, each
 * after the ones it needs, and stop in the reverse order: traffic and readers before the writers they
 * feed, the store and the broker last; the pipeline's stages, between them, stop together. Whatever
 * started is stopped again if a later step fails, so a failed start leaves no JVM behind.
 */
function pipeline(w: Wiring): Component[] {
  if (w.config.service.role === 'api') return [storeAndClient(w), acquirers(w), apiOnly(w)]
  return [
    localBroker(w), //        a local broker when KAFKA_BROKERS is unset
    storeAndClient(w), //     ClickHouse with its migrations; the Kafka client
    rulesConfiguration(w), // the rules file (before the topics: retention follows its windows)
    topics(w), //             inputs, dead letters, internal topics
    acquirers(w), //          the acquirers served, their alert topics (acquirers/registry.ts)
    ruleEngines(w), //        the rule engine, peers and baselines, whitelists
    ingestStage(w), //        inputs → ClickHouse (+ DLQ)
    rulesStage(w), //         inputs → per-merchant rules → hits + entity activity (one transaction per part)
    entityStage(w), //        entity activity → cross-merchant rules → hits (one transaction per part)
    scoringStage(w), //       hits → scores, alerts, score events (one transaction per part)
    sinkStage(w), //          hits, score events → ClickHouse
    simulator(w), //          simulated traffic, when asked for
    api(w), //                dashboard API, /metrics, /healthz, /readyz
    liveness(w), //           exit when a stage cannot recover
  ]
}

/**
 * Stops what `started` lists (in start order) in the reverse order, each after the ones started after
 * it, except that neighbouring pipeline stages stop together (`Component.stage`). A component that fails
 * to stop is logged and the others still stop.
 */
export async function stopComponents(
  started: readonly Component[],
  log: Pick<Logger, 'error'>,
): Promise<void> {
  const order = [...started].reverse()
  const stopOne = async (c: Component) => {
    try {
      await c.stop()
    } catch (e) {
      log.error(
        { component: c.name, error: e instanceof Error ? e.message : String(e) },
        'error while stopping',
      )
    }
  }
  for (let i = 0; i < order.length; ) {
    let end = i + 1
    if (order[i]?.stage === true) while (order[end]?.stage === true) end++
    await Promise.all(order.slice(i, end).map(stopOne))
    i = end
  }
}

export async function startService(config: Config, deps: ServiceDeps): Promise<RunningService> {
  const w = new Wiring(config, deps)
  const started: Component[] = []
  const stop = () => stopComponents(started.splice(0), w.log)
  try {
    for (const c of pipeline(w)) {
      started.push(c)
      await c.start()
    }
  } catch (e) {
    await stop()
    throw e
  }
  return {
    brokers: w.brokers,
    store: w.need(w.store, 'the store'),
    ingest: w.ingest,
    api: w.api,
    simulator: w.simulator,
    rules: w.engine,
    rulesWorker: w.rulesWorker,
    scoring: w.scoring,
    metrics: w.metrics,
    stages: w.stages,
    progress: () =>
      w.stages.map((s) => ({
        stage: s.runner.name,
        ready: s.ready,
        healthy: s.health().healthy,
        lag: s.runner.lag,
      })),
    reloadRules: () => reloadRules(w),
    stop,
  }
}

/** SIGHUP: a bad file keeps the running configuration; a reload must never take detection down. */
function reloadRules(w: Wiring): string | null {
  if (w.rules === null) return null
  let next: ReturnType<typeof loadRulesConfig>
  try {
    next = loadRulesConfig(w.config.rules.configFile, RULES, ENTITY_RULES)
  } catch (e) {
    w.metrics.risk.configReloads.labels('failure').inc()
    throw e
  }
  w.rulesConfig = next
  w.scoringModel = next.scoring
  w.engine?.reconfigure({ layersOf: next.layersOf, configHash: next.hash })
  void w.rulesWorker?.setRules(next.source)
  w.entities?.reconfigure({ configHash: next.hash, rules: next.entityRules })
  w.applyWhitelist()
  w.metrics.risk.configReloads.labels('success').inc()
  w.metrics.risk.configLoadedAt.set(w.deps.now() / 1000)
  w.log.info({ configHash: next.hash, file: w.config.rules.configFile }, 'rules configuration reloaded')
  return next.hash
}
