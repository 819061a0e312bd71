import { RiskError } from '../../lib/errors.ts'
import { type HitUpdate, hitIdOf, ruleMeta } from '../engine/engine.ts'
import { defaults, type ParamSpecs, type ParamValues, resolveParams } from '../engine/params.ts'
import type { RuleCategory } from '../engine/types.ts'
import type { ActivityRecord, EntityKind } from './activity.ts'

const DAY_MS = 86_400_000
/** Event time between walks that drop idle entities (the re-evaluations run every `sweepEveryMs`). */
const EVICT_EVERY_MS = 6 * 3_600_000
/** Merchants remembered per entity, the least recent dropped first: far above any rule's threshold. */
const MAX_MERCHANTS = 64
/** Binding events remembered per terminal and merchant. */
const MAX_BINDINGS = 8
const MAX_REMEMBERED_HITS = 64
const MAX_SAMPLES = 5

/** A merchant's latest contact with a card or an account. */
export interface Contact {
  readonly at: number
  readonly id: string
}

export interface Binding {
  readonly at: number
  readonly id: string
  readonly bound: boolean
  /** Accounts: the merchant's registered MCC on the record, when it carried one. */
  readonly mcc?: string
}

/** What a rule sees of one entity. */
export interface EntityView {
  readonly acquirerId: string
  readonly kind: EntityKind
  readonly key: string
  /** The entity's event-time clock: its latest record's event time. */
  readonly watermark: number
  /** Cards: each merchant's latest contact. */
  readonly contacts: ReadonlyMap<string, Contact>
  /**
   * Terminals and accounts: each merchant's binding events, in event-time order (an account record
   * without `bound`, from an earlier version, binds).
   */
  readonly bindings: ReadonlyMap<string, readonly Binding[]>
}

/** A cross-merchant finding: the engine turns it into one hit per involved merchant. */
export interface EntityFinding {
  observed: number
  threshold: number
  /** Anchored on event times of the evidence, so the same finding keeps its hit id as it grows. */
  windowStart: number
  windowEnd: number
  /** Involved merchants with their evidence ids (txn or event ids), newest first. */
  merchants: ReadonlyMap<string, readonly string[]>
  /** The analyst's sentence for one merchant; `others` is how many other merchants are involved. */
  detail: (others: number) => string
  /**
   * A state that holds at the engine's clock (an account shared now), not evidence of a moment: the
   * engine re-evaluates the entity as the clock moves, so a rule that ends the window at the clock's day
   * publishes a fresh version of the hit each day the state holds, and its points do not decay away
   * while nothing new happens on the entity.
   */
  ongoing?: boolean
}

/**
 * The window end of an `ongoing` finding at the engine's clock `now`: the end of its UTC day, so the
 * finding changes, and a fresh version of the hit goes out, once a day while the state holds.
 */
export function ongoingWindowEnd(now: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS + DAY_MS
}

/**
 * A cross-merchant rule. Like a per-merchant rule (rules/engine/types.ts) but its state is per entity
 * (card, account or terminal) and `evaluate` sees every merchant that touched the entity. Pure: time is
 * the entity's watermark and `clock`, the latest event time the engine has seen on any entity.
 */
export interface EntityRuleDefinition<PS extends ParamSpecs, S, SS = never> {
  readonly id: string
  readonly version: number
  readonly category: RuleCategory
  readonly family: 'velocity' | 'amount' | 'volume' | 'cards' | 'network' | 'location' | 'lifecycle'
  readonly description: string
  /** As a per-merchant rule's: what the rule compares with, and why (printed in the reference). */
  readonly calibration?: string
  readonly whitelistable: boolean
  readonly kind: EntityKind
  readonly params: PS
  /** Days of event time the entity state keeps (the widest window the params allow); drives replay. */
  readonly retentionDays: number
  createState(): S
  /**
   * Applies a record of the rule's kind to its own state before `evaluate`, for rules whose evidence is
   * more than each merchant's latest contact (card_ring's shared cards). Must be idempotent: the topic
   * is read at least once and replayed after a restart.
   */
  onRecord?(state: S, record: ActivityRecord, params: ParamValues<PS>): void
  evaluate(state: S, entity: EntityView, params: ParamValues<PS>, clock: number): EntityFinding | null
  /**
   * A first hop, for evidence that needs two keys (card_ring: what a card does across merchants, then
   * what a merchant's cards do): state kept per entity of another kind, whose records derive records of
   * this rule's kind, keyed by the entity they describe. The stage publishes derived records to the
   * entity-activity topic like ingest's, so each reaches the partition of its entity.
   */
  readonly source?: EntitySource<PS, SS>
}

export interface EntitySource<PS extends ParamSpecs, SS> {
  readonly kind: EntityKind
  /** Days of event time the source state keeps. */
  readonly retentionDays: number
  createState(): SS
  /**
   * Whether a record of the source kind can matter at all (card_ring: a large sale). Entities are kept
   * only for records some rule or source wants: a card seen only buying groceries costs no memory.
   */
  accepts(record: ActivityRecord, params: ParamValues<PS>): boolean
  /** Applies a record of the source kind; returns the records it derives (idempotent, like onRecord). */
  onRecord(state: SS, record: ActivityRecord, params: ParamValues<PS>): ActivityRecord[]
}

export function defineEntityRule<PS extends ParamSpecs, S, SS = never>(
  rule: EntityRuleDefinition<PS, S, SS>,
): EntityRuleDefinition<PS, S, SS> {
  return rule
}

export interface EntityRuleMeta {
  readonly id: string
  readonly version: number
  readonly category: RuleCategory
  readonly family: string
  readonly description: string
  readonly calibration: string
  readonly whitelistable: boolean
  readonly kind: EntityKind
  readonly retentionDays: number
}

interface EntityRuleInstance {
  onRecord(record: ActivityRecord): void
  evaluate(entity: EntityView, clock: number): EntityFinding | null
}

/** An entity rule bound to its validated parameters, with its types closed over. */
export interface CompiledEntityRule {
  readonly meta: EntityRuleMeta
  readonly params: ParamSpecs
  createInstance(): EntityRuleInstance
  /** The kind of entity the rule's first hop keeps state for, and for how many days; null without one. */
  readonly source: { readonly kind: EntityKind; readonly retentionDays: number } | null
  /**
   * A new first-hop state for one entity of the source kind. Opaque: only `sourceOnRecord` of the same
   * rule reads it. A state rather than an instance with closures, because there is one per card.
   */
  createSourceState(): unknown
  /** Applies a record of the source kind to a state of `createSourceState`; returns what it derives. */
  sourceOnRecord(state: unknown, record: ActivityRecord): ActivityRecord[]
  /** Whether the rule's first hop wants a record of its source kind (false without a source). */
  sourceAccepts(record: ActivityRecord): boolean
  /** This rule's parameters for an acquirer (opaque: only `rebind` of the same rule reads them). */
  paramsOf(acquirerId: string): unknown
  /**
   * Takes the parameters of `next`, a compilation of the same rule from a reloaded configuration:
   * instances created before see them from their next evaluation, with their state kept.
   */
  rebind(next: CompiledEntityRule): void
}

/** Binds a rule to its parameters per acquirer (cross-merchant rules have no MCC layer). */
export function compileEntityRule<PS extends ParamSpecs, S, SS>(
  rule: EntityRuleDefinition<PS, S, SS>,
  paramsFor: (acquirerId: string) => ParamValues<PS>,
): CompiledEntityRule {
  const { id, kind } = rule
  let current = paramsFor
  const source = rule.source
  return {
    meta: {
      ...ruleMeta(rule),
      kind,
    },
    params: rule.params,
    createInstance() {
      const state = rule.createState()
      const onRecord = rule.onRecord
      return {
        onRecord:
          onRecord === undefined ? () => {} : (record) => onRecord(state, record, current(record.acquirerId)),
        evaluate: (entity, clock) => rule.evaluate(state, entity, current(entity.acquirerId), clock),
      }
    },
    source: source === undefined ? null : { kind: source.kind, retentionDays: source.retentionDays },
    sourceAccepts: (record) => source?.accepts(record, current(record.acquirerId)) ?? false,
    createSourceState() {
      if (source === undefined) throw new Error(`entity rule ${id} has no source`)
      return source.createState()
    },
    sourceOnRecord(state, record) {
      if (source === undefined) throw new Error(`entity rule ${id} has no source`)
      // The state came from this rule's createSourceState: it has the source's state type.
      return source.onRecord(state as SS, record, current(record.acquirerId))
    },
    paramsOf: (acquirerId) => current(acquirerId),
    rebind(next) {
      if (next.meta.id !== id) throw new Error(`cannot rebind entity rule ${id} to ${next.meta.id}`)
      // Same rule id, same definition: its parameters have this rule's types.
      current = (acq) => next.paramsOf(acq) as ParamValues<PS>
    },
  }
}

/** A rule of the registry with its types closed over, so rules of different params sit in one array. */
export interface RegisteredEntityRule {
  readonly id: string
  /** Compiles with `{ <param>: value }` overrides, global and per acquirer; throws RISK_ERR_CONFIG. */
  compile(
    global: Readonly<Record<string, unknown>>,
    byAcquirer: ReadonlyMap<string, Readonly<Record<string, unknown>>>,
    path: string,
  ): CompiledEntityRule
}

export function registerEntityRule<PS extends ParamSpecs, S, SS>(
  rule: EntityRuleDefinition<PS, S, SS>,
): RegisteredEntityRule {
  return {
    id: rule.id,
    compile(global, byAcquirer, path) {
      const problems: string[] = []
      const resolve = (base: ParamValues<PS>, o: Readonly<Record<string, unknown>>, at: string) => {
        const r = resolveParams(rule.params, base, o, at)
        if (r.ok) return r.value
        problems.push(...r.problems)
        return base
      }
      const base = resolve(defaults(rule.params), global, `${path}.rules.${rule.id}`)
      const perAcquirer = new Map<string, ParamValues<PS>>()
      for (const [acq, o] of byAcquirer)
        perAcquirer.set(acq, resolve(base, o, `${path}.acquirers.${acq}.rules.${rule.id}`))
      if (problems.length > 0)
        throw new RiskError('RISK_ERR_CONFIG', `invalid entity rule parameters: ${problems.join('; ')}`)
      return compileEntityRule(rule, (acq) => perAcquirer.get(acq) ?? base)
    },
  }
}

type Obj = Readonly<Record<string, unknown>>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * Validates the parameter overrides of the cross-merchant rules and compiles them. Shape (the same as
 * the rules file's `rules` and `acquirers.<acq>.rules` blocks):
 *   { "rules": { "<rule>": { "<param>": value } }, "acquirers": { "<acq>": { "rules": { ... } } } }
 * Every problem is reported at once, with its path (RISK_ERR_CONFIG).
 */
export function buildEntityRules(
  raw: unknown,
  registry: readonly RegisteredEntityRule[],
  path = 'entity',
): CompiledEntityRule[] {
  const problems: string[] = []
  const root = raw ?? {}
  if (!isObj(root)) throw new RiskError('RISK_ERR_CONFIG', `${path}: expected a JSON object`)
  const ids = new Set(registry.map((r) => r.id))
  const ruleBlock = (block: unknown, at: string): Map<string, Obj> => {
    const out = new Map<string, Obj>()
    if (block === undefined) return out
    if (!isObj(block)) {
      problems.push(`${at}: expected an object of rule ids`)
      return out
    }
    for (const [id, o] of Object.entries(block)) {
      if (!ids.has(id)) problems.push(`${at}.${id}: unknown rule`)
      else if (!isObj(o)) problems.push(`${at}.${id}: expected an object of parameters`)
      else out.set(id, o)
    }
    return out
  }
  for (const key of Object.keys(root))
    if (key !== 'rules' && key !== 'acquirers')
      problems.push(`${path}.${key}: unknown key (expected rules, acquirers)`)
  const global = ruleBlock(root.rules, `${path}.rules`)
  const byAcquirer = new Map<string, Map<string, Obj>>()
  if (root.acquirers !== undefined) {
    if (!isObj(root.acquirers)) problems.push(`${path}.acquirers: expected an object of acquirer ids`)
    else
      for (const [acq, block] of Object.entries(root.acquirers)) {
        if (!isObj(block)) problems.push(`${path}.acquirers.${acq}: expected an object with rules`)
        else byAcquirer.set(acq, ruleBlock(block.rules, `${path}.acquirers.${acq}.rules`))
      }
  }
  if (problems.length > 0)
    throw new RiskError('RISK_ERR_CONFIG', `invalid entity rules: ${problems.join('; ')}`)
  return registry.map((r) => {
    const perAcq = new Map<string, Obj>()
    for (const [acq, rules] of byAcquirer) {
      const o = rules.get(r.id)
      if (o !== undefined) perAcq.set(acq, o)
    }
    return r.compile(global.get(r.id) ?? {}, perAcq, path)
  })
}

export interface EntityEngineOptions {
  rules: readonly CompiledEntityRule[]
  /** True when a whitelist entry silences this rule for this merchant at this time. */
  isWhitelisted: (acquirerId: string, merchantId: string, ruleId: string, at: number) => boolean
  configHash: string
  /** Event time between re-evaluations that wait on the clock (idle entities go every 6 hours). */
  sweepEveryMs?: number
}

/**
 * One entity's state. There is one per card with a large sale (card_ring's first hop): tens of
 * thousands per acquirer and month, most with one merchant and one sale. So what a kind does not use
 * is shared (the empty contacts and bindings, the empty rule instances) or made when first needed (the
 * finding signatures), and a first hop's state is a plain value rather than closures.
 */
interface EntityEntry {
  readonly acquirerId: string
  readonly kind: EntityKind
  readonly key: string
  /** The partition of the entity-activity topic its latest record came from (`drop` selects by it). */
  partition: number
  watermark: number
  /** Cards and accounts with rules of their kind; NO_CONTACTS otherwise. */
  readonly contacts: Map<string, Contact>
  /** Terminals; NO_BINDINGS otherwise. */
  readonly bindings: Map<string, Binding[]>
  readonly instances: readonly { rule: CompiledEntityRule; instance: EntityRuleInstance }[]
  /** First-hop states, one per rule of `sources` (the engine's shared list for this kind). */
  readonly sourceStates: readonly unknown[]
  /** Last finding signature per merchant hit, so an unchanged finding is not written again. */
  lastFinding: Map<string, string> | null
}

/** The contacts or bindings of an entity whose kind keeps none: one shared map that refuses entries. */
class NoEntries<V> extends Map<string, V> {
  override set(key: string): this {
    throw new Error(`entity state of this kind keeps no merchants (${key})`)
  }
}

const NO_CONTACTS: Map<string, Contact> = new NoEntries()
const NO_BINDINGS: Map<string, Binding[]> = new NoEntries()
const NO_INSTANCES: EntityEntry['instances'] = []

export interface EntityEngineStats {
  records: number
  /** Records already applied (redelivery, replay overlap, a re-sent flush). */
  duplicates: number
  /** Records older than the entity's state window: they cannot change a finding. */
  tooOld: number
  hits: number
  entities: number
}

/**
 * State keyed by entity (acquirer, kind, key), for the partitions of the entity-activity topic one
 * instance owns. Pure and synchronous: records in, hit updates out. Each entity keeps its merchants with
 * their latest contact (terminals: their binding events), pruned by the entity's event time beyond its
 * rules' retention; entities idle beyond it are swept on a coalesced event-time timer.
 *
 * A record is applied idempotently (the latest contact per merchant, binding events by id), so the
 * at-least-once topic and replays after a restart never count anything twice.
 */
export class EntityEngine {
  readonly stats: EntityEngineStats = { records: 0, duplicates: 0, tooOld: 0, hits: 0, entities: 0 }
  /**
   * Entities by kind, then acquirer, then key: each level is keyed by a string the record already has,
   * where one key made of all three (or of acquirer and kind) cost a new string per record.
   */
  readonly #entities = new Map<EntityKind, Map<string, Map<string, EntityEntry>>>()
  #count = 0
  readonly #rulesOf: ReadonlyMap<EntityKind, readonly CompiledEntityRule[]>
  /** Rules whose first hop keeps state for entities of a kind. */
  readonly #sourcesOf: ReadonlyMap<EntityKind, readonly CompiledEntityRule[]>
  readonly #retentionOf = new Map<EntityKind, number>()
  /** Records derived by first hops since the last takeDerived. */
  #derived: ActivityRecord[] = []
  /** Terminal entities whose finding may change with the clock alone (an overlap not yet long enough). */
  readonly #watch = new Set<EntityEntry>()
  readonly #sweepEveryMs: number
  #opts: EntityEngineOptions
  #clock = Number.NEGATIVE_INFINITY
  #lastSweep = Number.NEGATIVE_INFINITY
  #lastEviction = Number.NEGATIVE_INFINITY

  constructor(opts: EntityEngineOptions) {
    const ids = new Set<string>()
    for (const r of opts.rules) {
      if (ids.has(r.meta.id)) throw new Error(`duplicate entity rule id ${r.meta.id}`)
      ids.add(r.meta.id)
      const days = Math.max((this.#retentionOf.get(r.meta.kind) ?? 0) / DAY_MS, r.meta.retentionDays)
      this.#retentionOf.set(r.meta.kind, days * DAY_MS)
      if (r.source !== null) {
        const k = r.source.kind
        const sourceDays = Math.max((this.#retentionOf.get(k) ?? 0) / DAY_MS, r.source.retentionDays)
        this.#retentionOf.set(k, sourceDays * DAY_MS)
      }
    }
    const kinds = byKind(opts.rules)
    this.#rulesOf = kinds.rulesOf
    this.#sourcesOf = kinds.sourcesOf
    this.#opts = opts
    this.#sweepEveryMs = opts.sweepEveryMs ?? 300_000
  }

  /** The widest retention of any rule: how far back a rebuild must replay. */
  get retentionMs(): number {
    return Math.max(DAY_MS, ...this.#retentionOf.values())
  }

  get entityCount(): number {
    return this.#count
  }

  /**
   * A reloaded configuration: whitelist, hash and the rules' parameters change in place, entity state
   * is kept. `rules` must be the same rules (a new compilation of the same registry); their parameters
   * are taken over by the running ones.
   */
  reconfigure(opts: Partial<Pick<EntityEngineOptions, 'isWhitelisted' | 'configHash' | 'rules'>>): void {
    const { rules, ...rest } = opts
    if (rules !== undefined) {
      const next = new Map(rules.map((r) => [r.meta.id, r]))
      const running = this.#opts.rules
      if (next.size !== running.length || running.some((r) => !next.has(r.meta.id)))
        throw new Error('entity rules can only be reconfigured with the same rules')
      for (const r of running) r.rebind(next.get(r.meta.id) as CompiledEntityRule)
    }
    this.#opts = { ...this.#opts, ...rest }
  }

  /**
   * The records first hops derived since the last call (card_ring's links): the stage publishes them to
   * the entity-activity topic, keyed by entityKeyOf, after the batch that derived them.
   */
  takeDerived(): ActivityRecord[] {
    const out = this.#derived
    this.#derived = []
    return out
  }

  /**
   * Applies a record that came from `partition` of the entity-activity topic (0 when there is no
   * topic: the backtest, the tests). The entity remembers it, so `drop` can forget a partition's state.
   */
  onRecord(r: ActivityRecord, partition = 0): HitUpdate[] {
    this.stats.records++
    const rules = this.#rulesOf.get(r.kind) ?? NO_RULES
    const sources = this.#sourcesOf.get(r.kind) ?? NO_RULES
    const retention = this.#retentionOf.get(r.kind)
    if (retention === undefined) return []
    const out: HitUpdate[] = []
    if (r.at > this.#clock) this.#clock = r.at
    // A kind kept only for first hops (cards, for card_ring) needs an entity only for records they
    // want; the record still moves the clock the sweeps run on. (The rules stage publishes only what
    // `wants` takes, so such records come from replays of older topics, or from other producers.)
    if (!wanted(rules, sources, r)) {
      if (this.#clock >= this.#lastSweep + this.#sweepEveryMs) this.#sweep(out)
      return out
    }
    const e = this.#entry(r, rules, sources)
    e.partition = partition
    // A binding is a state, not an event in a window (see #prune): one older than the entity's window
    // still says what holds, if nothing later of that merchant says otherwise. Merchants' lifecycle
    // events come through different partitions, so a binding of years ago may arrive after another
    // merchant's of today (a new deployment's backfill of onboardings does so all the time).
    const binding = r.kind === 'terminal' || r.kind === 'account'
    const old = r.at <= e.watermark - retention
    if (old && !binding) {
      this.stats.tooOld++
    } else if (!this.#apply(e, r, rules.length > 0)) {
      this.stats.duplicates++
    } else {
      if (r.at > e.watermark) {
        e.watermark = r.at
        this.#prune(e, e.watermark - retention)
      } else if (old) this.#prune(e, e.watermark - retention)
      for (let i = 0; i < sources.length; i++) {
        const derived = (sources[i] as CompiledEntityRule).sourceOnRecord(e.sourceStates[i], r)
        for (const d of derived) this.#derived.push(d)
      }
      for (const { instance } of e.instances) instance.onRecord(r)
      this.#evaluate(e, out)
    }
    if (this.#clock >= this.#lastSweep + this.#sweepEveryMs) this.#sweep(out)
    return out
  }

  /**
   * Whether the rules can use a record: every record of a kind some rule keeps entities of, and of a
   * kind kept only for first hops (cards, for card_ring), those a first hop accepts. With the running
   * rules' current parameters (a reload rebinds them).
   */
  wants(r: ActivityRecord): boolean {
    return wanted(this.#rulesOf.get(r.kind) ?? NO_RULES, this.#sourcesOf.get(r.kind) ?? NO_RULES, r)
  }

  /** Drops the entities of the partitions `which` selects (no longer owned); returns how many. */
  drop(which: (partition: number) => boolean): number {
    let dropped = 0
    this.#pruneGroups((entities) => {
      for (const [key, e] of entities) {
        if (!which(e.partition)) continue
        entities.delete(key)
        this.#watch.delete(e)
        dropped++
      }
    })
    this.#count -= dropped
    this.stats.entities = this.#count
    return dropped
  }

  #entry(
    r: ActivityRecord,
    rules: readonly CompiledEntityRule[],
    sources: readonly CompiledEntityRule[],
  ): EntityEntry {
    let byAcquirer = this.#entities.get(r.kind)
    if (byAcquirer === undefined) {
      byAcquirer = new Map()
      this.#entities.set(r.kind, byAcquirer)
    }
    let entities = byAcquirer.get(r.acquirerId)
    if (entities === undefined) {
      entities = new Map()
      byAcquirer.set(r.acquirerId, entities)
    }
    let e = entities.get(r.key)
    if (e === undefined) {
      const contacts = rules.length > 0 && r.kind === 'card'
      e = {
        acquirerId: r.acquirerId,
        kind: r.kind,
        key: r.key,
        partition: 0,
        watermark: Number.NEGATIVE_INFINITY,
        contacts: contacts ? new Map() : NO_CONTACTS,
        bindings: r.kind === 'terminal' || r.kind === 'account' ? new Map() : NO_BINDINGS,
        instances:
          rules.length === 0
            ? NO_INSTANCES
            : rules.map((rule) => ({ rule, instance: rule.createInstance() })),
        sourceStates: sources.map((rule) => rule.createSourceState()),
        lastFinding: null,
      }
      entities.set(r.key, e)
      this.#count++
      this.stats.entities = this.#count
    }
    return e
  }

  /** Applies a record; false when it changes nothing (a duplicate or an older contact). */
  #apply(e: EntityEntry, r: ActivityRecord, hasRules: boolean): boolean {
    // A link's evidence is its card, kept by the rule itself (idempotently): every link goes through;
    // so do the records of a kind kept only for first hops, which keep their own state (idempotently).
    if (r.kind === 'link' || !hasRules) return true
    if (r.kind === 'terminal' || r.kind === 'account') {
      let list = e.bindings.get(r.merchantId)
      if (list === undefined) {
        list = []
        this.#makeRoom(e.bindings, (l) => l.at(-1)?.at ?? 0)
        e.bindings.set(r.merchantId, list)
      }
      if (list.some((b) => b.id === r.id)) return false
      const item: Binding = {
        at: r.at,
        id: r.id,
        bound: r.bound ?? r.kind === 'account',
        ...(r.mcc === undefined ? {} : { mcc: r.mcc }),
      }
      let i = list.length
      // Event-time order whatever the arrival order; ties by id, so a replay sorts the same way.
      while (i > 0 && before(item, list[i - 1])) i--
      list.splice(i, 0, item)
      if (list.length > MAX_BINDINGS) list.shift()
      return true
    }
    const previous = e.contacts.get(r.merchantId)
    if (previous !== undefined && (previous.at > r.at || (previous.at === r.at && previous.id >= r.id))) {
      return previous.id !== r.id
    }
    if (previous === undefined) this.#makeRoom(e.contacts, (c) => c.at)
    e.contacts.set(r.merchantId, { at: r.at, id: r.id })
    return true
  }

  #makeRoom<V>(map: Map<string, V>, timeOf: (v: V) => number): void {
    if (map.size < MAX_MERCHANTS) return
    let oldest: string | null = null
    let oldestAt = Number.POSITIVE_INFINITY
    for (const [k, v] of map) {
      const t = timeOf(v)
      if (t < oldestAt) {
        oldestAt = t
        oldest = k
      }
    }
    if (oldest !== null) map.delete(oldest)
  }

  #prune(e: EntityEntry, horizon: number): void {
    for (const [m, c] of e.contacts) if (c.at <= horizon) e.contacts.delete(m)
    for (const [m, list] of e.bindings) {
      // A binding is a state, not an event in a window: the last change at or before the horizon is
      // what held at the horizon, and a terminal bound years ago is still bound. Keep it if it binds.
      let k = 0
      while (k < list.length && (list[k]?.at ?? 0) <= horizon) k++
      if (k > 0) list.splice(0, list[k - 1]?.bound === true ? k - 1 : k)
      if (list.length === 0) e.bindings.delete(m)
    }
  }

  #evaluate(e: EntityEntry, out: HitUpdate[]): void {
    let waiting = false
    for (const { rule, instance } of e.instances) {
      const finding = instance.evaluate(e, this.#clock)
      if (e.kind === 'terminal' && finding === null && countBoundNow(e) > 1) waiting = true
      if (finding === null) continue
      if (finding.ongoing === true) waiting = true
      const meta = rule.meta
      const others = finding.merchants.size - 1
      const samples = allSamples(finding.merchants)
      for (const [merchantId, own] of finding.merchants) {
        if (meta.whitelistable && this.#opts.isWhitelisted(e.acquirerId, merchantId, meta.id, e.watermark))
          continue
        const detail = finding.detail(others)
        const hitKey = `${meta.id}\u0000${merchantId}\u0000${finding.windowStart}`
        const signature = `${finding.observed}|${finding.threshold}|${finding.windowEnd}|${detail}|${this.#opts.configHash}`
        e.lastFinding ??= new Map()
        const last = e.lastFinding
        if (last.get(hitKey) === signature) continue
        last.delete(hitKey)
        last.set(hitKey, signature)
        if (last.size > MAX_REMEMBERED_HITS) {
          const oldest = last.keys().next()
          if (oldest.done !== true) last.delete(oldest.value)
        }
        // The merchant's own evidence first: the analyst reads this hit from that merchant's side.
        const sampleTxnIds = [...own, ...samples.filter((s) => !own.includes(s))].slice(0, MAX_SAMPLES)
        this.stats.hits++
        out.push({
          hitId: hitIdOf(e.acquirerId, merchantId, meta.id, finding.windowStart),
          acquirerId: e.acquirerId,
          merchantId,
          ruleId: meta.id,
          ruleVersion: meta.version,
          category: meta.category,
          finding: {
            observed: finding.observed,
            threshold: finding.threshold,
            windowStart: finding.windowStart,
            windowEnd: finding.windowEnd,
            sampleTxnIds,
            detail,
          },
          detectedAt: Math.max(e.watermark, Math.min(this.#clock, finding.windowEnd)),
          configHash: this.#opts.configHash,
        })
      }
    }
    if (waiting) this.#watch.add(e)
    else this.#watch.delete(e)
  }

  /**
   * The coalesced timer: drops entities idle beyond their retention, and re-evaluates terminals whose
   * overlap waits for the clock and entities whose finding is ongoing (their own records are rare, so
   * their watermark would not move).
   */
  #sweep(out: HitUpdate[]): void {
    this.#lastSweep = this.#clock
    // Idle entities are dropped at most once per EVICT_EVERY_MS of event time: the walk visits every
    // entity, and a replay of 90 days at restart would otherwise walk them all every 5 minutes of it.
    // Dropping them later changes nothing found: an entity past its retention is pruned to nothing by
    // its next record anyway, and a binding that still holds is kept either way.
    if (this.#clock >= this.#lastEviction + EVICT_EVERY_MS) this.#evictIdle()
    this.stats.entities = this.#count
    // Dropped and evicted entities leave the watch with their state.
    for (const e of [...this.#watch]) this.#evaluate(e, out)
  }

  #evictIdle(): void {
    this.#lastEviction = this.#clock
    this.#pruneGroups((entities) => {
      for (const [key, e] of entities) {
        const retention = this.#retentionOf.get(e.kind) ?? 0
        // An idle terminal still bound to a merchant stays: the next binding elsewhere overlaps with it.
        if (e.watermark <= this.#clock - retention && countBoundNow(e) === 0) {
          entities.delete(key)
          this.#watch.delete(e)
          this.#count--
        }
      }
    })
  }

  /** Calls `prune` on the entities of each kind and acquirer, then forgets the maps it left empty. */
  #pruneGroups(prune: (entities: Map<string, EntityEntry>) => void): void {
    for (const [kind, byAcquirer] of this.#entities) {
      for (const [acquirerId, entities] of byAcquirer) {
        prune(entities)
        if (entities.size === 0) byAcquirer.delete(acquirerId)
      }
      if (byAcquirer.size === 0) this.#entities.delete(kind)
    }
  }
}

const NO_RULES: readonly CompiledEntityRule[] = []

/** Whether a record of a kind with these rules and first hops makes or changes an entity (EntityEngine.wants). */
function wanted(
  rules: readonly CompiledEntityRule[],
  sources: readonly CompiledEntityRule[],
  r: ActivityRecord,
): boolean {
  return rules.length > 0 || sources.some((rule) => rule.sourceAccepts(r))
}

/**
 * EntityEngine.wants for `rules` without an engine: what the rules stage publishes to the entity
 * stage. Most card records are small sales, which no first hop takes (card_ring counts large ones):
 * the rules stage leaves them out rather than encoding, producing, fetching and decoding a record per
 * sale for the entity stage to drop. Built again when the rules are reloaded.
 */
export function activityWanted(rules: readonly CompiledEntityRule[]): (r: ActivityRecord) => boolean {
  const { rulesOf, sourcesOf } = byKind(rules)
  return (r) => wanted(rulesOf.get(r.kind) ?? NO_RULES, sourcesOf.get(r.kind) ?? NO_RULES, r)
}

/** The rules of each kind of entity, and the rules whose first hop reads records of each kind. */
function byKind(rules: readonly CompiledEntityRule[]): {
  rulesOf: Map<EntityKind, CompiledEntityRule[]>
  sourcesOf: Map<EntityKind, CompiledEntityRule[]>
} {
  const rulesOf = new Map<EntityKind, CompiledEntityRule[]>()
  const sourcesOf = new Map<EntityKind, CompiledEntityRule[]>()
  for (const r of rules) {
    rulesOf.set(r.meta.kind, [...(rulesOf.get(r.meta.kind) ?? []), r])
    if (r.source !== null) sourcesOf.set(r.source.kind, [...(sourcesOf.get(r.source.kind) ?? []), r])
  }
  return { rulesOf, sourcesOf }
}

function before(a: Binding, b: Binding | undefined): boolean {
  return b !== undefined && (a.at < b.at || (a.at === b.at && a.id < b.id))
}

function countBoundNow(e: EntityView): number {
  let n = 0
  for (const list of e.bindings.values()) if (list.at(-1)?.bound === true) n++
  return n
}

function allSamples(merchants: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = []
  for (const ids of merchants.values()) for (const id of ids) if (!out.includes(id)) out.push(id)
  return out
}
