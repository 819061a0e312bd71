import type { IHeaders, Message } from 'kafkajs'

/** Headers of a parked record: what it is, why it could not go on, and where it was read. */
export const PARKED_HEADERS = {
  kind: 'x-parked-kind',
  code: 'x-parked-error-code',
  reason: 'x-parked-reason',
  topic: 'x-parked-source-topic',
  partition: 'x-parked-source-partition',
  offset: 'x-parked-source-offset',
} as const

/**
 * A record a stage cannot publish or process (an alert of an unknown acquirer, an alert whose topic is
 * gone, a hit that does not decode), for the parked topic: kept with its key and value, the reason in
 * headers, so an operator can read it and publish it again once the cause is fixed. A stage parks in
 * the same transaction as its output, so one poisoned record never holds up the others.
 */
export function parkedMessage(
  kind: 'alert' | 'hit',
  key: Buffer | string | null,
  value: Buffer | null,
  code: string,
  reason: string,
  source: { topic: string; partition: number; offset?: string },
): Message {
  const headers: IHeaders = {
    [PARKED_HEADERS.kind]: kind,
    [PARKED_HEADERS.code]: code,
    [PARKED_HEADERS.reason]: reason,
    [PARKED_HEADERS.topic]: source.topic,
    [PARKED_HEADERS.partition]: String(source.partition),
  }
  if (source.offset !== undefined) headers[PARKED_HEADERS.offset] = source.offset
  return { key, value, headers }
}
