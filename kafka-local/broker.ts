/**
 * A real single-node Apache Kafka broker (KRaft, broker and controller in one JVM) on loopback, for
 * development and integration tests on machines without Docker. Kafka's jars come from Maven Central
 * through kafka-local/pom.xml; the broker runs on the local Java 17+.
 *
 * Caller's duty in library mode: call `stop()` before the process ends. This module only sends the
 * JVM a SIGTERM when Node exits normally ('exit' event) and, on Linux, asks the kernel to send one
 * when Node dies (parent-death signal via util-linux `setpriv`). It installs no SIGINT/SIGTERM
 * handlers, because a handler changes whether the process exits at all: the owner of the process
 * decides (the CLI in kafka-local/cli.ts does).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { accessSync, closeSync, constants, existsSync, openSync, statSync } from 'node:fs'
import { type FileHandle, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { delimiter, isAbsolute, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Admin, Kafka, logLevel, Partitioners } from 'kafkajs'
import { RiskError } from '../lib/errors.ts'

const HERE = import.meta.dirname
const POM = join(HERE, 'pom.xml')
const LOG4J2_CONFIG = join(HERE, 'log4j2.xml')
/** Under the git-ignored .data/ of the repository, so that every checkout shares nothing by accident. */
const DEFAULT_CACHE_DIR = join(HERE, '..', '.data', 'kafka-local')

const MAVEN_HINT =
  'Maven 3.8+ is needed to fetch the Kafka jars: install it (apt-get install maven, brew install maven) or pass its path as `mvn`.'
const JAVA_HINT =
  'A Java 17+ runtime is needed to run Kafka: install one (apt-get install openjdk-17-jre-headless, brew install openjdk@17) or set JAVA_HOME.'

/** The node id of the only node; the broker and the controller share it (combined mode). */
const NODE_ID = 1
const POLL_INTERVAL_MS = 250
const LOG_TAIL_LINES = 40
/** The group and transactional id the readiness probes use; they hold no data. */
const READINESS_ID = 'kafka-local-readiness'

export interface ResolveClasspathOptions {
  /** Where the resolved classpath is cached, one file per pom hash. Default: `<repo>/.data/kafka-local`. */
  cacheDir?: string
  /** The Maven executable. Default: `mvn` on the PATH. */
  mvn?: string
}

export interface LocalKafkaOptions {
  /** Holds the KRaft log (`kraft/`), the generated `server.properties` and the broker log (`logs/`). Kept across restarts. */
  dataDir: string
  /** PLAINTEXT listener on 127.0.0.1. 0 or absent: a free port. */
  port?: number
  /** CONTROLLER listener on 127.0.0.1. 0 or absent: a free port. */
  controllerPort?: number
  /** JVM heap in MB (-Xms and -Xmx). Default 512. */
  heapMb?: number
  /** How long to wait for the broker to answer, group coordinator included. Default 90 s. */
  startTimeoutMs?: number
  /** How long `stop()` waits for the controlled shutdown before SIGKILL. Default 30 s. */
  stopTimeoutMs?: number
  /** The java executable. Default: `$JAVA_HOME/bin/java`, else `java` on the PATH. */
  java?: string
  /** Passed to `resolveKafkaClasspath`. */
  cacheDir?: string
  /** Progress messages (format, spawn, ready). Default: silent. */
  log?: (msg: string) => void
}

export interface LocalKafka {
  /** Bootstrap addresses for clients, `127.0.0.1:<port>`. */
  brokers: string[]
  dataDir: string
  clusterId: string
  /** The broker's own log file. */
  logFile: string
  pid: number
  /** Settles when the JVM exits, whether by `stop()` or on its own (crash, kill). */
  exited: Promise<ExitInfo>
  /** SIGTERM, wait for the controlled shutdown, SIGKILL after `stopTimeoutMs`. Idempotent. */
  stop(): Promise<void>
}

/**
 * The classpath (jars joined by the platform's path delimiter) of Kafka's broker. Maven runs only when
 * the pom changed or a cached jar disappeared from ~/.m2; otherwise this is a file read and a few stats.
 */
export async function resolveKafkaClasspath(opts: ResolveClasspathOptions = {}): Promise<string> {
  const cacheDir = resolve(opts.cacheDir ?? DEFAULT_CACHE_DIR)
  const pomHash = createHash('sha256')
    .update(await readFile(POM))
    .digest('hex')
    .slice(0, 16)
  const cacheFile = join(cacheDir, `classpath-${pomHash}.txt`)

  const cached = await readCachedClasspath(cacheFile)
  if (cached !== undefined) return cached

  const mvn = requireExecutable(opts.mvn ?? 'mvn', MAVEN_HINT)
  // Maven itself runs on Java; without it Maven fails with a message that does not say what to install.
  requireExecutable(defaultJava(), JAVA_HINT)
  await mkdir(cacheDir, { recursive: true })
  // Written beside the cache file and renamed, so a concurrent start never reads half a classpath.
  const tmpFile = `${cacheFile}.${process.pid}.tmp`
  const args = [
    '-B',
    '-q',
    // Maven 3.8 colours its messages even in batch mode; the output is only ever quoted in an error.
    '-Dstyle.color=never',
    '-f',
    POM,
    'dependency:build-classpath',
    `-Dmdep.outputFile=${tmpFile}`,
    '-Dmdep.includeScope=runtime',
  ]
  const run = await runCaptured(mvn, args)
  if (run.code !== 0) {
    await rm(tmpFile, { force: true })
    throw new RiskError(
      'RISK_ERR_LOCAL_KAFKA',
      `Maven could not resolve Kafka's jars (exit ${run.code}); its output:\n${lastLines(run.output, LOG_TAIL_LINES)}`,
      { context: { pom: POM } },
    )
  }
  const classpath = (await readFile(tmpFile, 'utf8')).trim()
  if (classpath === '' || !splitClasspath(classpath).every((jar) => existsSync(jar))) {
    await rm(tmpFile, { force: true })
    throw new RiskError('RISK_ERR_LOCAL_KAFKA', `Maven wrote an empty or stale classpath for ${POM}`, {
      context: { pom: POM },
    })
  }
  await rename(tmpFile, cacheFile)
  return classpath
}

export function splitClasspath(classpath: string): string[] {
  return classpath.split(delimiter).filter((entry) => entry !== '')
}

/**
 * Starts the broker (formatting the data directory first if it is new) and resolves once it answers:
 * metadata lists the broker, and the group and transaction coordinators are available, so that the first
 * consumer group join or transactional producer of the caller does not fail with "coordinator not
 * available". Rejects with RISK_ERR_LOCAL_KAFKA, quoting the broker log, if the JVM exits early or the
 * broker does not answer in time (the JVM is then stopped).
 */
export async function startLocalKafka(opts: LocalKafkaOptions): Promise<LocalKafka> {
  const log = opts.log ?? (() => {})
  const dataDir = resolve(opts.dataDir)
  const heapMb = opts.heapMb ?? 512
  const startTimeoutMs = opts.startTimeoutMs ?? 90_000
  const stopTimeoutMs = opts.stopTimeoutMs ?? 30_000
  const java = requireExecutable(opts.java ?? defaultJava(), JAVA_HINT)
  const classpath = await resolveKafkaClasspath(
    opts.cacheDir === undefined ? {} : { cacheDir: opts.cacheDir },
  )
  const { port, controllerPort } = await choosePorts({
    port: opts.port ?? 0,
    controllerPort: opts.controllerPort ?? 0,
  })

  const kraftDir = join(dataDir, 'kraft')
  const logDir = join(dataDir, 'logs')
  const logFile = join(logDir, 'server.log')
  const propertiesFile = join(dataDir, 'server.properties')
  await mkdir(logDir, { recursive: true })
  // Rewritten on every start so that changed ports or settings apply to an existing data directory.
  await writeFile(propertiesFile, serverProperties({ port, controllerPort, kraftDir }))

  const jvmLogging = [
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${LOG4J2_CONFIG}`,
    `-Dkafka.logs.dir=${logDir}`,
  ]
  const clusterId = await formatIfNew({ java, classpath, jvmLogging, kraftDir, propertiesFile, log })

  // The JVM's own stdout/stderr (crashes, bind errors before log4j2 is up) go to a file, not to a pipe:
  // a pipe would tie the broker's life to ours and fill up when nobody reads it.
  const jvmOutFile = join(logDir, 'jvm.out')
  // Where this start's lines begin in both files, so that a failure quotes this start, not an earlier one.
  const since = { log: fileSize(logFile), jvmOut: fileSize(jvmOutFile) }
  const jvmOut = openSync(jvmOutFile, 'a')
  const brokerArgs = [
    `-Xms${heapMb}m`,
    `-Xmx${heapMb}m`,
    // A 512 MB heap on a 2-core machine: the serial collector needs no GC threads and starts fastest;
    // its pauses on a heap this small are a few milliseconds.
    '-XX:+UseSerialGC',
    // A broker out of memory should die loudly, not limp along half-working.
    '-XX:+ExitOnOutOfMemoryError',
    ...jvmLogging,
    '-cp',
    classpath,
    'kafka.Kafka',
    propertiesFile,
  ]
  const [command, args] = withParentDeathSignal(java, brokerArgs)
  // Its own process group: a signal sent to the service's group (Ctrl-C in a terminal, `kill -HUP` of a
  // group, a supervisor's stop) must not reach the broker directly. The service stops it itself, after
  // the consumer has finished and committed; the parent-death signal still ends it if Node dies.
  const child = spawn(command, args, { stdio: ['ignore', jvmOut, jvmOut], detached: true })
  closeSync(jvmOut)
  const exit = watchExit(child)
  const pid = await spawned(child)
  log(`broker pid ${pid} starting on 127.0.0.1:${port} (controller ${controllerPort}), log ${logFile}`)

  // Normal exit of Node (end of event loop, process.exit) would otherwise leave the JVM running.
  const killOnExit = () => {
    if (exit.info === undefined) child.kill('SIGTERM')
  }
  process.on('exit', killOnExit)

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', killOnExit)
      if (exit.info !== undefined) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => {
        log(`broker pid ${pid} still running after ${stopTimeoutMs} ms, killing it`)
        child.kill('SIGKILL')
      }, stopTimeoutMs)
      await exit.promise
      clearTimeout(timer)
    })()
    return stopping
  }

  const brokers = [`127.0.0.1:${port}`]
  try {
    await waitUntilReady(brokers, clusterId, startTimeoutMs, exit, log)
  } catch (e) {
    // Read before stopping: after a timeout, the interesting lines are not those of our own shutdown.
    const tail = await describeFailure(logFile, jvmOutFile, since)
    await stop()
    const reason = e instanceof Error ? e.message : String(e)
    throw new RiskError(
      'RISK_ERR_LOCAL_KAFKA',
      `Local Kafka in ${dataDir} did not start: ${reason}\n${tail}`,
      {
        cause: e,
        context: { dataDir, logFile, port, controllerPort },
      },
    )
  }
  log(`broker ready at ${brokers.join(',')}`)
  return { brokers, dataDir, clusterId, logFile, pid, exited: exit.promise, stop }
}

/**
 * Formats the KRaft directory unless it already is (meta.properties exists: `npm start` keeps its data
 * across restarts) and returns the cluster id stored there.
 */
async function formatIfNew(p: {
  java: string
  classpath: string
  jvmLogging: string[]
  kraftDir: string
  propertiesFile: string
  log: (msg: string) => void
}): Promise<string> {
  const metaFile = join(p.kraftDir, 'meta.properties')
  if (!existsSync(metaFile)) {
    const clusterId = newClusterId()
    p.log(`formatting ${p.kraftDir} (cluster ${clusterId})`)
    // The format tool lives a second: the client compiler alone and a small heap start it fastest.
    const format = await runCaptured(p.java, [
      '-Xmx256m',
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      ...p.jvmLogging,
      '-cp',
      p.classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId,
      '-c',
      p.propertiesFile,
      // A single-voter dynamic quorum: this node is the whole controller quorum.
      '--standalone',
    ])
    if (format.code !== 0) {
      const output = lastLines(format.output, LOG_TAIL_LINES)
      throw new RiskError(
        'RISK_ERR_LOCAL_KAFKA',
        `Formatting ${p.kraftDir} failed (exit ${format.code}):\n${output}`,
        {
          context: { kraftDir: p.kraftDir },
        },
      )
    }
  }
  const clusterId = readProperty(await readFile(metaFile, 'utf8'), 'cluster.id')
  if (clusterId === undefined) {
    const message = `${metaFile} names no cluster.id; remove the data directory to start afresh`
    throw new RiskError('RISK_ERR_LOCAL_KAFKA', message, { context: { kraftDir: p.kraftDir } })
  }
  return clusterId
}

/** The settings of a one-node cluster on a small machine; see the comments for the non-defaults. */
function serverProperties(p: { port: number; controllerPort: number; kraftDir: string }): string {
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': NODE_ID,
    'controller.quorum.bootstrap.servers': `127.0.0.1:${p.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${p.port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': p.kraftDir,
    // The service creates its topics with their partition counts; a typo in a topic name must fail,
    // not silently create a new topic.
    'auto.create.topics.enable': false,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    // One node: internal topics cannot have the default three replicas. Five partitions instead of
    // fifty make the first group join and the first transaction a fraction of a second.
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // No point waiting for more members to join a group in tests and development.
    'group.initial.rebalance.delay.ms': 0,
    // Two cores: the defaults (3 network, 8 I/O threads) only add contention.
    'num.network.threads': 2,
    'num.io.threads': 4,
    // The log cleaner (compacting __consumer_offsets) allocates this buffer up front; the 128 MB
    // default would take a quarter of a 512 MB heap.
    'log.cleaner.dedupe.buffer.size': 16 * 1024 * 1024,
  }
  const lines = Object.entries(settings).map(([key, value]) => `${key}=${value}`)
  return `# Generated by kafka-local/broker.ts on every start; edits are overwritten.\n${lines.join('\n')}\n`
}

/**
 * A cluster id as Kafka's `Uuid.randomUuid()` makes it: 16 random bytes in base64url without padding,
 * never the reserved ZERO or ONE ids, never starting with '-' (it would read as a command-line flag).
 */
export function newClusterId(): string {
  for (;;) {
    const bytes = randomBytes(16)
    const reserved = bytes.subarray(0, 15).every((b) => b === 0) && (bytes[15] === 0 || bytes[15] === 1)
    const id = bytes.toString('base64url')
    if (!reserved && !id.startsWith('-')) return id
  }
}

async function waitUntilReady(
  brokers: string[],
  clusterId: string,
  timeoutMs: number,
  exit: ExitWatch,
  log: (msg: string) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const kafka = new Kafka({
    clientId: READINESS_ID,
    brokers,
    // Refused connections are expected while the JVM starts; the loop below is the retry.
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
    requestTimeout: 5_000,
  })
  // describeCluster first in every probe: it loads the metadata, without which kafkajs (retries off)
  // fails the coordinator lookup with "no brokers in the broker pool".
  const withAdmin = async <T>(use: (admin: Admin) => Promise<T>): Promise<T> => {
    const admin = kafka.admin()
    try {
      await admin.connect()
      return await use(admin)
    } finally {
      await admin.disconnect()
    }
  }
  // The cluster id tells our broker from anything else that answers on the port.
  const brokerListed = async (admin: Admin) => {
    const cluster = await admin.describeCluster()
    if (cluster.clusterId !== clusterId) {
      throw new Error(`cluster ${cluster.clusterId} answers on ${brokers.join(',')}, not ours (${clusterId})`)
    }
    return cluster.brokers.some((b) => b.nodeId === NODE_ID)
  }
  const probes: ReadonlyArray<{ what: string; probe: () => Promise<boolean> }> = [
    { what: 'broker metadata', probe: () => withAdmin(brokerListed) },
    {
      // Finding a group's coordinator creates __consumer_offsets; it answers once its partitions are loaded.
      what: 'group coordinator',
      probe: () =>
        withAdmin(async (admin) => {
          if (!(await brokerListed(admin))) return false
          await admin.describeGroups([READINESS_ID])
          return true
        }),
    },
    {
      // Same for __transaction_state: initialising a transactional producer finds its coordinator.
      what: 'transaction coordinator',
      probe: async () => {
        const producer = kafka.producer({
          transactionalId: READINESS_ID,
          maxInFlightRequests: 1,
          idempotent: true,
          // kafkajs refuses an idempotent producer without retries; the loop below still does the waiting.
          retry: { retries: 1 },
          createPartitioner: Partitioners.DefaultPartitioner,
        })
        try {
          await producer.connect()
          const txn = await producer.transaction()
          await txn.abort()
          return true
        } finally {
          await producer.disconnect()
        }
      },
    },
  ]
  for (const { what, probe } of probes) {
    let lastError = 'no answer yet'
    for (;;) {
      if (exit.info !== undefined) throw new Error(`the JVM exited early (${describeExit(exit.info)})`)
      // Racing the exit and the deadline: kafkajs does not bound every wait (a listener that accepts and
      // never answers holds it forever), and a dying broker is not worth waiting for.
      const giveUp = new AbortController()
      try {
        const outcome = await Promise.race([
          probe(),
          exit.promise.then(() => false),
          sleep(Math.max(0, deadline - Date.now()), false, { signal: giveUp.signal }),
        ])
        if (outcome) {
          log(`${what} ready`)
          break
        }
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e)
      } finally {
        giveUp.abort()
      }
      if (Date.now() >= deadline)
        throw new Error(`no ${what} after ${timeoutMs} ms (last error: ${lastError})`)
      await Promise.race([sleep(POLL_INTERVAL_MS), exit.promise])
    }
  }
}

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

interface ExitWatch {
  /** Set once the process has exited. */
  info: ExitInfo | undefined
  promise: Promise<ExitInfo>
}

function watchExit(child: ChildProcess): ExitWatch {
  const watch: ExitWatch = {
    info: undefined,
    promise: new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        watch.info = { code, signal }
        resolveExit(watch.info)
      })
    }),
  }
  return watch
}

function describeExit(info: ExitInfo): string {
  return info.signal === null ? `exit code ${info.code}` : `signal ${info.signal}`
}

function spawned(child: ChildProcess): Promise<number> {
  return new Promise((resolveSpawn, rejectSpawn) => {
    child.once('spawn', () => {
      if (child.pid === undefined) rejectSpawn(new RiskError('RISK_ERR_LOCAL_KAFKA', 'The JVM has no pid'))
      else resolveSpawn(child.pid)
    })
    child.once('error', (e) =>
      rejectSpawn(
        new RiskError('RISK_ERR_LOCAL_KAFKA', `Could not start the JVM: ${e.message}. ${JAVA_HINT}`, {
          cause: e,
        }),
      ),
    )
  })
}

/**
 * On Linux, util-linux `setpriv --pdeathsig` makes the kernel send the JVM a SIGTERM when Node dies,
 * even by SIGKILL, where no JavaScript runs. It execs java, so the pid stays the JVM's. Elsewhere the
 * JVM is started directly and only the 'exit' hook and `stop()` end it.
 */
function withParentDeathSignal(java: string, args: string[]): [string, string[]] {
  const setpriv = process.platform === 'linux' ? findExecutable('setpriv') : undefined
  return setpriv === undefined ? [java, args] : [setpriv, ['--pdeathsig', 'TERM', '--', java, ...args]]
}

/**
 * Binds each port on loopback and releases it: 0 becomes a free port, and a given port that is taken
 * fails here, with a clear message, instead of halfway through the broker's start (where Kafka may even
 * hang instead of exiting). The probe servers stay open until both ports are chosen, so the two differ;
 * the broker binds them a moment later (a small race that a failed start reports).
 */
async function choosePorts(wanted: {
  port: number
  controllerPort: number
}): Promise<{ port: number; controllerPort: number }> {
  const servers: Server[] = []
  const bind = (port: number): Promise<number> => {
    const server = createServer()
    servers.push(server)
    return new Promise((resolvePort, rejectPort) => {
      server.once('error', (e) =>
        rejectPort(
          new RiskError(
            'RISK_ERR_LOCAL_KAFKA',
            `127.0.0.1:${port} is not available (${e.message}): stop what listens there (another Kafka?) or choose another port (0 picks a free one)`,
            { cause: e, context: { port } },
          ),
        ),
      )
      server.listen(port, '127.0.0.1', () => {
        const address = server.address()
        if (address !== null && typeof address === 'object') resolvePort(address.port)
        else rejectPort(new RiskError('RISK_ERR_LOCAL_KAFKA', `no address for port ${port}`))
      })
    })
  }
  try {
    return { port: await bind(wanted.port), controllerPort: await bind(wanted.controllerPort) }
  } finally {
    await Promise.all(servers.map((s) => new Promise((closed) => s.close(closed))))
  }
}

async function readCachedClasspath(cacheFile: string): Promise<string | undefined> {
  let classpath: string
  try {
    classpath = (await readFile(cacheFile, 'utf8')).trim()
  } catch {
    return undefined
  }
  const jars = splitClasspath(classpath)
  return jars.length > 0 && jars.every((jar) => existsSync(jar)) ? classpath : undefined
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

function defaultJava(): string {
  const javaHome = process.env.JAVA_HOME
  return javaHome ? join(javaHome, 'bin', 'java') : 'java'
}

function requireExecutable(command: string, hint: string): string {
  const found = findExecutable(command)
  if (found === undefined) {
    throw new RiskError('RISK_ERR_LOCAL_KAFKA', `${command} not found. ${hint}`, { context: { command } })
  }
  return found
}

/** A path as is, or a bare name looked up on the PATH; undefined when nothing executable is there. */
function findExecutable(command: string): string | undefined {
  const candidates =
    isAbsolute(command) || command.includes('/')
      ? [command]
      : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, command))
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

/** Runs a command to completion, stdout and stderr interleaved into one string shown only on failure. */
function runCaptured(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk))
    child.once('error', (e) =>
      rejectRun(
        new RiskError('RISK_ERR_LOCAL_KAFKA', `Could not run ${command}: ${e.message}`, { cause: e }),
      ),
    )
    child.once('close', (code) => resolveRun({ code, output: Buffer.concat(chunks).toString('utf8') }))
  })
}

function readProperty(text: string, key: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${key}=`))
  return line?.slice(key.length + 1).trim()
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n')
}

/**
 * What went wrong, from the broker log and the JVM's own output: the ERROR/FATAL lines with their
 * exception's message and "Caused by" chain when there are some (a failed start is followed by hundreds of shutdown lines that
 * say nothing), the last lines otherwise.
 */
async function describeFailure(
  logFile: string,
  jvmOutFile: string,
  since: { log: number; jvmOut: number },
): Promise<string> {
  const parts: string[] = []
  const serverLines = (await readTail(logFile, 256 * 1024, since.log)).trimEnd().split('\n')
  const isError = (line: string | undefined) => line !== undefined && / (ERROR|FATAL) /.test(line)
  const errors = serverLines
    .filter(
      (line, i) =>
        isError(line) ||
        line.startsWith('Caused by: ') ||
        // The exception's own message follows its ERROR line, before the stack frames.
        (isError(serverLines[i - 1]) && !line.startsWith('[') && !/^\s+at /.test(line)),
    )
    .slice(-12)
  const quoted = errors.length > 0 ? errors : serverLines.slice(-LOG_TAIL_LINES)
  if (quoted.join('') !== '') parts.push(`--- from ${logFile} ---`, ...quoted)
  const jvmText = lastLines(await readTail(jvmOutFile, 16 * 1024, since.jvmOut), LOG_TAIL_LINES)
  if (jvmText !== '') parts.push(`--- from ${jvmOutFile} ---`, jvmText)
  return parts.join('\n')
}

/**
 * At most the last `maxBytes` of a file from `from` on, read from its end (the broker log may be megabytes
 * long); '' if it does not exist.
 */
async function readTail(path: string, maxBytes: number, from: number): Promise<string> {
  let handle: FileHandle | undefined
  try {
    handle = await open(path, 'r')
    const { size } = await handle.stat()
    // A file smaller than `from` was rolled over by log4j2 meanwhile: all of it is new.
    const length = Math.min(size < from ? size : size - from, maxBytes)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    return buffer.toString('utf8')
  } catch {
    // A file the JVM never got to write is simply not quoted.
    return ''
  } finally {
    await handle?.close()
  }
}
