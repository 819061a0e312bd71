import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consoleAddress, ensureInitialAdminKey } from '../../app/initial-key.ts'
import { type RunningApi, startApi } from '../../dashboard-api/app.ts'
import { findApiKey, listApiKeys } from '../../dashboard-api/repositories/api-keys.ts'
import { openStore, type Store } from '../../store/client.ts'
import { apiConfig, testAcquirers } from '../helpers/api.ts'
import { runScript } from '../helpers/cli.ts'

/**
 * A first key without stopping anything: the first start's admin key, and `api-keys` against a
 * running service (through /v1/api-keys) and against a stopped one (the store itself). And every
 * command of ours answers --help.
 */
describe('first key and the api-keys command', () => {
  let dir: string
  let store: Store
  let api: RunningApi
  let keyFile: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-cli-'))
    store = await openStore({ database: 'console_cli', chdbPath: join(dir, 'chdb') })
    api = await startApi({
      store,
      config: apiConfig({ host: '127.0.0.1', port: 0 }),
      acquirers: await testAcquirers(store),
    })
    keyFile = join(dir, 'data', 'admin-key')
  })

  afterAll(async () => {
    await api?.close()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('creates an admin key on the first start only, in a file only its user can read', async () => {
    // A stale, world-readable file of an earlier store is replaced, not reused with its mode.
    mkdirSync(join(dir, 'data'))
    writeFileSync(keyFile, 'old\n', { mode: 0o644 })
    const first = await ensureInitialAdminKey(store, keyFile, Date.now())
    expect(first).not.toBeNull()
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(first?.key)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    const record = await findApiKey(store, first?.keyId ?? '')
    expect(record).toMatchObject({ role: 'admin', scope: '*', revokedAt: null })
    expect(await ensureInitialAdminKey(store, keyFile, Date.now())).toBeNull()
    expect(await listApiKeys(store)).toHaveLength(1)
    expect(consoleAddress('http://0.0.0.0:8080')).toBe('http://localhost:8080/console/')
    expect(consoleAddress('http://10.1.2.3:9000')).toBe('http://10.1.2.3:9000/console/')
  })

  it('creates, lists and revokes keys through the running service', async () => {
    const env = { API_ADMIN_KEY_FILE: keyFile, CHDB_PATH: join(dir, 'chdb') }
    const url = ['--url', api.address]
    const created = await runScript(
      'scripts/api-keys.ts',
      ['create', '--name', 'ana', '--role', 'analyst', '--acquirer', 'acq-alpha', ...url],
      env,
    )
    expect(created.err).toBe('')
    expect(created.code).toBe(0)
    const keyId = /key_id (\w+)/.exec(created.out)?.[1] ?? ''
    const key = /key {4}(\S+)/.exec(created.out)?.[1] ?? ''
    const works = await fetch(`${api.address}/v1/session`, { headers: { authorization: `Bearer ${key}` } })
    expect(await works.json()).toMatchObject({ name: 'ana', role: 'analyst', acquirer_scope: 'acq-alpha' })
    const listed = await runScript('scripts/api-keys.ts', ['list', ...url], env)
    expect(listed.out).toMatch(new RegExp(`${keyId}\\s+analyst\\s+acq-alpha\\s+ana`))
    expect(listed.out).not.toContain(key)
    const revoked = await runScript('scripts/api-keys.ts', ['revoke', keyId, ...url], env)
    expect([revoked.code, revoked.out]).toEqual([0, `revoked ${keyId}\n`])
    expect((await findApiKey(store, keyId))?.revokedAt).not.toBeNull()
    // Without the admin key, a clear sentence, not a stack trace.
    const noKey = await runScript('scripts/api-keys.ts', ['list', ...url], {
      API_ADMIN_KEY_FILE: join(dir, 'none'),
    })
    expect(noKey.code).toBe(1)
    expect(noKey.err).toContain('needs an admin key')
    expect(noKey.err).not.toContain('    at ')
  })

  it('works on a stopped service, directly on the store, and says so clearly when the store is locked', async () => {
    const stopped = join(dir, 'stopped')
    const env = { CHDB_PATH: stopped, CLICKHOUSE_DATABASE: 'cli_stopped', API_PORT: '1' }
    const created = await runScript(
      'scripts/api-keys.ts',
      ['create', '--name', 'sam', '--role', 'supervisor', '--acquirer', 'acq-beta'],
      env,
    )
    expect([created.code, created.err]).toEqual([0, ''])
    const listed = await runScript('scripts/api-keys.ts', ['list'], env)
    expect(listed.out).toMatch(/supervisor\s+acq-beta\s+sam/)
    // This process holds the test's store: the command must say what to do, in a few lines.
    const locked = await runScript('scripts/api-keys.ts', ['list', '--store'], {
      CHDB_PATH: join(dir, 'chdb'),
      CLICKHOUSE_DATABASE: 'console_cli',
    })
    expect(locked.code).toBe(1)
    expect(locked.err).toContain('cannot open the store')
    expect(locked.err.split('\n').length).toBeLessThan(6)
  })

  it.each([
    [['create', '--name', 'x', '--role', 'analyst', '--acquirer', 'README.md', 'package.json'], 'unquoted'],
    [['create', '--name', 'x', '--role', 'analyst', '--acquirer', 'package.json'], 'name of a file'],
    [['create', '--name', 'x', '--role', 'analyst', '--acquirer', '../etc'], 'must be an acquirer id'],
    [['create', '--name', 'x', '--role', 'analyst', '--acquirer', '*'], 'admin keys only'],
    [['create', '--name', 'x', '--role', 'root', '--acquirer', 'acq-a'], '--role must be'],
    [['revoke', 'nope'], '16 hex characters'],
    [['rotate'], 'unknown command'],
  ])('refuses %j with a usage message', async (args, message) => {
    const r = await runScript('scripts/api-keys.ts', args, { CHDB_PATH: join(dir, 'never') })
    expect(r.code).toBe(2)
    expect(r.err).toContain(message)
    expect(r.err).toContain('usage:')
  })

  it.each([
    ['app/main.ts', 'usage: npm start'],
    ['scripts/api-keys.ts', 'usage:'],
    ['scripts/alerts.ts', 'usage: npm run alerts'],
  ])('%s --help prints its usage and exits 0', async (script, usage) => {
    const r = await runScript(script, ['--help'], {})
    expect([r.code, r.err]).toEqual([0, ''])
    expect(r.out).toContain(usage)
  })

  it('npm start refuses an unknown option with its usage', async () => {
    const r = await runScript('app/main.ts', ['--rol', 'api'], {})
    expect(r.code).toBe(2)
    expect(r.err).toContain('usage: npm start')
  })
})
