/**
 * The local Kafka broker from the command line:
 *
 *   node kafka-local/cli.ts fetch    resolve (and cache) the broker's classpath from Maven Central
 *   node kafka-local/cli.ts start [--data-dir .data/kafka] [--port 9092] [--controller-port 9093]
 *                                    run the broker in the foreground until SIGINT/SIGTERM/SIGHUP
 *
 * A port of 0 picks a free one. The data directory keeps its topics and offsets across restarts.
 */
import { parseArgs } from 'node:util'
import { isRiskError, RiskError } from '../lib/errors.ts'
import { resolveKafkaClasspath, splitClasspath, startLocalKafka } from './broker.ts'

const USAGE = `usage:
  node kafka-local/cli.ts fetch
  node kafka-local/cli.ts start [--data-dir .data/kafka] [--port 9092] [--controller-port 9093] [--heap-mb 512]`

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  if (command === 'fetch') return fetchCommand()
  if (command === 'start') return startCommand(rest)
  throw new RiskError('RISK_ERR_CONFIG', `unknown command ${command ?? '(none)'}\n${USAGE}`)
}

async function fetchCommand(): Promise<void> {
  const started = performance.now()
  const classpath = await resolveKafkaClasspath()
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(`Kafka classpath: ${splitClasspath(classpath).length} jars (${seconds} s)`)
}

async function startCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'data-dir': { type: 'string', default: '.data/kafka' },
      port: { type: 'string', default: '9092' },
      'controller-port': { type: 'string', default: '9093' },
      'heap-mb': { type: 'string', default: '512' },
    },
    strict: true,
  })
  const port = parseInteger('--port', values.port, 0, 65_535)
  const controllerPort = parseInteger('--controller-port', values['controller-port'], 0, 65_535)
  const heapMb = parseInteger('--heap-mb', values['heap-mb'], 128, 65_536)

  const started = performance.now()
  const broker = await startLocalKafka({
    dataDir: values['data-dir'],
    port,
    controllerPort,
    heapMb,
    log: (msg) => console.log(`kafka-local: ${msg}`),
  })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(`Kafka ready in ${seconds} s: bootstrap ${broker.brokers.join(',')}`)
  console.log(`  data ${broker.dataDir}, log ${broker.logFile}, pid ${broker.pid}. Ctrl+C stops it.`)

  // Signals are this process's to handle (the library installs none): stop the broker with a controlled
  // shutdown, then exit. A second signal while stopping exits at once; the 'exit' hook in broker.ts still
  // sends the JVM a SIGTERM.
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1)
    stopping = true
    console.log(`kafka-local: ${signal}, stopping the broker`)
    broker.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(e)
        process.exit(1)
      },
    )
  }
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const signal of signals) process.on(signal, onSignal)

  const exit = await broker.exited
  if (!stopping) {
    console.error(
      `kafka-local: the broker exited on its own (${exit.signal ?? `code ${exit.code}`}); see ${broker.logFile}`,
    )
    process.exit(1)
  }
}

function parseInteger(flag: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text)
  if (text === undefined || !/^\d+$/.test(text) || value < min || value > max) {
    throw new RiskError('RISK_ERR_CONFIG', `${flag} must be an integer from ${min} to ${max}, got ${text}`)
  }
  return value
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(isRiskError(e) ? `${e.code}: ${e.message}` : e)
  process.exitCode = 1
})
