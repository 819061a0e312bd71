import type { Config } from '../config/spec.ts'
import { localDateHour } from '../lib/local-time.ts'

/**
 * The acquirers' local calendar, for the defaults of day-based queries: "the last 90 days" ends on the
 * acquirer's current local day, not the UTC one (between 16:00 and 24:00 UTC the two differ at UTC+8,
 * and a UTC default hid the acquirer's current day).
 */
export type TimeConfig = Config['time']

export function timeZoneResolver(time: TimeConfig): (acquirerId: string) => string {
  return (acquirerId) => time.acquirerTimeZones[acquirerId] ?? time.defaultTimeZone
}

/** The local calendar day (YYYY-MM-DD) of an instant in a time zone. */
export function localDay(epochMs: number, timeZone: string): string {
  return localDateHour(epochMs, timeZone).date
}
