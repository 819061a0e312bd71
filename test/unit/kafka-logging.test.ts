import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../config/load.ts'
import { createKafka } from '../../kafka/client.ts'
import { createLogger } from '../../lib/logger.ts'

function capture(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { lines, stream }
}

describe('kafkajs logs in our logger', () => {
  const config = loadConfig({ env: { KAFKA_BROKERS: '127.0.0.1:9' } }).kafka

  it('keeps errors as errors, but logs the retried CONCURRENT_TRANSACTIONS refusal at debug', async () => {
    const { lines, stream } = capture()
    const kafka = createKafka(config, ['127.0.0.1:9'], createLogger('debug', stream))
    const log = kafka.logger()
    log.error(
      'Failed to send messages: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
      { retryTime: 21 },
    )
    log.error('Response AddPartitionsToTxn(key: 24, version: 1)', {
      error:
        'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
    })
    log.error('Connection error: connect ECONNREFUSED', { broker: '127.0.0.1:9' })
    await new Promise((r) => setImmediate(r))
    expect(lines.map((l) => [l.msg, l.level])).toEqual([
      [expect.stringContaining('Failed to send messages'), 'debug'],
      ['Response AddPartitionsToTxn(key: 24, version: 1)', 'debug'],
      ['Connection error: connect ECONNREFUSED', 'error'],
    ])
  })
})
