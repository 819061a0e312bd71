import type { Consumer, Producer } from 'kafkajs'
import type { Metrics } from './metrics.ts'

/**
 * Counts a consumer's group joins, crashes, restarts and request timeouts from kafkajs's
 * instrumentation events, under `client` (a fixed name such as `ingest`, never a generated id).
 * kafkajs emits no event when it silently re-opens a broker connection; what it does emit for a lost
 * broker is a crash followed by a restart, which is counted as a reconnect.
 */
export function instrumentConsumer(consumer: Consumer, metrics: Metrics, client: string): void {
  const { reconnects, rebalances, crashes, requestTimeouts } = metrics.kafka
  const reconnect = reconnects.labels(client)
  const rebalance = rebalances.labels(client)
  const timeout = requestTimeouts.labels(client)
  // At 0 from the start, so rate() and increase() see the first event instead of a series appearing.
  for (const c of [reconnect, rebalance, timeout]) c.inc(0)
  for (const restart of ['true', 'false']) crashes.labels(client, restart).inc(0)

  let connects = 0
  const { events } = consumer
  consumer.on(events.CONNECT, () => {
    if (connects++ > 0) reconnect.inc()
  })
  consumer.on(events.GROUP_JOIN, () => rebalance.inc())
  consumer.on(events.CRASH, (e) => {
    crashes.labels(client, String(e.payload.restart)).inc()
    if (e.payload.restart) reconnect.inc()
  })
  consumer.on(events.REQUEST_TIMEOUT, () => timeout.inc())
}

/** Counts a producer's reconnects and request timeouts under `client`. */
export function instrumentProducer(producer: Producer, metrics: Metrics, client: string): void {
  const reconnect = metrics.kafka.reconnects.labels(client)
  const timeout = metrics.kafka.requestTimeouts.labels(client)
  reconnect.inc(0)
  timeout.inc(0)
  let connects = 0
  producer.on(producer.events.CONNECT, () => {
    if (connects++ > 0) reconnect.inc()
  })
  producer.on(producer.events.REQUEST_TIMEOUT, () => timeout.inc())
}
