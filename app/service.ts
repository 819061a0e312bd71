import { resolve } from 'node:path'
import type { Config } from '../config/spec.ts'
import { loadWhitelist, type RunningApi, startApi } from '../dashboard-api/index.ts'
import { CompositeSink } from '../ingest/composite-sink.ts'
import { IngestConsumer } from '../ingest/consumer.ts'
import { createKafka } from '../kafka/client.ts'
import { ensureTopics } from '../kafka/topics.ts'
import { type LocalKafka, startLocalKafka } from '../kafka-local/broker.ts'
import { isRiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { createMetrics, type Metrics } from '../metrics/metrics.ts'
import { Baselines } from '../rules/baselines.ts'
import { createEngine, loadRulesConfig, type WhitelistEntry } from '../rules/engine/config.ts'
import type { HitUpdate, RuleEngine } from '../rules/engine/engine.ts'
import { EntityEngine } from '../rules/entity/engine.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { EntityPublisher } from '../rules/entity/publisher.ts'
import { EntityStage, entityTopicConfig } from '../rules/entity/stage.ts'
import { RULES } from '../rules/index.ts'
import { RulesStage } from '../rules/stage.ts'
import { CapacityCalibration } from '../scoring/capacity.ts'
import { HitPublisher } from '../scoring/hits.ts'
import type { ScoringModel } from '../scoring/model.ts'
import { ScoringStage } from '../scoring/stage.ts'
import { TrafficSimulator } from '../simulator/generator.ts'
import { parseLate } from '../simulator/late.ts'
import { LiveSimulator } from '../simulator/producer.ts'
import type { Store } from '../store/client.ts'
import { codecFor, openConfiguredStore } from './clients.ts'
import { combinedWhitelist } from './whitelist.ts'

export interface ServiceDeps {
  logger: Logger
  now: () => number
  sleep: (ms: number) => Promise<void>
}

export interface RunningService {
  readonly brokers: readonly string[]
  readonly store: Store
  /** Null in the `api` role. */
  readonly ingest: IngestConsumer | null
  /** The HTTP server (dashboard API, /metrics, /healthz, /readyz); null when `api.enabled` is off. */
  readonly api: RunningApi | null
  readonly simulator: LiveSimulator | null
  readonly rules: RuleEngine | null
  readonly scoring: ScoringStage | null
  readonly metrics: Metrics
  /** Re-reads the rules configuration file (SIGHUP); throws RISK_ERR_CONFIG and keeps the old one when invalid. */
  reloadRules(): string | null
  /** Stops in dependency order: traffic, then consumer (batch finished and committed), store, broker. */
  stop(): Promise<void>
}

/**
 * Starts the pipeline from a validated configuration: the broker (a local one when none is given), the
 * store with its migrations, the topics, the ingest consumer, and simulated traffic when asked for.
 * Whatever started is stopped again if a later step fails, so a failed start leaves no JVM behind.
 */
export async function startService(config: Config, deps: ServiceDeps): Promise<RunningService> {
  const log = deps.logger
  const cleanups: (() => Promise<void>)[] = []
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn()
      } catch (e) {
        log.error({ error: e instanceof Error ? e.message : String(e) }, 'error while stopping')
      }
    }
  }
  try {
    if (config.service.role === 'api') return await startApiOnly(config, deps, cleanups, cleanup)
    let brokers = config.kafka.brokers
    let local: LocalKafka | null = null
    if (brokers.length === 0) {
      log.info(
        { dataDir: config.kafka.local.dataDir },
        'KAFKA_BROKERS is not set: starting a local Kafka broker',
      )
      local = await startLocalKafka({
        dataDir: resolve(config.kafka.local.dataDir),
        port: config.kafka.local.port,
        controllerPort: config.kafka.local.controllerPort,
        heapMb: config.kafka.local.heapMb,
        log: (msg) => log.info({ component: 'kafka-local' }, msg),
      })
      const started = local
      let stoppingBroker = false
      cleanups.push(() => {
        stoppingBroker = true
        return started.stop()
      })
      // The broker dying under a running service is an outage the operator must see at once; the
      // consumer keeps retrying, so nothing is lost while it is restarted.
      void started.exited.then((info) => {
        if (!stoppingBroker) log.error({ ...info, logFile: started.logFile }, 'the local Kafka broker exited')
      })
      brokers = started.brokers
      log.info({ brokers }, 'local Kafka broker ready')
    }

    const metrics = createMetrics({ version: process.env.npm_package_version ?? 'dev' })
    const ch = config.clickhouse
    const store = await openConfiguredStore(config, log, metrics)
    cleanups.push(() => store.close())
    log.info(
      { backend: ch.url === null ? 'chdb' : 'server', database: ch.database },
      'ClickHouse store ready',
    )

    const kafka = createKafka(config.kafka, brokers, log)
    const topics = config.topics
    // Loaded before the topics: a bad rules file stops start-up before anything is created, and the
    // entity topic's retention follows the cross-merchant rules' widest window.
    const rulesConfig = config.rules.enabled
      ? loadRulesConfig(config.rules.configFile, RULES, ENTITY_RULES)
      : null
    const entityEngine =
      rulesConfig === null
        ? null
        : new EntityEngine({
            rules: rulesConfig.entityRules,
            isWhitelisted: rulesConfig.isWhitelisted,
            configHash: rulesConfig.hash,
          })
    const created = await ensureTopics(
      kafka,
      [
        topics.transactions,
        topics.merchantEvents,
        `${topics.transactions}${topics.dlqSuffix}`,
        `${topics.merchantEvents}${topics.dlqSuffix}`,
        ...(entityEngine === null ? [] : [topics.entityActivity, topics.ruleHits, topics.scoringState]),
      ],
      {
        partitions: config.kafka.topicPartitions,
        replicationFactor: config.kafka.replicationFactor,
        configEntries:
          entityEngine === null
            ? {}
            : {
                [topics.entityActivity]: entityTopicConfig(entityEngine.retentionMs),
                // One record per merchant survives compaction: the changelog stays as small as the state.
                [topics.scoringState]: [{ name: 'cleanup.policy', value: 'compact' }],
              },
      },
    )
    if (created.length > 0) log.info({ created }, 'created topics')

    const codec = codecFor(config)

    const zones = config.time.acquirerTimeZones
    const timeZoneOf = (acquirerId: string) => zones[acquirerId] ?? config.time.defaultTimeZone

    let rules: {
      engine: RuleEngine
      stage: RulesStage
      publisher: EntityPublisher
      entities: EntityEngine
      hits: { publish: (h: readonly HitUpdate[]) => Promise<void> }
    } | null = null
    let scoringModel: ScoringModel | null = rulesConfig?.scoring ?? null
    if (rulesConfig !== null) metrics.risk.configLoadedAt.set(deps.now() / 1000)
    // Counts hits as they go to scoring: new hits and updates of a hit's window alike.
    const countHits = (h: readonly HitUpdate[]) => {
      for (const hit of h) metrics.risk.ruleHits.labels(hit.ruleId, hit.category).inc()
    }
    if (rulesConfig !== null && entityEngine !== null) {
      const hitPublisher = new HitPublisher(kafka, topics.ruleHits)
      await hitPublisher.start()
      cleanups.push(() => hitPublisher.stop())
      const hits = {
        publish: async (h: readonly HitUpdate[]) => {
          await hitPublisher.publish(h)
          countHits(h)
        },
      }
      const baselines = new Baselines({ store, logger: log, minCohort: config.rules.minCohort })
      const refresh = () =>
        baselines.refresh(deps.now()).then(
          () => true,
          (e: unknown) => {
            // Stale or missing baselines only make the relative rules fall back; detection goes on.
            log.warn(isRiskError(e) ? e.toLog() : { error: String(e) }, 'rule baselines not refreshed')
            return false
          },
        )
      await refresh()
      const timers = new Map<string, ReturnType<typeof metrics.risk.ruleEvaluation.labels>>()
      const ruleEvaluation = (ruleId: string) => {
        let t = timers.get(ruleId)
        if (t === undefined) {
          t = metrics.risk.ruleEvaluation.labels(ruleId)
          timers.set(ruleId, t)
        }
        return t
      }
      const engine = createEngine(rulesConfig, {
        timeZoneOf,
        allowedLatenessMs: config.rules.allowedLatenessMs,
        peersOf: (acquirerId, mcc, latitude, longitude) =>
          baselines.peersOf(acquirerId, mcc, latitude, longitude),
        baselineOf: (acquirerId, merchantId) => baselines.baselineOf(acquirerId, merchantId),
        ruleTiming: (ruleId, seconds) => ruleEvaluation(ruleId).observe(seconds),
      })
      // Until the first cohorts exist (a new store), refresh every minute: the relative rules fall back to
      // absolute thresholds without peers, and look-alikes (car dealers, jewellers) fire on those.
      let timer: NodeJS.Timeout | null = null
      let stopped = false
      const schedule = () => {
        if (stopped) return
        const delay =
          baselines.cohorts === 0
            ? Math.min(60_000, config.rules.baselineRefreshMs)
            : config.rules.baselineRefreshMs
        timer = setTimeout(() => {
          void refresh().then((refreshed) => {
            if (refreshed) engine.referencesChanged()
            schedule()
          })
        }, delay)
        timer.unref()
      }
      schedule()
      cleanups.push(async () => {
        stopped = true
        if (timer !== null) clearTimeout(timer)
      })
      const stage = new RulesStage({
        store,
        engine,
        topics: { transactions: topics.transactions, merchantEvents: topics.merchantEvents },
        logger: log,
        now: deps.now,
        publishHits: (h) => hits.publish(h),
      })
      const publisher = new EntityPublisher({
        kafka,
        topic: topics.entityActivity,
        now: deps.now,
        recovery: {
          store,
          groupId: config.kafka.groupId,
          topics: { transactions: topics.transactions, merchantEvents: topics.merchantEvents },
          // A crash and restart takes minutes; a day covers a slow restart without re-reading history.
          lookbackMs: 86_400_000,
        },
      })
      await publisher.start()
      cleanups.push(() => publisher.stop())
      rules = { engine, stage, publisher, entities: entityEngine, hits }
      log.info(
        { rules: RULES.length, configHash: rulesConfig.hash, file: config.rules.configFile },
        'rule engine ready',
      )
    }

    // Whitelists: the rules file's entries plus those analysts granted through the API.
    let fileWhitelist = rulesConfig?.isWhitelisted ?? (() => false)
    let granted: WhitelistEntry[] = []
    const applyWhitelist = () => {
      const isWhitelisted = combinedWhitelist(fileWhitelist, granted)
      rules?.engine.reconfigure({ isWhitelisted })
      rules?.entities.reconfigure({ isWhitelisted })
    }
    const refreshWhitelist = async () => {
      try {
        granted = await loadWhitelist(store, deps.now())
        applyWhitelist()
      } catch (e) {
        // The entries in force stay; detection goes on.
        log.warn(isRiskError(e) ? e.toLog() : { error: String(e) }, 'granted whitelist not refreshed')
      }
    }
    if (rules !== null) {
      await refreshWhitelist()
      const timer = setInterval(() => void refreshWhitelist(), config.rules.whitelistRefreshMs)
      timer.unref()
      cleanups.push(async () => clearInterval(timer))
    }

    const ingest = new IngestConsumer(
      {
        groupId: config.kafka.groupId,
        topics: { transactions: topics.transactions, merchantEvents: topics.merchantEvents },
        dlqSuffix: topics.dlqSuffix,
        maxBatchSize: config.ingest.maxBatchSize,
        concurrency: config.ingest.concurrency,
        maxFutureSkewMs: config.ingest.maxFutureSkewMs,
        retryInitialMs: config.ingest.retryInitialMs,
        retryMaxMs: config.ingest.retryMaxMs,
        fromBeginning: config.ingest.fromBeginning,
        timeZoneOf,
      },
      {
        kafka,
        store,
        codec,
        logger: log,
        now: deps.now,
        sleep: deps.sleep,
        metrics,
        ...(rules === null ? {} : { sink: new CompositeSink([rules.stage, rules.publisher]) }),
      },
    )
    await ingest.start()
    cleanups.push(() => ingest.stop())

    let scoring: ScoringStage | null = null
    if (rules !== null) {
      const hits = rules.hits
      const entityStage = new EntityStage({
        kafka,
        store,
        engine: rules.entities,
        topic: topics.entityActivity,
        groupId: `${config.kafka.groupId}.entities`,
        logger: log,
        now: deps.now,
        sleep: deps.sleep,
        retryInitialMs: config.ingest.retryInitialMs,
        retryMaxMs: config.ingest.retryMaxMs,
        publishHits: (h) => hits.publish(h),
        metrics,
      })
      await entityStage.start()
      cleanups.push(() => entityStage.stop())

      const alerts = config.alerts
      const configured = () => {
        if (scoringModel === null) throw new Error('scoring started without a model')
        return scoringModel
      }
      // Levels raised to fit each acquirer's review capacity, from the stored score history.
      const capacity = new CapacityCalibration({ store, logger: log })
      capacity.start(config.rules.baselineRefreshMs, configured)
      cleanups.push(async () => capacity.stop())
      const stage = new ScoringStage({
        kafka,
        store,
        codec,
        model: () => capacity.apply(configured()),
        topics: { hits: topics.ruleHits, state: topics.scoringState },
        alertTopicOf: (acquirerId) => alerts.topicPattern.replaceAll('{acquirer}', acquirerId),
        alertFormatOf: (acquirerId) => {
          const own = alerts.acquirerFormats[acquirerId]
          return own === 'json' || own === 'avro' ? own : alerts.format
        },
        alertTopicSettings: {
          partitions: config.kafka.topicPartitions,
          replicationFactor: config.kafka.replicationFactor,
        },
        groupId: `${config.kafka.groupId}.scoring`,
        logger: log,
        now: deps.now,
        sleep: deps.sleep,
        retryInitialMs: config.ingest.retryInitialMs,
        retryMaxMs: config.ingest.retryMaxMs,
        restoreTimeoutMs: config.scoring.restoreTimeoutMs,
        concurrency: config.scoring.concurrency,
        metrics,
      })
      await stage.start()
      cleanups.push(() => stage.stop())
      scoring = stage
    }

    let simulator: LiveSimulator | null = null
    const simulate = config.simulator.mode === 'on' || (config.simulator.mode === 'auto' && local !== null)
    if (simulate) {
      simulator = new LiveSimulator(
        kafka,
        new TrafficSimulator({
          seed: config.simulator.seed,
          merchants: config.simulator.merchants,
          runId: `${config.simulator.seed}-${deps.now().toString(36)}`,
          // Checked when the configuration was loaded.
          late: parseLate(config.simulator.late),
        }),
        codec,
        { topics, ratePerSecond: config.simulator.ratePerSecond },
        { logger: log, now: deps.now },
      )
      await simulator.start()
      const sim = simulator
      cleanups.push(() => sim.stop())
    }

    let api: RunningApi | null = null
    if (config.api.enabled) {
      const stage = scoring
      api = await startApi({
        store,
        config: config.api,
        logger: log,
        now: deps.now,
        registry: metrics.registry,
        // Ready when the consumers are in their groups and not stuck retrying.
        probes: { kafka: () => ingest.ready && (stage?.ready ?? true) },
        onWhitelistChange: (entries) => {
          granted = entries
          applyWhitelist()
        },
      })
      const running = api
      cleanups.push(() => running.close())
      log.info({ address: api.address }, 'dashboard API listening')
    }

    const reloadRules = (): string | null => {
      if (rules === null) return null
      // A bad file keeps the running configuration: a reload must never take detection down.
      let next: ReturnType<typeof loadRulesConfig>
      try {
        next = loadRulesConfig(config.rules.configFile, RULES, ENTITY_RULES)
      } catch (e) {
        metrics.risk.configReloads.labels('failure').inc()
        throw e
      }
      fileWhitelist = next.isWhitelisted
      const isWhitelisted = combinedWhitelist(fileWhitelist, granted)
      rules.engine.reconfigure({ layersOf: next.layersOf, isWhitelisted, configHash: next.hash })
      rules.entities.reconfigure({ isWhitelisted, configHash: next.hash, rules: next.entityRules })
      scoringModel = next.scoring
      metrics.risk.configReloads.labels('success').inc()
      metrics.risk.configLoadedAt.set(deps.now() / 1000)
      log.info({ configHash: next.hash, file: config.rules.configFile }, 'rules configuration reloaded')
      return next.hash
    }

    return {
      brokers,
      store,
      ingest,
      api,
      simulator,
      rules: rules?.engine ?? null,
      scoring,
      metrics,
      reloadRules,
      stop: cleanup,
    }
  } catch (e) {
    await cleanup()
    throw e
  }
}

/**
 * The `api` role: the dashboard API alone, against the ClickHouse the pipeline writes. No broker is
 * started; /readyz checks Kafka only when `KAFKA_BROKERS` is set.
 */
async function startApiOnly(
  config: Config,
  deps: ServiceDeps,
  cleanups: (() => Promise<void>)[],
  cleanup: () => Promise<void>,
): Promise<RunningService> {
  const log = deps.logger
  const metrics = createMetrics({ version: process.env.npm_package_version ?? 'dev' })
  const store = await openConfiguredStore(config, log, metrics)
  cleanups.push(() => store.close())
  const brokers = config.kafka.brokers
  let kafkaProbe: (() => Promise<boolean>) | undefined
  if (brokers.length > 0) {
    const admin = createKafka(config.kafka, brokers, log).admin()
    cleanups.push(() => admin.disconnect())
    kafkaProbe = async () => {
      try {
        await admin.connect()
        await admin.describeCluster()
        return true
      } catch {
        return false
      }
    }
  }
  const api = await startApi({
    store,
    config: config.api,
    logger: log,
    now: deps.now,
    registry: metrics.registry,
    ...(kafkaProbe === undefined ? {} : { probes: { kafka: kafkaProbe } }),
  })
  cleanups.push(() => api.close())
  log.info({ address: api.address, role: 'api' }, 'dashboard API listening')
  return {
    brokers,
    store,
    ingest: null,
    api,
    simulator: null,
    rules: null,
    scoring: null,
    metrics,
    reloadRules: () => null,
    stop: cleanup,
  }
}
