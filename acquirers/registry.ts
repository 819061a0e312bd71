import type { Kafka } from 'kafkajs'
import { ensureTopics, type TopicSettings } from '../kafka/topics.ts'
import { asRiskError, isRiskError, RiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { retryWhileRetriable } from '../lib/retry.ts'
import { readRegisteredAcquirers, writeRegisteredAcquirer } from '../store/acquirers.ts'
import type { Store } from '../store/client.ts'
import {
  acquirerIdProblem,
  alertTopicName,
  collidingClaim,
  collisionMessage,
  type TopicClaim,
} from './ids.ts'

/**
 * The acquirers a deployment serves: those configured (`acquirers.known`) and those registered through
 * the admin API (the `acquirers` table), which every process of the deployment reads. Only they have
 * events accepted (ingest rejects any other acquirer with RISK_ERR_UNKNOWN_ACQUIRER) and an alert
 * topic, created when the acquirer becomes known, never by an alert in flight. No two known acquirers
 * have colliding alert topics (ids.ts): the second of such a pair is refused at registration, or stops
 * start-up when configured.
 */

export interface KnownAcquirer {
  readonly acquirerId: string
  readonly alertTopic: string
  readonly source: 'configured' | 'registered'
  /** When and by whom it was registered; null for a configured acquirer. */
  readonly registeredAt: number | null
  readonly registeredBy: string | null
}

export type Registration =
  | { readonly ok: true; readonly acquirer: KnownAcquirer; readonly created: boolean }
  | { readonly ok: false; readonly reason: 'invalid' | 'collision'; readonly message: string }

export interface AcquirerRegistryOptions {
  readonly store: Store
  /**
   * Creates alert topics and checks the broker's existing topics for collisions. Null in a process
   * without a broker (the `api` role without KAFKA_BROKERS): the pipeline then creates the topic of an
   * acquirer registered there when its next refresh finds it, before accepting its events.
   */
  readonly kafka: Kafka | null
  /** `acquirers.known`. */
  readonly configured: readonly string[]
  /** `alerts.topicPattern`. */
  readonly topicPattern: string
  readonly topicSettings: TopicSettings
  /** The service's own topics (inputs, dead letters, internal): no alert topic may collide with one. */
  readonly reservedTopics: readonly string[]
  readonly logger: Logger
  readonly now: () => number
  /** Waits between the few attempts at creating a topic (a broker's metadata lags a moment). */
  readonly sleep: (ms: number) => Promise<void>
}

const CONFIG_KEY = 'acquirers.known (ACQUIRERS)'
const TOPIC_ATTEMPTS = 6

function configError(message: string): RiskError {
  return new RiskError('RISK_ERR_CONFIG', `${CONFIG_KEY}: ${message}`, {
    context: { key: 'acquirers.known' },
  })
}

export class AcquirerRegistry {
  readonly #opts: AcquirerRegistryOptions
  readonly #log: Logger
  readonly #known = new Map<string, KnownAcquirer>()
  /** Registrations of this process, one at a time: two colliding ids must not both pass the check. */
  #registering: Promise<unknown> = Promise.resolve()

  private constructor(opts: AcquirerRegistryOptions) {
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'acquirers' })
  }

  /**
   * Validates the configured acquirers, reads the registered ones and, with a broker, creates every
   * known acquirer's alert topic. Throws RISK_ERR_CONFIG naming `acquirers.known` when a configured id
   * is malformed or collides (with another, a registered acquirer, a service topic or a topic already
   * on the broker); a retriable error when the store or the broker cannot be reached.
   */
  static async open(opts: AcquirerRegistryOptions): Promise<AcquirerRegistry> {
    const registry = new AcquirerRegistry(opts)
    await registry.#load()
    return registry
  }

  /** Every known acquirer, by id. */
  list(): KnownAcquirer[] {
    return [...this.#known.values()].sort((a, b) => (a.acquirerId < b.acquirerId ? -1 : 1))
  }

  isKnown(acquirerId: string): boolean {
    return this.#known.has(acquirerId)
  }

  /**
   * The topic of a known acquirer's alerts, created when it became known. Throws
   * RISK_ERR_UNKNOWN_ACQUIRER (not retriable) for any other id: no topic is derived for it.
   */
  alertTopicOf(acquirerId: string): string {
    const known = this.#known.get(acquirerId)
    if (known === undefined) {
      throw new RiskError(
        'RISK_ERR_UNKNOWN_ACQUIRER',
        `acquirer ${JSON.stringify(acquirerId)} is not one this deployment serves; it has no alert topic`,
        { context: { acquirerId } },
      )
    }
    return known.alertTopic
  }

  /**
   * Registers an acquirer: checks the id, refuses one whose alert topic would collide, creates the
   * topic (with a broker) and records the registration. Registering a known id again is accepted and
   * changes nothing (`created: false`). Store and broker failures throw (retriable).
   */
  register(acquirerId: string, registeredBy: string): Promise<Registration> {
    const run = this.#registering.then(() => this.#register(acquirerId, registeredBy))
    this.#registering = run.catch(() => {})
    return run
  }

  /**
   * Reads the registrations of other processes. An acquirer becomes known only once its alert topic
   * exists (created here when the registering process had no broker); one that collides with a known
   * acquirer (two processes registering a colliding pair at once) is logged and left out. Returns the
   * acquirers that became known.
   */
  async refresh(): Promise<KnownAcquirer[]> {
    const fresh = (await readRegisteredAcquirers(this.#opts.store)).filter(
      (r) => !this.#known.has(r.acquirerId),
    )
    if (fresh.length === 0) return []
    const onBroker = await this.#brokerTopics()
    const added: KnownAcquirer[] = []
    for (const r of fresh) {
      const problem = this.#problem(r.acquirerId, onBroker)
      if (problem !== null) {
        this.#log.error({ acquirerId: r.acquirerId, problem }, 'registered acquirer left out')
        continue
      }
      const acquirer = this.#registered(r.acquirerId, r.registeredAt, r.registeredBy)
      await this.#createTopics([acquirer.alertTopic])
      this.#known.set(acquirer.acquirerId, acquirer)
      added.push(acquirer)
    }
    if (added.length > 0) this.#log.info({ acquirers: added.map((a) => a.acquirerId) }, 'acquirers added')
    return added
  }

  /** Refreshes every `intervalMs` until the returned function is called; a failed refresh is logged. */
  refreshEvery(intervalMs: number): () => void {
    const timer = setInterval(() => {
      this.refresh().catch((e: unknown) => {
        this.#log.warn(isRiskError(e) ? e.toLog() : { error: String(e) }, 'acquirers not refreshed')
      })
    }, intervalMs)
    timer.unref()
    return () => clearInterval(timer)
  }

  async #load(): Promise<void> {
    const claims = this.#reservedClaims()
    for (const id of this.#opts.configured) {
      if (this.#known.has(id)) continue
      const syntax = acquirerIdProblem(id, this.#opts.topicPattern)
      if (syntax !== null) throw configError(`${JSON.stringify(id)} ${syntax}`)
      const topic = alertTopicName(this.#opts.topicPattern, id)
      const clash = collidingClaim(topic, claims)
      if (clash !== null) throw configError(collisionMessage(ownerOf(id), topic, clash))
      claims.push({ owner: ownerOf(id), topic })
      this.#known.set(id, {
        acquirerId: id,
        alertTopic: topic,
        source: 'configured',
        registeredAt: null,
        registeredBy: null,
      })
    }
    // A configured id that collides with a registered one is a configuration to fix, not a registration
    // to leave out: the registered acquirer's alerts already go to its topic.
    for (const r of await readRegisteredAcquirers(this.#opts.store)) {
      if (this.#known.has(r.acquirerId)) continue
      const topic = alertTopicName(this.#opts.topicPattern, r.acquirerId)
      const clash = collidingClaim(topic, this.#acquirerClaims())
      const who = `registered ${ownerOf(r.acquirerId)}`
      if (clash !== null) throw configError(collisionMessage(who, topic, clash))
    }
    const onBroker = await this.#brokerTopics()
    for (const a of this.#known.values()) {
      const clash = collidingClaim(a.alertTopic, othersThan(a.alertTopic, onBroker))
      if (clash !== null) throw configError(collisionMessage(ownerOf(a.acquirerId), a.alertTopic, clash))
    }
    await this.#createTopics([...this.#known.values()].map((a) => a.alertTopic))
    await this.refresh()
  }

  async #register(acquirerId: string, registeredBy: string): Promise<Registration> {
    const syntax = acquirerIdProblem(acquirerId, this.#opts.topicPattern)
    if (syntax !== null) return { ok: false, reason: 'invalid', message: `acquirer_id ${syntax}` }
    await this.refresh()
    const known = this.#known.get(acquirerId)
    if (known !== undefined) return { ok: true, acquirer: known, created: false }
    const problem = this.#problem(acquirerId, await this.#brokerTopics())
    if (problem !== null) return { ok: false, reason: 'collision', message: problem }
    const acquirer = this.#registered(acquirerId, this.#opts.now(), registeredBy)
    try {
      await this.#createTopics([acquirer.alertTopic])
    } catch (e) {
      // Another process may have created a colliding topic since the list: the broker then refuses ours.
      const raced = this.#problem(acquirerId, await this.#brokerTopics())
      if (raced !== null) return { ok: false, reason: 'collision', message: raced }
      throw e
    }
    await writeRegisteredAcquirer(this.#opts.store, {
      acquirerId,
      alertTopic: acquirer.alertTopic,
      registeredAt: acquirer.registeredAt ?? this.#opts.now(),
      registeredBy,
    })
    this.#known.set(acquirerId, acquirer)
    this.#log.info({ acquirerId, alertTopic: acquirer.alertTopic, registeredBy }, 'acquirer registered')
    return { ok: true, acquirer, created: true }
  }

  #registered(acquirerId: string, registeredAt: number, registeredBy: string): KnownAcquirer {
    const alertTopic = alertTopicName(this.#opts.topicPattern, acquirerId)
    return { acquirerId, alertTopic, source: 'registered', registeredAt, registeredBy }
  }

  /**
   * Why `acquirerId` cannot become known next to the known acquirers, the service's topics and the
   * topics `onBroker`, or null when it can.
   */
  #problem(acquirerId: string, onBroker: readonly TopicClaim[]): string | null {
    const syntax = acquirerIdProblem(acquirerId, this.#opts.topicPattern)
    if (syntax !== null) return `acquirer_id ${syntax}`
    const topic = alertTopicName(this.#opts.topicPattern, acquirerId)
    const claims = [...this.#acquirerClaims(), ...this.#reservedClaims(), ...othersThan(topic, onBroker)]
    const clash = collidingClaim(topic, claims)
    return clash === null ? null : collisionMessage(ownerOf(acquirerId), topic, clash)
  }

  #acquirerClaims(): TopicClaim[] {
    return [...this.#known.values()].map((a) => ({ owner: ownerOf(a.acquirerId), topic: a.alertTopic }))
  }

  #reservedClaims(): TopicClaim[] {
    return this.#opts.reservedTopics.map((topic) => ({ owner: "the service's own topics", topic }))
  }

  /** The topics on the broker, as claims; none without a broker. */
  async #brokerTopics(): Promise<TopicClaim[]> {
    const kafka = this.#opts.kafka
    if (kafka === null) return []
    const admin = kafka.admin()
    try {
      await admin.connect()
      const topics = await admin.listTopics()
      return topics.map((topic) => ({ owner: 'a topic on the broker', topic }))
    } catch (e) {
      throw asRiskError(e, 'RISK_ERR_KAFKA', 'cannot list topics')
    } finally {
      await admin.disconnect()
    }
  }

  async #createTopics(topics: readonly string[]): Promise<void> {
    const kafka = this.#opts.kafka
    if (kafka === null || topics.length === 0) return
    // Right after other topics were created, the broker may answer a metadata request with "does not
    // host this topic-partition" for a moment: a few attempts, then the error is the caller's.
    let attempts = 0
    const created = await retryWhileRetriable(() => ensureTopics(kafka, topics, this.#opts.topicSettings), {
      initialMs: 200,
      maxMs: 2_000,
      shouldContinue: () => ++attempts < TOPIC_ATTEMPTS,
      onRetry: (error, attempt) => this.#log.warn({ ...error.toLog(), attempt }, 'retrying alert topics'),
      sleep: this.#opts.sleep,
    })
    if (created.length > 0) this.#log.info({ created }, 'created alert topics')
  }
}

/** The broker's topics but `topic` itself: an acquirer's topic that exists already is its own. */
function othersThan(topic: string, onBroker: readonly TopicClaim[]): TopicClaim[] {
  return onBroker.filter((c) => c.topic !== topic)
}

function ownerOf(acquirerId: string): string {
  return `acquirer ${JSON.stringify(acquirerId)}`
}
