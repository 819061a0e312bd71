import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Admin, Kafka } from 'kafkajs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import {
  type LocalKafka,
  newClusterId,
  resolveKafkaClasspath,
  startLocalKafka,
} from '../../kafka-local/broker.ts'
import { testKafka, uniqueName } from '../helpers/kafka.ts'

const cleanups: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kafka-local-test-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function start(dataDir: string, port?: number): Promise<LocalKafka> {
  const broker = await startLocalKafka({ dataDir, ...(port === undefined ? {} : { port }) })
  cleanups.push(() => broker.stop())
  return broker
}

async function withAdmin<T>(kafka: Kafka, use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return await use(admin)
  } finally {
    await admin.disconnect()
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Binds the port on loopback; resolves with the open server or rejects with the bind error. */
function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

function portOf(broker: LocalKafka): number {
  return Number(broker.brokers[0]?.split(':')[1])
}

describe('the broker of the test run (global setup)', () => {
  it('answers: one broker, a new topic takes messages, a new group consumes them and commits offsets', async () => {
    const kafka = testKafka(inject('kafkaBrokers'))
    const topic = uniqueName('kafka-local')
    const groupId = uniqueName('kafka-local')

    await withAdmin(kafka, async (admin) => {
      expect((await admin.describeCluster()).brokers).toHaveLength(1)
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(
        true,
      )
    })

    const producer = kafka.producer()
    await producer.connect()
    await producer.send({ topic, messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] })
    await producer.disconnect()

    // A short long-poll: disconnect waits for the fetch in flight, 5 s by default.
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 })
    const received: string[] = []
    try {
      await consumer.connect()
      await consumer.subscribe({ topic, fromBeginning: true })
      await new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            received.push(message.value?.toString() ?? '')
            if (received.length === 3) resolve()
          },
        })
      })
      // The committed offset is the next one to read: after offsets 0, 1 and 2 comes 3.
      await consumer.commitOffsets([{ topic, partition: 0, offset: '3' }])
    } finally {
      await consumer.disconnect()
    }
    expect(received).toEqual(['a', 'b', 'c'])

    const committed = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId, topics: [topic] }))
    expect(committed).toEqual([{ topic, partitions: [{ partition: 0, offset: '3', metadata: null }] }])
  })
})

describe('startLocalKafka', () => {
  it('starts a second broker that stops cleanly and keeps its topics across a restart', async () => {
    const dataDir = await tempDir()
    const first = await start(dataDir)
    const kept = uniqueName('kept')
    await withAdmin(testKafka(first.brokers.join(',')), async (admin) => {
      expect((await admin.describeCluster()).brokers).toHaveLength(1)
      await admin.createTopics({ topics: [{ topic: kept, numPartitions: 2 }], waitForLeaders: true })
    })

    await first.stop()
    await first.stop()
    expect(isRunning(first.pid)).toBe(false)
    // A controlled shutdown: the JVM ended itself (no SIGKILL) and Kafka marked its log directory clean.
    expect((await first.exited).signal).toBeNull()
    expect(existsSync(join(dataDir, 'kraft', '.kafka_cleanshutdown'))).toBe(true)
    await closeServer(await listenOn(portOf(first)))

    // Fresh free ports on purpose: the data, not the addresses, carry over.
    const second = await start(dataDir)
    expect(second.clusterId).toBe(first.clusterId)
    const metadata = await withAdmin(testKafka(second.brokers.join(',')), (admin) =>
      admin.fetchTopicMetadata({ topics: [kept] }),
    )
    expect(metadata.topics[0]?.partitions).toHaveLength(2)
    await second.stop()
    expect(isRunning(second.pid)).toBe(false)
  })

  it('rejects with the cause from the broker log when the JVM exits early', async () => {
    // A data directory formatted for another node: Kafka refuses it at start and exits.
    const dataDir = await tempDir()
    await mkdir(join(dataDir, 'kraft'))
    await writeFile(
      join(dataDir, 'kraft', 'meta.properties'),
      `version=1\nnode.id=2\ncluster.id=${newClusterId()}\ndirectory.id=${newClusterId()}\n`,
    )
    await expect(start(dataDir)).rejects.toMatchObject({
      code: 'RISK_ERR_LOCAL_KAFKA',
      message: expect.stringMatching(/exited early[\s\S]*Stored node id 2 doesn't match/),
    })
  })

  it('refuses a port that is taken before starting a JVM', async () => {
    const occupied = await listenOn(0)
    const address = occupied.address()
    if (address === null || typeof address !== 'object') throw new Error('no address')
    const port = address.port
    try {
      await expect(start(await tempDir(), port)).rejects.toMatchObject({
        code: 'RISK_ERR_LOCAL_KAFKA',
        message: expect.stringContaining(`127.0.0.1:${port} is not available`),
      })
    } finally {
      await closeServer(occupied)
    }
  })

  it('names what to install when java is missing', async () => {
    await expect(
      startLocalKafka({ dataDir: await tempDir(), java: '/nonexistent/java' }),
    ).rejects.toMatchObject({
      code: 'RISK_ERR_LOCAL_KAFKA',
      message: expect.stringContaining('Java 17+'),
    })
  })
})

describe('resolveKafkaClasspath', () => {
  it('runs Maven once, then reuses the cached classpath; names Maven when it is needed and missing', async () => {
    const cacheDir = await tempDir()
    await expect(resolveKafkaClasspath({ cacheDir, mvn: '/nonexistent/mvn' })).rejects.toMatchObject({
      code: 'RISK_ERR_LOCAL_KAFKA',
      message: expect.stringContaining('Maven'),
    })
    const classpath = await resolveKafkaClasspath({ cacheDir })
    expect(classpath).toMatch(/kafka_2\.13-[\d.]+\.jar/)
    // With the cache filled, a missing Maven no longer matters.
    expect(await resolveKafkaClasspath({ cacheDir, mvn: '/nonexistent/mvn' })).toBe(classpath)
  })
})
