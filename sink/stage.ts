import type { EventCodec } from '../kafka/codec.ts'
import {
  PartitionStage,
  STORE_FETCH,
  type StageContext,
  type StageDeps,
  type StagePart,
  type StageTiming,
  stageSettings,
} from '../kafka/stage-runner.ts'
import { GroupWrite } from '../lib/group-write.ts'
import type { Logger } from '../lib/logger.ts'
import { Turns } from '../lib/turns.ts'
import { RISK_ALERT, RULE_HIT, SCORE_EVENT } from '../schemas/contract.ts'
import type { RiskAlert, RuleHit, ScoreEvent } from '../schemas/types.generated.ts'
import type { Store } from '../store/client.ts'
import { upsertHits } from '../store/rule-hits.ts'
import { openCases, writeAlerts, writeScores } from '../store/scores.ts'

export interface SinkStageOptions extends StageDeps, StageTiming {
  store: Store
  codec: EventCodec
  topics: { ruleHits: string; scoreEvents: string }
  groupId: string
  concurrency: number
  maxPartSize: number
}

export interface SinkStageStats {
  hits: number
  scoreEvents: number
  alerts: number
  /** Records that do not fit their schema: skipped and counted (this service writes these topics). */
  bad: number
}

/**
 * Stores what the pipeline found, off the alert path: a consumer group on the rule-hits and
 * score-events topics (read committed, so nothing of an aborted transaction) that writes rule hits,
 * scores and their history, alerts and cases to ClickHouse: one insert per table for the parts of all
 * the partitions in hand (GroupWrite), whatever their number and size. Every table it writes collapses
 * a rewrite of the same key (hit id, merchant and category, alert id, case id and version), so at least
 * once into ClickHouse is exactly once in what a reader sees, and the runner commits a part's offsets
 * after the insert that carried its rows. A ClickHouse outage pauses this stage only: rules, scoring
 * and the alerts go on, and the stored evidence catches up afterwards.
 */
export class SinkStage extends PartitionStage {
  readonly commits = 'runner'
  readonly stats: SinkStageStats = { hits: 0, scoreEvents: 0, alerts: 0, bad: 0 }
  readonly #opts: SinkStageOptions
  readonly #log: Logger
  /**
   * One insert per table for the parts of every partition in hand, not one per part: each insert into
   * the embedded engine writes a part of its own, merged later, at a cost of several ms of CPU whatever
   * its size, and the sink's parts are many and small (see GroupWrite).
   */
  readonly #writes: {
    hits: GroupWrite<RuleHit>
    scores: GroupWrite<ScoreEvent>
    alerts: GroupWrite<{ alert: RiskAlert; topic: string; families: readonly string[] }>
    cases: GroupWrite<ScoreEvent>
  }

  constructor(opts: SinkStageOptions) {
    super(
      stageSettings(
        {
          name: 'sink',
          groupId: opts.groupId,
          topics: [opts.topics.ruleHits, opts.topics.scoreEvents],
          fromBeginning: true,
          concurrency: opts.concurrency,
          maxPartSize: opts.maxPartSize,
          consumer: { ...STORE_FETCH, readUncommitted: false },
        },
        opts,
      ),
      opts,
    )
    this.#opts = opts
    this.#log = opts.logger.child({ component: 'sink' })
    const { store, now } = opts
    this.#writes = {
      hits: new GroupWrite((hits) => upsertHits(store, hits, now())),
      scores: new GroupWrite((events) => writeScores(store, events, now())),
      alerts: new GroupWrite((alerts) => writeAlerts(store, alerts, now())),
      cases: new GroupWrite((events) => openCases(store, events)),
    }
  }

  /** Inserts started per table so far. */
  get inserts(): { hits: number; scores: number; alerts: number; cases: number } {
    const w = this.#writes
    return { hits: w.hits.writes, scores: w.scores.writes, alerts: w.alerts.writes, cases: w.cases.writes }
  }

  override async stop(): Promise<void> {
    await super.stop()
    this.#log.info({ stats: this.stats }, 'sink stage stopped')
  }

  async process(part: StagePart, ctx: StageContext): Promise<void> {
    const { codec, topics } = this.#opts
    if (part.topic === topics.ruleHits) {
      const hits: RuleHit[] = []
      const turns = new Turns()
      for (const m of part.messages) {
        if (turns.due()) await turns.take()
        const d = await codec.decodeInternal(RULE_HIT, m.value)
        if (d.ok) hits.push(d.record)
        else this.#bad(part, m.offset, d.error.message)
      }
      await ctx.retry(() => this.#writes.hits.add(hits))
      this.stats.hits += hits.length
      return
    }
    const events: ScoreEvent[] = []
    const alerts: { alert: RiskAlert; topic: string; families: readonly string[] }[] = []
    const turns = new Turns()
    for (const m of part.messages) {
      if (turns.due()) await turns.take()
      const d = await codec.decodeInternal(SCORE_EVENT, m.value)
      if (!d.ok) {
        this.#bad(part, m.offset, d.error.message)
        continue
      }
      events.push(d.record)
      for (const a of d.record.alerts) {
        const alert = await codec.decodeInternal(RISK_ALERT, a.alert)
        if (alert.ok) alerts.push({ alert: alert.record, topic: a.topic, families: a.families })
        else this.#bad(part, m.offset, alert.error.message)
      }
    }
    const scored = events.filter((e) => e.scores.length > 0)
    const opening = events.filter((e) => e.cases.length > 0)
    await ctx.retry(() =>
      Promise.all([
        this.#writes.scores.add(scored),
        this.#writes.alerts.add(alerts),
        this.#writes.cases.add(opening),
      ]),
    )
    this.stats.scoreEvents += events.length
    this.stats.alerts += alerts.length
  }

  #bad(part: StagePart, offset: string, problem: string): void {
    this.stats.bad++
    this.#log.warn({ topic: part.topic, partition: part.partition, offset, problem }, 'bad record skipped')
  }
}
