/** The two input topics of a partition number. */
export type Input = 'transactions' | 'merchantEvents'

const OTHER: Record<Input, Input> = { transactions: 'merchantEvents', merchantEvents: 'transactions' }

interface Side {
  /** The largest record timestamp taken (ms). */
  frontier: number
  /** The offset after the last record taken. */
  position: bigint
  /** The highest high-water mark known. */
  end: bigint
  /** The first timestamp of a part that waits for the other input, or null. */
  head: number | null
  /** Since when a part of this input waits (ms), or null. */
  waitingSince: number | null
  /** When a part of this input was last taken (ms). */
  progressAt: number
  /**
   * A part gave up waiting for this input, which has not moved since: nothing waits for it again until it
   * does. Its lag may be one nobody can read (a transaction marker kafkajs skips unseen), and each part
   * waiting 30 s for it would stall the other input for good.
   */
  stalled: boolean
}

export interface Arrival {
  /** Take the part now; otherwise it waits (the caller pauses its partition and drops it unresolved). */
  readonly take: boolean
  /** The other input waits and should go first now: resume it. */
  readonly resumeOther: boolean
  /** The part is taken only because it waited `maxWaitMs` for the other input. */
  readonly gaveUp: boolean
}

/**
 * Keeps the two input topics of one partition number (a merchant's transactions and lifecycle events)
 * in step by record timestamp, as Kafka Streams does for the partitions of one task: a part is taken
 * when the other input has nothing more to read, or has been read past the part's first record, or waits
 * with an even later part; otherwise it waits until the other input catches up, however long that takes
 * while the other input moves, and no longer once it has not moved for `maxWaitMs` (after which nothing
 * waits for that input until it moves again).
 *
 * Without it, a replayed history (or a restart with a backlog) reached the rules in whatever order the
 * fetches brought it: a fetch's 10 MB went to the first partitions asked for, so a partition's lifecycle
 * events came 20 s after days of its sales (a terminal swap read after the new terminal's sales put the
 * merchant in the compliance queue), or weeks before them (an MCC change judged the earlier sales).
 * Record timestamps are what a producer replaying a stream in order writes in order, and what a live
 * feed writes as it happens. Pure: the caller pauses, resumes and times.
 */
export class LaneAlignment {
  readonly #sides: Record<Input, Side>
  readonly #maxWaitMs: number

  constructor(
    start: { readonly position: Record<Input, bigint>; readonly end: Record<Input, bigint> },
    maxWaitMs: number,
  ) {
    const side = (i: Input): Side => ({
      frontier: Number.NEGATIVE_INFINITY,
      position: start.position[i],
      end: start.end[i],
      head: null,
      waitingSince: null,
      progressAt: Number.NEGATIVE_INFINITY,
      stalled: false,
    })
    this.#sides = { transactions: side('transactions'), merchantEvents: side('merchantEvents') }
    this.#maxWaitMs = maxWaitMs
  }

  /** A part of `input` is in hand, its first record stamped `first`, fetched at `highWatermark`. */
  arrive(input: Input, first: number, highWatermark: bigint, now: number): Arrival {
    const self = this.#sides[input]
    const other = this.#sides[OTHER[input]]
    if (highWatermark > self.end) self.end = highWatermark
    let wait: boolean
    let resumeOther = false
    if (other.head !== null) {
      // Both wait for each other: the earlier goes first (lifecycle events on a tie, as the backtest orders them).
      wait = other.head < first || (other.head === first && input === 'transactions')
      resumeOther = wait
    } else {
      wait = !other.stalled && other.end > other.position && other.frontier < first
    }
    if (!wait || !Number.isFinite(first)) return this.#taken(self, false, resumeOther)
    self.waitingSince ??= now
    // Waiting is fine while the other input moves; it ends when that one has moved not once in `maxWaitMs`.
    if (now - Math.max(self.waitingSince, other.progressAt) >= this.#maxWaitMs) {
      other.stalled = true
      return this.#taken(self, true, resumeOther)
    }
    self.head = first
    return { take: false, resumeOther, gaveUp: false }
  }

  #taken(self: Side, gaveUp: boolean, resumeOther: boolean): Arrival {
    self.head = null
    self.waitingSince = null
    return { take: true, resumeOther, gaveUp }
  }

  /**
   * A part of `input` was taken at `now`, its latest record stamped `last`, ending before `nextOffset`. True when
   * the other input waits and may go now (this one is read past its part, or has nothing more).
   */
  took(input: Input, last: number, nextOffset: bigint, now: number): boolean {
    const self = this.#sides[input]
    const other = this.#sides[OTHER[input]]
    self.progressAt = now
    self.stalled = false
    if (last > self.frontier) self.frontier = last
    if (nextOffset > self.position) self.position = nextOffset
    if (self.position > self.end) self.end = self.position
    return other.head !== null && (self.frontier >= other.head || self.position >= self.end)
  }

  /** Whether a part of `input` waits (its partition paused). */
  waiting(input: Input): boolean {
    return this.#sides[input].head !== null
  }
}
