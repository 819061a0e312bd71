import type { IHeaders, Message } from 'kafkajs'

/**
 * Most bytes one produce request carries per call. A broker refuses a record batch over its
 * `message.max.bytes` (1 MiB by default) with a MESSAGE_TOO_LARGE error that no retry can fix, and
 * kafkajs puts all of a call's messages for one partition into one batch; so large sends (thousands of
 * dead letters, a rebuild's hits, a busy batch's activity records) are cut into calls well under it.
 */
export const MAX_SEND_BYTES = 512 * 1024

/** Bytes a message takes on the wire, near enough: key, value, headers, and per-record overhead. */
export function messageBytes(m: Message): number {
  let n = 64 + byteLength(m.key) + byteLength(m.value)
  const headers: IHeaders = m.headers ?? {}
  for (const [k, v] of Object.entries(headers)) {
    n += k.length + 8
    if (Array.isArray(v)) for (const x of v) n += byteLength(x)
    else n += byteLength(v)
  }
  return n
}

function byteLength(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length
}

/** Splits messages, in order, into runs of at most `maxBytes` each (a larger message runs alone). */
export function chunkBySize<M extends Message>(messages: readonly M[], maxBytes = MAX_SEND_BYTES): M[][] {
  const chunks: M[][] = []
  let current: M[] = []
  let size = 0
  for (const m of messages) {
    const n = messageBytes(m)
    if (current.length > 0 && size + n > maxBytes) {
      chunks.push(current)
      current = []
      size = 0
    }
    current.push(m)
    size += n
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/** One produce request: messages per topic. */
export type TopicMessages = { topic: string; messages: Message[] }

/**
 * Cuts several topics' messages into as few produce requests as fit `maxBytes` each, in order: a part's
 * hits and activity records, or a scorer's scores, state and alerts, usually go in one request (one
 * round trip to the broker) instead of one per topic. A topic's messages keep their order across
 * requests, and a message larger than the limit goes alone, as with `chunkBySize`.
 */
export function packBySize(
  sends: readonly (readonly [string, readonly Message[]])[],
  maxBytes = MAX_SEND_BYTES,
): TopicMessages[][] {
  const requests: TopicMessages[][] = []
  let current: TopicMessages[] = []
  let size = 0
  for (const [topic, messages] of sends) {
    let entry: TopicMessages | null = null
    for (const m of messages) {
      const n = messageBytes(m)
      if (size > 0 && size + n > maxBytes) {
        requests.push(current)
        current = []
        size = 0
        entry = null
      }
      if (entry === null) {
        entry = { topic, messages: [] }
        current.push(entry)
      }
      entry.messages.push(m)
      size += n
    }
  }
  if (current.length > 0) requests.push(current)
  return requests
}
