/** What crosses between the rules stage and its worker thread (rules/worker.ts, rules/worker-client.ts). */
import type { ErrorCode, ErrorContext } from '../lib/errors.ts'
import type { BaselineSnapshot } from './baselines.ts'
import type { StoredEvent } from './core.ts'
import type { WhitelistEntry } from './engine/config.ts'

/** Everything the worker needs to build the same engine as the stage's thread would. */
export interface WorkerSetup {
  /** The rules file as parsed, and its name (RulesConfig.source). */
  rules: { raw: unknown; name: string }
  granted: readonly WhitelistEntry[]
  baselines: BaselineSnapshot
  /** The acquirers the deployment serves (events of others are skipped, as ingest dead-letters them). */
  known: readonly string[]
  timeZones: { default: string; byAcquirer: Readonly<Record<string, string>> }
  allowedLatenessMs: number
  maxFutureSkewMs: number
  schemaRegistry: { url: string; username?: string; password?: string } | null
}

/** Many byte strings as one buffer and the end of each; a null is an end of -1. */
export interface Packed {
  bytes: Uint8Array
  ends: Int32Array
}

export type Request = { id: number } & (
  | {
      op: 'apply'
      partition: number
      transactions: boolean
      values: Packed
      stamps: Float64Array
      activityPartitions: number
    }
  | { op: 'replay'; partition: number; events: readonly StoredEvent[] }
  | { op: 'load' | 'forget'; partition: number }
  | { op: 'stats' }
  | { op: 'baselines'; snapshot: BaselineSnapshot }
  | { op: 'whitelist'; granted: readonly WhitelistEntry[] }
  | { op: 'rules'; source: { raw: unknown; name: string } }
  | { op: 'acquirers'; known: readonly string[] }
)

export type Response =
  | { id: number; ok: true; result: unknown }
  | {
      id: number
      ok: false
      error: { code: ErrorCode | null; message: string; context: ErrorContext }
    }

/** Copies the strings into one buffer (transferred, not cloned, by postMessage). */
export function packBuffers(values: readonly (Uint8Array | null)[]): Packed {
  let total = 0
  for (const v of values) if (v !== null) total += v.byteLength
  const bytes = new Uint8Array(total)
  const ends = new Int32Array(values.length)
  let at = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? null
    if (v === null) {
      ends[i] = -1
      continue
    }
    bytes.set(v, at)
    at += v.byteLength
    ends[i] = at
  }
  return { bytes, ends }
}

/** The strings of a Packed, as Buffers over its bytes (no copy). */
export function unpackBuffers(p: Packed): (Buffer | null)[] {
  const out: (Buffer | null)[] = new Array(p.ends.length)
  const base = p.bytes.buffer
  let start = 0
  for (let i = 0; i < p.ends.length; i++) {
    const end = p.ends[i] ?? -1
    if (end < 0) {
      out[i] = null
      continue
    }
    out[i] = Buffer.from(base, p.bytes.byteOffset + start, end - start)
    start = end
  }
  return out
}
