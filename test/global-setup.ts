/**
 * vitest globalSetup of the integration project: one Kafka broker for the whole run, handed to the tests
 * as `inject('kafkaBrokers')` (comma-separated bootstrap addresses). With KAFKA_BROKERS set, that cluster
 * is used as it is and nothing is started; otherwise a local broker starts on free ports in a fresh
 * temporary directory, which teardown stops and removes.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startLocalKafka } from '../kafka-local/broker.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.KAFKA_BROKERS
  if (external !== undefined && external !== '') {
    project.provide('kafkaBrokers', external)
    return async () => {}
  }

  const dataDir = await mkdtemp(join(tmpdir(), 'pos-risk-kafka-'))
  const started = performance.now()
  // A failed start throws with the log's error lines and leaves the directory for a closer look.
  const broker = await startLocalKafka({ dataDir })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(`local Kafka ready at ${broker.brokers.join(',')} in ${seconds} s (log ${broker.logFile})`)
  project.provide('kafkaBrokers', broker.brokers.join(','))
  return async () => {
    await broker.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}
