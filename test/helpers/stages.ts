import type { Kafka } from 'kafkajs'
import { IngestStage } from '../../ingest/stage.ts'
import type { EventCodec } from '../../kafka/codec.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import type { Logger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { LocalRules } from '../../rules/core.ts'
import type { RuleEngine } from '../../rules/engine/engine.ts'
import { activityWanted, buildEntityRules } from '../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RulesStage } from '../../rules/stage.ts'
import { SinkStage } from '../../sink/stage.ts'
import type { Store } from '../../store/client.ts'
import { EVERY_ACQUIRER_KNOWN, ingestSettings } from './ingest.ts'

/** The topics of the store → rules → sink path of one test. */
export interface PathTopics {
  transactions: string
  merchantEvents: string
  ruleHits: string
  entityActivity: string
  scoreEvents: string
}

/** Creates the path's topics (inputs and their DLQs, hits, activity, score events). */
export async function createPathTopics(kafka: Kafka, t: PathTopics, partitions: number): Promise<void> {
  await ensureTopics(
    kafka,
    [
      t.transactions,
      t.merchantEvents,
      `${t.transactions}.dlq`,
      `${t.merchantEvents}.dlq`,
      t.ruleHits,
      t.entityActivity,
      t.scoreEvents,
    ],
    { partitions, replicationFactor: 1 },
  )
}

export interface RunningPath {
  ingest: IngestStage
  rules: RulesStage
  sink: SinkStage
  stop(): Promise<void>
}

/**
 * A rules stage as the service wires it, with fast retries: group `<group>.rules`, rebuilding from what
 * group `group` (ingest) stored.
 */
export function testRulesStage(opts: {
  kafka: Kafka
  store: Store
  codec: EventCodec
  engine: RuleEngine
  topics: PathTopics
  group: string
  logger: Logger
  concurrency?: number
  maxPartSize?: number
}): RulesStage {
  const { kafka, store, codec, engine, topics, group, logger } = opts
  return new RulesStage({
    kafka,
    logger,
    now: Date.now,
    sleep,
    retryInitialMs: 100,
    retryMaxMs: 1000,
    store,
    core: new LocalRules({
      engine,
      codec,
      acquirers: EVERY_ACQUIRER_KNOWN,
      maxFutureSkewMs: 300_000,
      allowedLatenessMs: 6 * 3_600_000,
      // As the service: only the activity the default cross-merchant rules can use is published.
      wantsActivity: activityWanted(buildEntityRules({}, ENTITY_RULES)),
    }),
    topics,
    groupId: `${group}.rules`,
    storeGroupId: group,
    concurrency: opts.concurrency ?? 2,
    maxPartSize: opts.maxPartSize ?? 500,
  })
}

/**
 * The three stages a rule hit takes to ClickHouse, as the service wires them: ingest stores the input,
 * the rules stage turns it into hits on their topic (rebuilding from the store when it takes a
 * partition), the sink stores the hits. Fast retries; `group` prefixes the three consumer groups.
 */
export async function startPath(opts: {
  kafka: Kafka
  store: Store
  codec: EventCodec
  engine: RuleEngine
  topics: PathTopics
  group: string
  logger: Logger
}): Promise<RunningPath> {
  const { kafka, store, codec, engine, topics, group, logger } = opts
  const timing = { retryInitialMs: 100, retryMaxMs: 1000 }
  const ingest = new IngestStage(
    ingestSettings(group, { transactions: topics.transactions, merchantEvents: topics.merchantEvents }),
    { kafka, store, codec, logger, now: Date.now, sleep, acquirers: EVERY_ACQUIRER_KNOWN },
  )
  const rules = testRulesStage({ kafka, store, codec, engine, topics, group, logger })
  const sink = new SinkStage({
    kafka,
    logger,
    now: Date.now,
    sleep,
    ...timing,
    store,
    codec,
    topics: { ruleHits: topics.ruleHits, scoreEvents: topics.scoreEvents },
    groupId: `${group}.sink`,
    concurrency: 2,
    maxPartSize: 500,
  })
  await ingest.start()
  await rules.start()
  await sink.start()
  return {
    ingest,
    rules,
    sink,
    stop: async () => {
      await rules.stop()
      await sink.stop()
      await ingest.stop()
    },
  }
}
