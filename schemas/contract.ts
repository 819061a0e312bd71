import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The bundled event contract: which Avro schema file describes which topic's values, and the fixed
 * schema id each version carries in the Confluent frame when no Schema Registry is configured.
 *
 * A schema id is never reused: a new version of a schema gets a new id, and its file stays here so that
 * messages framed with the old id can still be read (resolved into the newest reader schema).
 */
export interface BundledSchema {
  /** Fully qualified Avro name of the record. */
  readonly name: string
  /** Fixed Confluent schema id used when no Schema Registry is configured. */
  readonly id: number
  /** File name in schemas/. */
  readonly file: string
}

export const BUNDLED_SCHEMAS = [
  { name: 'posrisk.events.TerminalTransaction', id: 1001, file: 'terminal-transaction.avsc' },
  { name: 'posrisk.events.MerchantEvent', id: 1002, file: 'merchant-event.avsc' },
  { name: 'posrisk.alerts.RiskAlert', id: 1003, file: 'risk-alert.avsc' },
  { name: 'posrisk.internal.RuleHit', id: 1004, file: 'rule-hit.avsc' },
  { name: 'posrisk.internal.ScoreEvent', id: 1005, file: 'score-event.avsc' },
] as const satisfies readonly BundledSchema[]

export type SchemaName = (typeof BUNDLED_SCHEMAS)[number]['name']

export const TERMINAL_TRANSACTION: SchemaName = 'posrisk.events.TerminalTransaction'
export const MERCHANT_EVENT: SchemaName = 'posrisk.events.MerchantEvent'
export const RISK_ALERT = 'posrisk.alerts.RiskAlert' satisfies SchemaName
export const RULE_HIT = 'posrisk.internal.RuleHit' satisfies SchemaName
export const SCORE_EVENT = 'posrisk.internal.ScoreEvent' satisfies SchemaName

const schemaDir = fileURLToPath(new URL('.', import.meta.url))

/** Reads a bundled schema file as parsed JSON (an Avro schema object). */
export function loadSchemaFile(file: string): unknown {
  return JSON.parse(readFileSync(`${schemaDir}${file}`, 'utf8'))
}

/** The bundled schema of a record name with its id. Throws on an unknown name (a programmer error). */
export function bundledSchema(name: SchemaName): BundledSchema {
  const found = BUNDLED_SCHEMAS.find((s) => s.name === name)
  if (found === undefined) throw new Error(`no bundled schema named ${name}`)
  return found
}
