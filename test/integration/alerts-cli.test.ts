import { describe, expect, inject, it } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { RISK_ALERT } from '../../schemas/contract.ts'
import type { RiskAlert } from '../../schemas/types.generated.ts'
import { runScript } from '../helpers/cli.ts'
import { testKafka, uniqueName } from '../helpers/kafka.ts'

function run(args: string[], env: Record<string, string>) {
  return runScript('scripts/alerts.ts', args, env)
}

function alertOf(merchantId: string, acquirerId: string): RiskAlert {
  return {
    alert_id: `a-${merchantId}`,
    created_at: Date.UTC(2026, 10, 21, 2),
    acquirer_id: acquirerId,
    merchant_id: merchantId,
    category: 'FRAUD',
    level: 'HIGH',
    score: 60,
    previous_level: null,
    reasons: [
      {
        rule_id: 'structuring',
        rule_version: 1,
        description: '12 of 20 large swipes just under the limit',
        observed: 0.6,
        threshold: 0.3,
        window_start: Date.UTC(2026, 9, 22),
        window_end: Date.UTC(2026, 10, 21),
        sample_txn_ids: ['t-1'],
      },
    ],
  }
}

describe('npm run alerts -- tail', () => {
  it("prints an acquirer's alerts, Avro and JSON alike, as JSON lines", async () => {
    const kafka = testKafka(inject('kafkaBrokers'))
    const codec = new EventCodec({})
    const prefix = uniqueName('tail')
    const topic = `${prefix}.alerts.acq-a`
    await ensureTopics(kafka, [topic], { partitions: 1, replicationFactor: 1 })
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic,
      messages: [
        { key: 'm-1', value: await codec.encode(RISK_ALERT, alertOf('m-1', 'acq-a'), 'avro') },
        { key: 'm-2', value: await codec.encode(RISK_ALERT, alertOf('m-2', 'acq-a'), 'json') },
      ],
    })
    await producer.disconnect()
    const r = await run(['tail', '--acquirer', 'acq-a', '--from-beginning', '--max', '2'], {
      KAFKA_BROKERS: inject('kafkaBrokers'),
      ALERTS_TOPIC_PATTERN: `${prefix}.alerts.{acquirer}`,
    })
    expect(r.code, r.err).toBe(0)
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines.map((l) => [l.merchant_id, l.level, l.reasons[0].rule_id])).toEqual([
      ['m-1', 'HIGH', 'structuring'],
      ['m-2', 'HIGH', 'structuring'],
    ])
  })

  it('refuses a bad acquirer id or command with a usage line', async () => {
    const bad = await run(['tail', '--acquirer', 'acq a'], { KAFKA_BROKERS: inject('kafkaBrokers') })
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('--acquirer')
    const unknown = await run(['follow'], {})
    expect(unknown.code).toBe(2)
    expect(unknown.err).toContain('usage: npm run alerts -- tail')
  })
})
