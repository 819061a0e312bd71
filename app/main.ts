/**
 * Entry point: `npm start`. Loads and validates the configuration (a bad value stops start-up naming
 * the key), starts the pipeline, and shuts down cleanly on SIGTERM or SIGINT: the batch in hand is
 * written and committed before the consumer leaves its group. A second signal exits at once.
 */
import { describeConfig, loadConfig } from '../config/load.ts'
import type { Config } from '../config/spec.ts'
import { isRiskError } from '../lib/errors.ts'
import { createLogger } from '../lib/logger.ts'
import { sleep } from '../lib/retry.ts'
import { startService } from './service.ts'

let config: Config
try {
  // `--role api` is the same as SERVICE_ROLE=api: the dashboard API alone.
  const args = process.argv.slice(2)
  const roleAt = args.indexOf('--role')
  const env = roleAt >= 0 ? { ...process.env, SERVICE_ROLE: args[roleAt + 1] ?? '' } : process.env
  config = loadConfig({ env })
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`)
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
