import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { createApiKey, listApiKeys } from '../dashboard-api/repositories/api-keys.ts'
import type { Store } from '../store/client.ts'

/**
 * The first key, so that a newcomer can sign in to the console without stopping anything: on a store
 * with no API key at all, the service creates an admin key for every acquirer, keeps it in `file`
 * (mode 0600 in a 0700 directory: only the service's user can read it) and hands it back to be shown
 * once. A store that has any key, revoked ones included, gets none: an operator who revoked the first
 * key meant it.
 */
export interface InitialKey {
  readonly keyId: string
  readonly key: string
  readonly file: string
}

export async function ensureInitialAdminKey(
  store: Store,
  file: string,
  now: number,
): Promise<InitialKey | null> {
  if ((await listApiKeys(store)).length > 0) return null
  const created = await createApiKey(
    store,
    { name: 'initial admin', role: 'admin', scope: '*', createdBy: 'first start' },
    now,
  )
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  // A stale file of an earlier store is removed first: a mode applies only to a file being created.
  rmSync(file, { force: true })
  writeFileSync(file, `${created.key}\n`, { mode: 0o600, flag: 'wx' })
  return { ...created, file }
}

/** The console's address for a person: the listening address, with 0.0.0.0 or :: shown as localhost. */
export function consoleAddress(apiAddress: string): string {
  const url = new URL(apiAddress)
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = 'localhost'
  return `${url.origin}/console/`
}
