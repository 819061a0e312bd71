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

/**
 * An empty array that holds unboxed doubles from the start. Arrays of small integers switch to doubles
 * at the first amount that is not one, so tables would mix two element kinds and every access site
 * would be polymorphic.
 */
export function doubles(): number[] {
  const a = [0.5]
  a.length = 0
  return a
}

const NO_SAMPLES: string[] = []

/**
 * Numbers a store made by `appendZeros` for `length` numbers, rows of `width`, has room for: a quarter
 * more rows, at least one. The store is made at exactly that size and never left under half used, so
 * V8 keeps the room (it shrinks only stores under half used).
 */
export function roomAfter(length: number, width: number): number {
  const rows = length / width
  return (rows + Math.max(1, Math.floor(rows / 4))) * width
}

/**
 * `cells` with a row of `width` zeros appended: the same array while its store has room (`room`, as
 * far as the caller knows, from `roomAfter`), else a copy in a new store of `roomAfter` numbers. Push
 * grows a store by half its size plus 16 numbers, and rows of state live as long as their merchant: a
 * quarter of such stores was empty room (measured).
 */
export function appendZeros(cells: number[], width: number, room: number): number[] {
  const n = cells.length
  if (n + width <= room) {
    for (let i = 0; i < width; i++) cells.push(0)
    return cells
  }
  const next = new Array<number>(roomAfter(n + width, width)).fill(0.5)
  for (let i = 0; i < n; i++) next[i] = cells[i] ?? 0
  for (let i = n; i < n + width; i++) next[i] = 0
  next.length = n + width
  return next
}

/** The room a caller of `appendZeros` may count on after shortening its array to `length`. */
export function roomAfterCut(length: number, room: number): number {
  // V8 shrinks a store left under half used to its length.
  return 2 * length + 16 <= room ? length : room
}

/**
 * Below any local day (or month, or bucket) number, and a small integer: a sentinel for "none yet" that
 * keeps a field unboxed. NaN or -Infinity in a field of a state made V8 keep that field as a boxed
 * double in every merchant's state, 16 bytes and one more cold read each.
 */
export const NO_DAY = -1_000_000_000

/**
 * Numeric counters per event-time day: the window of a DayRing (the last `size` days, sparse, late
 * days refused), but every day is a row of `width` numbers in one flat array, the day number first.
 * A DayRing of small objects allocated one to three objects per rule and new day that lived for the
 * whole window: with sparse traffic nearly every event opens a day, and that was most of the engine's
 * garbage-collection time and memory (measured with bench/engine.bench.ts).
 *
 * With `samples` > 0, each day also keeps its last `samples` ids (what a Recent per day kept), in a
 * second flat array aligned with the rows.
 *
 * Rows are addressed by offset into the flat array (`at`, `peek`, `first`, `next`); an offset is valid
 * only until the next `at`, which may insert or drop rows.
 */
export class DayTable {
  #cells: number[] = doubles()
  /** Shared by the tables without samples, which never write it: an empty array each was 32 bytes. */
  readonly #ids: string[]
  readonly #width: number
  readonly #stride: number
  readonly #samples: number
  readonly #size: number
  #latest = NO_DAY

  constructor(size: number, width: number, samples = 0) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`DayTable size must be a positive integer, got ${size}`)
    this.#size = size
    this.#width = width
    this.#samples = samples
    this.#ids = samples > 0 ? [] : NO_SAMPLES
    // The day, the counters, and the length and next slot of the day's sample ring.
    this.#stride = width + 1 + (samples > 0 ? 2 : 0)
  }

  get size(): number {
    return this.#size
  }

  /** The latest day a row was created for. */
  get latest(): number {
    return this.#latest
  }

  /** Offset of `day`'s counters, the row created (zeroed) when new; -1 when older than the table keeps. */
  at(day: number): number {
    if (day <= this.#latest - this.#size) return -1
    const cells = this.#cells
    const stride = this.#stride
    // The latest day is the last row: found, or a new one appended, without reading the rows, which
    // are rarely in cache when a sparse merchant's event comes.
    if (day === this.#latest) return cells.length - stride + 1
    let o = cells.length - stride
    if (day < this.#latest) {
      while (o >= 0 && (cells[o] ?? 0) > day) o -= stride
      if (o >= 0 && cells[o] === day) return o + 1
    } else {
      this.#latest = day
      const oldest = day - this.#size
      let drop = 0
      while (drop < cells.length && (cells[drop] ?? 0) <= oldest) drop += stride
      if (drop > 0) {
        // Moved down in place: splice would also build an array of the dropped cells.
        cells.copyWithin(0, drop)
        cells.length -= drop
        if (this.#samples > 0) {
          const ids = this.#ids
          const dropped = (drop / stride) * this.#samples
          ids.copyWithin(0, dropped)
          ids.length -= dropped
        }
        o -= drop
      }
    }
    const row = o + stride
    if (cells.length === 0) {
      // The first row gets room for a second: push would reserve 17 numbers, and most tables of a
      // sparse merchant hold a row or two. (A store is shrunk only when under half used: it keeps it.)
      const first = new Array<number>(Math.min(this.#size, 2) * stride).fill(0.5)
      first.length = stride
      first[0] = day
      for (let i = 1; i < stride; i++) first[i] = 0
      this.#cells = first
      for (let i = 0; i < this.#samples; i++) this.#ids.push('')
    } else if (row === cells.length) {
      cells.push(day)
      for (let i = 1; i < stride; i++) cells.push(0)
      for (let i = 0; i < this.#samples; i++) this.#ids.push('')
    } else {
      const fresh: number[] = new Array(stride).fill(0)
      fresh[0] = day
      cells.splice(row, 0, ...fresh)
      if (this.#samples > 0) {
        const ids: string[] = new Array(this.#samples).fill('')
        this.#ids.splice((row / stride) * this.#samples, 0, ...ids)
      }
    }
    return row + 1
  }

  /** Offset of `day`'s counters if the day holds data, without creating it; -1 otherwise. */
  peek(day: number): number {
    const cells = this.#cells
    if (day <= this.#latest - this.#size) return -1
    for (let o = cells.length - this.#stride; o >= 0; o -= this.#stride) {
      const d = cells[o] ?? 0
      if (d === day) return o + 1
      if (d < day) return -1
    }
    return -1
  }

  /**
   * Offset of the first stored day in [from, to] (the days DayRing.forEach visits), or -1. With `next`:
   * `for (let o = t.first(from, to); o >= 0; o = t.next(o, to))`, oldest first.
   */
  first(from: number, to: number): number {
    const start = Math.max(from, to - this.#size + 1, this.#latest - this.#size + 1)
    const cells = this.#cells
    for (let o = 0; o < cells.length; o += this.#stride) {
      const d = cells[o] ?? 0
      if (d > to) return -1
      if (d >= start) return o + 1
    }
    return -1
  }

  /** Offset of the stored day after the one at `offset`, if it is at most `to`; -1 otherwise. */
  next(offset: number, to: number): number {
    const o = offset - 1 + this.#stride
    const cells = this.#cells
    if (o >= cells.length || (cells[o] ?? 0) > to) return -1
    return o + 1
  }

  /** The day of the row at `offset`. */
  dayOf(offset: number): number {
    return this.#cells[offset - 1] ?? NO_DAY
  }

  /** Counter `column` of the row at `offset`. */
  get(offset: number, column: number): number {
    return this.#cells[offset + column] ?? 0
  }

  add(offset: number, column: number, value: number): void {
    const i = offset + column
    this.#cells[i] = (this.#cells[i] ?? 0) + value
  }

  set(offset: number, column: number, value: number): void {
    this.#cells[offset + column] = value
  }

  /** Sum of counter `column` over the stored days in [from, to], oldest first. */
  sum(from: number, to: number, column: number): number {
    let s = 0
    for (let o = this.first(from, to); o >= 0; o = this.next(o, to)) s += this.get(o, column)
    return s
  }

  /** Keeps `id` among the day's last `samples` ids (a Recent per day, without the objects). */
  pushSample(offset: number, id: string): void {
    const cap = this.#samples
    if (cap === 0) return
    const cells = this.#cells
    const lengthAt = offset + this.#width
    const length = cells[lengthAt] ?? 0
    const base = ((offset - 1) / this.#stride) * cap
    if (length < cap) {
      this.#ids[base + length] = id
      cells[lengthAt] = length + 1
    } else {
      const next = cells[lengthAt + 1] ?? 0
      this.#ids[base + next] = id
      cells[lengthAt + 1] = (next + 1) % cap
    }
  }

  /** The day's sample ids, oldest first. */
  samples(offset: number): string[] {
    const out: string[] = []
    const cap = this.#samples
    if (cap === 0) return out
    const length = this.#cells[offset + this.#width] ?? 0
    const next = this.#cells[offset + this.#width + 1] ?? 0
    const base = ((offset - 1) / this.#stride) * cap
    for (let i = 0; i < length; i++) {
      const id = this.#ids[base + ((next + i) % length)]
      if (id !== undefined) out.push(id)
    }
    return out
  }

  /** Forgets the day's sample ids. */
  clearSamples(offset: number): void {
    if (this.#samples === 0) return
    this.#cells[offset + this.#width] = 0
    this.#cells[offset + this.#width + 1] = 0
  }
}

/** A SaleDays row: the day, then the sales and amount the engine counts, then the views' columns. */
const ROW_SALES = 1
const ROW_AMOUNT = 2
const ROW_FIRST = 3
/** Views of one layout that may keep samples: a sample's key is its day times this, plus its view's index. */
const SAMPLED_VIEWS = 16

/** Sparse views per layout: part of the keys of their entries (see SaleDays' side store); a power of 2. */
const SPARSE_VIEWS = 8

/**
 * The day rows of one merchant's approved sales, shared by the rules that keep counters per local day
 * of exactly those events: each takes its columns with `columns()` when its state is created, and the
 * engine creates the day's row once per approved sale, before the rules see it. With sparse traffic
 * nearly every event opens a new day in every table, and each table was three cold objects to reach
 * (the table, its array, the array's elements) and an array to grow; one shared row per day is one
 * (measured with bench/engine.bench.ts).
 *
 * Every rule sharing the rows would have created a row of its own for the same events, so each sees
 * exactly the days its own DayTable would have kept: the rows' latest day is its latest day, rows are
 * kept for the widest rule, and each view refuses and skips the days older than its own `size`.
 *
 * A row also holds the day's number of sales and their amount, counted by the engine (`record`) and
 * read by every view (`sales`, `amount`): five rules kept those two counters each. A view never reads
 * a day it refuses (both stop at its `size` before the latest day), so the sales it would not have
 * counted there are never seen.
 *
 * The views' sample ids are not in the rows: a row had room for every view's last ids of the day, and
 * most days of most merchants have one or two sales. They are a list of the ids pushed, each after its
 * day and view (`sampleKey`), at most a view's `samples` per day, oldest first: one array of pairs,
 * grown a quarter at a time (two arrays grown by push were two stores of at least 17 slots).
 */
export class SaleDays {
  readonly #layout: SaleLayout
  #cells: number[] | null = null
  /** Sample ids pushed by the views, each after its key (its day and view), in the order pushed. */
  #samples: (number | string)[] | null = null
  /** Slots the store of `#samples` has room for, as far as this class knows (see `appendZeros`). */
  #samplesRoom = 0
  /** Numbers the store of `#cells` has room for, as far as this class knows (see `#append`). */
  #room = 0
  #latest = NO_DAY
  /** Approved sales in all the rows (see `keptSales`). */
  #kept = 0
  /** Views this merchant's rules took so far: the layout's views are handed out in that order. */
  #taken = 0
  /**
   * The sparse views' counters (see SparseColumns): an entry per view and day that has any, its key
   * (the day, then the view) and the view's `width` numbers, in the order of their keys.
   */
  #side: number[] | null = null
  #sideRoom = 0
  /**
   * Where the last look-up in the side store stopped (an entry's start): rules read a window's days
   * in order, so the next look-up starts there instead of at the first entry.
   */
  #sideHint = 0
  /** The rings of the rules' ShortDays, one region each (see ShortDays), made at the first use of any. */
  #short: number[] | null = null
  #shortTaken = 0

  /** Rows laid out by `layout` (an engine's, shared by its merchants); alone, rows with their own layout. */
  constructor(layout?: SaleLayout) {
    if (layout === undefined) {
      this.#layout = new SaleLayout()
      this.#layout.current = this
    } else this.#layout = layout
  }

  /**
   * A view of `width` counters per day for the last `size` days, with `samples` ids per day. The first
   * merchant of a layout lays the columns out; every later one gets the same views, in the same order.
   */
  columns(size: number, width: number, samples = 0): DayColumns {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`day columns size must be a positive integer, got ${size}`)
    const layout = this.#layout
    const existing = layout.views[this.#taken++]
    if (existing !== undefined) {
      if (existing instanceof SparseColumns || !existing.is(size, width, samples))
        throw new Error('rules took different day columns for another merchant of the same engine')
      return existing
    }
    if (layout.sealed) throw new Error('day columns must be taken before the first row')
    if (samples > 0 && layout.sampled >= SAMPLED_VIEWS)
      throw new Error(`at most ${SAMPLED_VIEWS} day-column views may keep samples`)
    if (samples > 0) {
      layout.sampledSizes.push(size)
      layout.sampledMin = Math.min(layout.sampledMin, size)
    }
    const view = new DayColumns(
      layout,
      size,
      layout.stride,
      width,
      samples > 0 ? layout.sampled++ : -1,
      samples,
    )
    layout.views.push(view)
    layout.stride += width
    layout.size = Math.max(layout.size, size)
    return view
  }

  /**
   * A view of `width` counters per day for the last `size` days, like `columns`, for counters that are
   * zero on most days: they are not in the rows but in entries of their own, only for the days that
   * have any (see SparseColumns). Taken like `columns`, in the same order.
   */
  sparseColumns(size: number, width: number): SparseColumns {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`day columns size must be a positive integer, got ${size}`)
    if (!Number.isInteger(width) || width < 1)
      throw new Error(`sparse day columns width must be a positive integer, got ${width}`)
    const layout = this.#layout
    const existing = layout.views[this.#taken++]
    if (existing !== undefined) {
      if (!(existing instanceof SparseColumns) || !existing.isSparse(size, width))
        throw new Error('rules took different day columns for another merchant of the same engine')
      return existing
    }
    if (layout.sealed) throw new Error('day columns must be taken before the first row')
    if (layout.sparseWidths.length >= SPARSE_VIEWS)
      throw new Error(`at most ${SPARSE_VIEWS} day-column views may be sparse`)
    const view = new SparseColumns(layout, size, layout.stride, layout.sparseWidths.length, width)
    layout.sparseWidths.push(width)
    layout.views.push(view)
    layout.size = Math.max(layout.size, size)
    return view
  }

  /** Where the counters of `key` (a sparse view's day) start in the side store, or -1 when it has none. */
  #sideFind(key: number): number {
    const side = this.#side
    if (side === null) return -1
    const widths = this.#layout.sparseWidths
    let i = this.#sideHint
    if (i >= side.length || (side[i] ?? 0) > key) i = 0
    let before = i
    while (i < side.length) {
      const k = side[i] ?? 0
      if (k === key) {
        this.#sideHint = i
        return i + 1
      }
      if (k > key) break
      before = i
      i += 1 + (widths[sparseIndex(k)] ?? 0)
    }
    this.#sideHint = before
    return -1
  }

  /** Counter `column` of `key` (see SparseColumns); 0 when the day has no entry. */
  sideGet(key: number, column: number): number {
    const i = this.#sideFind(key)
    return i < 0 ? 0 : (this.#side?.[i + column] ?? 0)
  }

  /** Where the counters of `key` start, its entry made (zeroed) when it has none. */
  sideAt(key: number): number {
    const found = this.#sideFind(key)
    if (found >= 0) return found
    const widths = this.#layout.sparseWidths
    const width = widths[sparseIndex(key)] ?? 0
    let side = this.#side ?? doubles()
    let at = 0
    while (at < side.length && (side[at] ?? 0) < key) at += 1 + (widths[sparseIndex(side[at] ?? 0)] ?? 0)
    const n = side.length
    const count = 1 + width
    if (n + count <= this.#sideRoom) {
      for (let i = 0; i < count; i++) side.push(0)
      side.copyWithin(at + count, at, n)
    } else {
      // A store with room for a quarter more (see appendZeros): entries live as long as their days.
      const room = roomAfter(n + count, 1)
      const grown = new Array<number>(room).fill(0.5)
      for (let i = 0; i < at; i++) grown[i] = side[i] ?? 0
      for (let i = at; i < n; i++) grown[i + count] = side[i] ?? 0
      grown.length = n + count
      side = grown
      this.#sideRoom = room
    }
    side[at] = key
    for (let i = 1; i < count; i++) side[at + i] = 0
    this.#side = side
    this.#sideHint = at
    return at + 1
  }

  /** The side store, valid until the next `sideAt` or new latest day. */
  get side(): number[] {
    return this.#side ?? EMPTY_CELLS
  }

  /** Forgets the sparse views' entries of the days up to `day`, whose rows were dropped. */
  #dropSide(day: number): void {
    const side = this.#side
    if (side === null) return
    const below = (day + 1) * SPARSE_VIEWS
    const widths = this.#layout.sparseWidths
    let drop = 0
    while (drop < side.length && (side[drop] ?? 0) < below)
      drop += 1 + (widths[sparseIndex(side[drop] ?? 0)] ?? 0)
    if (drop === 0) return
    this.#sideHint = 0
    side.copyWithin(0, drop)
    side.length -= drop
    this.#sideRoom = roomAfterCut(side.length, this.#sideRoom)
  }

  /**
   * A ring of `width` counters for each of the last `size` days (or months: any numbering of periods),
   * for a rule's own events, not only approved sales: see ShortDays. Taken like `columns`.
   */
  short(size: number, width: number): ShortDays {
    if (!Number.isInteger(size) || size < 1 || size > 8)
      throw new Error(`short day rings hold 1 to 8 days, got ${size}`)
    const layout = this.#layout
    const existing = layout.shortViews[this.#shortTaken++]
    if (existing !== undefined) {
      if (!existing.is(size, width))
        throw new Error('rules took different short day rings for another merchant of the same engine')
      return existing
    }
    if (layout.shortSealed) throw new Error('short day rings must be taken before the first is used')
    const view = new ShortDays(layout, size, width, layout.shortLength)
    layout.shortViews.push(view)
    layout.shortLength += 1 + size * (1 + width)
    return view
  }

  /** The rings of every ShortDays of this merchant, made (all empty) at the first use of any. */
  shortStore(): number[] {
    let store = this.#short
    if (store === null) {
      const layout = this.#layout
      layout.shortSealed = true
      store = new Array<number>(layout.shortLength).fill(0.5)
      for (const view of layout.shortViews) view.reset(store)
      this.#short = store
    }
    return store
  }

  /** True when some rule took columns: otherwise the engine keeps no rows. */
  get used(): boolean {
    return this.#layout.views.length > 0
  }

  get latest(): number {
    return this.#latest
  }

  /**
   * Approved sales counted in all the rows kept (the widest view's days): at least as many as any
   * view's window holds, without reading a row.
   */
  get keptSales(): number {
    return this.#kept
  }

  get stride(): number {
    return this.#layout.stride
  }

  /** The flat rows, valid until the next `at`. */
  get cells(): number[] {
    return this.#cells ?? EMPTY_CELLS
  }

  /** The ids of `key` (see DayColumns), oldest first. */
  samples(key: number): string[] {
    const out: string[] = []
    const pairs = this.#samples
    if (pairs === null) return out
    for (let i = 0; i < pairs.length; i += 2) {
      const id = pairs[i + 1]
      if (pairs[i] === key && typeof id === 'string') out.push(id)
    }
    return out
  }

  /**
   * Keeps `id` among the last `cap` ids of `key`: the oldest of them goes when there are more. The pairs
   * are kept in order of key, each key's ids in the order pushed, so a key's ids are one run found by a
   * scan from the end, which stops at the first smaller key: nearly every push is to today's keys, the
   * largest. A scan of every pair counted each push against all the days kept.
   */
  pushSample(key: number, id: string, cap: number): void {
    let pairs = this.#samples ?? []
    // The end of the key's run (where the id goes), then its start.
    let end = pairs.length
    while (end > 0 && (pairs[end - 2] as number) > key) end -= 2
    let start = end
    while (start > 0 && pairs[start - 2] === key) start -= 2
    if ((end - start) / 2 >= cap) {
      pairs.copyWithin(start, start + 2)
      pairs.length -= 2
      end -= 2
      this.#samplesRoom = roomAfterCut(pairs.length, this.#samplesRoom)
    }
    const length = pairs.length
    if (length + 2 > this.#samplesRoom) {
      // A store with room for a quarter more pairs (at least one), kept at least half used (see
      // appendZeros): the pairs live as long as their days.
      const room = roomAfter(length + 2, 2)
      const grown = new Array<number | string>(room).fill(0)
      for (let i = 0; i < length; i++) grown[i] = pairs[i] ?? 0
      grown.length = length
      pairs = grown
      this.#samplesRoom = room
    }
    pairs.push(key, id)
    if (end < length) {
      pairs.copyWithin(end + 2, end, length)
      pairs[end] = key
      pairs[end + 1] = id
    }
    this.#samples = pairs
  }

  /** Forgets the ids of `key`. */
  clearSamples(key: number): void {
    this.#compactSamples(key, 0)
  }

  /**
   * Forgets the ids that no view reads any more now that `latest` is the latest day: those of the days
   * a view keeps no longer (day <= latest - its size; `at` refuses them for good, since the latest day
   * only grows). The rows are kept for the widest view, but ids kept as long would be every sale's of
   * the month for daily_volume's week.
   */
  #dropSamples(latest: number): void {
    const pairs = this.#samples
    if (pairs === null || pairs.length === 0) return
    const layout = this.#layout
    // The pairs are in order of key, the oldest day's first: nothing to drop unless the first is old.
    if ((pairs[0] as number) >= (latest - layout.sampledMin + 1) * SAMPLED_VIEWS) return
    this.#compactSamples(-1, latest)
  }

  /**
   * Drops, in place and keeping the others' order, the pairs of `key`, or with `key` -1 those of the
   * days their view keeps no longer as of `latest` (no closure: this runs once per merchant and day).
   */
  #compactSamples(key: number, latest: number): void {
    const pairs = this.#samples
    if (pairs === null) return
    const sizes = this.#layout.sampledSizes
    let kept = 0
    for (let i = 0; i < pairs.length; i += 2) {
      const k = pairs[i] as number
      if (key >= 0 ? k === key : Math.floor(k / SAMPLED_VIEWS) <= latest - (sizes[k % SAMPLED_VIEWS] ?? 0))
        continue
      if (kept !== i) {
        pairs[kept] = k
        pairs[kept + 1] = pairs[i + 1] ?? ''
      }
      kept += 2
    }
    if (kept === pairs.length) return
    pairs.length = kept
    this.#samplesRoom = roomAfterCut(kept, this.#samplesRoom)
  }

  /**
   * Counts an approved sale of `amount` on `day`, in the day's row, created (zeroed) if it has none: the
   * engine calls this once per approved sale, before the rules see it. Returns the row's start, or -1
   * when `day` is older than the widest view keeps (then nothing is counted).
   */
  record(day: number, amount: number): number {
    const o = this.at(day)
    if (o < 0) return o
    const cells = this.cells
    cells[o + ROW_SALES] = (cells[o + ROW_SALES] ?? 0) + 1
    cells[o + ROW_AMOUNT] = (cells[o + ROW_AMOUNT] ?? 0) + amount
    this.#kept++
    return o
  }

  /**
   * Creates (zeroed) the row of `day` if it has none, as a DayTable of the widest view would. Returns
   * the row's start, or -1 when `day` is older than the widest view keeps.
   */
  at(day: number): number {
    const layout = this.#layout
    if (day <= this.#latest - layout.size) return -1
    let cells = this.#cells
    if (cells === null) {
      cells = doubles()
      this.#cells = cells
      layout.sealed = true
    }
    const stride = layout.stride
    if (day === this.#latest) return cells.length - stride
    let o: number
    if (day > this.#latest) {
      this.#latest = day
      const oldest = day - layout.size
      let drop = 0
      while (drop < cells.length && (cells[drop] ?? 0) <= oldest) {
        this.#kept -= cells[drop + ROW_SALES] ?? 0
        drop += stride
      }
      if (drop > 0) {
        cells.copyWithin(0, drop)
        cells.length -= drop
        this.#room = roomAfterCut(cells.length, this.#room)
        this.#dropSide(oldest)
      }
      this.#dropSamples(day)
      o = cells.length - stride
    } else {
      o = cells.length - stride
      while (o >= 0 && (cells[o] ?? 0) > day) o -= stride
      if (o >= 0 && cells[o] === day) return o
    }
    const row = o + stride
    if (row === cells.length) this.#append(cells, day, stride)
    else {
      const fresh: number[] = new Array(stride).fill(0)
      fresh[0] = day
      cells.splice(row, 0, ...fresh)
      // Grown by splice as it sees fit: the next row at the end makes a store of known room.
      this.#room = cells.length
    }
    return row
  }

  /** Appends the zeroed row of `day`, in a bigger store when this one is full (see appendZeros). */
  #append(cells: number[], day: number, stride: number): void {
    const n = cells.length
    const next = appendZeros(cells, stride, this.#room)
    next[n] = day
    if (next !== cells) {
      this.#cells = next
      this.#room = roomAfter(next.length, stride)
    }
  }

  /** Start of the row of `day` if there is one, else -1; never creates one. */
  find(day: number): number {
    const cells = this.#cells
    if (cells === null) return -1
    const stride = this.#layout.stride
    for (let o = cells.length - stride; o >= 0; o -= stride) {
      const d = cells[o] ?? 0
      if (d === day) return o
      if (d < day) return -1
    }
    return -1
  }

  /** Start of the first row with a day in [start, to], or -1. */
  firstIn(start: number, to: number): number {
    const cells = this.#cells
    if (cells === null) return -1
    const stride = this.#layout.stride
    // From the end: the views' windows are the last days, and older rows are kept for the widest.
    let o = cells.length - stride
    if (o < 0) return -1
    while (o - stride >= 0 && (cells[o - stride] ?? 0) >= start) o -= stride
    const d = cells[o] ?? 0
    return d < start || d > to ? -1 : o
  }
}

/**
 * The column layout of an engine's SaleDays, and the views over it. The rules' views are made for the
 * engine's first merchant and serve every merchant, reading the rows of the one whose event is being
 * handled (`current`, set by the engine before any rule runs): a view object per merchant and rule was
 * one more cold read per rule and event with sparse traffic.
 */
export class SaleLayout {
  /** The merchant whose event is being handled: the rows every view reads. */
  current: SaleDays | null = null
  readonly views: DayColumns[] = []
  /** The day, the day's sales and amount, then each view's columns. */
  stride = ROW_FIRST
  /** Views that keep samples: each has its index among them, part of its samples' keys. */
  sampled = 0
  /** The days of each view that keeps samples, by that index: its samples of older days are dropped. */
  readonly sampledSizes: number[] = []
  /** The fewest days of any view that keeps samples (Infinity with none). */
  sampledMin = Number.POSITIVE_INFINITY
  /** The sparse views' widths, by their index among them (part of their entries' keys). */
  readonly sparseWidths: number[] = []
  /** The widest view's days. */
  size = 1
  /** Set at the first row of any merchant: from then on the layout cannot change. */
  sealed = false
  /** The rules' ShortDays, the length of a merchant's store of them, and whether it was made once. */
  readonly shortViews: ShortDays[] = []
  shortLength = 0
  shortSealed = false
}

/**
 * A rule's counters per day for the last `size` days (2 for the rules that look at today and
 * yesterday, 4 for card_recurrence's months), in a ring in one array per merchant shared by all such
 * rules: day d in slot d mod size, the slot tagged with its day. The methods of a DayTable of `size`
 * days, with the same answers: a DayTable drops the days older than its window when a new latest day
 * comes, here they stay in their slots but no method sees them, and a new day's slot is zeroed when it
 * is taken. A DayTable each was three objects to reach per event (the table, its array, the array's
 * store) and about 230 bytes per merchant. Offsets are valid until the next `at`.
 *
 * Region of a view in the store: the latest day, then per slot its day and `width` counters.
 */
export class ShortDays {
  readonly #layout: SaleLayout
  readonly #size: number
  readonly #width: number
  readonly #region: number

  constructor(layout: SaleLayout, size: number, width: number, region: number) {
    this.#layout = layout
    this.#size = size
    this.#width = width
    this.#region = region
  }

  get size(): number {
    return this.#size
  }

  is(size: number, width: number): boolean {
    return this.#size === size && this.#width === width
  }

  /** Empties this view's region of a new store: no latest day, no day in any slot. */
  reset(store: number[]): void {
    const r = this.#region
    store[r] = NO_DAY
    for (let slot = 0; slot < this.#size; slot++) {
      const o = r + 1 + slot * (1 + this.#width)
      store[o] = NO_DAY
      for (let c = 1; c <= this.#width; c++) store[o + c] = 0
    }
  }

  get #store(): number[] {
    const rows = this.#layout.current
    if (rows === null) throw new Error('short day ring read with no merchant bound')
    return rows.shortStore()
  }

  /** Where `day`'s slot starts (its day tag). */
  #slot(day: number): number {
    const size = this.#size
    return this.#region + 1 + (((day % size) + size) % size) * (1 + this.#width)
  }

  /** The latest day a row was created for. */
  get latest(): number {
    return this.#store[this.#region] ?? NO_DAY
  }

  /** Offset of `day`'s counters, the row created (zeroed) when new; -1 when older than the ring keeps. */
  at(day: number): number {
    const store = this.#store
    const latest = store[this.#region] ?? NO_DAY
    if (day <= latest - this.#size) return -1
    const o = this.#slot(day)
    if (store[o] !== day) {
      // Free, or a day that left the window: taken for this one.
      store[o] = day
      for (let c = 1; c <= this.#width; c++) store[o + c] = 0
    }
    if (day > latest) store[this.#region] = day
    return o + 1
  }

  /** Offset of `day`'s counters if the day holds data, without creating it; -1 otherwise. */
  peek(day: number): number {
    const store = this.#store
    if (day <= (store[this.#region] ?? NO_DAY) - this.#size) return -1
    const o = this.#slot(day)
    return store[o] === day ? o + 1 : -1
  }

  /** Offset of the first stored day in [from, to] (see DayTable.first), or -1. */
  first(from: number, to: number): number {
    const store = this.#store
    const latest = store[this.#region] ?? NO_DAY
    const start = Math.max(from, to - this.#size + 1, latest - this.#size + 1)
    return this.#seek(store, start, Math.min(to, latest))
  }

  /** Offset of the stored day after the one at `offset`, if it is at most `to`; -1 otherwise. */
  next(offset: number, to: number): number {
    const store = this.#store
    const latest = store[this.#region] ?? NO_DAY
    return this.#seek(store, (store[offset - 1] ?? NO_DAY) + 1, Math.min(to, latest))
  }

  /** The first day in [from, to] with a slot of its own, at most `size` of them to look at. */
  #seek(store: number[], from: number, to: number): number {
    for (let d = from; d <= to; d++) {
      const o = this.#slot(d)
      if (store[o] === d) return o + 1
    }
    return -1
  }

  dayOf(offset: number): number {
    return this.#store[offset - 1] ?? NO_DAY
  }

  get(offset: number, column: number): number {
    return this.#store[offset + column] ?? 0
  }

  add(offset: number, column: number, value: number): void {
    const store = this.#store
    const i = offset + column
    store[i] = (store[i] ?? 0) + value
  }

  set(offset: number, column: number, value: number): void {
    this.#store[offset + column] = value
  }

  sum(from: number, to: number, column: number): number {
    let s = 0
    for (let o = this.first(from, to); o >= 0; o = this.next(o, to)) s += this.get(o, column)
    return s
  }
}

const EMPTY_CELLS: number[] = []

/**
 * One rule's columns of a merchant's SaleDays: the methods of a DayTable of `size` days, over the
 * shared rows. The rule never creates a row (the engine does, on every approved sale); `at` finds it.
 * Offsets point at the rule's first column of a row, valid until the next approved sale.
 */
export class DayColumns {
  readonly #layout: SaleLayout
  readonly #size: number
  /** Where the rule's columns start in a row. */
  readonly #base: number
  readonly #width: number
  /** Its index among the views that keep samples (-1 for none), and how many it keeps per day. */
  readonly #sampled: number
  readonly #samples: number

  constructor(
    layout: SaleLayout,
    size: number,
    base: number,
    width: number,
    sampled: number,
    samples: number,
  ) {
    this.#layout = layout
    this.#size = size
    this.#base = base
    this.#width = width
    this.#sampled = sampled
    this.#samples = samples
  }

  get size(): number {
    return this.#size
  }

  /** Whether this view has that shape. */
  is(size: number, width: number, samples: number): boolean {
    return this.#size === size && this.#width === width && this.#samples === samples
  }

  /** The rows of the merchant whose event is being handled. */
  get #rows(): SaleDays {
    const rows = this.#layout.current
    if (rows === null) throw new Error('day columns read with no merchant bound')
    return rows
  }

  get latest(): number {
    return this.#rows.latest
  }

  /** Approved sales in all the merchant's rows, this view's days and older (see SaleDays.keptSales). */
  get keptSales(): number {
    return this.#rows.keptSales
  }

  /** Offset of `day`'s counters; -1 when the day has no row or is older than this view keeps. */
  at(day: number): number {
    const rows = this.#rows
    if (day <= rows.latest - this.#size) return -1
    const o = rows.find(day)
    return o < 0 ? -1 : o + this.#base
  }

  /** Same as `at`: rows are created by the engine only. */
  peek(day: number): number {
    return this.at(day)
  }

  /** Offset of the first stored day in [from, to] this view keeps, or -1 (see DayTable.first). */
  first(from: number, to: number): number {
    const rows = this.#rows
    const size = this.#size
    const start = Math.max(from, to - size + 1, rows.latest - size + 1)
    const o = rows.firstIn(start, to)
    return o < 0 ? -1 : o + this.#base
  }

  /** Offset of the stored day after the one at `offset`, if it is at most `to`; -1 otherwise. */
  next(offset: number, to: number): number {
    const cells = this.#rows.cells
    const o = offset - this.#base + this.#rows.stride
    if (o >= cells.length || (cells[o] ?? 0) > to) return -1
    return o + this.#base
  }

  dayOf(offset: number): number {
    return this.#rows.cells[offset - this.#base] ?? NO_DAY
  }

  /** Approved sales of the day at `offset` (counted by the engine, see SaleDays). */
  sales(offset: number): number {
    return this.#rows.cells[offset - this.#base + ROW_SALES] ?? 0
  }

  /** Their amount. */
  amount(offset: number): number {
    return this.#rows.cells[offset - this.#base + ROW_AMOUNT] ?? 0
  }

  get(offset: number, column: number): number {
    return this.#rows.cells[offset + column] ?? 0
  }

  add(offset: number, column: number, value: number): void {
    const cells = this.#rows.cells
    const i = offset + column
    cells[i] = (cells[i] ?? 0) + value
  }

  set(offset: number, column: number, value: number): void {
    this.#rows.cells[offset + column] = value
  }

  sum(from: number, to: number, column: number): number {
    let s = 0
    for (let o = this.first(from, to); o >= 0; o = this.next(o, to)) s += this.get(o, column)
    return s
  }

  /** The key of the samples of the day at `offset` in this view: the day, then the view. */
  #sampleKey(offset: number): number {
    return this.dayOf(offset) * SAMPLED_VIEWS + this.#sampled
  }

  pushSample(offset: number, id: string): void {
    if (this.#samples === 0) return
    this.#rows.pushSample(this.#sampleKey(offset), id, this.#samples)
  }

  samples(offset: number): string[] {
    if (this.#samples === 0) return []
    return this.#rows.samples(this.#sampleKey(offset))
  }

  clearSamples(offset: number): void {
    if (this.#samples === 0) return
    this.#rows.clearSamples(this.#sampleKey(offset))
  }
}

/**
 * The layout of an engine's sample rings (see Samples): the rings are made for the engine's first
 * merchant and serve every merchant, over the ids of the one whose event is being handled.
 */
export class SampleLayout {
  /** The merchant whose event is being handled: the ids every ring reads and writes. */
  current: Samples | null = null
  readonly rings: SampleRing[] = []
  sealed = false

  /**
   * No ring may be taken after this (the first sample of any merchant). The rings' regions are laid
   * out by capacity, smallest first, so that a push to the largest (bin_concentration's, 64 slots,
   * rarely full) moves nothing after it.
   */
  seal(): void {
    if (this.sealed) return
    this.sealed = true
    const byCapacity = [...this.rings].sort((a, b) => a.capacity - b.capacity || a.index - b.index)
    byCapacity.forEach((ring, rank) => {
      ring.rank = rank
    })
  }
}

/**
 * A merchant's sample transaction ids, every rule's rings in one array: a Recent per rule was two
 * objects (the ring and its array) to reach per push, and a sale pushes to six or seven of them. Rules
 * take rings with `ring(capacity)` when their state is created; a ring behaves as a Recent<string>.
 *
 * The array holds only the rings that hold ids, and only the ids they hold: its first number says
 * which rings have a region (a bit per ring, by rank), and each region is the ring's counter (its
 * length plus its next slot once full, `length + next * RING_SPAN`) followed by its ids. Every ring with
 * room for its full capacity was 149 slots per merchant, while the bench's merchants hold 43 ids on
 * average, in 7 of 15 rings (three are never used).
 */
export class Samples {
  readonly #layout: SampleLayout
  /** The rings' bits, then their regions; null before the first push. */
  #slots: (string | number)[] | null = null
  /** What the slots' store holds, as far as this class knows (see `roomAfter`). */
  #room = 0
  #taken = 0

  /** Rings laid out by `layout` (an engine's, shared by its merchants); alone, with a layout of its own. */
  constructor(layout?: SampleLayout) {
    if (layout === undefined) {
      this.#layout = new SampleLayout()
      this.#layout.current = this
    } else this.#layout = layout
  }

  /** A ring of the last `capacity` ids; the first merchant of a layout lays the rings out. */
  ring(capacity: number): SampleRing {
    const layout = this.#layout
    const index = this.#taken++
    const existing = layout.rings[index]
    if (existing !== undefined) {
      if (existing.capacity !== capacity)
        throw new Error('rules took different sample rings for another merchant of the same engine')
      return existing
    }
    if (layout.sealed) throw new Error('sample rings must be taken before the first sample')
    if (!Number.isInteger(capacity) || capacity < 1 || capacity >= RING_SPAN)
      throw new Error(`sample ring capacity must be an integer from 1 to ${RING_SPAN - 1}, got ${capacity}`)
    if (index >= MAX_RINGS) throw new Error(`at most ${MAX_RINGS} sample rings per engine`)
    const ring = new SampleRing(layout, index, capacity)
    layout.rings.push(ring)
    return ring
  }

  /** The bits and regions; the first push of any ring makes them (and seals the layout). */
  slots(): (string | number)[] {
    let slots = this.#slots
    if (slots === null) {
      this.#layout.seal()
      slots = [0]
      this.#slots = slots
      this.#room = 1
    }
    return slots
  }

  /** Whether any ring was ever pushed to (before that, every ring is empty). */
  get started(): boolean {
    return this.#slots !== null
  }

  /** Where the region of the ring of `rank` starts (or would start), in `slots`. */
  static regionOf(slots: readonly (string | number)[], rank: number): number {
    const bits = slots[0]
    let below = typeof bits === 'number' ? bits & ((1 << rank) - 1) : 0
    let at = 1
    while (below !== 0) {
      const counter = slots[at]
      at += 1 + (typeof counter === 'number' ? counter % RING_SPAN : 0)
      below &= below - 1
    }
    return at
  }

  /** Opens `count` slots at `at` (their values are the caller's to set); returns the array, maybe a new one. */
  open(at: number, count: number): (string | number)[] {
    let slots = this.slots()
    const n = slots.length
    if (n + count <= this.#room) {
      for (let i = 0; i < count; i++) slots.push(0)
      for (let i = n - 1; i >= at; i--) slots[i + count] = slots[i] ?? 0
      return slots
    }
    const room = roomAfter(n + count, 1)
    const next = new Array<string | number>(room).fill(0)
    for (let i = 0; i < at; i++) next[i] = slots[i] ?? 0
    for (let i = at; i < n; i++) next[i + count] = slots[i] ?? 0
    next.length = n + count
    this.#slots = slots = next
    this.#room = room
    return slots
  }

  /** Removes `count` slots at `at`. */
  close(at: number, count: number): void {
    const slots = this.slots()
    const n = slots.length
    for (let i = at + count; i < n; i++) slots[i - count] = slots[i] ?? 0
    slots.length = n - count
    this.#room = roomAfterCut(n - count, this.#room)
  }
}

/** A ring's counter is its length plus its next slot times this: capacities stay below it. */
const RING_SPAN = 128

/** The rings' bits are a small integer's. */
const MAX_RINGS = 30

/** One rule's ring of the last `capacity` ids, over the Samples of the merchant being handled. */
export class SampleRing {
  readonly #layout: SampleLayout
  /** The order in which it was taken. */
  readonly index: number
  readonly capacity: number
  /** Its bit and the order of its region, set when the layout is sealed. */
  rank = 0

  constructor(layout: SampleLayout, index: number, capacity: number) {
    this.#layout = layout
    this.index = index
    this.capacity = capacity
  }

  get #samples(): Samples {
    const samples = this.#layout.current
    if (samples === null) throw new Error('sample ring used with no merchant bound')
    return samples
  }

  push(id: string): void {
    const samples = this.#samples
    let slots = samples.slots()
    const rank = this.rank
    const at = Samples.regionOf(slots, rank)
    const bits = slots[0]
    const b = typeof bits === 'number' ? bits : 0
    if ((b & (1 << rank)) === 0) {
      slots = samples.open(at, 2)
      slots[0] = b | (1 << rank)
      slots[at] = 1
      slots[at + 1] = id
      return
    }
    const counter = slots[at]
    const c = typeof counter === 'number' ? counter : 0
    const length = c % RING_SPAN
    if (length < this.capacity) {
      slots = samples.open(at + 1 + length, 1)
      slots[at + 1 + length] = id
      slots[at] = c + 1
    } else {
      const next = (c - length) / RING_SPAN
      slots[at + 1 + next] = id
      slots[at] = length + ((next + 1) % this.capacity) * RING_SPAN
    }
  }

  clear(): void {
    const samples = this.#samples
    if (!samples.started) return
    const slots = samples.slots()
    const rank = this.rank
    const bits = slots[0]
    const b = typeof bits === 'number' ? bits : 0
    if ((b & (1 << rank)) === 0) return
    const at = Samples.regionOf(slots, rank)
    const counter = slots[at]
    samples.close(at, 1 + (typeof counter === 'number' ? counter % RING_SPAN : 0))
    slots[0] = b & ~(1 << rank)
  }

  /** Oldest first. */
  toArray(): string[] {
    const out: string[] = []
    const samples = this.#samples
    if (!samples.started) return out
    const slots = samples.slots()
    const rank = this.rank
    const bits = slots[0]
    if (typeof bits !== 'number' || (bits & (1 << rank)) === 0) return out
    const base = Samples.regionOf(slots, rank)
    const counter = slots[base]
    const c = typeof counter === 'number' ? counter : 0
    const length = c % RING_SPAN
    const next = (c - length) / RING_SPAN
    for (let i = 0; i < length; i++) {
      const id = slots[base + 1 + ((next + i) % length)]
      if (typeof id === 'string') out.push(id)
    }
    return out
  }
}

/** The sparse view of a side entry's key. */
function sparseIndex(key: number): number {
  // A bit mask, not `%`: the keys are doubles of a double array, and a modulo of doubles is a call.
  return key & (SPARSE_VIEWS - 1)
}

/**
 * A DayColumns whose counters are not in the shared rows but in entries of their own, one per day that
 * has any (SaleDays' side store): the columns of night sales, of large or round amounts, of sales near a
 * limit are zero on most days, and in the rows they were numbers in every row of every merchant. The
 * same answers as a DayColumns: days, sales and amounts come from the rows (offsets are the rows'),
 * a day without an entry reads zeros, and an entry is made at the first `add` or `set` of its day.
 */
export class SparseColumns extends DayColumns {
  readonly #layout: SaleLayout
  readonly #size: number
  readonly #base: number
  readonly #index: number
  readonly #width: number

  constructor(layout: SaleLayout, size: number, base: number, index: number, width: number) {
    super(layout, size, base, 0, -1, 0)
    this.#layout = layout
    this.#size = size
    this.#base = base
    this.#index = index
    this.#width = width
  }

  isSparse(size: number, width: number): boolean {
    return this.#size === size && this.#width === width
  }

  #rowsOf(): SaleDays {
    const rows = this.#layout.current
    if (rows === null) throw new Error('day columns read with no merchant bound')
    return rows
  }

  /** The key of the entry of the day at `offset`: the day, then the view. */
  #key(rows: SaleDays, offset: number): number {
    return (rows.cells[offset - this.#base] ?? 0) * SPARSE_VIEWS + this.#index
  }

  override get(offset: number, column: number): number {
    const rows = this.#rowsOf()
    return rows.sideGet(this.#key(rows, offset), column)
  }

  override add(offset: number, column: number, value: number): void {
    const rows = this.#rowsOf()
    const i = rows.sideAt(this.#key(rows, offset)) + column
    const side = rows.side
    side[i] = (side[i] ?? 0) + value
  }

  override set(offset: number, column: number, value: number): void {
    const rows = this.#rowsOf()
    const i = rows.sideAt(this.#key(rows, offset)) + column
    rows.side[i] = value
  }
}
