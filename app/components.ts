import { resolve } from 'node:path'
import type { Kafka } from 'kafkajs'
import type { AcquirerRegistry } from '../acquirers/registry.ts'
import type { Config } from '../config/spec.ts'
import { loadWhitelist, type RunningApi, startApi } from '../dashboard-api/index.ts'
import { IngestStage } from '../ingest/stage.ts'
import { createKafka } from '../kafka/client.ts'
import type { EventCodec } from '../kafka/codec.ts'
import { compressionType } from '../kafka/compression.ts'
import type { PartitionStage, StageTiming } from '../kafka/stage-runner.ts'
import { ensureTopics } from '../kafka/topics.ts'
import type { TopicCompression } from '../kafka/transactions.ts'
import { type LocalKafka, startLocalKafka } from '../kafka-local/broker.ts'
import { isRiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { createMetrics, type Metrics } from '../metrics/metrics.ts'
import { type AsOf, Baselines } from '../rules/baselines.ts'
import { LocalRules, type RulesCoreApi } from '../rules/core.ts'
import { createEngine, loadRulesConfig, type WhitelistEntry } from '../rules/engine/config.ts'
import type { HitUpdate, RuleEngine } from '../rules/engine/engine.ts'
import type { ActivityRecord } from '../rules/entity/activity.ts'
import { EntityEngine } from '../rules/entity/engine.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { EntityStage, entityTopicConfig } from '../rules/entity/stage.ts'
import { RULES } from '../rules/index.ts'
import { RulesStage } from '../rules/stage.ts'
import { combinedWhitelist } from '../rules/whitelist.ts'
import { WorkerRules } from '../rules/worker-client.ts'
import { CapacityCalibration } from '../scoring/capacity.ts'
import type { ScoringModel } from '../scoring/model.ts'
import { ScoringStage } from '../scoring/stage.ts'
import { SIMULATED_ACQUIRERS, TrafficSimulator } from '../simulator/generator.ts'
import { parseLate } from '../simulator/late.ts'
import { LiveSimulator } from '../simulator/producer.ts'
import { SinkStage } from '../sink/stage.ts'
import type { Store } from '../store/client.ts'
import { openAcquirers } from './acquirers.ts'
import { codecFor, openConfiguredStore } from './clients.ts'
import { Liveness } from './liveness.ts'

/**
 * The parts of the service, each with start and stop. `service.ts` lists them in start order; they are
 * stopped in the reverse order. A component reads what earlier ones made from the shared `Wiring` when
 * it starts, and adds what it makes; a disabled component is a no-op.
 */
export interface Component {
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * A pipeline stage. Stopping one waits for its consumer's fetch in flight, which the broker holds for
   * up to the fetch's wait time when the topic is quiet; neighbouring stages stop together
   * (`stopComponents`), so a stop takes one such wait, not one per stage. Safe because each stage's
   * output is in Kafka: a stage that stops before the one feeding it finds the rest there on its restart.
   */
  readonly stage?: true
}

export interface ServiceDeps {
  logger: Logger
  now: () => number
  sleep: (ms: number) => Promise<void>
  /**
   * A stage could not recover within `liveness.timeoutMs`: stop and exit non-zero (app/main.ts). Tests
   * that run the service in their own process pass their own.
   */
  onFatal?: (cause: string) => void
}

type Rules = ReturnType<typeof loadRulesConfig>

/** What the components make, for the ones started after them (and the RunningService). */
export class Wiring {
  readonly config: Config
  readonly deps: ServiceDeps
  readonly log: Logger
  readonly metrics: Metrics
  brokers: readonly string[]
  local: LocalKafka | null = null
  store: Store | null = null
  kafka: Kafka | null = null
  codec: EventCodec
  acquirers: AcquirerRegistry | null = null
  rulesConfig: Rules | null = null
  scoringModel: ScoringModel | null = null
  /** The per-merchant engine, when it runs on this thread (RULES_WORKER=false). */
  engine: RuleEngine | null = null
  /** The rules stage's state: the engine above with its stage's bookkeeping, or the rules worker. */
  rules: RulesCoreApi | null = null
  rulesWorker: WorkerRules | null = null
  entities: EntityEngine | null = null
  ingest: IngestStage | null = null
  rulesStage: RulesStage | null = null
  entityStage: EntityStage | null = null
  scoring: ScoringStage | null = null
  capacity: CapacityCalibration | null = null
  sink: SinkStage | null = null
  simulator: LiveSimulator | null = null
  api: RunningApi | null = null
  liveness: Liveness | null = null
  /** The whitelist entries analysts granted through the API; the file's come from rulesConfig. */
  granted: WhitelistEntry[] = []

  constructor(config: Config, deps: ServiceDeps) {
    this.config = config
    this.deps = deps
    this.log = deps.logger
    this.metrics = createMetrics({ version: process.env.npm_package_version ?? 'dev' })
    this.brokers = config.kafka.brokers
    this.codec = codecFor(config)
  }

  need<T>(value: T | null, what: string): T {
    if (value === null) throw new Error(`${what} is started after it is needed`)
    return value
  }

  /** The stages that decide liveness, in pipeline order. */
  get stages(): PartitionStage[] {
    return [this.ingest, this.rulesStage, this.entityStage, this.scoring, this.sink].filter((s) => s !== null)
  }

  /** Counts hits as they go to scoring: new hits and updates of a hit's window alike. */
  countHits = (hits: readonly HitUpdate[]): void => {
    for (const h of hits) this.metrics.risk.ruleHits.labels(h.ruleId, h.category).inc()
  }

  /** The same, from the rules stage: each hit's rule and category. */
  countRuleHits = (hits: readonly (readonly [ruleId: string, category: string])[]): void => {
    for (const [ruleId, category] of hits) this.metrics.risk.ruleHits.labels(ruleId, category).inc()
  }

  readonly #ruleTimers = new Map<string, ReturnType<Metrics['risk']['ruleEvaluation']['labels']>>()

  /** One rule's sampled evaluation time, wherever the engine runs. */
  ruleTiming = (ruleId: string, seconds: number): void => {
    let t = this.#ruleTimers.get(ruleId)
    if (t === undefined) {
      t = this.metrics.risk.ruleEvaluation.labels(ruleId)
      this.#ruleTimers.set(ruleId, t)
    }
    t.observe(seconds)
  }

  get timing(): StageTiming {
    return {
      retryInitialMs: this.config.ingest.retryInitialMs,
      retryMaxMs: this.config.ingest.retryMaxMs,
      sessionTimeoutMs: this.config.kafka.sessionTimeoutMs,
      heartbeatIntervalMs: this.config.kafka.heartbeatIntervalMs,
      // A deleted topic must be seen well within the liveness timeout.
      topicCheckMs: Math.min(30_000, Math.floor(this.config.liveness.timeoutMs / 4)),
    }
  }

  /** What every stage takes: the client, logger, clocks, metrics, and the shared timing. */
  get stageDeps() {
    return {
      kafka: this.need(this.kafka, 'the Kafka client'),
      logger: this.log,
      now: this.deps.now,
      sleep: this.deps.sleep,
      metrics: this.metrics,
      compression: this.#compression,
      ...this.timing,
    }
  }

  /** The internal topics' compression (KAFKA_INTERNAL_COMPRESSION); alert and dead-letter topics stay plain. */
  get #compression(): TopicCompression {
    const t = this.config.topics
    return {
      type: compressionType(this.config.kafka.internalCompression),
      topics: new Set([t.entityActivity, t.ruleHits, t.scoringState, t.scoreEvents]),
    }
  }

  timeZoneOf = (acquirerId: string): string =>
    this.config.time.acquirerTimeZones[acquirerId] ?? this.config.time.defaultTimeZone

  /** Both engines take the file's whitelist plus the granted entries, whenever either changes. */
  applyWhitelist(): void {
    const fromFile = this.rulesConfig?.isWhitelisted ?? (() => false)
    const isWhitelisted = combinedWhitelist(fromFile, this.granted)
    this.engine?.reconfigure({ isWhitelisted })
    this.entities?.reconfigure({ isWhitelisted })
    // The worker combines the same two lists itself: functions do not cross threads.
    void this.rulesWorker?.setGranted(this.granted)
  }
}

const noop = async () => {}

function component(name: string, start: () => Promise<void>, stop: () => Promise<void> = noop): Component {
  return { name, start, stop }
}

function stage(name: string, start: () => Promise<void>, stop: () => Promise<void>): Component {
  return { name, start, stop, stage: true }
}

/** A local single-node broker when `KAFKA_BROKERS` is unset; its death under a running service is logged. */
export function localBroker(w: Wiring): Component {
  let stopping = false
  return component(
    'kafka-local',
    async () => {
      if (w.brokers.length > 0) return
      const { local } = w.config.kafka
      w.log.info({ dataDir: local.dataDir }, 'KAFKA_BROKERS is not set: starting a local Kafka broker')
      const started = await startLocalKafka({
        dataDir: resolve(local.dataDir),
        port: local.port,
        controllerPort: local.controllerPort,
        heapMb: local.heapMb,
        log: (msg) => w.log.info({ component: 'kafka-local' }, msg),
      })
      w.local = started
      w.brokers = started.brokers
      // An outage the operator must see at once; the stages keep retrying, so nothing is lost meanwhile.
      void started.exited.then((info) => {
        if (!stopping) w.log.error({ ...info, logFile: started.logFile }, 'the local Kafka broker exited')
      })
      w.log.info({ brokers: w.brokers }, 'local Kafka broker ready')
    },
    async () => {
      stopping = true
      await w.local?.stop()
    },
  )
}

/** ClickHouse (chDB or a server) with its migrations applied, and the Kafka client. */
export function storeAndClient(w: Wiring): Component {
  return component(
    'store',
    async () => {
      w.store = await openConfiguredStore(w.config, w.log, w.metrics)
      w.log.info(
        {
          backend: w.config.clickhouse.url === null ? 'chdb' : 'server',
          database: w.config.clickhouse.database,
        },
        'ClickHouse store ready',
      )
      if (w.brokers.length > 0) w.kafka = createKafka(w.config.kafka, w.brokers, w.log)
    },
    async () => w.store?.close(),
  )
}

/**
 * The rules file, loaded before the topics: a bad file stops start-up before anything is created, and
 * the entity topic's retention follows the cross-merchant rules' widest window.
 */
export function rulesConfiguration(w: Wiring): Component {
  return component('rules-config', async () => {
    if (!w.config.rules.enabled) return
    const rules = loadRulesConfig(w.config.rules.configFile, RULES, ENTITY_RULES)
    w.rulesConfig = rules
    w.scoringModel = rules.scoring
    w.entities = new EntityEngine({
      rules: rules.entityRules,
      isWhitelisted: rules.isWhitelisted,
      configHash: rules.hash,
    })
    w.metrics.risk.configLoadedAt.set(w.deps.now() / 1000)
  })
}

export function topics(w: Wiring): Component {
  return component('topics', async () => {
    const t = w.config.topics
    const internal =
      w.entities === null ? [] : [t.entityActivity, t.ruleHits, t.scoringState, t.scoreEvents, t.parked]
    const created = await ensureTopics(
      w.need(w.kafka, 'the Kafka client'),
      [
        t.transactions,
        t.merchantEvents,
        `${t.transactions}${t.dlqSuffix}`,
        `${t.merchantEvents}${t.dlqSuffix}`,
        ...internal,
      ],
      {
        partitions: w.config.kafka.topicPartitions,
        replicationFactor: w.config.kafka.replicationFactor,
        configEntries:
          w.entities === null
            ? {}
            : {
                [t.entityActivity]: entityTopicConfig(w.entities.retentionMs),
                // The latest record of each merchant's head and live hit survives compaction: the
                // changelog stays as small as the state (scoring/changelog.ts).
                [t.scoringState]: [{ name: 'cleanup.policy', value: 'compact' }],
              },
      },
    )
    if (created.length > 0) w.log.info({ created }, 'created topics')
  })
}

/**
 * The acquirers the deployment serves (acquirers/registry.ts), each with its alert topic created: the
 * configured ones, those registered through the API, and while the service simulates, the simulator's.
 * Without a broker (the `api` role without KAFKA_BROKERS) a registration's topic is the pipeline's to
 * create.
 */
export function acquirers(w: Wiring): Component {
  let stop = noop
  return component(
    'acquirers',
    async () => {
      const { mode } = w.config.simulator
      const simulates =
        w.config.service.role !== 'api' && (mode === 'on' || (mode === 'auto' && w.local !== null))
      const opened = await openAcquirers(
        w.config,
        {
          store: w.need(w.store, 'the store'),
          kafka: w.kafka,
          logger: w.log,
          now: w.deps.now,
          sleep: w.deps.sleep,
        },
        simulates ? SIMULATED_ACQUIRERS : [],
      )
      w.acquirers = opened.registry
      stop = opened.stop
    },
    () => stop(),
  )
}

/** How often the rules' event time is compared with the baselines' last day. */
const EVENT_TIME_POLL_MS = 1_000
/** The least wall time between two baseline refreshes the event time calls for. */
const EVENT_TIME_GAP_MS = 5_000

/**
 * The per-merchant rule engine with its peers and baselines (refreshed on a timer and as the rules'
 * event time passes a local day), and the whitelists.
 */
export function ruleEngines(w: Wiring): Component {
  const timers = new Set<NodeJS.Timeout>()
  let stopped = false
  return component(
    'rule-engines',
    async () => {
      const rules = w.rulesConfig
      if (rules === null) return
      const { config, log, deps } = w
      const store = w.need(w.store, 'the store')
      const baselines = new Baselines({ store, logger: log, minCohort: config.rules.minCohort })
      // As of the rules' event time once they have taken a transaction, so that a replayed history is
      // calibrated day by day as it was lived, never on days the rules have not reached.
      const asOf = (): AsOf | undefined => {
        const latest = w.rules?.state.latestEventTime ?? Number.NEGATIVE_INFINITY
        return Number.isFinite(latest) ? { latest, timeZoneOf: w.timeZoneOf } : undefined
      }
      let inFlight: Promise<boolean> | null = null
      let lastTook = 0
      let lastEnded = Number.NEGATIVE_INFINITY
      const refresh = (): Promise<boolean> => {
        if (inFlight !== null) return inFlight
        const started = deps.now()
        inFlight = baselines
          .refresh(started, asOf())
          .then(
            async () => {
              w.engine?.referencesChanged()
              await w.rulesWorker?.setBaselines(baselines.snapshot())
              return true
            },
            (e: unknown) => {
              // Stale or missing baselines only make the relative rules fall back; detection goes on.
              log.warn(isRiskError(e) ? e.toLog() : { error: String(e) }, 'rule baselines not refreshed')
              return false
            },
          )
          .finally(() => {
            lastEnded = deps.now()
            lastTook = lastEnded - started
            inFlight = null
          })
        return inFlight
      }
      await refresh()
      const acquirers = w.need(w.acquirers, 'the acquirer registry')
      const core = {
        acquirers,
        maxFutureSkewMs: config.ingest.maxFutureSkewMs,
        allowedLatenessMs: config.rules.allowedLatenessMs,
      }
      if (config.rules.worker) {
        const worker = new WorkerRules({
          setup: {
            rules: rules.source,
            granted: [],
            baselines: baselines.snapshot(),
            known: acquirers.list().map((a) => a.acquirerId),
            timeZones: { default: config.time.defaultTimeZone, byAcquirer: config.time.acquirerTimeZones },
            allowedLatenessMs: core.allowedLatenessMs,
            maxFutureSkewMs: core.maxFutureSkewMs,
            schemaRegistry:
              config.schemaRegistry.url === null
                ? null
                : {
                    url: config.schemaRegistry.url,
                    ...(config.schemaRegistry.username === ''
                      ? {}
                      : {
                          username: config.schemaRegistry.username,
                          password: config.schemaRegistry.password,
                        }),
                  },
          },
          known: () => acquirers.list().map((a) => a.acquirerId),
          logger: log,
        })
        await worker.start()
        w.rulesWorker = worker
        w.rules = worker
      } else {
        const engine = createEngine(rules, {
          timeZoneOf: w.timeZoneOf,
          allowedLatenessMs: config.rules.allowedLatenessMs,
          peersOf: (acquirerId, mcc, latitude, longitude) =>
            baselines.peersOf(acquirerId, mcc, latitude, longitude),
          baselineOf: (acquirerId, merchantId) => baselines.baselineOf(acquirerId, merchantId),
          ruleTiming: w.ruleTiming,
        })
        w.engine = engine
        const entities = w.entities
        w.rules = new LocalRules({
          engine,
          codec: w.codec,
          ...core,
          ...(entities === null ? {} : { wantsActivity: (r: ActivityRecord) => entities.wants(r) }),
        })
      }
      // On the wall clock: until the first cohorts exist (a new store), every minute, since the relative
      // rules fall back to absolute thresholds without peers and look-alikes (car dealers, jewellers) fire
      // on those; then every RULES_BASELINE_REFRESH_MS.
      const schedule = () => {
        if (stopped) return
        const every = config.rules.baselineRefreshMs
        const delay = baselines.cohorts === 0 ? Math.min(60_000, every) : every
        const timer = setTimeout(() => {
          timers.delete(timer)
          void refresh().then(schedule)
        }, delay)
        timer.unref()
        timers.add(timer)
      }
      schedule()
      // On event time: as soon as the rules finish a local day (or the store catches up with the day they
      // finished), at most one refresh in EVENT_TIME_GAP_MS and never more than a fifth of the wall time.
      const onEventTime = setInterval(() => {
        if (stopped || inFlight !== null) return
        const at = asOf()
        if (at === undefined || !baselines.stale(at)) return
        if (deps.now() - lastEnded < Math.max(EVENT_TIME_GAP_MS, 4 * lastTook)) return
        void refresh()
      }, EVENT_TIME_POLL_MS)
      onEventTime.unref()
      timers.add(onEventTime)
      // Whitelists: the rules file's entries plus those analysts granted through the API.
      const refreshWhitelist = async () => {
        try {
          w.granted = await loadWhitelist(store, deps.now())
          w.applyWhitelist()
        } catch (e) {
          // The entries in force stay; detection goes on.
          log.warn(isRiskError(e) ? e.toLog() : { error: String(e) }, 'granted whitelist not refreshed')
        }
      }
      await refreshWhitelist()
      const whitelistTimer = setInterval(() => void refreshWhitelist(), config.rules.whitelistRefreshMs)
      whitelistTimer.unref()
      timers.add(whitelistTimer)
      log.info(
        { rules: RULES.length, configHash: rules.hash, file: config.rules.configFile },
        'rule engine ready',
      )
    },
    async () => {
      stopped = true
      for (const t of timers) clearTimeout(t)
      await w.rulesWorker?.close()
    },
  )
}

/** The ingest stage: decode, validate, store, dead-letter; the rules and the entity publisher as sinks. */
export function ingestStage(w: Wiring): Component {
  return stage(
    'ingest',
    async () => {
      const { config } = w
      w.ingest = new IngestStage(
        {
          groupId: config.kafka.groupId,
          topics: { transactions: config.topics.transactions, merchantEvents: config.topics.merchantEvents },
          dlqSuffix: config.topics.dlqSuffix,
          maxBatchSize: config.ingest.maxBatchSize,
          concurrency: config.ingest.concurrency,
          maxFutureSkewMs: config.ingest.maxFutureSkewMs,
          fromBeginning: config.ingest.fromBeginning,
          timeZoneOf: w.timeZoneOf,
          ...w.timing,
        },
        {
          kafka: w.need(w.kafka, 'the Kafka client'),
          store: w.need(w.store, 'the store'),
          codec: w.codec,
          logger: w.log,
          now: w.deps.now,
          sleep: w.deps.sleep,
          metrics: w.metrics,
          acquirers: w.need(w.acquirers, 'the acquirer registry'),
        },
      )
      await w.ingest.start()
    },
    async () => w.ingest?.stop(),
  )
}

/**
 * The per-merchant rules stage: the input topics → rule engine → hits and entity activity, one Kafka
 * transaction per part; no ClickHouse on its path but for a partition's rebuild.
 */
export function rulesStage(w: Wiring): Component {
  return stage(
    'rules',
    async () => {
      const core = w.rules
      if (core === null) return
      const { config } = w
      const t = config.topics
      w.rulesStage = new RulesStage({
        ...w.stageDeps,
        store: w.need(w.store, 'the store'),
        core,
        topics: {
          transactions: t.transactions,
          merchantEvents: t.merchantEvents,
          ruleHits: t.ruleHits,
          entityActivity: t.entityActivity,
        },
        groupId: `${config.kafka.groupId}.rules`,
        storeGroupId: config.kafka.groupId,
        concurrency: config.rules.concurrency,
        maxPartSize: config.rules.maxBatchSize,
        onHits: w.countRuleHits,
        onTimings: (timings) => {
          for (const [ruleId, seconds] of timings) w.ruleTiming(ruleId, seconds)
        },
      })
      await w.rulesStage.start()
    },
    async () => w.rulesStage?.stop(),
  )
}

/** The cross-merchant rules stage, on the entity-activity topic. */
export function entityStage(w: Wiring): Component {
  return stage(
    'entities',
    async () => {
      if (w.entities === null) return
      w.entityStage = new EntityStage({
        ...w.stageDeps,
        store: w.need(w.store, 'the store'),
        engine: w.entities,
        codec: w.codec,
        topic: w.config.topics.entityActivity,
        ruleHits: w.config.topics.ruleHits,
        groupId: `${w.config.kafka.groupId}.entities`,
        onHits: w.countHits,
      })
      await w.entityStage.start()
    },
    async () => w.entityStage?.stop(),
  )
}

/** The scoring stage: rule hits in, scores and alerts out, one Kafka transaction per part. */
export function scoringStage(w: Wiring): Component {
  return stage(
    'scoring',
    async () => {
      if (w.rulesConfig === null) return
      const { config } = w
      const alerts = config.alerts
      const configured = () => w.need(w.scoringModel, 'the scoring model')
      // Levels raised to fit each acquirer's review capacity, from the stored score history.
      const capacity = new CapacityCalibration({ store: w.need(w.store, 'the store'), logger: w.log })
      capacity.start(config.rules.baselineRefreshMs, configured)
      w.capacity = capacity
      w.scoring = new ScoringStage({
        ...w.stageDeps,
        codec: w.codec,
        model: () => capacity.apply(configured()),
        topics: {
          hits: config.topics.ruleHits,
          state: config.topics.scoringState,
          scoreEvents: config.topics.scoreEvents,
          parked: config.topics.parked,
        },
        // Known acquirers only, their topics created when they became known; others' alerts are parked.
        alertTopicOf: (acquirerId) => w.need(w.acquirers, 'the acquirer registry').alertTopicOf(acquirerId),
        alertFormatOf: (acquirerId) => {
          const own = alerts.acquirerFormats[acquirerId]
          return own === 'json' || own === 'avro' ? own : alerts.format
        },
        groupId: `${config.kafka.groupId}.scoring`,
        restoreTimeoutMs: config.scoring.restoreTimeoutMs,
        concurrency: config.scoring.concurrency,
      })
      await w.scoring.start()
    },
    async () => {
      w.capacity?.stop()
      await w.scoring?.stop()
    },
  )
}

/** The sink stage: rule hits and score events → ClickHouse, off the alert path. */
export function sinkStage(w: Wiring): Component {
  return stage(
    'sink',
    async () => {
      if (w.rulesConfig === null) return
      const { config } = w
      w.sink = new SinkStage({
        ...w.stageDeps,
        store: w.need(w.store, 'the store'),
        codec: w.codec,
        topics: { ruleHits: config.topics.ruleHits, scoreEvents: config.topics.scoreEvents },
        groupId: `${config.kafka.groupId}.sink`,
        concurrency: config.sink.concurrency,
        maxPartSize: config.ingest.maxBatchSize,
      })
      await w.sink.start()
    },
    async () => w.sink?.stop(),
  )
}

/** Simulated traffic: `on`, or `auto` with the service's own local broker. */
export function simulator(w: Wiring): Component {
  return component(
    'simulator',
    async () => {
      const { mode, seed, merchants, late, ratePerSecond } = w.config.simulator
      if (mode === 'off' || (mode === 'auto' && w.local === null)) return
      w.simulator = new LiveSimulator(
        w.need(w.kafka, 'the Kafka client'),
        new TrafficSimulator({
          seed,
          merchants,
          runId: `${seed}-${w.deps.now().toString(36)}`,
          // Checked when the configuration was loaded.
          late: parseLate(late),
        }),
        w.codec,
        { topics: w.config.topics, ratePerSecond },
        { logger: w.log, now: w.deps.now },
      )
      await w.simulator.start()
    },
    async () => w.simulator?.stop(),
  )
}

/** The HTTP server: dashboard API, /metrics, /healthz (liveness), /readyz (every stage ready). */
export function api(w: Wiring): Component {
  return component(
    'api',
    async () => {
      if (!w.config.api.enabled) return
      w.api = await startApi({
        store: w.need(w.store, 'the store'),
        config: w.config.api,
        time: w.config.time,
        logger: w.log,
        now: w.deps.now,
        registry: w.metrics.registry,
        acquirers: w.need(w.acquirers, 'the acquirer registry'),
        probes: {
          kafka: () => w.stages.every((s) => s.ready),
          live: () => w.liveness?.report().live ?? true,
        },
        onWhitelistChange: (entries) => {
          w.granted = entries
          w.applyWhitelist()
        },
      })
      w.log.info({ address: w.api.address }, 'dashboard API listening')
    },
    async () => w.api?.close(),
  )
}

/** The watchdog that ends a process whose stage cannot recover (app/liveness.ts). */
export function liveness(w: Wiring): Component {
  return component(
    'liveness',
    async () => {
      const onFatal = w.deps.onFatal
      if (onFatal === undefined) return
      w.liveness = new Liveness({
        stages: w.stages,
        timeoutMs: w.config.liveness.timeoutMs,
        now: w.deps.now,
        logger: w.log,
        onFatal: (h) => onFatal(`${h.stage}: ${h.cause ?? 'no progress'}`),
      })
      w.liveness.start()
    },
    async () => w.liveness?.stop(),
  )
}

/** The `api` role's only Kafka need: a probe of the brokers, when some are configured. */
export function apiOnly(w: Wiring): Component {
  let admin: ReturnType<Kafka['admin']> | null = null
  return component(
    'api',
    async () => {
      if (w.brokers.length > 0) admin = createKafka(w.config.kafka, w.brokers, w.log).admin()
      const probe = admin
      w.api = await startApi({
        store: w.need(w.store, 'the store'),
        config: w.config.api,
        time: w.config.time,
        logger: w.log,
        now: w.deps.now,
        registry: w.metrics.registry,
        acquirers: w.need(w.acquirers, 'the acquirer registry'),
        ...(probe === null
          ? {}
          : {
              probes: {
                kafka: async () => {
                  try {
                    await probe.connect()
                    await probe.describeCluster()
                    return true
                  } catch {
                    return false
                  }
                },
              },
            }),
      })
      w.log.info({ address: w.api.address, role: 'api' }, 'dashboard API listening')
    },
    async () => {
      await w.api?.close()
      await admin?.disconnect()
    },
  )
}
