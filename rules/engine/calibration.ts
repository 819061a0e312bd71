/**
 * How a relative rule decides "far above normal": its measure against the distribution of the same
 * measure over the merchant's cohort (registered MCC × region, or MCC-wide where the region is thin)
 * where that cohort is large enough, else over the population the service sees (the acquirer's
 * merchants), refreshed from ClickHouse (rules/baselines.ts). A rule fires beyond a configurable
 * quantile of the distribution, widened by a margin, *and* above an absolute floor:
 *
 *   fence(d) = Q(q) + margin · (Q(q) − Q(0.5))        (shares, on a linear scale)
 *   fence(d) = Q(q) · (Q(q) / Q(0.5)) ^ margin        (amounts, on a log scale)
 *   threshold = max(floor, fence(cohort))       when the cohort is large enough
 *             = max(floor, fence(population))   otherwise
 *
 * The cohort replaces the population rather than adding to it: an acquirer's tickets run from a market
 * stall's 28 to a car dealer's 48,000, so the population's fence on ticket size or daily volume would
 * hide a grocery ten times the size of groceries.
 *
 * The quantile is taken below the top of the distribution (0.75 by default) and widened by the spread
 * of its upper half, rather than read at 0.99: cash-out merchants sit in the same cohorts (8% of a
 * portfolio is enough to own a cohort's 95th percentile), and a fence built from the middle of the
 * distribution cannot be moved by the outliers it is meant to catch, as long as they are fewer than a
 * quarter of the cohort (the default quantile; lower it for an acquirer whose fraud clusters in one
 * trade).
 *
 * The finding says what it was compared with (its basis): `peers` when an adequate cohort set the
 * threshold, `population` when the acquirer-wide distribution did (the cohort is too thin, which is
 * where look-alikes live), `none` while no baseline exists (a new deployment): the floor alone. Scoring
 * (scoring/model.ts) counts a `population` hit only beside independent, calibrated evidence, and a
 * `none` hit never: no rule reaches HIGH on absolute fall-backs, nor on a portfolio-wide comparison that
 * a car dealer fails by being a car dealer.
 */
import { num, type ParamSpec } from './params.ts'
import type { Basis, Distribution } from './types.ts'

/** Quantile levels every distribution is published at; `quantileOf` interpolates between them. */
export const QUANTILE_GRID: readonly number[] = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]

/** The `q` quantile of a distribution, interpolated linearly on the grid (clamped at its ends). */
export function quantileOf(d: Distribution, q: number): number {
  const grid = QUANTILE_GRID
  const values = d.q
  const first = values[0] ?? 0
  if (q <= (grid[0] ?? 0)) return first
  for (let i = 1; i < grid.length; i++) {
    const hi = grid[i] ?? 1
    if (q <= hi) {
      const lo = grid[i - 1] ?? 0
      const a = values[i - 1] ?? first
      const b = values[i] ?? a
      return a + ((b - a) * (q - lo)) / (hi - lo)
    }
  }
  return values[values.length - 1] ?? first
}

export interface Tail {
  /** Quantile the fence starts from. */
  readonly quantile: number
  /** How many times the spread between that quantile and the median is added above it. */
  readonly margin: number
  /** `log` for amounts (tickets, volumes), whose spread is multiplicative. */
  readonly scale: 'linear' | 'log'
}

/** The fence of one distribution (see the file comment). */
export function tailBound(d: Distribution, t: Tail): number {
  const q = quantileOf(d, t.quantile)
  const median = quantileOf(d, 0.5)
  if (t.scale === 'linear') return q + t.margin * Math.max(0, q - median)
  if (median <= 0 || q <= 0) return q
  return q * Math.max(1, q / median) ** t.margin
}

export interface Bound {
  /** The value the measure must exceed. */
  readonly threshold: number
  readonly basis: Basis
  /** The fence of each distribution that took part, or null. */
  readonly peers: number | null
  readonly population: number | null
  /** Merchants behind each. */
  readonly peerCount: number
  readonly populationCount: number
}

/**
 * The threshold of a relative measure: beyond the fence of the cohort's distribution when given, else
 * of the population's (the engine hands a rule only distributions resting on enough merchants and
 * days), and above the floor.
 */
export function calibratedBound(
  floor: number,
  tail: Tail,
  peers: Distribution | undefined,
  population: Distribution | undefined,
): Bound {
  const p = peers === undefined ? null : tailBound(peers, tail)
  const a = p !== null || population === undefined ? null : tailBound(population, tail)
  return {
    threshold: Math.max(floor, p ?? a ?? Number.NEGATIVE_INFINITY),
    basis: p !== null ? 'peers' : a !== null ? 'population' : 'none',
    peers: p,
    population: a,
    peerCount: peers?.n ?? 0,
    populationCount: population?.n ?? 0,
  }
}

/** "above the fence of its 34 peers (x), of the acquirer's 640 merchants (y) and the floor z", for details. */
export function describeBound(b: Bound, floor: number, format: (v: number) => string): string {
  const parts: string[] = []
  if (b.peers !== null) parts.push(`its ${b.peerCount} peers' fence ${format(b.peers)}`)
  if (b.population !== null)
    parts.push(`the acquirer's ${b.populationCount} merchants' fence ${format(b.population)}`)
  parts.push(`the floor ${format(floor)}`)
  const compared =
    parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : (parts[0] ?? '')
  const note =
    b.basis === 'none' ? ' (no baseline yet)' : b.basis === 'population' ? ' (peer cohort too thin)' : ''
  return `${compared}${note}`
}

/** The quantile parameter every calibrated rule declares, with its own default. */
export function quantileParam(value: number): ParamSpec<number> {
  return num({
    default: value,
    min: 0.5,
    max: 0.99,
    description:
      'Quantile of the population and peer distributions the threshold starts from (taken from the middle of the distribution, so the outliers it is meant to catch cannot move it).',
  })
}

/** The margin parameter every calibrated rule declares, with its own default. */
export function marginParam(value: number, scale: 'linear' | 'log'): ParamSpec<number> {
  return num({
    default: value,
    min: 0,
    description:
      scale === 'linear'
        ? 'Added above that quantile: this many times its distance from the median.'
        : 'Multiplies that quantile by its ratio to the median raised to this power.',
  })
}
