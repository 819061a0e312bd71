import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { describeConfig, loadConfig } from '../../config/load.ts'
import { isRiskError, type RiskError } from '../../lib/errors.ts'

function configError(env: Record<string, string>, file?: string): RiskError {
  try {
    loadConfig({ env, file: file ?? null })
  } catch (e) {
    if (isRiskError(e)) return e
    throw e
  }
  throw new Error('expected the configuration to be rejected')
}

function jsonFile(content: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cfg-')), 'config.json')
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

describe('configuration', () => {
  it('has working defaults: local Kafka, embedded chDB, UTC+8', () => {
    const c = loadConfig({ env: {} })
    expect(c.kafka.brokers).toEqual([])
    expect(c.clickhouse.url).toBeNull()
    expect(c.clickhouse.database).toBe('pos_risk')
    expect(c.time.defaultTimeZone).toBe('+08:00')
    expect(c.topics.transactions).toBe('pos.transactions')
    expect(c.simulator.mode).toBe('auto')
  })

  it('reads every kind of value from the environment', () => {
    const c = loadConfig({
      env: {
        KAFKA_BROKERS: 'a:9092, b:9093',
        KAFKA_TOPIC_PARTITIONS: '12',
        KAFKA_SSL: 'true',
        CLICKHOUSE_URL: 'http://ch:8123',
        ACQUIRER_TIME_ZONES: 'acq-cn=Asia/Shanghai,acq-th=+07:00',
        SIMULATOR: 'off',
      },
    })
    expect(c.kafka.brokers).toEqual(['a:9092', 'b:9093'])
    expect(c.kafka.topicPartitions).toBe(12)
    expect(c.kafka.ssl).toBe(true)
    expect(c.clickhouse.url).toBe('http://ch:8123')
    expect(c.time.acquirerTimeZones).toEqual({ 'acq-cn': 'Asia/Shanghai', 'acq-th': '+07:00' })
    expect(c.simulator.mode).toBe('off')
  })

  it('takes the file under the environment', () => {
    const file = jsonFile({ kafka: { groupId: 'from-file', topicPartitions: 3 }, log: { level: 'debug' } })
    const c = loadConfig({ env: { KAFKA_GROUP_ID: 'from-env' }, file })
    expect(c.kafka.groupId).toBe('from-env')
    expect(c.kafka.topicPartitions).toBe(3)
    expect(c.log.level).toBe('debug')
  })

  it.each([
    [{ KAFKA_TOPIC_PARTITIONS: 'six' }, 'kafka.topicPartitions (KAFKA_TOPIC_PARTITIONS)'],
    [{ KAFKA_TOPIC_PARTITIONS: '0' }, 'kafka.topicPartitions (KAFKA_TOPIC_PARTITIONS)'],
    [{ KAFKA_BROKERS: 'no-port' }, 'kafka.brokers (KAFKA_BROKERS)'],
    [{ KAFKA_SSL: 'yes' }, 'kafka.ssl (KAFKA_SSL)'],
    [{ SIMULATOR: 'sometimes' }, 'simulator.mode (SIMULATOR)'],
    [{ CLICKHOUSE_DATABASE: 'risk; DROP' }, 'clickhouse.database (CLICKHOUSE_DATABASE)'],
    [{ ACQUIRER_TIME_ZONES: 'acq=Mars/Olympus' }, 'time.acquirerTimeZones (ACQUIRER_TIME_ZONES)'],
    [{ DEFAULT_TIME_ZONE: '+8' }, 'time.defaultTimeZone (DEFAULT_TIME_ZONE)'],
    [{ TOPIC_TRANSACTIONS: 'bad topic' }, 'topics.transactions (TOPIC_TRANSACTIONS)'],
  ])('rejects %j naming %s', (env, path) => {
    const e = configError(env)
    expect(e.code).toBe('RISK_ERR_CONFIG')
    expect(e.message).toContain(path)
  })

  it('names an unknown key and a wrongly typed key of the file with their paths', () => {
    const file = jsonFile({ kafka: { grupId: 'typo', topicPartitions: 'many' } })
    const e = configError({}, file)
    expect(e.message).toContain('kafka.grupId')
    expect(e.message).toContain('unknown key')
    expect(e.message).toContain('kafka.topicPartitions')
  })

  it('reports every problem at once', () => {
    const e = configError({ KAFKA_TOPIC_PARTITIONS: 'x', LOG_LEVEL: 'loud' })
    expect(e.message).toContain('kafka.topicPartitions')
    expect(e.message).toContain('log.level')
  })

  it('checks the simulator lateness: its shape, then its values, with the key', () => {
    expect(loadConfig({ env: { SIMULATOR_LATE: '0.02@30s-2h' } }).simulator.late).toBe('0.02@30s-2h')
    expect(configError({ SIMULATOR_LATE: 'sometimes' }).message).toContain('simulator.late')
    const shares = configError({ SIMULATOR_LATE: '0.7@1m-2m,0.5@1h-2h' })
    expect(shares.message).toContain('simulator.late (SIMULATOR_LATE)')
    expect(shares.message).toContain('more than 1')
    expect(configError({ SIMULATOR_LATE: '0.1@5m-1m' }).message).toContain('min <= max')
  })

  it('rejects a file that is not JSON', () => {
    expect(configError({}, jsonFile('{ nope')).message).toContain('config file')
  })

  it('never prints a secret, valid or not', () => {
    const masked = describeConfig(loadConfig({ env: { CLICKHOUSE_PASSWORD: 's3cret-pw' } }))
    expect(JSON.stringify(masked)).not.toContain('s3cret-pw')
    const e = configError({ KAFKA_SASL_PASSWORD: 's3cret', KAFKA_TOPIC_PARTITIONS: 'x' })
    expect(e.message).not.toContain('s3cret')
  })
})
