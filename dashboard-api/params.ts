import { invalid } from './errors.ts'

/**
 * Checks that JSON Schema cannot express. The schema already proved a time is ISO-8601; here it must
 * also fit ClickHouse's DateTime64 range (a year like 9999 would overflow it) and come in order.
 */
const MIN_MS = Date.UTC(2000, 0, 1)
const MAX_MS = Date.UTC(2200, 0, 1)

export function timeParam(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  if (!Number.isFinite(ms) || ms < MIN_MS || ms >= MAX_MS) {
    throw invalid(field, 'must be a time between 2000-01-01 and 2200-01-01')
  }
  return ms
}

export function timeRange(place: string, q: { from?: string; to?: string }): { from?: number; to?: number } {
  const from = timeParam(`${place}.from`, q.from)
  const to = timeParam(`${place}.to`, q.to)
  if (from !== undefined && to !== undefined && from >= to) throw invalid(`${place}.to`, 'must be after from')
  return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) }
}

export function dayParam(field: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback
  const ms = Date.parse(`${value}T00:00:00Z`)
  if (!Number.isFinite(ms) || ms < MIN_MS || ms >= MAX_MS) {
    throw invalid(field, 'must be a day between 2000-01-01 and 2199-12-31')
  }
  return value
}

export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}
