/**
 * Window totals a rule keeps between evaluations (round_amount, structuring, high_ticket). Such a rule
 * sums its window's stored days at an evaluation; a merchant selling many times a day was summed again
 * at every sale, a cost that grew with the days the window held (bench/rule-cost.bench.ts). So the
 * rule keeps the sums, for the watermark day and the rows' latest day it made them at (rows are
 * dropped only when the latest day moves), counts each new sale of a day they cover into them, and
 * sums again when either day moves: once a day instead of once a sale.
 *
 * Kept only for a merchant summed `KEEP_AFTER` times on one day: one selling a few times a day or less
 * sums anyway, and keeping its totals (an object per rule) would cost memory and save nothing. Until
 * then the rule's field holds a small integer, `mark`, that counts the sums of the last day summed.
 */

/** Sums made on one watermark day before a merchant's totals are kept. */
export const KEEP_AFTER = 3

/** A mark of no sum made yet. */
export const NOT_SUMMED = -1

const PER_DAY = 8

/** The mark after one more sum on watermark day `to`. */
export function summedAgain(mark: number, to: number): number {
  return Math.floor(mark / PER_DAY) === to ? Math.min(mark + 1, to * PER_DAY + PER_DAY - 1) : to * PER_DAY + 1
}

/** Whether the sum just made on watermark day `to` (`mark` before it) is the one to keep. */
export function keepNow(mark: number, to: number): boolean {
  return Math.floor(mark / PER_DAY) === to && (mark % PER_DAY) + 1 >= KEEP_AFTER
}
