import {
  Kafka,
  type KafkaConfig,
  logLevel,
  type Producer,
  type ProducerConfig,
  type SASLOptions,
} from 'kafkajs'
import type { Config } from '../config/spec.ts'
import type { Logger } from '../lib/logger.ts'
import './compression.ts'
import { Murmur2Partitioner } from './partitioner.ts'

const CONCURRENT_TRANSACTIONS = /another concurrent operation on the same transaction/
/**
 * A partition whose leader is moving or not yet elected (a topic just created, a broker restarting):
 * kafkajs refreshes its metadata and retries these requests itself, so they are not errors of ours. A
 * request that finally fails still reaches the caller, which reports it.
 */
const LEADERSHIP_MOVING =
  /not the leader for that topic-partition|There is no leader for this topic-partition|leader is not available/i

/** A kafkajs client whose own logs go to our structured logger. */
export function createKafka(config: Config['kafka'], brokers: readonly string[], logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' })
  const kafkaConfig: KafkaConfig = {
    clientId: config.clientId,
    brokers: [...brokers],
    ssl: config.ssl,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry
        // A transaction begun right after a commit is refused until the broker has written the commit
        // markers; the producer retries it within milliseconds (scoring/stage.ts). Expected, not an error.
        const text = `${message} ${String(rest.error ?? '')}`
        if (CONCURRENT_TRANSACTIONS.test(text) || LEADERSHIP_MOVING.test(text)) log.debug(rest, message)
        else if (level === logLevel.ERROR || level === logLevel.NOTHING) log.error(rest, message)
        else if (level === logLevel.WARN) log.warn(rest, message)
        else if (level === logLevel.INFO) log.info(rest, message)
        else log.debug(rest, message)
      },
    retry: { initialRetryTime: 300, retries: 10 },
  }
  const sasl = saslOptions(config)
  if (sasl !== undefined) kafkaConfig.sasl = sasl
  return new Kafka(kafkaConfig)
}

function saslOptions(config: Config['kafka']): SASLOptions | undefined {
  const { saslUsername: username, saslPassword: password } = config
  switch (config.saslMechanism) {
    case 'none':
      return undefined
    case 'plain':
      return { mechanism: 'plain', username, password }
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password }
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password }
  }
}

/**
 * A producer with the partitioner chosen explicitly: the Java client's murmur2 (the choices of kafkajs's
 * `DefaultPartitioner`, computed without its allocations: kafka/partitioner.ts), so a key lands on the
 * partition any other Kafka client would pick, and kafkajs does not warn about its changed default.
 * Every producer of the service is made here.
 */
export function createProducer(
  kafka: Kafka,
  config: Omit<ProducerConfig, 'createPartitioner'> = {},
): Producer {
  return kafka.producer({
    allowAutoTopicCreation: false,
    ...config,
    createPartitioner: Murmur2Partitioner,
  })
}
