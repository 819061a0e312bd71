/**
 * The service's configuration spec: every key, its environment variable, type, default and meaning.
 * The `Config` type is inferred from this object, the loader validates against it, and the README's
 * configuration reference is generated from it (`npm run gen`; a test fails when the README drifts).
 */

import { ACQUIRER_ID, ACQUIRER_ID_RULE } from '../acquirers/ids.ts'
import { bool, int, list, oneOf, optionalStr, type Setting, str, stringMap } from './settings.ts'

const DURATION = String.raw`\d+(?:\.\d+)?(?:ms|s|m|h|d)`
const LATE_CLASS = String.raw`\d+(?:\.\d+)?%?@${DURATION}-${DURATION}`
/** The shape of SIMULATOR_LATE; simulator/late.ts parseLate checks the values (shares add up to <= 1). */
const LATE_PATTERN = new RegExp(`^(?:0|off|none|${LATE_CLASS}(?:,${LATE_CLASS})*)$`)

/** A time zone is an IANA name (Asia/Shanghai) or a fixed UTC offset (+08:00). */
export function timeZoneProblem(tz: string): string | null {
  if (/^[+-](0\d|1[0-4]):[0-5]\d$/.test(tz)) return null
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return null
  } catch {
    return `"${tz}" is neither an IANA time zone nor an offset like +08:00`
  }
}

const topicName = /^[A-Za-z0-9._-]{1,200}$/
const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/

export const CONFIG_SPEC = {
  service: {
    role: oneOf({
      env: 'SERVICE_ROLE',
      default: 'all',
      values: ['all', 'api'],
      description:
        'What this process runs: `all` (the pipeline, and the HTTP server of `api.*` when `API_ENABLED`), or `api` (the dashboard API alone, against the same ClickHouse, for scaling analysts apart from the pipeline). `npm start -- --role api` sets it too.',
    }),
  },
  kafka: {
    brokers: list({
      env: 'KAFKA_BROKERS',
      default: [],
      description:
        'Kafka bootstrap servers, `host:port,...`. Empty: the service fetches Apache Kafka with Maven and starts a local single-node broker (see `kafka.local.*`).',
      item: /^[^\s:]+:\d{1,5}$/,
      itemHint: 'host:port',
    }),
    clientId: str({ env: 'KAFKA_CLIENT_ID', default: 'pos-risk-monitor', description: 'Kafka client id.' }),
    groupId: str({
      env: 'KAFKA_GROUP_ID',
      default: 'pos-risk-ingest',
      description:
        'Consumer group of the ingest consumer; instances with the same group share the partitions.',
    }),
    ssl: bool({ env: 'KAFKA_SSL', default: false, description: 'Connect to the brokers with TLS.' }),
    saslMechanism: oneOf({
      env: 'KAFKA_SASL_MECHANISM',
      default: 'none',
      values: ['none', 'plain', 'scram-sha-256', 'scram-sha-512'],
      description: 'SASL mechanism; `none` disables SASL.',
    }),
    saslUsername: str({ env: 'KAFKA_SASL_USERNAME', default: '', description: 'SASL user name.' }),
    saslPassword: str({
      env: 'KAFKA_SASL_PASSWORD',
      default: '',
      description: 'SASL password.',
      secret: true,
    }),
    internalCompression: oneOf({
      env: 'KAFKA_INTERNAL_COMPRESSION',
      default: 'zstd',
      values: ['zstd', 'gzip', 'none'],
      description:
        'Compression of the record batches the service writes to its internal topics (entity activity, rule hits, scoring state, score events); a part whose internal output is under 16 KB goes uncompressed. Alert and dead-letter topics are never compressed.',
    }),
    topicPartitions: int({
      env: 'KAFKA_TOPIC_PARTITIONS',
      default: 6,
      min: 1,
      max: 1000,
      description:
        'Partitions of the topics the service creates at start-up when they are missing (existing topics are left as they are). Instances scale up to this number.',
    }),
    replicationFactor: int({
      env: 'KAFKA_REPLICATION_FACTOR',
      default: 1,
      min: 1,
      max: 10,
      description: 'Replication factor of the topics the service creates.',
    }),
    local: {
      dataDir: str({
        env: 'KAFKA_LOCAL_DATA_DIR',
        default: '.data/kafka',
        description: 'Data directory of the local broker (used only when `KAFKA_BROKERS` is empty).',
      }),
      port: int({
        env: 'KAFKA_LOCAL_PORT',
        default: 9092,
        min: 0,
        max: 65535,
        description: 'Client port of the local broker; 0 picks a free port.',
      }),
      controllerPort: int({
        env: 'KAFKA_LOCAL_CONTROLLER_PORT',
        default: 9093,
        min: 0,
        max: 65535,
        description: 'KRaft controller port of the local broker; 0 picks a free port.',
      }),
      heapMb: int({
        env: 'KAFKA_LOCAL_HEAP_MB',
        default: 512,
        min: 128,
        max: 16384,
        description: 'JVM heap of the local broker, MB.',
      }),
    },
    sessionTimeoutMs: int({
      env: 'KAFKA_SESSION_TIMEOUT_MS',
      default: 30000,
      min: 6000,
      max: 300000,
      description:
        "Consumer group session timeout of every stage: a member not heartbeating for this long is expelled and its partitions go to others. The stages heartbeat while a batch is in hand, so only a frozen process (SIGSTOP, a long GC pause, CPU starvation) reaches it; it then rejoins. Within the broker's group.min/max.session.timeout.ms.",
    }),
    heartbeatIntervalMs: int({
      env: 'KAFKA_HEARTBEAT_INTERVAL_MS',
      default: 3000,
      min: 100,
      max: 60000,
      description:
        'How often every stage heartbeats to its group coordinator; at most a third of the session timeout.',
    }),
  },
  liveness: {
    timeoutMs: int({
      env: 'LIVENESS_TIMEOUT_MS',
      default: 180000,
      min: 5000,
      max: 3600000,
      description:
        'A stage that cannot make progress for this long (out of its consumer group, crashed, retrying the same failure, a topic it consumes deleted, one batch stuck, idle while behind after re-reading and a new consumer) makes the process exit with status 70 after logging the cause, so a supervisor restarts it; `/healthz` fails from half this time. Retries and rejoins cure what they can before that.',
    }),
  },
  topics: {
    transactions: str({
      env: 'TOPIC_TRANSACTIONS',
      default: 'pos.transactions',
      pattern: topicName,
      patternHint: 'a Kafka topic name',
      description: 'Topic of terminal transactions (`TerminalTransaction`, key merchant_id).',
    }),
    merchantEvents: str({
      env: 'TOPIC_MERCHANT_EVENTS',
      default: 'pos.merchant-events',
      pattern: topicName,
      patternHint: 'a Kafka topic name',
      description: 'Topic of merchant lifecycle events (`MerchantEvent`, key merchant_id).',
    }),
    entityActivity: str({
      env: 'TOPIC_ENTITY_ACTIVITY',
      default: 'pos.entity-activity',
      pattern: topicName,
      patternHint: 'a Kafka topic name',
      description:
        'Internal topic of card, settlement-account and terminal activity, keyed by entity, that feeds the cross-merchant rules (card_ring, shared_settlement_account, shared_terminal); the link records card_ring derives go back to it. Created with a retention longer than their widest window.',
    }),
    ruleHits: str({
      env: 'TOPIC_RULE_HITS',
      default: 'pos.rule-hits',
      pattern: topicName,
      patternHint: 'a Kafka topic name',
      description:
        'Internal topic of rule hit updates from both rules stages, keyed by merchant_id, that feeds the scoring stage.',
    }),
    scoringState: str({
      env: 'TOPIC_SCORING_STATE',
      default: 'pos.scoring-state',
      pattern: topicName,
      patternHint: 'a Kafka topic name',
      description:
        "Internal compacted changelog of the scoring stage's per-merchant state, written in the same Kafka transactions as the alerts; created with the partition count of the rule-hits topic.",
    }),
    parked: str({
      env: 'TOPIC_PARKED',
      default: 'pos.parked',
      pattern: topicName,
      patternHint: 'a Kafka topic name',
      description:
        'Internal topic of the hits and alerts a stage could not process or publish (an alert of an acquirer the deployment does not serve, or whose topic is gone; a hit that does not decode), each with its reason in `x-parked-*` headers. Written in the transaction of the part, so the stage moves on; `risk_records_parked_total` counts them.',
    }),
    scoreEvents: str({
      env: 'TOPIC_SCORE_EVENTS',
      default: 'pos.score-events',
      pattern: topicName,
      patternHint: 'a Kafka topic name',
      description:
        'Internal topic of what the scoring stage decided per merchant (scores, alerts, cases: `ScoreEvent`), written in the same Kafka transactions as the alerts and stored in ClickHouse by the sink stage.',
    }),
    dlqSuffix: str({
      env: 'TOPIC_DLQ_SUFFIX',
      default: '.dlq',
      pattern: /^[A-Za-z0-9._-]{1,50}$/,
      patternHint: 'a topic-name suffix',
      description: 'Rejected messages of topic T go to T + this suffix, with the reason in headers.',
    }),
  },
  schemaRegistry: {
    url: optionalStr({
      env: 'SCHEMA_REGISTRY_URL',
      description:
        'Confluent Schema Registry. Unset: schema ids are the fixed ids of the bundled schemas in `schemas/`.',
    }),
    username: str({
      env: 'SCHEMA_REGISTRY_USER',
      default: '',
      description: 'Schema Registry basic-auth user.',
    }),
    password: str({
      env: 'SCHEMA_REGISTRY_PASSWORD',
      default: '',
      description: 'Schema Registry basic-auth password.',
      secret: true,
    }),
  },
  clickhouse: {
    url: optionalStr({
      env: 'CLICKHOUSE_URL',
      description:
        'ClickHouse server HTTP(S) URL, e.g. `http://localhost:8123`. Unset: the embedded chDB engine stores data in `clickhouse.chdbPath`.',
    }),
    username: str({
      env: 'CLICKHOUSE_USER',
      default: 'default',
      description: 'ClickHouse user (server only).',
    }),
    password: str({
      env: 'CLICKHOUSE_PASSWORD',
      default: '',
      description: 'ClickHouse password (server only).',
      secret: true,
    }),
    database: str({
      env: 'CLICKHOUSE_DATABASE',
      default: 'pos_risk',
      pattern: identifier,
      patternHint: 'a plain identifier',
      description: 'Database holding all tables; created at start-up, migrations applied in it.',
    }),
    chdbPath: str({
      env: 'CHDB_PATH',
      default: '.data/chdb',
      description: 'Data directory of the embedded chDB engine (when `CLICKHOUSE_URL` is unset).',
    }),
    chdbThreadNice: int({
      env: 'CHDB_THREAD_NICE',
      default: 10,
      min: 0,
      max: 19,
      description:
        "Nice value of the embedded chDB engine's background threads (merges, moves, schedule pools; Linux), so that on a full machine the alert path, the inserts and the queries get the CPU before the work that can wait; 0 leaves them at the process's priority. Unused with `CLICKHOUSE_URL`.",
    }),
  },
  ingest: {
    maxBatchSize: int({
      env: 'INGEST_MAX_BATCH',
      // Each insert into the embedded engine writes a part, merged later, at a cost of several ms of CPU
      // whatever its size: 20,000 against 5,000 cut chDB's threads by a fifth to a third on a month
      // (BENCHMARKS.md).
      default: 20_000,
      min: 1,
      max: 100000,
      description:
        'Most messages decoded and written to ClickHouse in one insert; a larger Kafka batch is split, with a heartbeat and an offset commit after each part.',
    }),
    concurrency: int({
      env: 'INGEST_CONCURRENCY',
      default: 2,
      min: 1,
      max: 64,
      description: 'Partitions processed concurrently by one instance.',
    }),
    maxFutureSkewMs: int({
      env: 'INGEST_MAX_FUTURE_SKEW_MS',
      default: 300000,
      min: 0,
      description:
        'An event_time further than this in the future is rejected to the DLQ (terminal clock skew).',
    }),
    retryInitialMs: int({
      env: 'INGEST_RETRY_INITIAL_MS',
      default: 500,
      min: 1,
      description: 'First back-off when ClickHouse or the DLQ producer fails; doubles up to the maximum.',
    }),
    retryMaxMs: int({
      env: 'INGEST_RETRY_MAX_MS',
      default: 30000,
      min: 1,
      description:
        'Longest back-off between retries of a failed write. Retries go on until the write succeeds.',
    }),
    fromBeginning: bool({
      env: 'INGEST_FROM_BEGINNING',
      default: true,
      description: 'A new consumer group starts at the earliest offset (true) or the latest (false).',
    }),
  },
  time: {
    defaultTimeZone: str({
      env: 'DEFAULT_TIME_ZONE',
      default: '+08:00',
      description:
        "Merchants' local time zone for daily windows and night-time, unless their acquirer has its own. IANA name or offset.",
    }),
    acquirerTimeZones: stringMap({
      env: 'ACQUIRER_TIME_ZONES',
      default: {},
      description: 'Time zone per acquirer, e.g. `acq-cn=Asia/Shanghai,acq-th=+07:00`.',
      value: timeZoneProblem,
    }),
  },
  rules: {
    enabled: bool({
      env: 'RULES_ENABLED',
      default: true,
      description:
        'Run the rules stages (per-merchant and cross-merchant), scoring and the sink of their results; off, the service only stores and dead-letters the input.',
    }),
    concurrency: int({
      env: 'RULES_CONCURRENCY',
      default: 6,
      min: 1,
      max: 64,
      description:
        "Input partitions the per-merchant rules stage processes at once (group `<KAFKA_GROUP_ID>.rules`). Each partition number has its own state and transactional producer; overlapping partitions overlaps their transactions' round trips.",
    }),
    worker: bool({
      env: 'RULES_WORKER',
      default: true,
      description:
        "Run the per-merchant rules stage's decode, validation and rule engine on a worker thread of their own, beside the main thread's Kafka clients, ingest, scoring and ClickHouse writes (a second core). Off: on the main thread.",
    }),
    maxBatchSize: int({
      env: 'RULES_MAX_BATCH',
      default: 1000,
      min: 1,
      max: 100000,
      description:
        'Most events the rules stage takes into one Kafka transaction (its hits, entity activity and offsets). Smaller parts publish hits sooner; larger ones spend less on transactions.',
    }),
    configFile: optionalStr({
      env: 'RULES_CONFIG_FILE',
      description:
        'JSON rules configuration: parameters per rule, per MCC and per acquirer, and whitelist entries (see "Rules"). Unset: every rule on its defaults. Reloaded on SIGHUP.',
    }),
    baselineRefreshMs: int({
      env: 'RULES_BASELINE_REFRESH_MS',
      default: 900_000,
      min: 10_000,
      description:
        "How often peer cohorts (acquirer × registered MCC × region) and merchants' own 90-day baselines are recomputed from ClickHouse for the rules that compare with them. While no cohort exists yet (a new store), every minute.",
    }),
    minCohort: int({
      env: 'RULES_MIN_COHORT',
      default: 20,
      min: 2,
      description:
        "Merchants with at least 20 sales in 30 days a peer cohort (acquirer × registered MCC) needs before the relative rules compare with its distribution; a regional cohort (the same in one 1-degree cell) needs twice as many. A merchant without one is compared with its acquirer's population only, and scoring counts such hits only beside calibrated evidence.",
    }),
    whitelistRefreshMs: int({
      env: 'RULES_WHITELIST_REFRESH_MS',
      default: 60_000,
      min: 1_000,
      description:
        'How often whitelist entries granted through the dashboard API are re-read from ClickHouse (a grant in the same process applies at once; this covers an API running as its own process).',
    }),
    allowedLatenessMs: int({
      env: 'RULES_ALLOWED_LATENESS_MS',
      default: 21_600_000,
      min: 0,
      description:
        "How far behind a merchant's latest event an event may arrive and still change rule state (terminals upload offline transactions late). Later events are still stored and counted in the daily aggregates.",
    }),
  },
  acquirers: {
    known: list({
      env: 'ACQUIRERS',
      default: [],
      description:
        "The acquirers this deployment serves, `acq-a,acq-b`: only their events are accepted (any other acquirer's go to the DLQ with `RISK_ERR_UNKNOWN_ACQUIRER`), and each gets its alert topic at start-up. More can be registered at run time through `POST /v1/acquirers` (admin). Ids whose alert topics would collide (Kafka treats `.` and `_` alike; case is ignored too) stop start-up. `npm start`'s simulated traffic adds its own acquirers.",
      item: ACQUIRER_ID,
      itemHint: ACQUIRER_ID_RULE,
    }),
    refreshMs: int({
      env: 'ACQUIRERS_REFRESH_MS',
      default: 10_000,
      min: 1_000,
      max: 3_600_000,
      description:
        'How often the acquirers registered through the API are re-read from ClickHouse, so that a registration made by another process (an API of its own) is accepted here within this time.',
    }),
  },
  alerts: {
    topicPattern: str({
      env: 'ALERTS_TOPIC_PATTERN',
      default: 'risk.alerts.{acquirer}',
      pattern: /^[A-Za-z0-9._-]*\{acquirer\}[A-Za-z0-9._-]*$/,
      patternHint: 'a topic name containing {acquirer}',
      description:
        "Topic of an acquirer's alerts; `{acquirer}` is replaced by the acquirer_id. Created when the acquirer becomes known (configured or registered). Acquirers subscribe to their own topic only.",
    }),
    format: oneOf({
      env: 'ALERTS_FORMAT',
      default: 'avro',
      values: ['avro', 'json'],
      description:
        'Encoding of alerts (`RiskAlert`): framed Avro (Confluent wire format; the Schema Registry id when `SCHEMA_REGISTRY_URL` is set, else bundled id 1003) or UTF-8 JSON.',
    }),
    acquirerFormats: stringMap({
      env: 'ALERTS_ACQUIRER_FORMATS',
      default: {},
      description: 'Encoding per acquirer, overriding `alerts.format`, e.g. `acq-a=json,acq-b=avro`.',
      value: (v) => (v === 'avro' || v === 'json' ? null : `"${v}" is neither avro nor json`),
    }),
  },
  scoring: {
    concurrency: int({
      env: 'SCORING_CONCURRENCY',
      default: 6,
      min: 1,
      max: 64,
      description:
        "Rule-hits partitions the scoring stage processes at once. Each partition has its own transactional producer and state, so they run side by side; a transaction per batch is on every alert's path.",
    }),
    restoreTimeoutMs: int({
      env: 'SCORING_RESTORE_TIMEOUT_MS',
      default: 120_000,
      min: 1_000,
      description:
        "How long the scoring stage may take to read a partition's state back from the changelog when it takes the partition over; then it retries.",
    }),
  },
  sink: {
    concurrency: int({
      env: 'SINK_CONCURRENCY',
      default: 6,
      min: 1,
      max: 64,
      description:
        'Partitions of the rule-hits and score-events topics the sink stage stores at once. Their rows go to ClickHouse together, one insert per table for all the parts in hand, so more partitions at once means fewer, larger inserts.',
    }),
  },
  simulator: {
    mode: oneOf({
      env: 'SIMULATOR',
      default: 'auto',
      values: ['auto', 'on', 'off'],
      description:
        'Simulated terminal traffic produced into the transaction topics. `auto`: on when the service started its own local broker, off when `KAFKA_BROKERS` is set.',
    }),
    ratePerSecond: int({
      env: 'SIMULATOR_RATE',
      default: 50,
      min: 1,
      max: 1000000,
      description: 'Simulated transactions per second.',
    }),
    merchants: int({
      env: 'SIMULATOR_MERCHANTS',
      default: 200,
      min: 1,
      max: 10000000,
      description: 'Number of simulated merchants.',
    }),
    seed: int({
      env: 'SIMULATOR_SEED',
      default: 42,
      description: 'Seed of the simulated traffic (same seed, same events).',
    }),
    late: str({
      env: 'SIMULATOR_LATE',
      default: '0.015@1m-30m,0.003@1h-24h',
      pattern: LATE_PATTERN,
      patternHint: '0, or comma-separated <share>@<min>-<max> such as 0.015@1m-30m',
      description:
        'Late transactions in the simulated traffic: each class `<share>@<min>-<max>` gives that share of the transactions an event time a log-uniform delay in the past (units ms, s, m, h, d), as terminals uploading late do; `0` for none. The default makes 0.3% later than the allowed lateness.',
    }),
  },
  api: {
    enabled: bool({
      env: 'API_ENABLED',
      default: true,
      description:
        'Serve the dashboard API for risk analysts (queue, evidence, cases, whitelists, audit log) and `/metrics` in this process.',
    }),
    host: str({
      env: 'API_HOST',
      default: '0.0.0.0',
      description: 'Address the dashboard API listens on.',
    }),
    port: int({
      env: 'API_PORT',
      default: 8080,
      min: 0,
      max: 65535,
      description: 'Port of the dashboard API; 0 picks a free port.',
    }),
    rateLimitMax: int({
      env: 'API_RATE_LIMIT_MAX',
      default: 600,
      min: 1,
      max: 1_000_000,
      description: 'Requests one API key may make per window; more get 429.',
    }),
    rateLimitWindowMs: int({
      env: 'API_RATE_LIMIT_WINDOW_MS',
      default: 60_000,
      min: 1000,
      max: 3_600_000,
      description: 'Window of the rate limit, ms.',
    }),
    authFailureMax: int({
      env: 'API_AUTH_FAILURE_MAX',
      default: 20,
      min: 1,
      max: 1_000_000,
      description:
        'Failed authentications (no key, or a malformed, unknown or revoked one) one client address may have per rate-limit window; beyond, its requests are answered 429 before their key is looked up, except with a key already known to be good.',
    }),
    authFailureTotalMax: int({
      env: 'API_AUTH_FAILURE_TOTAL_MAX',
      default: 600,
      min: 1,
      max: 10_000_000,
      description:
        'Failed authentications all addresses together may have per rate-limit window; beyond, only keys already known to be good are served (a flood of invented keys from many addresses costs no store look-ups).',
    }),
    keyCacheMs: int({
      env: 'API_KEY_CACHE_MS',
      default: 30_000,
      min: 0,
      max: 600_000,
      description:
        'How long a looked-up API key is remembered; a revoked key stops working within this time. 0 looks every request up.',
    }),
    sessionTtlMs: int({
      env: 'API_SESSION_TTL_MS',
      default: 1_800_000,
      min: 60_000,
      max: 43_200_000,
      description:
        'How long a console session (the cookie an analyst gets by signing in with an API key) lasts without use, ms. Use keeps it alive up to 12 hours; signing out, or revoking the key, ends it.',
    }),
    whitelistMaxDays: int({
      env: 'API_WHITELIST_MAX_DAYS',
      default: 365,
      min: 1,
      max: 3650,
      description: 'Longest expiry a whitelist entry granted through the API may have, in days from now.',
    }),
    adminKeyFile: str({
      env: 'API_ADMIN_KEY_FILE',
      default: '.data/admin-key',
      description:
        'Where the first start, on a store without any API key, keeps the admin key it creates (readable by the service user only); `npm run api-keys` reads it to manage keys through a running service.',
    }),
    consoleDir: str({
      env: 'API_CONSOLE_DIR',
      default: 'console/dist',
      description:
        "Directory of the built analysts' console, served at `/console` (`npm start` and `npm test` build it there with `npm run build:console`; the Docker image holds it built).",
    }),
    docs: bool({
      env: 'API_DOCS',
      default: true,
      description: 'Serve the OpenAPI description at `/docs/json` and the interactive page at `/docs`.',
    }),
    trustProxy: bool({
      env: 'API_TRUST_PROXY',
      default: false,
      description:
        'Take the client address from `X-Forwarded-For` (behind a load balancer); it keys the rate limit of requests without a key.',
    }),
  },
  log: {
    level: oneOf({
      env: 'LOG_LEVEL',
      default: 'info',
      values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      description: 'Log level; logs are JSON lines on stdout.',
    }),
  },
} as const

type Infer<S> = S extends Setting<infer T> ? T : { readonly [K in keyof S]: Infer<S[K]> }

export type Config = Infer<typeof CONFIG_SPEC>
