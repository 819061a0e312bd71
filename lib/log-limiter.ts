/**
 * Caps how many log lines one kind of occurrence writes: the first `perWindow` of a key in a window are
 * logged one by one, the rest only counted and reported once the window is over. A misconfiguration that
 * rejects every event (an acquirer nobody registered) must not write a line per event: a month replayed
 * that way wrote 1.2 million warnings. What is not logged is not lost: each rejected record is on the
 * dead-letter topic with its reason, and the metrics count every one.
 */
export class LogLimiter {
  readonly #perWindow: number
  readonly #windowMs: number
  readonly #now: () => number
  /** Per key: when its window began, how many were logged and how many were not. */
  readonly #keys = new Map<string, { since: number; logged: number; suppressed: number }>()

  constructor(opts: { perWindow: number; windowMs: number; now: () => number }) {
    if (!(opts.perWindow >= 1)) throw new RangeError('perWindow must be at least 1')
    if (!(opts.windowMs > 0)) throw new RangeError('windowMs must be positive')
    this.#perWindow = opts.perWindow
    this.#windowMs = opts.windowMs
    this.#now = opts.now
  }

  /** True when this occurrence of `key` is to be logged; otherwise it is counted. */
  admit(key: string): boolean {
    const now = this.#now()
    let k = this.#keys.get(key)
    if (k === undefined || (now - k.since >= this.#windowMs && k.suppressed === 0)) {
      k = { since: now, logged: 0, suppressed: 0 }
      this.#keys.set(key, k)
    }
    if (k.logged < this.#perWindow) {
      k.logged++
      return true
    }
    k.suppressed++
    return false
  }

  /**
   * The keys whose window is over with occurrences not logged, and how many; their windows start
   * afresh. `all` reports every key with a count, window over or not (at shutdown).
   */
  due(all = false): { key: string; suppressed: number; windowMs: number }[] {
    const now = this.#now()
    const out: { key: string; suppressed: number; windowMs: number }[] = []
    for (const [key, k] of this.#keys) {
      if (!all && now - k.since < this.#windowMs) continue
      if (k.suppressed > 0) out.push({ key, suppressed: k.suppressed, windowMs: now - k.since })
      this.#keys.delete(key)
    }
    return out
  }
}
