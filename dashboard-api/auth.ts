import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { ApiError, notFound } from './errors.ts'
import type { Role } from './schemas.ts'

/**
 * API keys and who they make the caller. A key is `prm_<key_id>_<secret>`: 16 hex characters of id
 * and 32 random bytes of secret. Only its SHA-256 is stored; the id in clear makes the lookup a
 * primary-key read and lets logs and the audit log name a key without holding it.
 */
export const ALL_ACQUIRERS = '*'

export interface Principal {
  readonly keyId: string
  readonly name: string
  readonly role: Role
  /** One acquirer id, or `*` (every acquirer; admin keys only). */
  readonly scope: string
}

const KEY = /^prm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

export function generateKey(): { keyId: string; key: string; hash: string } {
  const keyId = randomBytes(8).toString('hex')
  const key = `prm_${keyId}_${randomBytes(32).toString('base64url')}`
  return { keyId, key, hash: hashKey(key) }
}

/** The key id of a well-formed key, or null. */
export function keyIdOf(key: string): string | null {
  return KEY.exec(key)?.[1] ?? null
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y)
}

/** The key a request presents: `Authorization: Bearer <key>`, else `x-api-key`. */
export function presentedKey(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | null {
  const auth = headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    return m?.[1] ?? null
  }
  const x = headers['x-api-key']
  return typeof x === 'string' && x !== '' ? x : null
}

export function unauthenticated(why: string): ApiError {
  return new ApiError('RISK_ERR_API_UNAUTHENTICATED', why)
}

/**
 * The acquirer a request about `acquirerId` may read, or a 404 that looks exactly like a missing
 * resource: a key must not learn that another acquirer's merchant or case exists.
 */
export function checkScope(p: Principal, acquirerId: string, what: string, id: string): void {
  if (p.scope !== ALL_ACQUIRERS && p.scope !== acquirerId) throw notFound(what, id)
}

/**
 * The acquirer filter of a list query: the key's own acquirer; for an all-acquirer key the one asked
 * for, or null (every acquirer). A scoped key asking for another acquirer gets an empty list, as if
 * the acquirer had nothing.
 */
export function listScope(
  p: Principal,
  asked: string | undefined,
): { acquirer: string | null; empty: boolean } {
  if (p.scope === ALL_ACQUIRERS) return { acquirer: asked ?? null, empty: false }
  return { acquirer: p.scope, empty: asked !== undefined && asked !== p.scope }
}
