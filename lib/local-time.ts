/**
 * Local calendar date and hour of an instant in a merchant's time zone: daily windows and night-time
 * rules are about the merchant's day, not UTC's. A time zone is an IANA name (`Asia/Shanghai`) or a
 * fixed UTC offset (`+08:00`, `-05:30`).
 *
 * This runs once per event on the ingest path, so it avoids Intl where it can: a fixed offset is pure
 * arithmetic, and an IANA zone asks Intl for its UTC offset once per zone and UTC hour, then does the
 * same arithmetic. Formatters and offsets are cached.
 */

export interface LocalDateHour {
  /** Local calendar date, `YYYY-MM-DD` (what a ClickHouse `Date` column takes). */
  readonly date: string
  /** Local hour of the day, 0 to 23. */
  readonly hour: number
}

const MINUTE_MS = 60_000
const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

// Same range the configuration accepts: real offsets run from -12:00 to +14:00.
const FIXED_OFFSET = /^([+-])(\d{2}):(\d{2})$/

type Zone =
  | { readonly kind: 'fixed'; readonly offsetMs: number }
  | {
      readonly kind: 'iana'
      readonly format: Intl.DateTimeFormat
      /** UTC hour number → offset in ms, for hours with no transition inside them. */
      readonly offsets: Map<number, number>
    }

// Bounded so that a stream spanning years cannot grow the cache without limit; the working set is the
// few hours around "now", so clearing it now and then costs a handful of Intl calls.
const MAX_CACHED_HOURS = 4_096
const MAX_CACHED_DAYS = 4_096

const zones = new Map<string, Zone>()
const dayStrings = new Map<number, string>()

/**
 * The offset in ms of a fixed-offset time zone (`+08:00` → 28,800,000), or null when the string is not
 * written as an offset. Throws RangeError for an offset-shaped string out of range (`+15:00`, `+08:60`).
 */
export function parseFixedOffset(timeZone: string): number | null {
  const m = FIXED_OFFSET.exec(timeZone)
  if (m === null) return null
  const hours = Number(m[2])
  const minutes = Number(m[3])
  if (hours > 14 || minutes > 59 || (hours === 14 && minutes > 0)) {
    throw new RangeError(`time zone offset out of range: ${timeZone}`)
  }
  const ms = hours * HOUR_MS + minutes * MINUTE_MS
  return m[1] === '-' ? -ms : ms
}

function zoneOf(timeZone: string): Zone {
  const cached = zones.get(timeZone)
  if (cached !== undefined) return cached
  const fixed = parseFixedOffset(timeZone)
  let zone: Zone
  if (fixed !== null) {
    zone = { kind: 'fixed', offsetMs: fixed }
  } else if (timeZone.startsWith('+') || timeZone.startsWith('-')) {
    // Intl would accept other offset spellings (+0800, +08); the configuration does not, so neither do we.
    throw new RangeError(`time zone offset must be written ±HH:MM: ${timeZone}`)
  } else {
    // Throws RangeError for an unknown IANA name.
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    zone = { kind: 'iana', format, offsets: new Map() }
  }
  zones.set(timeZone, zone)
  return zone
}

/** True when `timeZone` is an IANA name Intl knows or a fixed offset `±HH:MM` within ±14:00. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    zoneOf(timeZone)
    return true
  } catch {
    return false
  }
}

/** Offset from Intl for one instant: the local wall clock read as if it were UTC, minus the instant. */
function intlOffsetMs(format: Intl.DateTimeFormat, epochMs: number): number {
  let year = 0
  let month = 0
  let day = 0
  let hour = 0
  let minute = 0
  let second = 0
  for (const part of format.formatToParts(epochMs)) {
    switch (part.type) {
      case 'year':
        year = Number(part.value)
        break
      case 'month':
        month = Number(part.value)
        break
      case 'day':
        day = Number(part.value)
        break
      case 'hour':
        hour = Number(part.value)
        break
      case 'minute':
        minute = Number(part.value)
        break
      case 'second':
        second = Number(part.value)
        break
      default:
        break
    }
  }
  const wall = Date.UTC(year, month - 1, day, hour, minute, second)
  // The wall clock has whole seconds, so compare it with the instant truncated to its second.
  return wall - (epochMs - (((epochMs % 1000) + 1000) % 1000))
}

/** Offset of the time zone from UTC at the instant, in ms (+08:00 → 28,800,000). */
export function utcOffsetMs(epochMs: number, timeZone: string): number {
  const zone = zoneOf(timeZone)
  if (zone.kind === 'fixed') return zone.offsetMs
  const utcHour = Math.floor(epochMs / HOUR_MS)
  const cached = zone.offsets.get(utcHour)
  if (cached !== undefined) return cached
  const start = utcHour * HOUR_MS
  const atStart = intlOffsetMs(zone.format, start)
  const atEnd = intlOffsetMs(zone.format, start + HOUR_MS - 1)
  // A transition that falls inside this UTC hour rather than on its start (zones with :30 or :45
  // offsets): the hour has two offsets, so it is not cached and this instant gets its own answer.
  if (atStart !== atEnd) return intlOffsetMs(zone.format, epochMs)
  if (zone.offsets.size >= MAX_CACHED_HOURS) zone.offsets.clear()
  zone.offsets.set(utcHour, atStart)
  return atStart
}

/** `YYYY-MM-DD` of a day number (days since 1970-01-01), by Howard Hinnant's civil-from-days. */
function dayString(days: number): string {
  const cached = dayStrings.get(days)
  if (cached !== undefined) return cached
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1_460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  )
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0)
  const s = `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`
  if (dayStrings.size >= MAX_CACHED_DAYS) dayStrings.clear()
  dayStrings.set(days, s)
  return s
}

/**
 * Local date and hour of an epoch-ms instant in a time zone. Throws RangeError for an unknown time zone;
 * validate configuration with {@link isValidTimeZone} at start-up so this never happens per event.
 */
export function localDateHour(epochMs: number, timeZone: string): LocalDateHour {
  const local = epochMs + utcOffsetMs(epochMs, timeZone)
  const days = Math.floor(local / DAY_MS)
  return { date: dayString(days), hour: Math.floor((local - days * DAY_MS) / HOUR_MS) }
}
