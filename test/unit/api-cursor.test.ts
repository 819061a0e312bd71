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

  it('round-trip the sort key', () => {
    const c = encodeCursor([87, 'acq-a', "m-'1", 'fraud'], f)
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(decodeCursor(c, 'nsss', f)).toEqual([87, 'acq-a', "m-'1", 'fraud'])
  })

  it('do not depend on the order filters are listed in', () => {
    expect(filtersFingerprint({ a: 1, b: [2] })).toBe(filtersFingerprint({ b: [2], a: 1 }))
    expect(filtersFingerprint({ a: 1 })).not.toBe(filtersFingerprint({ a: 2 }))
  })

  it.each([
    ['another filter set', encodeCursor([87, 'a', 'm', 'fraud'], 'other'), 'other filters'],
    ['a wrong shape', encodeCursor(['87', 'a', 'm', 'fraud'], f), 'not a cursor'],
    ['too few keys', encodeCursor([87, 'a'], f), 'not a cursor'],
    ['not JSON', Buffer.from("1' OR '1'='1").toString('base64url'), 'not a cursor'],
    ['not an object', Buffer.from('[1,2]').toString('base64url'), 'not a cursor'],
    [
      'a huge number',
      Buffer.from(`{"k":[1e999,"a","m","f"],"f":"${f}"}`).toString('base64url'),
      'not a cursor',
    ],
  ])('refuse %s with a 400 on query.cursor', (_what, cursor, message) => {
    try {
      decodeCursor(cursor, 'nsss', f)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError)
      if (e instanceof ApiError) {
        expect(e.statusCode).toBe(400)
        expect(e.field).toBe('query.cursor')
        expect(e.message).toContain(message)
      }
    }
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
