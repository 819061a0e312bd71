import { describe, expect, it } from 'vitest'
import { LaneAlignment } from '../../../rules/alignment.ts'

/** Transactions at offsets 0..1000 to read, lifecycle events 0..10 to read. */
const backlog = () =>
  new LaneAlignment(
    { position: { transactions: 0n, merchantEvents: 0n }, end: { transactions: 1000n, merchantEvents: 10n } },
    30_000,
  )

describe('LaneAlignment: the two inputs of a partition number in timestamp order', () => {
  it('holds sales back while the lifecycle topic has unread events behind them, then lets them go', () => {
    const lane = backlog()
    // Sales stamped from 5,000 arrive first: lifecycle events are unread, so they wait.
    expect(lane.arrive('transactions', 5_000, 1000n, 0)).toEqual({
      take: false,
      resumeOther: false,
      gaveUp: false,
    })
    expect(lane.waiting('transactions')).toBe(true)
    // Lifecycle events stamped from 1,000: earlier than the waiting sales, taken.
    expect(lane.arrive('merchantEvents', 1_000, 10n, 10).take).toBe(true)
    // Read up to 4,000 of 10 events: not yet past the sales' first record, and more to read.
    expect(lane.took('merchantEvents', 4_000, 6n, 0)).toBe(false)
    // The rest, up to 9,000: past the waiting sales; they may go.
    expect(lane.took('merchantEvents', 9_000, 10n, 0)).toBe(true)
    expect(lane.arrive('transactions', 5_000, 1000n, 20).take).toBe(true)
    expect(lane.waiting('transactions')).toBe(false)
  })

  it('lets the sales go when the lifecycle topic has nothing more to read, whatever its timestamps', () => {
    const lane = backlog()
    lane.arrive('transactions', 5_000, 1000n, 0)
    lane.arrive('merchantEvents', 1_000, 10n, 0)
    // All ten read, the last stamped 2,000: the topic is at its end.
    expect(lane.took('merchantEvents', 2_000, 10n, 0)).toBe(true)
    expect(lane.arrive('transactions', 5_000, 1000n, 5).take).toBe(true)
    // A later part of sales does not wait either: nothing unread on the other side.
    lane.took('transactions', 6_000, 500n, 0)
    expect(lane.arrive('transactions', 6_001, 1000n, 6).take).toBe(true)
  })

  it('holds lifecycle events back behind earlier sales (an MCC change must not judge the sales before it)', () => {
    const lane = backlog()
    expect(lane.arrive('merchantEvents', 9_000, 10n, 0).take).toBe(false)
    // The sales from 1,000 go first, and once read past 9,000 the lifecycle events may follow.
    expect(lane.arrive('transactions', 1_000, 1000n, 0).take).toBe(true)
    expect(lane.took('transactions', 8_999, 400n, 0)).toBe(false)
    expect(lane.took('transactions', 9_500, 800n, 0)).toBe(true)
    expect(lane.arrive('merchantEvents', 9_000, 10n, 1).take).toBe(true)
  })

  it('breaks a wait on both sides: the earlier part goes first, lifecycle events on a tie', () => {
    const lane = backlog()
    expect(lane.arrive('transactions', 5_000, 1000n, 0).take).toBe(false)
    // Lifecycle events stamped after the waiting sales: they wait, and the sales are resumed to go first.
    expect(lane.arrive('merchantEvents', 7_000, 10n, 0)).toEqual({
      take: false,
      resumeOther: true,
      gaveUp: false,
    })
    expect(lane.arrive('transactions', 5_000, 1000n, 1)).toEqual({
      take: true,
      resumeOther: false,
      gaveUp: false,
    })
    expect(lane.took('transactions', 7_000, 300n, 0)).toBe(true)

    const tie = backlog()
    expect(tie.arrive('merchantEvents', 5_000, 10n, 0).take).toBe(false)
    expect(tie.arrive('transactions', 5_000, 1000n, 0)).toEqual({
      take: false,
      resumeOther: true,
      gaveUp: false,
    })
    expect(tie.arrive('merchantEvents', 5_000, 10n, 1).take).toBe(true)
  })

  it('waits as long as the other input moves, and gives up once it has not moved for the longest wait', () => {
    const lane = backlog()
    expect(lane.arrive('merchantEvents', 9_000, 10n, 0).take).toBe(false)
    // The sales move for a minute (a replay read slower than it was written), still short of 9,000.
    for (let now = 10_000; now <= 60_000; now += 10_000) {
      lane.took('transactions', 1_000 + now / 100, BigInt(now / 100), now)
      expect(lane.arrive('merchantEvents', 9_000, 10n, now).take).toBe(false)
    }
    // Then they stop: 29,999 ms after their last move it still waits, at 30,000 it goes, and says so.
    expect(lane.arrive('merchantEvents', 9_000, 10n, 89_999).take).toBe(false)
    expect(lane.arrive('merchantEvents', 9_000, 10n, 90_000)).toEqual({
      take: true,
      resumeOther: false,
      gaveUp: true,
    })
    // The sales have not moved since: nothing waits for them again (a lag nobody can read, such as a
    // transaction marker the client skips, must not hold every later part 30 s)...
    expect(lane.arrive('merchantEvents', 9_500, 10n, 90_001).take).toBe(true)
    // ...until they move, and then the next wait is timed afresh.
    lane.took('transactions', 1_700, 700n, 95_000)
    expect(lane.arrive('merchantEvents', 9_600, 10n, 95_001).take).toBe(false)
    expect(lane.arrive('merchantEvents', 9_600, 10n, 125_001).gaveUp).toBe(true)
  })

  it('learns of a backlog from a fetched part, and of none from the end it was read to', () => {
    // Nothing to read on either side when the lane was set up (a live feed).
    const lane = new LaneAlignment(
      { position: { transactions: 0n, merchantEvents: 4n }, end: { transactions: 0n, merchantEvents: 4n } },
      30_000,
    )
    expect(lane.arrive('transactions', 5_000, 100n, 0).take).toBe(true)
    lane.took('transactions', 5_500, 50n, 0)
    // A lifecycle part fetched with 6 more behind it, read up to 3,000, makes later sales wait...
    expect(lane.arrive('merchantEvents', 2_000, 12n, 0).take).toBe(true)
    lane.took('merchantEvents', 3_000, 6n, 0)
    expect(lane.arrive('transactions', 5_600, 100n, 1).take).toBe(false)
    // ...until the lifecycle topic is read to its end.
    expect(lane.took('merchantEvents', 4_000, 12n, 0)).toBe(true)
    expect(lane.arrive('transactions', 5_600, 100n, 2).take).toBe(true)
  })
})
