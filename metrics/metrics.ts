import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { StoreObserver } from '../store/client.ts'

/**
 * Every metric the service exports, in one place (STYLE rule 9). `createMetrics()` builds a fresh
 * registry holding all of them plus the process and Node defaults, so each test gets its own and the
 * service has exactly one, handed to whatever serves `/metrics`.
 *
 * Labels are bounded by construction: topics, tables and clients come from configuration, reasons from
 * the RISK_ERR_* table, rules from the rule catalogue, levels and categories from the contract, and
 * partitions from the topic's partition count. Never a merchant, card or terminal id: one series per
 * merchant would grow without limit and leak who is under suspicion into the monitoring system.
 *
 * Durations are in seconds (Prometheus base units), with buckets fine enough at the millisecond end.
 */

/** ClickHouse round trips: a 1 ms insert on chDB up to a server struggling for 30 s. */
const QUERY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** One rule over one batch part: microseconds per event, so a part takes from 10 µs to a second. */
const RULE_BUCKETS = [
  0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.0005, 0.001, 0.01, 0.1,
]
/**
 * Event time to processing or to alert: under a second when live, minutes when lagging, up to days
 * when terminals upload offline batches late or a topic is replayed.
 */
const EVENT_AGE_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400, 604_800]
/** Messages per processed part; parts are at most INGEST_MAX_BATCH (20,000 by default). */
const BATCH_BUCKETS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 20_000]

export interface IngestMetrics {
  /** Messages read from an input topic (valid or not), per topic. */
  readonly consumed: Counter<'topic'>
  /** Events written to ClickHouse as new. */
  readonly stored: Counter<'topic'>
  /** Valid events the store already held (a replay, or the same event produced twice). */
  readonly duplicates: Counter<'topic'>
  /** Messages rejected to the dead-letter topic, per RISK_ERR_* code. */
  readonly rejected: Counter<'topic' | 'reason'>
  /** Dead letters written (a retried send may write one twice; the consumer tolerates that). */
  readonly dlqWrites: Counter<'topic'>
  /** Retries of a batch part after a retriable failure, per RISK_ERR_* code. */
  readonly retries: Counter<'topic' | 'code'>
  /** Messages per processed part of a Kafka batch. */
  readonly batchSize: Histogram<'topic'>
  /** Wall time of one part: decode, write, rules, dead letters, commit. */
  readonly batchDuration: Histogram<'topic'>
  /** Wall clock minus event time when a new event was stored. */
  readonly eventAge: Histogram<'topic'>
  /** Messages behind the partition's high watermark after the last committed part. */
  readonly consumerLag: Gauge<'topic' | 'partition'>
}

export interface StoreMetrics {
  /** Duration of successful inserts, per table. */
  readonly insertDuration: Histogram<'table'>
  /** Failed writes (the look-up before an insert, or the insert), per table; the caller retries them. */
  readonly writeErrors: Counter<'table' | 'op'>
}

export interface KafkaMetrics {
  /** A client connecting again, or a consumer restarting after a retriable crash. */
  readonly reconnects: Counter<'client'>
  /** Consumer group joins (the first join included): each is the end of a rebalance. */
  readonly rebalances: Counter<'client'>
  /** Consumer crashes; `restart` is false when kafkajs gave up and the consumer stopped. */
  readonly crashes: Counter<'client' | 'restart'>
  /** Requests to a broker that timed out. */
  readonly requestTimeouts: Counter<'client'>
  /** Messages after the last one a stage committed, per partition (after each part). */
  readonly consumerLag: Gauge<'client' | 'topic' | 'partition'>
  /** 1 while a stage makes progress; 0 while it is out of its group, crashed, failing or stuck. */
  readonly stageHealthy: Gauge<'client'>
  /** Consumers a stage replaced after kafkajs gave up on them, or after sitting idle while behind (the runner's own rejoin). */
  readonly consumerReplacements: Counter<'client'>
}

export interface RiskMetrics {
  /** Rule hits written (a new hit or an update of a hit's window), per rule and category. */
  readonly ruleHits: Counter<'rule' | 'category'>
  /** One rule's evaluation of a merchant after an event, sampled (rules/engine/engine.ts TIMING_SAMPLE_EVERY). */
  readonly ruleEvaluation: Histogram<'rule'>
  /** Alerts published, per level and category. */
  readonly alerts: Counter<'level' | 'category'>
  /** Merchants currently at each level, per category. */
  readonly merchantsByLevel: Gauge<'level' | 'category'>
  /** Wall clock at publication minus the event time of the event that raised the alert. */
  readonly eventToAlert: Histogram<'category'>
  /** Rules configuration reloads (SIGHUP); `result` is success or failure (the old one stays). */
  readonly configReloads: Counter<'result'>
  /** When the running rules configuration was loaded, in seconds since the epoch. */
  readonly configLoadedAt: Gauge
  /** Hits and alerts a stage could not process or publish, parked with the reason (see topics.parked). */
  readonly parked: Counter<'kind' | 'code'>
}

export interface Metrics {
  readonly registry: Registry
  readonly ingest: IngestMetrics
  readonly store: StoreMetrics
  readonly kafka: KafkaMetrics
  readonly risk: RiskMetrics
}

export interface MetricsOptions {
  /** Version reported by `risk_build_info`. */
  readonly version?: string
}

/** A registry with every metric of the service and the process and Node.js defaults. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]

  new Gauge({
    name: 'risk_build_info',
    help: 'Always 1; the version of the running service is in the label.',
    labelNames: ['version'],
    registers,
  })
    .labels(options.version ?? 'unknown')
    .set(1)

  const ingest: IngestMetrics = {
    consumed: new Counter({
      name: 'risk_ingest_events_consumed_total',
      help: 'Messages read from an input topic, valid or not.',
      labelNames: ['topic'],
      registers,
    }),
    stored: new Counter({
      name: 'risk_ingest_events_stored_total',
      help: 'Events written to ClickHouse as new.',
      labelNames: ['topic'],
      registers,
    }),
    duplicates: new Counter({
      name: 'risk_ingest_events_duplicate_total',
      help: 'Valid events already stored (a replay, or the same event produced twice); not written again.',
      labelNames: ['topic'],
      registers,
    }),
    rejected: new Counter({
      name: 'risk_ingest_events_rejected_total',
      help: 'Messages rejected to the dead-letter topic, by RISK_ERR_* code.',
      labelNames: ['topic', 'reason'],
      registers,
    }),
    dlqWrites: new Counter({
      name: 'risk_ingest_dlq_writes_total',
      help: 'Messages written to the dead-letter topic of an input topic.',
      labelNames: ['topic'],
      registers,
    }),
    retries: new Counter({
      name: 'risk_ingest_retries_total',
      help: 'Retries of a batch part after a retriable failure (ClickHouse, Kafka, Schema Registry), by code.',
      labelNames: ['topic', 'code'],
      registers,
    }),
    batchSize: new Histogram({
      name: 'risk_ingest_batch_size',
      help: 'Messages per processed part of a Kafka batch.',
      labelNames: ['topic'],
      buckets: BATCH_BUCKETS,
      registers,
    }),
    batchDuration: new Histogram({
      name: 'risk_ingest_batch_duration_seconds',
      help: 'Wall time to process one part of a batch: decode, write, rules, dead letters, commit.',
      labelNames: ['topic'],
      buckets: QUERY_BUCKETS,
      registers,
    }),
    eventAge: new Histogram({
      name: 'risk_ingest_event_age_seconds',
      help: 'Wall clock minus event time when a new event was stored: how far behind real time processing is.',
      labelNames: ['topic'],
      buckets: EVENT_AGE_BUCKETS,
      registers,
    }),
    consumerLag: new Gauge({
      name: 'risk_ingest_consumer_lag',
      help: 'Messages behind the high watermark of a partition this instance owns, after its last committed part.',
      labelNames: ['topic', 'partition'],
      registers,
    }),
  }

  const store: StoreMetrics = {
    insertDuration: new Histogram({
      name: 'risk_clickhouse_insert_duration_seconds',
      help: 'Duration of successful ClickHouse inserts, per table.',
      labelNames: ['table'],
      buckets: QUERY_BUCKETS,
      registers,
    }),
    writeErrors: new Counter({
      name: 'risk_clickhouse_write_errors_total',
      help: 'Failed ClickHouse writes per table; op is lookup (the duplicate check before an insert), insert, or repair (of the views after a replay).',
      labelNames: ['table', 'op'],
      registers,
    }),
  }

  const kafka: KafkaMetrics = {
    reconnects: new Counter({
      name: 'risk_kafka_reconnects_total',
      help: 'A Kafka client connecting again, or a consumer restarting after a retriable crash.',
      labelNames: ['client'],
      registers,
    }),
    rebalances: new Counter({
      name: 'risk_kafka_rebalances_total',
      help: 'Consumer group joins, the first one included: each ends a rebalance.',
      labelNames: ['client'],
      registers,
    }),
    crashes: new Counter({
      name: 'risk_kafka_consumer_crashes_total',
      help: 'Consumer crashes; restart="false" means kafkajs gave up and the consumer stopped.',
      labelNames: ['client', 'restart'],
      registers,
    }),
    requestTimeouts: new Counter({
      name: 'risk_kafka_request_timeouts_total',
      help: 'Requests to a broker that timed out.',
      labelNames: ['client'],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'risk_kafka_consumer_lag',
      help: 'Messages after the last one a stage committed, per topic and partition, as of its last part.',
      labelNames: ['client', 'topic', 'partition'],
      registers,
    }),
    stageHealthy: new Gauge({
      name: 'risk_stage_healthy',
      help: '1 while a pipeline stage makes progress; 0 while it is out of its group, crashed, failing or stuck.',
      labelNames: ['client'],
      registers,
    }),
    consumerReplacements: new Counter({
      name: 'risk_kafka_consumer_replacements_total',
      help: 'Consumers a stage replaced with a new one: kafkajs gave up on them, or the stage sat idle while behind.',
      labelNames: ['client'],
      registers,
    }),
  }

  const risk: RiskMetrics = {
    ruleHits: new Counter({
      name: 'risk_rule_hits_total',
      help: 'Rule hits written (a new hit, or an update of the same merchant, rule and window), per rule and category.',
      labelNames: ['rule', 'category'],
      registers,
    }),
    ruleEvaluation: new Histogram({
      name: 'risk_rule_evaluation_duration_seconds',
      help: "One rule's evaluation of a merchant after an event, sampled on one event in 256.",
      labelNames: ['rule'],
      buckets: RULE_BUCKETS,
      registers,
    }),
    alerts: new Counter({
      name: 'risk_alerts_total',
      help: 'Alerts published, per level and category.',
      labelNames: ['level', 'category'],
      registers,
    }),
    merchantsByLevel: new Gauge({
      name: 'risk_merchants_by_level',
      help: 'Merchants currently at each score level, per category.',
      labelNames: ['level', 'category'],
      registers,
    }),
    eventToAlert: new Histogram({
      name: 'risk_event_to_alert_seconds',
      help: 'Wall clock at publication minus the event time of the event that raised the alert.',
      labelNames: ['category'],
      buckets: EVENT_AGE_BUCKETS,
      registers,
    }),
    configReloads: new Counter({
      name: 'risk_config_reloads_total',
      help: 'Rules configuration reloads; result="failure" keeps the previous configuration running.',
      labelNames: ['result'],
      registers,
    }),
    parked: new Counter({
      name: 'risk_records_parked_total',
      help: 'Hits and alerts a stage could not process or publish (an unknown acquirer, a missing alert topic, an undecodable hit), parked on the parked topic with the reason.',
      labelNames: ['kind', 'code'],
      registers,
    }),
    configLoadedAt: new Gauge({
      name: 'risk_config_loaded_timestamp_seconds',
      help: 'When the running rules configuration was loaded, in seconds since the epoch.',
      registers,
    }),
  }
  // Present from the start, so that increase() sees the first failure rather than a series appearing.
  for (const result of ['success', 'failure']) risk.configReloads.labels(result).inc(0)

  return { registry, ingest, store, kafka, risk }
}

/** The store's view of the metrics, for `openStore({ observer })`: one cached child per table. */
export function storeObserver(metrics: Metrics): StoreObserver {
  const durations = new Map<string, Histogram.Internal<'table'>>()
  return {
    inserted(table, seconds) {
      let h = durations.get(table)
      if (h === undefined) {
        h = metrics.store.insertDuration.labels(table)
        durations.set(table, h)
        // The first insert makes the table known: its error counter starts at 0 next to it.
        for (const op of ['lookup', 'insert', 'repair']) metrics.store.writeErrors.labels(table, op).inc(0)
      }
      h.observe(seconds)
    },
    failed(table, op) {
      metrics.store.writeErrors.labels(table, op).inc()
    },
  }
}
