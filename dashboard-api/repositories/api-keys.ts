import { RiskError } from '../../lib/errors.ts'
import type { Store } from '../../store/client.ts'
import { ALL_ACQUIRERS, generateKey, type Principal } from '../auth.ts'
import { isRole } from '../case-workflow.ts'
import type { ApiKeyInfo, Role } from '../schemas.ts'
import { chTime, insertRows, isoOrNull, select } from '../sql.ts'

export interface ApiKeyRecord extends Principal {
  readonly hash: string
  readonly createdAt: string
  readonly createdBy: string
  readonly revokedAt: string | null
}

interface Row {
  key_id: string
  key_hash: string
  name: string
  role: string
  acquirer_scope: string
  created_at: string
  created_by: string
  revoked_at: string | null
}

const COLUMNS = 'key_id, key_hash, name, role, acquirer_scope, created_at, created_by, revoked_at'

function toRecord(r: Row): ApiKeyRecord | null {
  if (!isRole(r.role)) return null
  return {
    keyId: r.key_id,
    name: r.name,
    role: r.role,
    scope: r.acquirer_scope,
    hash: r.key_hash,
    createdAt: isoOrNull(r.created_at) ?? '',
    createdBy: r.created_by,
    revokedAt: isoOrNull(r.revoked_at),
  }
}

/** A key as the API and the CLI show it: everything but its hash. */
export function keyInfoOf(k: ApiKeyRecord): ApiKeyInfo {
  return {
    key_id: k.keyId,
    name: k.name,
    role: k.role,
    acquirer_scope: k.scope,
    created_at: k.createdAt,
    created_by: k.createdBy,
    revoked_at: k.revokedAt,
  }
}

export async function findApiKey(store: Store, keyId: string): Promise<ApiKeyRecord | null> {
  const rows = await select<Row>(
    store,
    `SELECT ${COLUMNS} FROM {db:Identifier}.api_keys FINAL WHERE key_id = {keyId:String} LIMIT 1`,
    { keyId },
  )
  const row = rows[0]
  return row === undefined ? null : toRecord(row)
}

export async function listApiKeys(store: Store): Promise<ApiKeyRecord[]> {
  const rows = await select<Row>(
    store,
    `SELECT ${COLUMNS} FROM {db:Identifier}.api_keys FINAL ORDER BY created_at`,
  )
  return rows.flatMap((r) => toRecord(r) ?? [])
}

export interface NewKey {
  readonly name: string
  readonly role: Role
  readonly scope: string
  readonly createdBy: string
}

/** Creates a key and returns it: the only time the key itself exists outside the caller. */
export async function createApiKey(
  store: Store,
  k: NewKey,
  now: number,
): Promise<{ keyId: string; key: string }> {
  if (k.scope === ALL_ACQUIRERS && k.role !== 'admin') {
    throw new RiskError(
      'RISK_ERR_CONFIG',
      `a ${k.role} key is scoped to one acquirer; only admin keys may have *`,
    )
  }
  if (k.scope === '' || k.scope.length > 128 || k.name === '' || k.name.length > 128) {
    throw new RiskError('RISK_ERR_CONFIG', 'a key needs a name and an acquirer scope of 1 to 128 characters')
  }
  const { keyId, key, hash } = generateKey()
  await insertRows(store, 'api_keys', [
    {
      key_id: keyId,
      key_hash: hash,
      name: k.name,
      role: k.role,
      acquirer_scope: k.scope,
      created_at: chTime(now),
      created_by: k.createdBy,
      revoked_at: null,
      updated_at: chTime(now),
    },
  ])
  return { keyId, key }
}

/** Revokes a key; false when there is no such key. A revoked key stays listed, with its revocation time. */
export async function revokeApiKey(store: Store, keyId: string, now: number): Promise<boolean> {
  const current = await findApiKey(store, keyId)
  if (current === null) return false
  await insertRows(store, 'api_keys', [
    {
      key_id: current.keyId,
      key_hash: current.hash,
      name: current.name,
      role: current.role,
      acquirer_scope: current.scope,
      created_at: chTime(Date.parse(current.createdAt)),
      created_by: current.createdBy,
      revoked_at: chTime(now),
      updated_at: chTime(now),
    },
  ])
  return true
}
