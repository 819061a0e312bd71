import type { FastifyRequest } from 'fastify'
import type { AcquirerRegistry } from '../acquirers/registry.ts'
import type { Store } from '../store/client.ts'
import { type Principal, unauthenticated } from './auth.ts'
import type { KeyedLock } from './repositories/cases.ts'
import { ErrorReply } from './schemas.ts'

/** What the route plugins are built with (the app's repositories and clock). */
export interface RouteDeps {
  readonly store: Store
  readonly now: () => number
  readonly acquirers: AcquirerRegistry
  readonly locks: KeyedLock
  readonly whitelistMaxDays: number
  /** Called after a whitelist change with the entries now in force, for the rule engine. */
  readonly whitelistChanged: () => Promise<void>
  /** The acquirer's time zone, for the local days of day-based queries. */
  readonly timeZoneOf: (acquirerId: string) => string
}

const principals = new WeakMap<FastifyRequest, Principal>()

export function setPrincipal(req: FastifyRequest, p: Principal): void {
  principals.set(req, p)
}

/** Who made the request; the auth hook has set it on every /v1 request before a handler runs. */
export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req)
  if (p === undefined) throw unauthenticated('no API key')
  return p
}

/** The error replies every authenticated route can give, for its response schema. */
export const ERRORS = {
  400: ErrorReply,
  401: ErrorReply,
  403: ErrorReply,
  404: ErrorReply,
  429: ErrorReply,
  500: ErrorReply,
  503: ErrorReply,
} as const
