import { describe, expect, it } from 'vitest'
import {
  ALL_ACQUIRERS,
  checkScope,
  generateKey,
  hashKey,
  keyIdOf,
  listScope,
  presentedKey,
  sameHash,
} from '../../dashboard-api/auth.ts'
import { decodeCursor, encodeCursor, filtersFingerprint } from '../../dashboard-api/cursor.ts'
import { ApiError } from '../../dashboard-api/errors.ts'

describe('cursors', () => {
  const f = filtersFingerprint({ level: ['HIGH'], acquirer: 'acq-a' })
  const QUEUE = ['score', 'id', 'id', 'id'] as const
  const PAGE = ['time', 'id'] as const
  const T = Date.UTC(2026, 10, 20, 3)

  function refused(cursor: string, parts: readonly ('score' | 'time' | 'id')[], message: string) {
    try {
      decodeCursor(cursor, parts, f)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError)
      if (e instanceof ApiError) {
        expect(e.statusCode).toBe(400)
        expect(e.field).toBe('query.cursor')
        expect(e.message).toContain(message)
      }
    }
  }

  it('round-trip the sort key', () => {
    const c = encodeCursor([87, 'acq-a', "m-'1", 'fraud'], f)
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeCursor(c, QUEUE, f)).toEqual([87, 'acq-a', "m-'1", 'fraud'])
    expect(decodeCursor(encodeCursor([T, 'case-1'], f), PAGE, f)).toEqual([T, 'case-1'])
  })

  it('do not depend on the order filters are listed in', () => {
    expect(filtersFingerprint({ a: 1, b: [2] })).toBe(filtersFingerprint({ b: [2], a: 1 }))
    expect(filtersFingerprint({ a: 1 })).not.toBe(filtersFingerprint({ a: 2 }))
  })

  it('refuse every change of a single character, every cut and every addition', () => {
    const c = encodeCursor([T, 'txn-123'], f)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    let tried = 0
    for (let i = 0; i < c.length; i++) {
      for (const ch of alphabet) {
        if (ch === c[i]) continue
        refused(`${c.slice(0, i)}${ch}${c.slice(i + 1)}`, PAGE, 'cursor')
        tried++
      }
      refused(c.slice(0, i), PAGE, 'cursor')
      refused(`${c.slice(0, i)}${c.slice(i + 1)}`, PAGE, 'cursor')
    }
    refused(`${c}A`, PAGE, 'cursor')
    expect(tried).toBe(c.length * 63)
  })

  const forged: [string, readonly (string | number)[], readonly ('score' | 'time' | 'id')[]][] = [
    ['a score above 255', [256, 'a', 'm', 'f'], QUEUE],
    ['a negative score', [-1, 'a', 'm', 'f'], QUEUE],
    ['a fractional score', [1.5, 'a', 'm', 'f'], QUEUE],
    ['a huge time', [1e20, 'x'], PAGE],
    ['the largest number', [Number.MAX_VALUE, 'x'], PAGE],
    ['a time before 2000', [0, 'x'], PAGE],
    ['a time in 2200', [Date.UTC(2200, 0, 1), 'x'], PAGE],
    ['a fractional time', [T + 0.5, 'x'], PAGE],
    ['a time as a string', ['1768478400000', 'x'], PAGE],
    ['an id as a number', [T, 7], PAGE],
    ['an id of 257 characters', [T, 'x'.repeat(257)], PAGE],
    ['an id with a NUL', [T, 'x\u0000'], PAGE],
  ]
  it.each(forged)('refuse a cursor forged with %s, checksum and all', (_what, key, parts) => {
    refused(encodeCursor(key, f), parts, 'out of range')
  })

  it.each([
    ['another filter set', encodeCursor([87, 'a', 'm', 'fraud'], 'other'), 'other filters'],
    ['too few keys', encodeCursor([87, 'a'], f), 'not a cursor'],
    ['not JSON', Buffer.from("1' OR '1'='1").toString('base64url'), 'not a cursor'],
    ['not an object', Buffer.from('[1,2]').toString('base64url'), 'not a cursor'],
    [
      'no checksum',
      Buffer.from(JSON.stringify({ k: [87, 'a', 'm', 'f'], f })).toString('base64url'),
      'not a cursor',
    ],
    [
      'a huge number',
      Buffer.from(`{"k":[1e999,"a","m","f"],"f":"${f}"}`).toString('base64url'),
      'not a cursor',
    ],
    ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url'), 'not a cursor'],
  ])('refuse %s with a 400 on query.cursor', (_what, cursor, message) => {
    refused(cursor, QUEUE, message)
  })
})

describe('API keys and scope', () => {
  it('carry their id and are stored as a hash only', () => {
    const { keyId, key, hash } = generateKey()
    expect(keyIdOf(key)).toBe(keyId)
    expect(hash).toBe(hashKey(key))
    expect(hash).not.toContain(key.slice(-20))
    expect(sameHash(hash, hashKey(key))).toBe(true)
    expect(sameHash(hash, hashKey(`${key}x`))).toBe(false)
    expect(sameHash(hash, '')).toBe(false)
  })

  it.each([
    ['prm_0123456789abcdef_short', null],
    ["prm_0123456789abcdef_' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", null],
    ['', null],
  ])('reject a malformed key %j', (key, expected) => {
    expect(keyIdOf(key)).toBe(expected)
  })

  it('read the key from Authorization: Bearer, else x-api-key', () => {
    expect(presentedKey({ authorization: 'Bearer abc' })).toBe('abc')
    expect(presentedKey({ authorization: 'bearer abc ' })).toBe('abc')
    expect(presentedKey({ authorization: 'Basic abc' })).toBeNull()
    expect(presentedKey({ 'x-api-key': 'abc' })).toBe('abc')
    expect(presentedKey({})).toBeNull()
  })

  it('answer another acquirer with the same 404 as a missing resource', () => {
    const p = { keyId: 'k', name: 'n', role: 'analyst' as const, scope: 'acq-a' }
    expect(() => checkScope(p, 'acq-a', 'merchant', 'm')).not.toThrow()
    expect(() => checkScope(p, 'acq-b', 'merchant', 'm')).toThrow('merchant "m" not found')
    expect(() => checkScope({ ...p, scope: ALL_ACQUIRERS }, 'acq-b', 'merchant', 'm')).not.toThrow()
    expect(listScope(p, undefined)).toEqual({ acquirer: 'acq-a', empty: false })
    expect(listScope(p, 'acq-b')).toEqual({ acquirer: 'acq-a', empty: true })
    expect(listScope({ ...p, scope: ALL_ACQUIRERS }, undefined)).toEqual({ acquirer: null, empty: false })
    expect(listScope({ ...p, scope: ALL_ACQUIRERS }, 'acq-b')).toEqual({ acquirer: 'acq-b', empty: false })
  })
})
