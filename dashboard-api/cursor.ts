import { createHash } from 'node:crypto'
import { invalid } from './errors.ts'

/**
 * Opaque keyset cursors. A cursor holds the sort key of the last row of a page (its tie-breaker
 * included, so the key is unique) and a fingerprint of the filters it was made under: the next page
 * is "rows after this key" under the same filters, never an offset, so rows that arrive between two
 * pages neither shift a row onto the next page twice nor push one past it.
 *
 * A cursor is input like any other: it is checked before anything reads it, and whatever is wrong
 * with it is a 400 on `query.cursor`, never a 500 or a 503. It carries a checksum of its content, so
 * a cursor changed by hand (or cut, or garbled on the way) is refused as such; and since the checksum
 * is no secret, each part of the key is also checked against the range its column can hold.
 */
export type CursorKey = readonly (string | number)[]

/**
 * What one part of a sort key may be: `score` an integer 0..255 (UInt8), `time` epoch milliseconds
 * within what the API accepts as a time (2000 to 2200), `id` a string of at most 256 characters
 * without control characters.
 */
export type CursorPart = 'score' | 'time' | 'id'

const MIN_TIME_MS = Date.UTC(2000, 0, 1)
const MAX_TIME_MS = Date.UTC(2200, 0, 1)
const CONTROL = /\p{Cc}/u

const PART_OK: Readonly<Record<CursorPart, (v: unknown) => boolean>> = {
  score: (v) => Number.isInteger(v) && typeof v === 'number' && v >= 0 && v <= 255,
  time: (v) => Number.isInteger(v) && typeof v === 'number' && v >= MIN_TIME_MS && v < MAX_TIME_MS,
  id: (v) => typeof v === 'string' && v.length <= 256 && !CONTROL.test(v),
}

export function filtersFingerprint(filters: Readonly<Record<string, unknown>>): string {
  const canonical = JSON.stringify(
    Object.keys(filters)
      .sort()
      .map((k) => [k, filters[k] ?? null]),
  )
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 12)
}

function checksum(key: unknown, fingerprint: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([key, fingerprint]))
    .digest('base64url')
    .slice(0, 16)
}

export function encodeCursor(key: CursorKey, fingerprint: string): string {
  const body = { k: key, f: fingerprint, c: checksum(key, fingerprint) }
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url')
}

const NOT_OURS = 'is not a cursor this API issued (or it was changed); start from the first page'

/** The key in `cursor`, checked part by part against `parts` and against the current filters. */
export function decodeCursor(cursor: string, parts: readonly CursorPart[], fingerprint: string): CursorKey {
  const bytes = Buffer.from(cursor, 'base64url')
  // Base64 decoding skips what it cannot read and ignores spare bits: only an exact round trip is ours.
  if (bytes.toString('base64url') !== cursor) throw invalid('query.cursor', NOT_OURS)
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw invalid('query.cursor', NOT_OURS)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('query.cursor', NOT_OURS)
  }
  const k = 'k' in parsed ? parsed.k : undefined
  const f = 'f' in parsed ? parsed.f : undefined
  const c = 'c' in parsed ? parsed.c : undefined
  if (Object.keys(parsed).length !== 3 || c !== checksum(k, f)) throw invalid('query.cursor', NOT_OURS)
  if (f !== fingerprint) {
    throw invalid('query.cursor', 'was issued for other filters; start from the first page')
  }
  if (!Array.isArray(k) || k.length !== parts.length) throw invalid('query.cursor', NOT_OURS)
  const key: (string | number)[] = []
  for (const [i, v] of k.entries()) {
    const part = parts[i]
    if (part === undefined || !PART_OK[part](v)) throw invalid('query.cursor', `holds a ${part} out of range`)
    key.push(v)
  }
  return key
}

export function str(key: CursorKey, i: number): string {
  const v = key[i]
  return typeof v === 'string' ? v : String(v)
}

export function num(key: CursorKey, i: number): number {
  const v = key[i]
  return typeof v === 'number' ? v : Number(v)
}
