import { resolve } from 'node:path'
import type { Kafka } from 'kafkajs'
import type { Config } from '../config/spec.ts'
import { createKafka } from '../kafka/client.ts'
import { EventCodec } from '../kafka/codec.ts'
import { SchemaRegistryClient } from '../kafka/schema-registry.ts'
import type { Logger } from '../lib/logger.ts'
import { type Metrics, storeObserver } from '../metrics/metrics.ts'
import { openStore, type Store } from '../store/client.ts'

/** The wire codec the configuration asks for: bundled schema ids, or the Schema Registry's. */
export function codecFor(config: Config): EventCodec {
  const sr = config.schemaRegistry
  if (sr.url === null) return new EventCodec({})
  return new EventCodec({
    schemaRegistry: new SchemaRegistryClient({
      url: sr.url,
      ...(sr.username === '' ? {} : { username: sr.username, password: sr.password }),
    }),
  })
}

/** The configured ClickHouse store (chDB or a server), migrated, reporting its writes to `metrics`. */
export function openConfiguredStore(config: Config, logger: Logger, metrics: Metrics): Promise<Store> {
  const ch = config.clickhouse
  return openStore({
    observer: storeObserver(metrics),
    ...(ch.url === null ? {} : { url: ch.url, username: ch.username, password: ch.password }),
    database: ch.database,
    chdbPath: resolve(ch.chdbPath),
    chdbThreadNice: ch.chdbThreadNice,
    logger,
  })
}

/**
 * A Kafka client for the command-line tools: the configured brokers, or the local broker `npm start`
 * runs when `KAFKA_BROKERS` is unset.
 */
export function toolKafka(config: Config, logger: Logger): Kafka {
  const brokers =
    config.kafka.brokers.length > 0 ? config.kafka.brokers : [`localhost:${config.kafka.local.port}`]
  return createKafka(config.kafka, brokers, logger)
}
