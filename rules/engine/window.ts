/**
 * Event-time day buckets for one merchant: a ring indexed by local day. Adding to a day that has left
 * the ring is refused (the event is too late for this window); moving to a new day recycles the
 * oldest slot, so memory is bounded by the ring's size whatever the traffic.
 */
export class DayRing<B> {
  readonly #days: Int32Array
  readonly #buckets: (B | undefined)[]
  readonly #make: () => B
  #latest = Number.NEGATIVE_INFINITY

  constructor(size: number, make: () => B) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`DayRing size must be a positive integer, got ${size}`)
    this.#days = new Int32Array(size).fill(-1)
    this.#buckets = new Array<B | undefined>(size)
    this.#make = make
  }

  get size(): number {
    return this.#days.length
  }

  /** The bucket of `day`, created when new; undefined when the day is older than the ring keeps. */
  at(day: number): B | undefined {
    if (day <= this.#latest - this.size) return undefined
    const slot = day % this.size
    if (this.#days[slot] !== day) {
      this.#days[slot] = day
      this.#buckets[slot] = this.#make()
    }
    if (day > this.#latest) this.#latest = day
    return this.#buckets[slot]
  }

  /** The bucket of `day` if it holds data, without creating it. */
  peek(day: number): B | undefined {
    const slot = day % this.size
    return this.#days[slot] === day ? this.#buckets[slot] : undefined
  }

  /** Calls `fn` for each stored day in [from, to], oldest first. */
  forEach(from: number, to: number, fn: (bucket: B, day: number) => void): void {
    const start = Math.max(from, to - this.size + 1)
    for (let d = start; d <= to; d++) {
      const b = this.peek(d)
      if (b !== undefined) fn(b, d)
    }
  }
}

/** The last `capacity` items, for sample transaction ids. */
export class Recent<T> {
  readonly #items: T[] = []
  readonly #capacity: number
  #next = 0

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  push(item: T): void {
    if (this.#items.length < this.#capacity) this.#items.push(item)
    else {
      this.#items[this.#next] = item
      this.#next = (this.#next + 1) % this.#capacity
    }
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.#items.slice(this.#next), ...this.#items.slice(0, this.#next)]
  }
}
