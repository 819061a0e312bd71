import { createHash } from 'node:crypto'
import { invalid } from './errors.ts'

/**
 * Opaque keyset cursors. A cursor holds the sort key of the last row of a page (its tie-breaker
 * included, so the key is unique) and a fingerprint of the filters it was made under: the next page
 * is "rows after this key" under the same filters, never an offset, so rows that arrive between two
 * pages neither shift a row onto the next page twice nor push one past it. A cursor brought to other
 * filters, or tampered with, is a 400 on `query.cursor`.
 */
export type CursorKey = readonly (string | number)[]

export function filtersFingerprint(filters: Readonly<Record<string, unknown>>): string {
  const canonical = JSON.stringify(
    Object.keys(filters)
      .sort()
      .map((k) => [k, filters[k] ?? null]),
  )
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 12)
}

export function encodeCursor(key: CursorKey, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ k: key, f: fingerprint }), 'utf8').toString('base64url')
}

/**
 * The key in `cursor`, checked against the expected shape (`'s'` string, `'n'` finite number per
 * position) and the fingerprint of the current filters.
 */
export function decodeCursor(cursor: string, shape: string, fingerprint: string): CursorKey {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalid('query.cursor', 'is not a cursor this API issued')
  }
  if (typeof parsed !== 'object' || parsed === null || !('k' in parsed) || !('f' in parsed)) {
    throw invalid('query.cursor', 'is not a cursor this API issued')
  }
  const { k, f } = parsed
  if (f !== fingerprint)
    throw invalid('query.cursor', 'was issued for other filters; start from the first page')
  if (!Array.isArray(k) || k.length !== shape.length)
    throw invalid('query.cursor', 'is not a cursor this API issued')
  const key: (string | number)[] = []
  for (const [i, v] of k.entries()) {
    const ok =
      shape[i] === 's'
        ? typeof v === 'string' && v.length <= 256
        : typeof v === 'number' && Number.isFinite(v)
    if (!ok) throw invalid('query.cursor', 'is not a cursor this API issued')
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
