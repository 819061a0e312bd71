/**
 * Group commit: callers' items written together. Items added while a write is in flight wait and go in
 * the next write, all of them at once; items added in the same turn of the event loop start one write
 * together. Under load, writes grow with the load instead of multiplying with the callers; alone, a
 * caller's items go at once.
 *
 * Every caller of a write learns its outcome: its promise resolves when the write that carried its
 * items succeeded, and rejects with that write's error. A caller that retries adds its items again, so
 * the write must be safe to repeat (the sink's tables collapse a rewrite of the same key).
 */
export class GroupWrite<T> {
  readonly #write: (items: T[]) => Promise<unknown>
  #pending: Batch<T> | null = null
  #inFlight = false
  /** Writes started so far (for tests and metrics). */
  writes = 0

  constructor(write: (items: T[]) => Promise<unknown>) {
    this.#write = write
  }

  /** Adds items to the next write; resolves once it succeeded. No items: resolves at once. */
  add(items: readonly T[]): Promise<void> {
    if (items.length === 0) return Promise.resolve()
    let batch = this.#pending
    if (batch === null) {
      batch = newBatch<T>()
      this.#pending = batch
      // The callers of this turn join it; a write in flight starts it when it ends.
      if (!this.#inFlight) setImmediate(() => this.#flush())
    }
    for (const item of items) batch.items.push(item)
    return batch.done
  }

  #flush(): void {
    const batch = this.#pending
    if (batch === null || this.#inFlight) return
    this.#pending = null
    this.#inFlight = true
    this.writes++
    Promise.resolve()
      .then(() => this.#write(batch.items))
      .then(
        () => batch.resolve(),
        (e: unknown) => batch.reject(e),
      )
      .finally(() => {
        this.#inFlight = false
        this.#flush()
      })
  }
}

interface Batch<T> {
  items: T[]
  done: Promise<void>
  resolve: () => void
  reject: (e: unknown) => void
}

function newBatch<T>(): Batch<T> {
  let resolve: () => void = () => {}
  let reject: (e: unknown) => void = () => {}
  const done = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { items: [], done, resolve, reject }
}
