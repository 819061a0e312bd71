import type { ErrorCode } from '../lib/errors.ts'

/**
 * The API's coded errors: the codes live in lib/errors.ts with every other code of the service; this
 * table adds the HTTP status each one answers with. A reply body is always `{ error: { code, message,
 * field? } }` (ErrorReply in schemas.ts).
 */
export const API_STATUS = {
  RISK_ERR_API_UNAUTHENTICATED: 401,
  RISK_ERR_API_FORBIDDEN: 403,
  RISK_ERR_API_NOT_FOUND: 404,
  RISK_ERR_API_INVALID_INPUT: 400,
  RISK_ERR_API_CONFLICT: 409,
  RISK_ERR_API_RATE_LIMITED: 429,
  RISK_ERR_API_INTERNAL: 500,
} as const satisfies Partial<Record<ErrorCode, number>>

export type ApiErrorCode = keyof typeof API_STATUS

export class ApiError extends Error {
  readonly code: ApiErrorCode
  readonly statusCode: number
  /** The parameter or body field at fault (`query.limit`, `body.status`), when one is. */
  readonly field: string | null

  constructor(code: ApiErrorCode, message: string, field: string | null = null) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.statusCode = API_STATUS[code]
    this.field = field
  }
}

export function invalid(field: string, problem: string): ApiError {
  return new ApiError('RISK_ERR_API_INVALID_INPUT', `${field} ${problem}`, field)
}

/** One message for "missing" and "not yours": a reply must not tell another acquirer's ids apart. */
export function notFound(what: string, id: string): ApiError {
  return new ApiError('RISK_ERR_API_NOT_FOUND', `${what} ${JSON.stringify(id)} not found`)
}

export function conflict(message: string): ApiError {
  return new ApiError('RISK_ERR_API_CONFLICT', message)
}
