/**
 * API keys of the dashboard API, against the configured ClickHouse (same environment as the service):
 *
 *   npm run api-keys -- create --name <name> --role analyst|supervisor|admin --acquirer <id|*> [--by <who>]
 *   npm run api-keys -- revoke <key_id>
 *   npm run api-keys -- list
 *
 * `create` prints the key once; only its SHA-256 is stored, so a lost key is revoked and replaced.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../config/load.ts'
import { isRole } from '../dashboard-api/case-workflow.ts'
import { createApiKey, listApiKeys, revokeApiKey } from '../dashboard-api/repositories/api-keys.ts'
import { isRiskError } from '../lib/errors.ts'
import { openStore } from '../store/client.ts'

const USAGE = `usage:
  npm run api-keys -- create --name <name> --role analyst|supervisor|admin --acquirer <acquirer_id|*> [--by <who>]
  npm run api-keys -- revoke <key_id>
  npm run api-keys -- list`

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`)
  process.exit(2)
}

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    role: { type: 'string' },
    acquirer: { type: 'string' },
    by: { type: 'string' },
  },
})
const [command, arg] = positionals
if (command !== 'create' && command !== 'revoke' && command !== 'list') fail('unknown command')

const config = loadConfig({ env: process.env })
const ch = config.clickhouse
const store = await openStore({
  ...(ch.url === null ? {} : { url: ch.url, username: ch.username, password: ch.password }),
  database: ch.database,
  chdbPath: resolve(ch.chdbPath),
})
try {
  if (command === 'create') {
    const role = values.role ?? ''
    if (!isRole(role)) fail('--role must be analyst, supervisor or admin')
    if (values.name === undefined || values.acquirer === undefined) fail('--name and --acquirer are required')
    const created = await createApiKey(
      store,
      { name: values.name, role, scope: values.acquirer, createdBy: values.by ?? process.env.USER ?? 'cli' },
      Date.now(),
    )
    process.stdout.write(
      `key_id ${created.keyId}\nkey    ${created.key}\n(the key is shown once; only its hash is stored)\n`,
    )
  } else if (command === 'revoke') {
    if (arg === undefined) fail('revoke needs a key id')
    if (!(await revokeApiKey(store, arg, Date.now()))) fail(`no key ${arg}`)
    process.stdout.write(`revoked ${arg}\n`)
  } else {
    for (const k of await listApiKeys(store)) {
      process.stdout.write(
        `${k.keyId}  ${k.role.padEnd(10)} ${k.scope.padEnd(16)} ${k.name}  created ${k.createdAt} by ${k.createdBy}${
          k.revokedAt === null ? '' : `  REVOKED ${k.revokedAt}`
        }\n`,
      )
    }
  }
} catch (e) {
  process.stderr.write(`${isRiskError(e) ? `${e.code}: ${e.message}` : String(e)}\n`)
  process.exitCode = 1
} finally {
  await store.close()
}
