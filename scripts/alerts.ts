/**
 * `npm run alerts -- tail --acquirer <id> [--from-beginning]`: prints an acquirer's alerts as JSON
 * lines, decoded from framed Avro or JSON. Uses the service's configuration (KAFKA_BROKERS,
 * ALERTS_TOPIC_PATTERN, SCHEMA_REGISTRY_URL...); with KAFKA_BROKERS unset it connects to the local
 * broker `npm start` runs (localhost:KAFKA_LOCAL_PORT). Stops on Ctrl-C, or after --max N alerts.
 */
import { parseArgs } from 'node:util'
import { codecFor, toolKafka } from '../app/clients.ts'
import { loadConfig } from '../config/load.ts'
import { createLogger } from '../lib/logger.ts'
import { tailAlerts } from '../scoring/alerts-reader.ts'

const usage = `usage: npm run alerts -- tail --acquirer <acquirer_id> [--from-beginning] [--max N]

Prints the acquirer's alerts (topic ALERTS_TOPIC_PATTERN) as JSON lines on stdout, decoded from framed
Avro or JSON, until Ctrl-C or --max alerts. Uses the service's configuration: KAFKA_BROKERS (unset: the
local broker npm start runs, on KAFKA_LOCAL_PORT), SCHEMA_REGISTRY_URL, ALERTS_FORMAT.
options:
  --acquirer <id>     whose alerts (required)
  --from-beginning    from the topic's first alert, not only new ones
  --max N             stop after N alerts
  --help              this text`

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

let parsed: ReturnType<typeof parse>
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      acquirer: { type: 'string' },
      'from-beginning': { type: 'boolean', default: false },
      max: { type: 'string' },
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
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
if (positionals[0] !== 'tail' || positionals.length !== 1) fail('the only command is `tail`')
const acquirer = values.acquirer
if (acquirer === undefined || !/^[A-Za-z0-9._-]{1,64}$/.test(acquirer))
  fail('--acquirer: expected an acquirer id (1 to 64 letters, digits, dots, dashes or underscores)')
const max = values.max === undefined ? Number.POSITIVE_INFINITY : Number(values.max)
if (!(max > 0)) fail('--max: expected a positive number')

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig({ env: process.env })
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}
// Logs go to stderr, so stdout carries the alerts only and can be piped.
const log = createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr)
const codec = codecFor(config)
const topic = config.alerts.topicPattern.replaceAll('{acquirer}', acquirer)
let seen = 0
let stop: (() => Promise<void>) | null = null
const finish = (code: number) => {
  void (stop ?? (async () => {}))().finally(() => process.exit(code))
}
stop = await tailAlerts(toolKafka(config, log), codec, topic, {
  fromBeginning: values['from-beginning'],
  onAlert: (m) => {
    process.stdout.write(
      `${JSON.stringify(m.alert ?? { partition: m.partition, offset: m.offset, undecodable: m.problem })}\n`,
    )
    seen++
    if (seen >= max) finish(0)
  },
})
process.stderr.write(`following ${topic} (Ctrl-C to stop)\n`)
process.on('SIGINT', () => finish(0))
process.on('SIGTERM', () => finish(0))
