import type { EventLoopUtilization } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'
import { RiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import type { BaselineSnapshot } from './baselines.ts'
import type { AppliedPart, CoreState, Keyed, PartInput, RulesCoreApi, StoredEvent } from './core.ts'
import type { WhitelistEntry } from './engine/config.ts'
import {
  type Packed,
  packBuffers,
  type Request,
  type Response,
  unpackBuffers,
  type WorkerSetup,
} from './worker-protocol.ts'

type Body = Request extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never

export interface WorkerRulesOptions {
  setup: WorkerSetup
  /** The acquirers the deployment serves now; sent to the worker whenever the list changes. */
  known: () => readonly string[]
  logger: Logger
}

/**
 * The rules stage's state in a worker thread (rules/worker.ts). The stage talks to it as to a RulesCore
 * on its own thread (RulesCoreApi); each call is a message, answered in the order sent. A part's values
 * go over in one transferred buffer, its hits and activity come back the same way.
 *
 * Failure: a worker that exits (an uncaught error, out of memory) has lost every partition's state.
 * Every call in flight fails with a retriable RISK_ERR_RULES_WORKER, the next call starts a new worker
 * from the latest setup (rules file, whitelist, baselines, acquirers), and since that worker holds no
 * partition, each partition's next part fails the same way and the stage rebuilds it from ClickHouse
 * (rules/stage.ts). A worker that cannot start at all fails every part: the stage reports failing and
 * the liveness watchdog ends the process (app/liveness.ts).
 */
export class WorkerRules implements RulesCoreApi {
  readonly #opts: WorkerRulesOptions
  readonly #log: Logger
  #setup: WorkerSetup
  #worker: Worker | null = null
  #ready: Promise<void> | null = null
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  #nextId = 1
  #knownSent = ''
  #closing = false
  #state: CoreState
  /** Workers started, the first included. */
  starts = 0

  constructor(opts: WorkerRulesOptions) {
    this.#opts = opts
    this.#setup = opts.setup
    this.#log = opts.logger.child({ component: 'rules-worker' })
    this.#state = { latestEventTime: Number.NEGATIVE_INFINITY, merchants: 0, retentionDays: 1 }
  }

  /** Starts the worker and waits until its engine is built (a bad setup fails here, not on a part). */
  start(): Promise<void> {
    this.#spawn()
    return this.#ready ?? Promise.resolve()
  }

  get state(): CoreState {
    return this.#state
  }

  /** How busy the worker's thread has been since it started (perf_hooks). */
  utilization(): EventLoopUtilization | null {
    return this.#worker?.performance.eventLoopUtilization() ?? null
  }

  async apply(partition: number, part: PartInput): Promise<AppliedPart> {
    this.#sendKnown()
    const values = packBuffers(part.values)
    const stamps = Float64Array.from(part.stamps)
    const raw = (await this.#call(
      {
        op: 'apply',
        partition,
        transactions: part.transactions,
        values,
        stamps,
        activityPartitions: part.activityPartitions,
      },
      [values.bytes.buffer as ArrayBuffer, stamps.buffer as ArrayBuffer],
    )) as Omit<AppliedPart, 'hits' | 'activity'> & {
      hits: { keys: string[]; values: Packed }
      activity: { partitions: [number, number][]; values: Packed }
    }
    this.#state = raw.state
    const bodies = unpackBuffers(raw.activity.values)
    const activity = raw.activity.partitions.map(([partition, records], i) => ({
      partition,
      records,
      value: bodies[i] ?? Buffer.alloc(0),
    }))
    return { ...raw, hits: keyed(raw.hits), activity }
  }

  async replay(partition: number, events: readonly StoredEvent[]): Promise<void> {
    this.#state = (await this.#call({ op: 'replay', partition, events })) as CoreState
  }

  async load(partition: number): Promise<void> {
    this.#state = (await this.#call({ op: 'load', partition })) as CoreState
  }

  async forget(partition: number): Promise<number> {
    return (await this.#call({ op: 'forget', partition })) as number
  }

  async stats(): Promise<Record<string, number>> {
    return (await this.#call({ op: 'stats' })) as Record<string, number>
  }

  /** New peers and baselines: the engine looks its merchants' references up again. */
  setBaselines(snapshot: BaselineSnapshot): Promise<void> {
    this.#setup = { ...this.#setup, baselines: snapshot }
    return this.#tell({ op: 'baselines', snapshot })
  }

  /** The whitelist entries granted through the API (the rules file's are the worker's own). */
  setGranted(granted: readonly WhitelistEntry[]): Promise<void> {
    this.#setup = { ...this.#setup, granted }
    return this.#tell({ op: 'whitelist', granted })
  }

  /** A reloaded rules file (already validated on the calling thread). */
  setRules(source: { raw: unknown; name: string }): Promise<void> {
    this.#setup = { ...this.#setup, rules: source }
    return this.#tell({ op: 'rules', source })
  }

  /**
   * Ends the worker as a crash would, state and calls in flight lost (the fault tests' way to kill it);
   * the next call starts a new one.
   */
  async crash(): Promise<void> {
    await this.#worker?.terminate()
  }

  async close(): Promise<void> {
    this.#closing = true
    const w = this.#worker
    this.#worker = null
    if (w !== null) await w.terminate()
  }

  /** A change the worker must take before the next part; a failure is logged (the worker may be gone). */
  async #tell(body: Body): Promise<void> {
    if (this.#worker === null) return // the next worker starts from the setup, which has it
    try {
      await this.#call(body)
    } catch (e) {
      this.#log.warn(
        { op: body.op, error: e instanceof Error ? e.message : String(e) },
        'rules worker not updated',
      )
    }
  }

  #sendKnown(): void {
    const known = this.#opts.known()
    const key = known.join('\u0000')
    if (key === this.#knownSent) return
    this.#knownSent = key
    this.#setup = { ...this.#setup, known }
    if (this.#worker !== null) void this.#call({ op: 'acquirers', known }).catch(() => {})
  }

  #call(body: Body, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.#closing) return Promise.reject(lost('the rules worker is stopped'))
    const worker = this.#spawn()
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      worker.postMessage({ ...body, id } as Request, transfer)
    })
  }

  #spawn(): Worker {
    if (this.#worker !== null) return this.#worker
    this.#knownSent = this.#setup.known.join('\u0000')
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: this.#setup })
    this.#worker = worker
    this.starts++
    this.#ready = new Promise<void>((resolve, reject) =>
      this.#pending.set(0, {
        resolve: (state) => {
          this.#state = state as CoreState
          resolve()
        },
        reject,
      }),
    )
    // A start failure is every pending call's (and start()'s) failure; nobody else need hear of it.
    this.#ready.catch(() => {})
    worker.on('message', (res: Response) => {
      const p = this.#pending.get(res.id)
      if (p === undefined) return
      this.#pending.delete(res.id)
      if (res.ok) p.resolve(res.result)
      else
        p.reject(
          res.error.code === null
            ? new Error(`rules worker: ${res.error.message}`)
            : new RiskError(res.error.code, res.error.message, { context: res.error.context }),
        )
    })
    worker.on('error', (e) => {
      this.#log.error(
        { error: e instanceof Error ? (e.stack ?? e.message) : String(e) },
        'rules worker failed',
      )
    })
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = null
      const pending = [...this.#pending.values()]
      this.#pending.clear()
      if (!this.#closing)
        this.#log.error(
          { code, failed: pending.length },
          'rules worker exited: its rule state is lost; each partition is rebuilt from ClickHouse',
        )
      for (const p of pending) p.reject(lost(`the rules worker exited (code ${code})`))
    })
    return worker
  }
}

function lost(message: string): RiskError {
  return new RiskError('RISK_ERR_RULES_WORKER', message)
}

function keyed(p: { keys: string[]; values: Packed }): Keyed[] {
  const values = unpackBuffers(p.values)
  return p.keys.map((key, i) => ({ key, value: values[i] ?? Buffer.alloc(0) }))
}
