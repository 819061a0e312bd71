import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kafka } from 'kafkajs'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { AcquirerRegistry, type AcquirerRegistryOptions } from '../../acquirers/registry.ts'
import { ensureTopics } from '../../kafka/topics.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { writeRegisteredAcquirer } from '../../store/acquirers.ts'
import { openStore, type Store } from '../../store/client.ts'
import { testKafka, topicsUnder, uniqueName } from '../helpers/kafka.ts'

/**
 * The acquirer registry on the real broker and chDB: which ids become known, which topics exist
 * afterwards, and what a second process sees.
 */
describe('acquirer registry', () => {
  let dir: string
  let store: Store
  let kafka: Kafka

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'acquirers-'))
    store = await openStore({ database: 'acquirers_test', chdbPath: join(dir, 'chdb') })
    kafka = testKafka(inject('kafkaBrokers'))
  })

  // Registrations are the deployment's, whatever the topic pattern: each test starts with none.
  beforeEach(async () => {
    await store.client.command({ query: 'TRUNCATE TABLE acquirers_test.acquirers' })
  })

  afterAll(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Options of a registry with its own topic pattern; `kafka: null` for a process without a broker. */
  function options(
    prefix: string,
    overrides: Partial<AcquirerRegistryOptions> = {},
  ): AcquirerRegistryOptions {
    return {
      store,
      kafka,
      configured: [],
      topicPattern: `${prefix}.alerts.{acquirer}`,
      topicSettings: { partitions: 1, replicationFactor: 1 },
      reservedTopics: [`${prefix}.transactions`, `${prefix}.rule-hits`],
      logger: createLogger('silent'),
      now: Date.now,
      sleep,
      ...overrides,
    }
  }

  it('knows the configured acquirers and creates their alert topics at start-up', async () => {
    const p = uniqueName('acq-conf')
    const registry = await AcquirerRegistry.open(options(p, { configured: ['acq-a', 'acq_b', 'acq-a'] }))
    expect(registry.list().map((a) => [a.acquirerId, a.alertTopic, a.source])).toEqual([
      ['acq-a', `${p}.alerts.acq-a`, 'configured'],
      ['acq_b', `${p}.alerts.acq_b`, 'configured'],
    ])
    expect(registry.isKnown('acq-a')).toBe(true)
    expect(registry.isKnown('acq.b')).toBe(false)
    expect(await topicsUnder(kafka, p)).toEqual([`${p}.alerts.acq-a`, `${p}.alerts.acq_b`])
    expect(() => registry.alertTopicOf('acq-invented')).toThrow(
      expect.objectContaining({ code: 'RISK_ERR_UNKNOWN_ACQUIRER', retriable: false }),
    )
  })

  const badConfigs: [string, (p: string) => Partial<AcquirerRegistryOptions>, string][] = [
    ['two ids that Kafka would collide', () => ({ configured: ['acq_zz', 'acq.zz'] }), 'collides'],
    ['two ids that differ only by case', () => ({ configured: ['ACQ', 'acq'] }), 'collides'],
    ['a malformed id', () => ({ configured: ['acq/1'] }), 'must be 1 to 64'],
    [
      "an id whose topic is one of the service's own",
      (p) => ({ configured: [`${p}.transactions`], topicPattern: '{acquirer}' }),
      "the service's own topics",
    ],
  ]
  it.each(badConfigs)('stops start-up on %s, naming the key', async (_what, make, problem) => {
    const p = uniqueName('acq-bad')
    await expect(AcquirerRegistry.open(options(p, make(p)))).rejects.toThrow(
      expect.objectContaining({
        code: 'RISK_ERR_CONFIG',
        message: expect.stringMatching(new RegExp(`^acquirers\\.known \\(ACQUIRERS\\): .*${problem}`)),
      }),
    )
    expect(await topicsUnder(kafka, p)).toEqual([])
  })

  it('stops start-up on a configured id whose topic collides with one on the broker', async () => {
    const p = uniqueName('acq-broker')
    await ensureTopics(kafka, [`${p}.alerts.acq_zz`], { partitions: 1, replicationFactor: 1 })
    await expect(AcquirerRegistry.open(options(p, { configured: ['acq.zz'] }))).rejects.toThrow(
      expect.objectContaining({
        code: 'RISK_ERR_CONFIG',
        message: expect.stringContaining('a topic on the broker'),
      }),
    )
    // A topic of exactly the acquirer's name is its own: a restart is no collision.
    const registry = await AcquirerRegistry.open(options(p, { configured: ['acq_zz'] }))
    expect(registry.isKnown('acq_zz')).toBe(true)
  })

  it('registers an acquirer once, creating its topic, and refuses ids that would collide', async () => {
    const p = uniqueName('acq-reg')
    const registry = await AcquirerRegistry.open(options(p, { configured: ['acq-a'] }))
    const first = await registry.register('acq_zz', 'admin@test')
    expect(first).toMatchObject({
      ok: true,
      created: true,
      acquirer: { acquirerId: 'acq_zz', source: 'registered' },
    })
    expect(await registry.register('acq_zz', 'admin@test')).toMatchObject({ ok: true, created: false })
    const refusals: [string, string][] = [
      ['acq.zz', 'collision'],
      ['ACQ_ZZ', 'collision'],
      ['ACQ-A', 'collision'],
      ['acq zz', 'invalid'],
      ['..', 'invalid'],
    ]
    for (const [id, reason] of refusals) {
      const r = await registry.register(id, 'admin@test')
      expect(r, id).toMatchObject({ ok: false, reason })
      expect(registry.isKnown(id)).toBe(false)
    }
    const collision = await registry.register('acq.zz', 'admin@test')
    if (collision.ok) throw new Error('expected a refusal')
    expect(collision.message).toContain(`${p}.alerts.acq.zz`)
    expect(collision.message).toContain(`${p}.alerts.acq_zz`)
    expect(await topicsUnder(kafka, p)).toEqual([`${p}.alerts.acq-a`, `${p}.alerts.acq_zz`])
  })

  it('lets another process see a registration, creating the topic when the registrar had no broker', async () => {
    const p = uniqueName('acq-other')
    const pipeline = await AcquirerRegistry.open(options(p))
    const apiOnly = await AcquirerRegistry.open(options(p, { kafka: null }))
    expect(await apiOnly.register('acq-new', 'admin@api')).toMatchObject({ ok: true, created: true })
    expect(await topicsUnder(kafka, p)).toEqual([])
    expect(pipeline.isKnown('acq-new')).toBe(false)
    const added = await pipeline.refresh()
    expect(added.map((a) => a.acquirerId)).toEqual(['acq-new'])
    expect(pipeline.isKnown('acq-new')).toBe(true)
    expect(await topicsUnder(kafka, p)).toEqual([`${p}.alerts.acq-new`])
    // A third process opened afterwards knows it from the start.
    const later = await AcquirerRegistry.open(options(p))
    expect(later.list().map((a) => [a.acquirerId, a.source, a.registeredBy])).toEqual([
      ['acq-new', 'registered', 'admin@api'],
    ])
  })

  it('refuses a registration that collides with one another process made since', async () => {
    const p = uniqueName('acq-since')
    const one = await AcquirerRegistry.open(options(p, { kafka: null }))
    const two = await AcquirerRegistry.open(options(p, { kafka: null }))
    expect((await one.register('acq_r', 'one')).ok).toBe(true)
    // `two` has not refreshed since, but a registration reads the store first.
    expect(await two.register('acq.r', 'two')).toMatchObject({ ok: false, reason: 'collision' })
  })

  it('leaves out the later of two colliding registrations that raced past each other', async () => {
    const p = uniqueName('acq-race')
    const t = Date.now()
    // What two processes without a broker registering at the same moment leave in the store.
    await writeRegisteredAcquirer(store, {
      acquirerId: 'acq_s',
      alertTopic: 'x',
      registeredAt: t,
      registeredBy: 'one',
    })
    await writeRegisteredAcquirer(store, {
      acquirerId: 'acq.s',
      alertTopic: 'y',
      registeredAt: t + 1,
      registeredBy: 'two',
    })
    const pipeline = await AcquirerRegistry.open(options(p))
    expect(pipeline.list().map((a) => a.acquirerId)).toEqual(['acq_s'])
    expect(pipeline.isKnown('acq.s')).toBe(false)
    expect(await topicsUnder(kafka, p)).toEqual([`${p}.alerts.acq_s`])
  })

  it('stops start-up when a configured id collides with a registered one', async () => {
    const p = uniqueName('acq-confreg')
    const first = await AcquirerRegistry.open(options(p))
    expect((await first.register('acq_q', 'admin')).ok).toBe(true)
    await expect(AcquirerRegistry.open(options(p, { configured: ['acq.q'] }))).rejects.toThrow(
      expect.objectContaining({
        code: 'RISK_ERR_CONFIG',
        message: expect.stringContaining('registered acquirer "acq_q"'),
      }),
    )
  })
})
