/**
 * Event-time day buckets for one merchant, indexed by local day, keeping the last `size` days. Adding to
 * a day that has left the window is refused (the event is too late for it); a new latest day drops the
 * days that leave the window, so memory is bounded by `size` whatever the traffic.
 *
 * Stored sparsely, oldest first: most merchants are active on few days, and 17 rules × 30 eager slots
 * per merchant were most of the engine's memory (measured with bench/engine.bench.ts). With `reset`, a
 * dropped bucket is cleared and reused for the next new day instead of allocating one; rules that pass
 * it must not keep references to buckets.
 */
export class DayRing<B> {
  #days: number[] | null = null
  #buckets: B[] | null = null
  readonly #size: number
  readonly #make: () => B
  readonly #reset: ((bucket: B) => void) | undefined
  #latest = Number.NEGATIVE_INFINITY

  constructor(size: number, make: () => B, reset?: (bucket: B) => void) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`DayRing size must be a positive integer, got ${size}`)
    this.#size = size
    this.#make = make
    this.#reset = reset
  }

  get size(): number {
    return this.#size
  }

  /** The bucket of `day`, created when new; undefined when the day is older than the ring keeps. */
  at(day: number): B | undefined {
    if (day <= this.#latest - this.#size) return undefined
    let days = this.#days
    let buckets = this.#buckets
    if (days === null || buckets === null) {
      days = []
      buckets = []
      this.#days = days
      this.#buckets = buckets
    }
    let i = days.length - 1
    // Nearly always the latest day: scan from the end.
    while (i >= 0 && (days[i] ?? 0) > day) i--
    if (i >= 0 && days[i] === day) return buckets[i]
    let recycled: B | undefined
    if (day > this.#latest) {
      this.#latest = day
      const oldest = day - this.#size
      let drop = 0
      while (drop < days.length && (days[drop] ?? 0) <= oldest) drop++
      if (drop > 0) {
        recycled = buckets[0]
        days.splice(0, drop)
        buckets.splice(0, drop)
        i -= drop
      }
    }
    let bucket: B
    if (recycled !== undefined && this.#reset !== undefined) {
      this.#reset(recycled)
      bucket = recycled
    } else bucket = this.#make()
    if (i === days.length - 1) {
      days.push(day)
      buckets.push(bucket)
    } else {
      days.splice(i + 1, 0, day)
      buckets.splice(i + 1, 0, bucket)
    }
    return bucket
  }

  /** The bucket of `day` if it holds data, without creating it. */
  peek(day: number): B | undefined {
    const days = this.#days
    const buckets = this.#buckets
    if (days === null || buckets === null || day <= this.#latest - this.#size) return undefined
    for (let i = days.length - 1; i >= 0; i--) {
      const d = days[i] ?? 0
      if (d === day) return buckets[i]
      if (d < day) return undefined
    }
    return undefined
  }

  /** Calls `fn` for each stored day in [from, to], oldest first. */
  forEach(from: number, to: number, fn: (bucket: B, day: number) => void): void {
    const days = this.#days
    const buckets = this.#buckets
    if (days === null || buckets === null) return
    const start = Math.max(from, to - this.#size + 1, this.#latest - this.#size + 1)
    for (let i = 0; i < days.length; i++) {
      const d = days[i] ?? 0
      if (d > to) break
      const b = buckets[i]
      if (d >= start && b !== undefined) fn(b, d)
    }
  }
}

/**
 * The last `capacity` items, for sample transaction ids. The array is allocated on the first push at
 * its exact capacity: a growing array reserves 17 slots at its first push, and most samplers of a
 * quiet merchant hold one or two ids.
 */
export class Recent<T> {
  #items: T[] | null = null
  #length = 0
  readonly #capacity: number
  #next = 0

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  push(item: T): void {
    let items = this.#items
    if (items === null) {
      items = new Array<T>(this.#capacity)
      this.#items = items
    }
    if (this.#length < this.#capacity) items[this.#length++] = item
    else {
      items[this.#next] = item
      this.#next = (this.#next + 1) % this.#capacity
    }
  }

  clear(): void {
    this.#items = null
    this.#length = 0
    this.#next = 0
  }

  /** Oldest first. */
  toArray(): T[] {
    const items = this.#items
    const out: T[] = []
    if (items === null) return out
    for (let i = 0; i < this.#length; i++) {
      const item = items[(this.#next + i) % this.#length]
      if (item !== undefined) out.push(item)
    }
    return out
  }
}
