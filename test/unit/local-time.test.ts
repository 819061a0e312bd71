import { describe, expect, it } from 'vitest'
import { isValidTimeZone, localDateHour, parseFixedOffset, utcOffsetMs } from '../../lib/local-time.ts'

const H = 3_600_000
const at = (iso: string) => Date.parse(iso)

describe('localDateHour', () => {
  it.each([
    // UTC+8, across local midnight: 15:59 UTC is 23:59 the same day, 16:00 UTC is 00:00 the next.
    ['2024-03-10T15:59:59.999Z', '+08:00', '2024-03-10', 23],
    ['2024-03-10T16:00:00.000Z', '+08:00', '2024-03-11', 0],
    ['2024-03-10T16:00:00.000Z', 'Asia/Shanghai', '2024-03-11', 0],
    ['2024-03-10T20:59:59.999Z', 'Asia/Shanghai', '2024-03-11', 4],
    ['2024-03-10T21:00:00.000Z', 'Asia/Shanghai', '2024-03-11', 5],
    // Year and leap-day boundaries.
    ['2023-12-31T16:00:00.000Z', '+08:00', '2024-01-01', 0],
    ['2024-02-28T16:00:00.000Z', '+08:00', '2024-02-29', 0],
    ['2024-02-29T16:00:00.000Z', 'Asia/Shanghai', '2024-03-01', 0],
    // Negative and half/quarter-hour offsets.
    ['2024-03-10T03:00:00.000Z', '-05:00', '2024-03-09', 22],
    ['2024-03-10T18:29:00.000Z', '+05:30', '2024-03-10', 23],
    ['2024-03-10T18:30:00.000Z', 'Asia/Kolkata', '2024-03-11', 0],
    ['2024-03-10T18:14:00.000Z', 'Asia/Kathmandu', '2024-03-10', 23],
    ['2024-03-10T18:15:00.000Z', 'Asia/Kathmandu', '2024-03-11', 0],
    ['2024-03-10T12:00:00.000Z', 'UTC', '2024-03-10', 12],
    ['2024-03-10T12:00:00.000Z', '+00:00', '2024-03-10', 12],
    ['2024-03-10T12:00:00.000Z', '+14:00', '2024-03-11', 2],
    // Daylight saving in New York: 2024-03-10 07:00 UTC is 03:00 EDT (02:00 EST never happened).
    ['2024-03-10T06:59:59.999Z', 'America/New_York', '2024-03-10', 1],
    ['2024-03-10T07:00:00.000Z', 'America/New_York', '2024-03-10', 3],
    // ... and 2024-11-03 06:00 UTC is 01:00 EST, the second 01:00 of the day.
    ['2024-11-03T05:30:00.000Z', 'America/New_York', '2024-11-03', 1],
    ['2024-11-03T06:30:00.000Z', 'America/New_York', '2024-11-03', 1],
    // Lord Howe moves by 30 minutes, at 02:00 local = 15:00 UTC: inside a UTC hour, not on its start.
    ['2024-04-06T14:59:59.999Z', 'Australia/Lord_Howe', '2024-04-07', 1],
    ['2024-04-06T15:00:00.000Z', 'Australia/Lord_Howe', '2024-04-07', 1],
    ['2024-04-06T15:30:00.000Z', 'Australia/Lord_Howe', '2024-04-07', 2],
    // Before the epoch.
    ['1969-12-31T23:00:00.000Z', '+08:00', '1970-01-01', 7],
    ['1969-12-31T15:59:59.999Z', '+08:00', '1969-12-31', 23],
  ])('%s in %s → %s hour %i', (iso, tz, date, hour) => {
    expect(localDateHour(at(iso), tz)).toEqual({ date, hour })
  })

  it('agrees with Intl across a year of hours in several zones', () => {
    const zones = [
      'Asia/Shanghai',
      'America/New_York',
      'Europe/London',
      'Australia/Lord_Howe',
      'Asia/Kathmandu',
    ]
    const start = at('2024-01-01T00:00:00.000Z')
    for (const tz of zones) {
      const fmt = new Intl.DateTimeFormat('en-CA', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
      })
      // Every 7th quarter-hour: lands on :00, :15, :30 and :45 of every UTC hour over the year.
      for (let t = start; t < start + 366 * 24 * H; t += 7 * 15 * 60_000 + 1) {
        const parts = Object.fromEntries(fmt.formatToParts(t).map((p) => [p.type, p.value]))
        const expected = { date: `${parts.year}-${parts.month}-${parts.day}`, hour: Number(parts.hour) }
        expect(localDateHour(t, tz), `${new Date(t).toISOString()} ${tz}`).toEqual(expected)
      }
    }
  })
})

describe('utcOffsetMs', () => {
  it.each([
    ['2024-01-15T00:00:00Z', 'Asia/Shanghai', 8 * H],
    ['2024-01-15T00:00:00Z', 'America/New_York', -5 * H],
    ['2024-07-15T00:00:00Z', 'America/New_York', -4 * H],
    ['2024-07-15T00:00:00Z', 'Asia/Kathmandu', 5.75 * H],
    ['2024-07-15T00:00:00Z', '-03:30', -3.5 * H],
  ])('%s in %s', (iso, tz, offset) => {
    expect(utcOffsetMs(at(iso), tz)).toBe(offset)
  })
})

describe('time zone validation', () => {
  it.each([
    ['+08:00', 8 * H],
    ['-12:00', -12 * H],
    ['+14:00', 14 * H],
    ['+05:45', 5.75 * H],
    ['Asia/Shanghai', null],
    ['UTC', null],
  ])('%s parses as an offset of %s', (tz, offset) => {
    expect(parseFixedOffset(tz)).toBe(offset)
    expect(isValidTimeZone(tz)).toBe(true)
  })

  it.each(['+15:00', '+14:30', '+08:60', '+0800', '+8', 'Mars/Olympus', '', 'Asia/Shanghai '])(
    '%j is rejected',
    (tz) => {
      expect(isValidTimeZone(tz)).toBe(false)
      expect(() => localDateHour(0, tz)).toThrow(RangeError)
    },
  )
})
