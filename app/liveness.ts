import type { StageHealth } from '../kafka/stage-runner.ts'
import type { Logger } from '../lib/logger.ts'

export interface LivenessOptions {
  /** Every stage whose progress decides whether the process is alive. */
  readonly stages: readonly { health(): StageHealth }[]
  /** A stage unable to progress for this long ends the process; /healthz fails from half of it. */
  readonly timeoutMs: number
  readonly now: () => number
  readonly logger: Logger
  /** Told once, with the cause, when a stage has been stuck for `timeoutMs`: stop and exit non-zero. */
  readonly onFatal: (cause: StageHealth) => void
  /** How often the stages are looked at. */
  readonly everyMs?: number
}

export interface LivenessReport {
  readonly live: boolean
  /** The stages that cannot make progress now, with for how long (ms). */
  readonly stuck: readonly { stage: string; cause: string | null; forMs: number }[]
}

/**
 * The watchdog that makes "alive but dead" impossible: the stages cure what a retry or a rejoin can cure
 * (kafka/stage-runner.ts); a stage that still cannot progress after half of `timeoutMs` fails /healthz,
 * and after `timeoutMs` the process is stopped with a non-zero status and the cause logged once, so the
 * supervisor (systemd, Kubernetes, the compose file) starts it again.
 */
export class Liveness {
  readonly #opts: LivenessOptions
  #timer: NodeJS.Timeout | null = null
  #fatal = false

  constructor(opts: LivenessOptions) {
    this.#opts = opts
  }

  start(): void {
    this.#timer = setInterval(() => this.#check(), this.#opts.everyMs ?? 1000)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** For /healthz: not live once a stage has been stuck for half the timeout. */
  report(): LivenessReport {
    const now = this.#opts.now()
    const stuck = this.#opts.stages
      .map((s) => s.health())
      .filter((h) => !h.healthy && h.since !== null)
      .map((h) => ({ stage: h.stage, cause: h.cause, forMs: now - (h.since ?? now) }))
    const live = !this.#fatal && stuck.every((s) => s.forMs < this.#opts.timeoutMs / 2)
    return { live, stuck }
  }

  #check(): void {
    if (this.#fatal) return
    const now = this.#opts.now()
    for (const stage of this.#opts.stages) {
      const h = stage.health()
      if (h.healthy || h.since === null || now - h.since < this.#opts.timeoutMs) continue
      this.#fatal = true
      this.stop()
      this.#opts.logger.fatal(
        { stage: h.stage, cause: h.cause, forMs: now - h.since, timeoutMs: this.#opts.timeoutMs },
        'a pipeline stage could not recover; stopping the process so that its supervisor restarts it',
      )
      this.#opts.onFatal(h)
      return
    }
  }
}
