/**
 * Entry point: `npm start`. Loads and validates the configuration (a bad value stops start-up naming
 * the key), starts the pipeline, and shuts down cleanly on SIGTERM or SIGINT: the batch in hand is
 * written and committed before the consumer leaves its group. A second signal exits at once.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { describeConfig, loadConfig } from '../config/load.ts'
import type { Config } from '../config/spec.ts'
import { isRiskError } from '../lib/errors.ts'
import { createLogger } from '../lib/logger.ts'
import { sleep } from '../lib/retry.ts'
import { consoleAddress, ensureInitialAdminKey } from './initial-key.ts'
import { startService } from './service.ts'

const USAGE = `usage: npm start [-- --role all|api]

Starts pos-risk-monitor: with KAFKA_BROKERS unset, a local Kafka broker; ClickHouse (embedded chDB in
.data/chdb unless CLICKHOUSE_URL is set); ingest, the rules, scoring; and the dashboard API with the
analysts' console at http://localhost:8080/console/ (API_PORT). On the first start (no API key stored)
it creates an admin key, prints it once and keeps it in .data/admin-key (API_ADMIN_KEY_FILE).

options:
  --role all   the pipeline and the API (default; SERVICE_ROLE)
  --role api   the dashboard API alone, against the same ClickHouse
  --help       this text

Every setting is an environment variable (or a key of the JSON file named by CONFIG_FILE); the
README's "Configuration" table lists them all. SIGTERM or SIGINT stops cleanly; SIGHUP reloads the
rules file.`

let config: Config
try {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { role: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  })
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  // `--role api` is the same as SERVICE_ROLE=api: the dashboard API alone.
  const env = values.role === undefined ? process.env : { ...process.env, SERVICE_ROLE: values.role }
  config = loadConfig({ env })
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}\n`)
  process.exit(2)
}

const log = createLogger(config.log.level)
let stopping = false
log.info({ config: describeConfig(config) }, 'starting pos-risk-monitor')

/**
 * A stage that could not recover (app/liveness.ts): stop what can be stopped within 15 s, then exit 70
 * (EX_SOFTWARE) so the supervisor restarts the process. The cause was logged by the watchdog.
 */
function fatal(cause: string): void {
  if (stopping) return
  stopping = true
  const exit = () => process.exit(70)
  setTimeout(exit, 15_000).unref()
  started
    .then((service) => service.stop())
    .catch(() => {})
    .finally(() => {
      log.fatal({ cause }, 'exiting: a pipeline stage could not recover')
      exit()
    })
}

const started = startService(config, { logger: log, now: Date.now, sleep, onFatal: fatal })

function shutdown(signal: string): void {
  if (stopping) {
    log.warn({ signal }, 'second signal: exiting now')
    process.exit(130)
  }
  stopping = true
  log.info({ signal }, 'stopping')
  // A signal during start-up waits for the start to finish (or fail) and then stops what started.
  started
    .then((service) => service.stop())
    .then(
      () => {
        log.info('stopped')
        process.exit(0)
      },
      (e: unknown) => {
        log.error({ error: e instanceof Error ? e.message : String(e) }, 'stopped with an error')
        process.exit(1)
      },
    )
}
process.on('SIGHUP', () => {
  started
    .then((service) => service.reloadRules())
    .catch((e: unknown) => {
      log.error(
        isRiskError(e) ? e.toLog() : { error: e instanceof Error ? e.message : String(e) },
        'rules configuration not reloaded; the previous one stays in force',
      )
    })
})
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))

try {
  const service = await started
  log.info(
    {
      role: config.service.role,
      brokers: service.brokers,
      simulator: service.simulator !== null,
      api: service.api?.address ?? null,
    },
    'pos-risk-monitor running',
  )
  if (service.api !== null) {
    const where = consoleAddress(service.api.address)
    const first = await ensureInitialAdminKey(service.store, resolve(config.api.adminKeyFile), Date.now())
    // On stderr, for the person at the terminal: stdout carries JSON log lines, and a key has no
    // place in a log.
    process.stderr.write(
      first === null
        ? `\nThe analysts' console is at ${where}\n\n`
        : `\nThe analysts' console is at ${where}\n` +
            'First start: an admin API key was created. Sign in with it; it is shown this once, and kept,\n' +
            `readable by this user only, in ${first.file}:\n\n    ${first.key}\n\n` +
            'Give analysts their own keys: npm run api-keys -- create --name <who> --role analyst --acquirer <id>\n\n',
    )
  }
  const ingest = service.ingest
  if (ingest !== null) {
    setInterval(() => {
      log.info(
        { stages: service.progress(), ingest: ingest.stats, scoring: service.scoring?.stats ?? null },
        'pipeline progress',
      )
    }, 30_000).unref()
  }
} catch (e) {
  log.fatal(
    isRiskError(e) ? e.toLog() : { error: e instanceof Error ? e.stack : String(e) },
    'start-up failed',
  )
  process.exit(1)
}
