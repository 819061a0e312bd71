import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Kafka, Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { EventCodec } from '../../kafka/codec.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { buildRulesConfig, createEngine } from '../../rules/engine/config.ts'
import { type ActivityRecord, encodeActivity, entityKeyOf } from '../../rules/entity/activity.ts'
import { buildEntityRules, EntityEngine } from '../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { EntityStage } from '../../rules/entity/stage.ts'
import { RULES } from '../../rules/index.ts'
import { TERMINAL_TRANSACTION } from '../../schemas/contract.ts'
import type { MerchantEvent } from '../../schemas/types.generated.ts'
import { SinkStage } from '../../sink/stage.ts'
import { openStore, type Store } from '../../store/client.ts'
import { insertMerchantEvents } from '../../store/merchant-events.ts'
import { sampleMerchantEvent, txn } from '../helpers/events.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'
import { createPathTopics, startPath } from '../helpers/stages.ts'

describe('cross-merchant rules on the live stream', () => {
  let kafka: Kafka
  let dir: string
  let store: Store
  const codec = new EventCodec({})
  const topics = {
    transactions: uniqueName('etx'),
    merchantEvents: uniqueName('eev'),
    ruleHits: uniqueName('ehits'),
    entityActivity: uniqueName('eact'),
    scoreEvents: uniqueName('escore'),
  }
  const activityTopic = topics.entityActivity
  const entityGroup = uniqueName('entity')
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn')
  const cleanups: (() => Promise<void>)[] = []

  function entityStage(): EntityStage {
    const engine = new EntityEngine({
      rules: buildEntityRules({}, ENTITY_RULES),
      isWhitelisted: () => false,
      configHash: 'entity-test',
    })
    // The same group each time: the restart finds its offsets committed past every record, so only the
    // seek back to the replay start can rebuild its memory.
    return new EntityStage({
      kafka,
      store,
      engine,
      codec,
      topic: activityTopic,
      ruleHits: topics.ruleHits,
      groupId: entityGroup,
      logger,
      now: Date.now,
      sleep,
      retryInitialMs: 100,
      retryMaxMs: 1000,
    })
  }

  async function cardRingHits(): Promise<{ merchant_id: string; observed: number; n: number }[]> {
    const rs = await store.client.query({
      query: `SELECT merchant_id, any(observed) AS observed, toFloat64(count()) AS n FROM rule_hits FINAL
              WHERE rule_id = {rule:String} AND acquirer_id = {acquirer:String} AND startsWith(merchant_id, {prefix:String})
              GROUP BY merchant_id ORDER BY merchant_id`,
      query_params: { rule: 'card_ring', acquirer: 'acq-test', prefix: 'm-ring-' },
      format: 'JSONEachRow',
    })
    return rs.json()
  }

  beforeAll(async () => {
    kafka = testKafka(inject('kafkaBrokers'))
    dir = mkdtempSync(join(tmpdir(), 'entity-rules-test-'))
    store = await openStore({ database: 'entity_test', chdbPath: join(dir, 'chdb') })
    await createPathTopics(kafka, topics, 2)
  })

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('fires card_ring for each of 3 merchants through its two hops, and a restarted stage replays to the same rows', async () => {
    const config = buildRulesConfig({}, RULES)
    const engine = createEngine(config, { timeZoneOf: () => '+08:00', allowedLatenessMs: 6 * 3_600_000 })
    // Ingest, the per-merchant rules (which publish the card activity) and the sink (which stores hits).
    const path = await startPath({ kafka, store, codec, engine, topics, group: uniqueName('epath'), logger })
    cleanups.push(() => path.stop())
    let stage = entityStage()
    await stage.start()

    // Ten cards farmed at three merchants, each with large purchases on two days (event time days ago).
    const base = Date.now() - 4 * 86_400_000
    const merchants = ['m-ring-a', 'm-ring-b', 'm-ring-c']
    const txns = [0, 1].flatMap((day) =>
      merchants.flatMap((merchant_id, m) =>
        Array.from({ length: 10 }, (_, c) =>
          txn({
            merchant_id,
            card_token: `tok-ring-${c}`,
            amount_minor: 500_000,
            event_time: base + day * 2 * 86_400_000 + m * 3_600_000 + c * 60_000,
          }),
        ),
      ),
    )
    // Small sales of other cards at the same merchants: card_ring does not look at them, so the rules
    // stage does not publish them.
    const small = merchants.flatMap((merchant_id, m) =>
      Array.from({ length: 15 }, (_, c) =>
        txn({
          merchant_id,
          card_token: `tok-small-${c}`,
          amount_minor: 4_500,
          event_time: base + 3_600_000 + m * 60_000 + c * 1_000,
        }),
      ),
    )
    const producer = kafka.producer()
    await producer.connect()
    await producer.send({
      topic: topics.transactions,
      messages: await Promise.all(
        [...txns, ...small].map(async (t) => ({
          key: t.merchant_id,
          value: await codec.encode(TERMINAL_TRANSACTION, t, 'avro'),
        })),
      ),
    })
    await producer.disconnect()

    // The card hop derives links keyed by merchant, the stage publishes them to its own topic, and the
    // merchant hop reads them back: three rows, one per merchant.
    await waitFor(
      async () => (await cardRingHits()).length === 3 && path.rules.stats.events === 105,
      async () =>
        `card_ring hits ${JSON.stringify(await cardRingHits())}, events ${path.rules.stats.events}, activity ${path.rules.stats.activity}, derived ${stage.stats.derived}`,
    )
    // The 60 large sales, and none of the 45 small ones, though all 105 were taken.
    expect(path.rules.stats.activity).toBe(60)
    expect(path.rules.stats.events).toBe(105)
    expect(stage.stats.derived).toBeGreaterThan(0)
    await stage.stop()

    // A restart with empty memory: the replay reaches the same three rows, not three more.
    const before = stage.stats.records
    stage = entityStage()
    await stage.start()
    cleanups.push(() => stage.stop())
    await waitFor(
      async () => stage.stats.records >= before && stage.stats.hitsPublished >= 3,
      () =>
        `replayed ${stage.stats.records} of ${before} records, published ${stage.stats.hitsPublished} hits`,
    )
    expect(stage.stats.replays).toBe(2)
    const rows = await cardRingHits()
    expect(rows).toEqual(merchants.map((merchant_id) => ({ merchant_id, observed: 1, n: 1 })))
  })

  /**
   * On topics of its own: a sink storing hits, and an entity stage with the `raw` cross-merchant rules,
   * started after `stored` lifecycle events were stored (long gone from any activity topic).
   */
  async function standingStage(name: string, raw: unknown, stored: readonly MerchantEvent[]) {
    const own = {
      transactions: uniqueName('unused-t'),
      merchantEvents: uniqueName('unused-e'),
      ruleHits: uniqueName(`hits-${name}`),
      entityActivity: uniqueName(`eact-${name}`),
      scoreEvents: uniqueName(`score-${name}`),
    }
    await createPathTopics(kafka, own, 2)
    const retries = { now: Date.now, sleep, retryInitialMs: 100, retryMaxMs: 1000, logger }
    const sink = new SinkStage({
      ...retries,
      kafka,
      store,
      codec,
      topics: { ruleHits: own.ruleHits, scoreEvents: own.scoreEvents },
      groupId: uniqueName(`sink-${name}`),
      concurrency: 1,
      maxPartSize: 500,
    })
    await sink.start()
    cleanups.push(() => sink.stop())
    await insertMerchantEvents(
      store,
      stored.map((event) => ({ event, topic: 'pos.merchant-events', partition: 0, offset: '0' })),
      { timeZoneOf: () => '+08:00', now: Date.now() },
    )
    const engine = new EntityEngine({
      rules: buildEntityRules(raw, ENTITY_RULES),
      isWhitelisted: () => false,
      configHash: 'entity-test',
    })
    const stage = new EntityStage({
      ...retries,
      kafka,
      store,
      codec,
      ruleHits: own.ruleHits,
      engine,
      topic: own.entityActivity,
      groupId: uniqueName(`entity-${name}`),
    })
    await stage.start()
    cleanups.push(() => stage.stop())
    return {
      engine,
      /** Publishes `record` to the stage's activity topic, as the rules stage would. */
      publish: async (record: ActivityRecord) => {
        const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
        await producer.connect()
        await producer.send({
          topic: own.entityActivity,
          messages: [{ key: entityKeyOf(record), value: encodeActivity(record) }],
        })
        await producer.disconnect()
      },
    }
  }

  /** The stored hits of one cross-merchant rule and acquirer, by merchant. */
  async function hitsOf(
    rule: string,
    acquirer: string,
  ): Promise<{ merchant_id: string; observed: number }[]> {
    const rs = await store.client.query({
      query: `SELECT merchant_id, observed FROM rule_hits FINAL
        WHERE rule_id = {rule:String} AND acquirer_id = {acquirer:String} ORDER BY merchant_id`,
      query_params: { rule, acquirer },
      format: 'JSONEachRow',
    })
    return rs.json()
  }

  /** A lifecycle event of `merchant_id` at `at`, as stored. */
  const lifecycle = (event_id: string, merchant_id: string, at: number, more: Partial<MerchantEvent>) =>
    sampleMerchantEvent({
      event_id,
      merchant_id,
      event_time: at,
      acquirer_id: 'acq-test',
      registered_mcc: null,
      merchant_name: null,
      ...more,
    })

  it('remembers a terminal bound to its owner before the replay window, from the stored lifecycle events', async () => {
    // The owner bound the terminal 200 days ago: long gone from the activity topic (and never on this
    // one), but still in merchant_events. A second merchant binds it today.
    const day = 86_400_000
    const old = Date.now() - 200 * day
    const bound = { kind: 'TERMINAL_BOUND', terminal_id: 'T-standing' } as const
    const { publish } = await standingStage('standing', { rules: { shared_terminal: { graceMinutes: 0 } } }, [
      lifecycle('own-1', 'm-owner', old, bound),
      // Another merchant bound and unbound long ago: not standing, not seeded.
      lifecycle('gone-1', 'm-gone', old, bound),
      lifecycle('gone-2', 'm-gone', old + day, { ...bound, kind: 'TERMINAL_UNBOUND' }),
    ])
    await publish({
      id: 'new-1',
      kind: 'terminal',
      key: 'T-standing',
      acquirerId: 'acq-test',
      merchantId: 'm-newcomer',
      at: Date.now() - 60_000,
      bound: true,
    })
    const merchants = async () => (await hitsOf('shared_terminal', 'acq-test')).map((r) => r.merchant_id)
    await waitFor(
      async () => (await merchants()).length >= 2,
      async () => `shared_terminal hits for ${JSON.stringify(await merchants())}`,
    )
    expect(await merchants()).toEqual(['m-newcomer', 'm-owner'])
  })

  it('remembers the accounts merchants were onboarded with before the replay window, unless they closed', async () => {
    // Two merchants of two trades were onboarded with one account 400 and 300 days ago, a third that
    // closed since too: all long gone from the activity topic, still in merchant_events. A merchant of
    // a third trade binds the account today.
    const day = 86_400_000
    const now = Date.now()
    const onboarded = (mcc: string) => ({
      acquirer_id: 'acq-accounts',
      registered_mcc: mcc,
      settlement_account_token: 'acct-standing',
    })
    const { engine, publish } = await standingStage('accounts', {}, [
      lifecycle('on-1', 'm-restaurant', now - 400 * day, onboarded('5812')),
      lifecycle('on-2', 'm-phones', now - 300 * day, onboarded('5732')),
      lifecycle('on-3', 'm-closed', now - 350 * day, onboarded('5999')),
      lifecycle('cl-3', 'm-closed', now - 200 * day, { acquirer_id: 'acq-accounts', kind: 'CLOSED' }),
    ])
    await publish({
      id: 'on-new',
      kind: 'account',
      key: 'acct-standing',
      acquirerId: 'acq-accounts',
      merchantId: 'm-pets',
      at: now - 60_000,
      bound: true,
      mcc: '5995',
    })
    const shared = () => hitsOf('shared_settlement_account', 'acq-accounts')
    await waitFor(
      async () => (await shared()).length >= 3,
      async () =>
        `shared_settlement_account hits for ${JSON.stringify(await shared())}, entity engine ${JSON.stringify(engine.stats)}`,
    )
    expect(await shared()).toEqual([
      { merchant_id: 'm-pets', observed: 3 },
      { merchant_id: 'm-phones', observed: 3 },
      { merchant_id: 'm-restaurant', observed: 3 },
    ])
  })
})
