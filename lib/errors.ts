/**
 * The one table of coded errors. Every error the service raises on purpose has a code here, a fixed
 * `retriable` flag and a one-line description; the README's error table is generated from this table
 * and a test fails when the two drift.
 *
 * `retriable` is the only thing the consumer looks at to choose between retrying (the input is fine,
 * something around it failed: ClickHouse, the broker, the Schema Registry) and the dead-letter topic
 * (the input itself is bad and will never succeed).
 */
export const ERROR_CODES = {
  RISK_ERR_BAD_FRAME: {
    retriable: false,
    description:
      'The message value is empty, or is neither a Confluent-framed Avro message (magic byte 0) nor a JSON object.',
  },
  RISK_ERR_UNKNOWN_SCHEMA_ID: {
    retriable: false,
    description: 'The frame names a schema id that is neither bundled nor known to the Schema Registry.',
  },
  RISK_ERR_WRONG_SCHEMA: {
    retriable: false,
    description: "The frame's schema describes another record than the one the topic carries.",
  },
  RISK_ERR_AVRO_DECODE: {
    retriable: false,
    description:
      'The Avro body cannot be decoded with the writer schema (truncated, trailing or corrupt bytes).',
  },
  RISK_ERR_JSON_PARSE: {
    retriable: false,
    description: 'The message value starts like JSON but does not parse as a JSON object.',
  },
  RISK_ERR_MISSING_FIELD: {
    retriable: false,
    description: 'A required field of the schema is absent.',
  },
  RISK_ERR_INVALID_FIELD: {
    retriable: false,
    description:
      'A field has the wrong type or an invalid value (amount not > 0, malformed currency or MCC, unknown enum symbol).',
  },
  RISK_ERR_RAW_CARD_NUMBER: {
    retriable: false,
    description:
      'A field of the event (any string, at any depth), the Kafka key or a header holds what looks like a card number: 13-19 digits passing Luhn, in any digits and with any separators (not the digits of a UUID or of a 20-128-character hexadecimal id). The error names the field, never the value; the number is masked in the DLQ copy (value, key, headers) and never logged or stored.',
  },
  RISK_ERR_UNKNOWN_ACQUIRER: {
    retriable: false,
    description:
      'acquirer_id names an acquirer this deployment does not serve (neither in `acquirers.known` nor registered through `POST /v1/acquirers`). The event is dead-lettered; traffic never creates an acquirer or its alert topic.',
  },
  RISK_ERR_FUTURE_EVENT: {
    retriable: false,
    description: 'event_time is further in the future than the allowed clock skew.',
  },
  RISK_ERR_SCHEMA_REGISTRY: {
    retriable: true,
    description: 'The Schema Registry could not be reached or answered with a server error.',
  },
  RISK_ERR_STORE_WRITE: {
    retriable: true,
    description:
      'A write to ClickHouse failed; the batch is retried with back-off and its offsets are not committed.',
  },
  RISK_ERR_STORE_QUERY: {
    retriable: true,
    description: 'A read from ClickHouse failed.',
  },
  RISK_ERR_MIGRATION: {
    retriable: false,
    description: 'A ClickHouse migration failed or a recorded migration no longer matches its file.',
  },
  RISK_ERR_KAFKA: {
    retriable: true,
    description: 'A Kafka operation (produce to the DLQ, commit, create topics) failed.',
  },
  RISK_ERR_RULES_WORKER: {
    retriable: true,
    description:
      "The rules stage's worker thread exited, or holds no state for a partition; the partition's state is rebuilt from ClickHouse.",
  },
  RISK_ERR_LOCAL_KAFKA: {
    retriable: false,
    description: 'The local Kafka broker could not be fetched, formatted or started.',
  },
  RISK_ERR_CONFIG: {
    retriable: false,
    description: 'A configuration value is missing or invalid; start-up stops and names the key.',
  },
  RISK_ERR_API_UNAUTHENTICATED: {
    retriable: false,
    description: 'Dashboard API (401): no API key, or a key that is unknown, malformed or revoked.',
  },
  RISK_ERR_API_FORBIDDEN: {
    retriable: false,
    description: "Dashboard API (403): the key's role may not do this (roles: analyst < supervisor < admin).",
  },
  RISK_ERR_API_NOT_FOUND: {
    retriable: false,
    description:
      "Dashboard API (404): no such route or resource; a resource of another acquirer than the key's scope is reported the same way.",
  },
  RISK_ERR_API_INVALID_INPUT: {
    retriable: false,
    description:
      'Dashboard API (400): a parameter or body field is invalid; the message and `field` name it.',
  },
  RISK_ERR_API_CONFLICT: {
    retriable: false,
    description:
      "Dashboard API (409): the change does not fit the resource's current state (illegal case transition, stale version); the message names the current state.",
  },
  RISK_ERR_API_INTERNAL: {
    retriable: false,
    description:
      'Dashboard API (500): an unexpected error; the log has the request id and the details, the reply neither.',
  },
  RISK_ERR_API_RATE_LIMITED: {
    retriable: true,
    description: 'Dashboard API (429): too many requests for this key (or address) in the window.',
  },
} as const satisfies Record<string, { retriable: boolean; description: string }>

export type ErrorCode = keyof typeof ERROR_CODES

export type ErrorContext = Readonly<Record<string, string | number | boolean | null | undefined>>

export class RiskError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly context: ErrorContext

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RiskError'
    this.code = code
    this.retriable = ERROR_CODES[code].retriable
    this.context = options.context ?? {}
  }

  /** A plain object for structured logs: never includes the cause's stack of secrets, only its message. */
  toLog(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      ...this.context,
      ...(this.cause instanceof Error ? { cause: this.cause.message } : {}),
    }
  }
}

export function isRiskError(e: unknown): e is RiskError {
  return e instanceof RiskError
}

/** Wraps any thrown value into a RiskError of the given code, keeping a RiskError as it is. */
export function asRiskError(e: unknown, code: ErrorCode, message: string, context?: ErrorContext): RiskError {
  if (e instanceof RiskError) return e
  const detail = e instanceof Error ? e.message : String(e)
  return new RiskError(code, `${message}: ${detail}`, { cause: e, ...(context ? { context } : {}) })
}
