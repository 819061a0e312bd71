/**
 * API keys of the dashboard API. Works against a running service, through its admin endpoint
 * (/v1/api-keys, with the admin key of API_ADMIN_KEY_FILE that the first start wrote, or API_ADMIN_KEY),
 * and against a stopped one, directly on the configured ClickHouse (the embedded chDB is locked by a
 * running service, hence the two ways). `--help` for the usage.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../config/load.ts'
import type { Config } from '../config/spec.ts'
import { isRole } from '../dashboard-api/case-workflow.ts'
import { createApiKey, keyInfoOf, listApiKeys, revokeApiKey } from '../dashboard-api/repositories/api-keys.ts'
import type { ApiKeyInfo } from '../dashboard-api/schemas.ts'
import { isRiskError } from '../lib/errors.ts'
import { openStore, type Store } from '../store/client.ts'

const USAGE = `usage:
  npm run api-keys -- create --name <name> --role analyst|supervisor|admin --acquirer <acquirer_id|'*'> [--by <who>]
  npm run api-keys -- revoke <key_id>
  npm run api-keys -- list
options:
  --url <url>       the running service (default: http://127.0.0.1:$API_PORT, used when it answers)
  --key-file <file> an admin key for the service (default: $API_ADMIN_KEY_FILE, .data/admin-key; or set API_ADMIN_KEY)
  --store           skip the service and open the store directly (it must be stopped when the store is chDB)
  --help            this text

'create' prints the key once: only its SHA-256 is stored, so a lost key is revoked and replaced.
An acquirer id is letters, digits, '.', '_', ':' or '-'; '*' (every acquirer, admin keys only) must be
quoted, or the shell replaces it with the names of the files here.`

/** What an acquirer id may look like; anything else (a path, a list of file names) is refused. */
const ACQUIRER = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/
const KEY_ID = /^[0-9a-f]{16}$/

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`)
  process.exit(2)
}

function problem(message: string): never {
  process.stderr.write(`${message}\n`)
  process.exit(1)
}

let parsed: ReturnType<typeof parse>
function parse() {
  return parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      role: { type: 'string' },
      acquirer: { type: 'string' },
      by: { type: 'string' },
      url: { type: 'string' },
      'key-file': { type: 'string' },
      store: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
}
try {
  parsed = parse()
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}
const { values, positionals } = parsed
if (values.help) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
const [command, ...rest] = positionals
if (command !== 'create' && command !== 'revoke' && command !== 'list')
  fail(`unknown command ${command ?? '(none)'}`)

interface NewKey {
  name: string
  role: 'analyst' | 'supervisor' | 'admin'
  acquirer: string
}

/** The arguments of `create`, checked before anything is opened. */
function newKey(): NewKey {
  // An unquoted * reaches us as file names: the first as --acquirer, the others as stray words.
  if (rest.length > 0) {
    fail(
      `unexpected ${rest.map((r) => JSON.stringify(r)).join(' ')}: did the shell expand an unquoted '*'? Write --acquirer '*'`,
    )
  }
  const role = values.role ?? ''
  if (!isRole(role)) fail('--role must be analyst, supervisor or admin')
  const name = values.name?.trim() ?? ''
  if (name === '' || name.length > 128) fail('--name is required (1 to 128 characters)')
  const acquirer = values.acquirer ?? ''
  if (acquirer !== '*' && (!ACQUIRER.test(acquirer) || existsSync(acquirer))) {
    fail(
      existsSync(acquirer) && acquirer !== ''
        ? `--acquirer ${JSON.stringify(acquirer)} is the name of a file here: the shell expanded an unquoted '*'? Write --acquirer '*'`
        : "--acquirer must be an acquirer id (letters, digits, '.', '_', ':', '-') or '*'",
    )
  }
  if (acquirer === '*' && role !== 'admin') fail("--acquirer '*' is for admin keys only")
  return { name, role, acquirer }
}

const create = command === 'create' ? newKey() : null
const keyId = command === 'revoke' ? rest[0] : undefined
if (command === 'revoke' && (keyId === undefined || !KEY_ID.test(keyId) || rest.length > 1))
  fail('revoke needs one key id (16 hex characters, as `list` shows)')
if (command === 'list' && rest.length > 0) fail('list takes no arguments')

let config: Config
try {
  config = loadConfig({ env: process.env })
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}

function printKey(k: ApiKeyInfo): void {
  process.stdout.write(
    `${k.key_id}  ${k.role.padEnd(10)} ${k.acquirer_scope.padEnd(16)} ${k.name}  created ${k.created_at} by ${k.created_by}${
      k.revoked_at === null ? '' : `  REVOKED ${k.revoked_at}`
    }\n`,
  )
}

function printCreated(keyIdOf: string, key: string): void {
  process.stdout.write(`key_id ${keyIdOf}\nkey    ${key}\n(the key is shown once; only its hash is stored)\n`)
}

/** The service's base URL when one answers there, else null. */
async function runningService(): Promise<string | null> {
  const url = values.url ?? `http://127.0.0.1:${config.api.port}`
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
    if (res.ok) return url
  } catch {
    // Nothing listens there.
  }
  if (values.url !== undefined) problem(`no service answers at ${url} (GET /healthz)`)
  return null
}

function adminKey(): string {
  const fromEnv = process.env.API_ADMIN_KEY
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv.trim()
  const file = resolve(values['key-file'] ?? config.api.adminKeyFile)
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return problem(
      `the service is running, and managing keys through it needs an admin key: none in ${file} (the first start writes it there), nor in API_ADMIN_KEY`,
    )
  }
}

async function viaApi(base: string): Promise<void> {
  const authorization = `Bearer ${adminKey()}`
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/v1${path}`, {
      method,
      headers: body === undefined ? { authorization } : { authorization, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const data: unknown = await res.json().catch(() => null)
    if (!res.ok) {
      const e = (data as { error?: { code?: string; message?: string } } | null)?.error
      problem(`${res.status} ${e?.code ?? ''}: ${e?.message ?? res.statusText}`)
    }
    return data
  }
  if (create !== null) {
    const k = (await call('POST', '/api-keys', create)) as ApiKeyInfo & { key: string }
    printCreated(k.key_id, k.key)
  } else if (keyId !== undefined) {
    await call('DELETE', `/api-keys/${keyId}`)
    process.stdout.write(`revoked ${keyId}\n`)
  } else {
    for (const k of ((await call('GET', '/api-keys')) as { items: ApiKeyInfo[] }).items) printKey(k)
  }
}

async function viaStore(): Promise<void> {
  const ch = config.clickhouse
  let store: Store
  try {
    store = await openStore({
      ...(ch.url === null ? {} : { url: ch.url, username: ch.username, password: ch.password }),
      database: ch.database,
      chdbPath: resolve(ch.chdbPath),
    })
  } catch (e) {
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0]
    problem(
      `cannot open the store (${first}).\n` +
        (ch.url === null
          ? `The embedded store ${resolve(ch.chdbPath)} can be used by one process at a time: if the service runs, start it\n` +
            'with its API (API_ENABLED) and this command goes through it, or pass --url.'
          : ''),
    )
  }
  try {
    if (create !== null) {
      const created = await createApiKey(
        store,
        {
          name: create.name,
          role: create.role,
          scope: create.acquirer,
          createdBy: values.by ?? process.env.USER ?? 'cli',
        },
        Date.now(),
      )
      printCreated(created.keyId, created.key)
    } else if (keyId !== undefined) {
      if (!(await revokeApiKey(store, keyId, Date.now()))) problem(`no key ${keyId}`)
      process.stdout.write(`revoked ${keyId}\n`)
    } else {
      for (const k of await listApiKeys(store)) printKey(keyInfoOf(k))
    }
  } catch (e) {
    process.stderr.write(`${isRiskError(e) ? `${e.code}: ${e.message}` : String(e)}\n`)
    process.exitCode = 1
  } finally {
    await store.close()
  }
}

const service = values.store ? null : await runningService()
if (service !== null) await viaApi(service)
else await viaStore()
