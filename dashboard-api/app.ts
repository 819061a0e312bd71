/**
 * The dashboard API for risk analysts. `buildApp` returns the Fastify instance (tests call `inject()`
 * on it and never open a port); `startApi` also listens. Layout, in load order: external plugins
 * (security headers, OpenAPI), then the app's own pieces (key resolver, locks, repositories reached
 * through RouteDeps), then the routes: operations at the root, everything for analysts under /v1
 * behind the API-key hook and the rate limit.
 */
import { randomUUID } from 'node:crypto'
import { resolve } from 'node:path'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import type { Registry } from 'prom-client'
import type { AcquirerRegistry } from '../acquirers/registry.ts'
import { loadConfig } from '../config/load.ts'
import type { Config } from '../config/spec.ts'
import { isRiskError } from '../lib/errors.ts'
import type { Logger } from '../lib/logger.ts'
import { findCardNumberIn, maskCardNumbers } from '../lib/luhn.ts'
import type { WhitelistEntry } from '../rules/engine/config.ts'
import type { Store } from '../store/client.ts'
import { type Principal, presentedKey, unauthenticated } from './auth.ts'
import { hasRole } from './case-workflow.ts'
import { loadConsole, registerConsole } from './console.ts'
import { principalOf, type RouteDeps, setPrincipal } from './context.ts'
import { ApiError, type ApiErrorCode, invalid } from './errors.ts'
import { AuthThrottle, KeyResolver } from './key-guard.ts'
import { KeyedLock } from './repositories/cases.ts'
import { loadWhitelist } from './repositories/whitelist.ts'
import { acquirerRoutes } from './routes/acquirers.ts'
import { apiKeyRoutes } from './routes/api-keys.ts'
import { auditRoutes } from './routes/audit.ts'
import { caseRoutes } from './routes/cases.ts'
import { evidenceRoutes } from './routes/evidence.ts'
import { merchantRoutes } from './routes/merchants.ts'
import { operationsRoutes } from './routes/operations.ts'
import { queueCountRoutes, queueRoutes } from './routes/queue.ts'
import { sessionRoutes } from './routes/session.ts'
import { whitelistRoutes } from './routes/whitelist.ts'
import { type ErrorReply, PATTERN_PROBLEMS, type Role } from './schemas.ts'
import { Sessions, setSession } from './session.ts'
import { type TimeConfig, timeZoneResolver } from './time-zones.ts'
import { strictBodies } from './validators.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role that may call the route; every /v1 route must name one. */
    role?: Role | 'public'
  }
}

export type ApiConfig = Config['api']

export type Probe = () => boolean | Promise<boolean>

export interface ApiOptions {
  readonly store: Store
  readonly config: ApiConfig
  /** A pino logger; none: no logs. */
  readonly logger?: Logger
  readonly now?: () => number
  /** Served at /metrics; none: /metrics answers with an empty exposition. */
  readonly registry?: Registry
  /**
   * Readiness checks for /readyz (ClickHouse defaults to a ping of the store; Kafka to none, null), and
   * the liveness check of /healthz (none: the process answering is alive).
   */
  readonly probes?: { readonly kafka?: Probe; readonly clickhouse?: Probe; readonly live?: Probe }
  /** Called with every entry in force after a whitelist change, so the rule engine can take them in. */
  readonly onWhitelistChange?: (entries: WhitelistEntry[]) => void | Promise<void>
  /** The acquirers' time zones (the service's `time` configuration); none: the configuration's defaults. */
  readonly time?: TimeConfig
  /** The acquirers the deployment serves; admins list and register them under /v1/acquirers. */
  readonly acquirers: AcquirerRegistry
}

function errorBody(code: string, message: string, field: string | null): ErrorReply {
  return { error: { code, message, ...(field === null ? {} : { field }) } }
}

/** `querystring/limit must be <= 200` as the field `query.limit` and a message naming it. */
function validationReply(e: FastifyError): ErrorReply {
  const first = e.validation?.[0]
  const part = e.validationContext === 'querystring' ? 'query' : (e.validationContext ?? 'request')
  if (first === undefined) return errorBody('RISK_ERR_API_INVALID_INPUT', e.message, null)
  const path = first.instancePath.split('/').filter((s) => s !== '')
  const params = first.params
  const named =
    typeof params.missingProperty === 'string'
      ? params.missingProperty
      : typeof params.additionalProperty === 'string'
        ? params.additionalProperty
        : null
  if (named !== null) path.push(named)
  const field = [part, ...path].join('.')
  const pattern = first.keyword === 'pattern' && typeof params.pattern === 'string' ? params.pattern : ''
  const problem =
    typeof params.additionalProperty === 'string'
      ? 'is not a known field'
      : typeof params.missingProperty === 'string'
        ? 'is required'
        : (PATTERN_PROBLEMS[pattern] ?? first.message ?? 'is invalid')
  return errorBody('RISK_ERR_API_INVALID_INPUT', `${field} ${problem}`, field)
}

/** Request parts hold no epoch-millisecond numbers: every whole number is scanned. */
const NO_TIMES: ReadonlySet<string> = new Set()

export async function buildApp(opts: ApiOptions): Promise<FastifyInstance> {
  const now = opts.now ?? Date.now
  const config = opts.config
  const store = opts.store
  const loggerInstance: FastifyBaseLogger | undefined = opts.logger
  const app = Fastify({
    ...(loggerInstance === undefined ? { logger: false } : { loggerInstance }),
    // Request lines are logged by the onResponse hook below with the route pattern, never the URL:
    // a URL can carry a card token or a hostile string, and logs must hold neither.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    trustProxy: config.trustProxy,
    bodyLimit: 64 * 1024,
    // Ids are up to 128 characters; longer path parameters must reach validation and be a 400, not a 404.
    routerOptions: { maxParamLength: 1024 },
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
    schemaController: { compilersFactory: { buildValidator: strictBodies } },
  }).withTypeProvider<TypeBoxTypeProvider>()

  const resolver = new KeyResolver(store, config.keyCacheMs, now)
  const throttle = new AuthThrottle({
    perAddress: config.authFailureMax,
    total: config.authFailureTotalMax,
    windowMs: config.rateLimitWindowMs,
    now,
  })
  const sessions = new Sessions({ store, ttlMs: config.sessionTtlMs, keyCacheMs: config.keyCacheMs, now })
  const deps: RouteDeps = {
    timeZoneOf: timeZoneResolver(opts.time ?? loadConfig({ env: {} }).time),
    store,
    now,
    acquirers: opts.acquirers,
    locks: new KeyedLock(),
    whitelistMaxDays: config.whitelistMaxDays,
    whitelistChanged: async () => {
      if (opts.onWhitelistChange === undefined) return
      await opts.onWhitelistChange(await loadWhitelist(store, now()))
    },
  }

  app.setErrorHandler((e: FastifyError, req, reply) => {
    if (e instanceof ApiError) {
      if (e.statusCode === 401) {
        // RFC 6750: the scheme to use, and whether the key presented was the trouble.
        const invalidKey = presentedKey(req.headers) === null ? '' : ', error="invalid_token"'
        reply.header('www-authenticate', `Bearer realm="pos-risk-monitor"${invalidKey}`)
      }
      return reply.code(e.statusCode).send(errorBody(e.code, e.message, e.field))
    }
    if (e.validation !== undefined) return reply.code(400).send(validationReply(e))
    if (isRiskError(e) && e.retriable) {
      req.log.error(e.toLog(), 'dashboard API: store unavailable')
      return reply.code(503).send(errorBody(e.code, 'the store is unavailable; try again', null))
    }
    const status = e.statusCode ?? 500
    if (status >= 400 && status < 500) {
      // Fastify's own client errors: malformed JSON, wrong content type, body too large.
      const code: ApiErrorCode = status === 404 ? 'RISK_ERR_API_NOT_FOUND' : 'RISK_ERR_API_INVALID_INPUT'
      return reply.code(status).send(errorBody(code, e.message, status === 404 ? null : 'body'))
    }
    req.log.error({ error: e.message, stack: e.stack }, 'dashboard API: unexpected error')
    return reply.code(500).send(errorBody('RISK_ERR_API_INTERNAL', 'internal error', null))
  })
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send(errorBody('RISK_ERR_API_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`, null))
  })

  // Answers about an acquirer's merchants and cases are never to be kept by a browser or a proxy.
  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/v1' || req.url.startsWith('/v1/')) reply.header('cache-control', 'no-store')
  })

  // Ajv coerces `1e400` or `Infinity` in a query string to Infinity and then lets it through integer
  // and maximum checks; JSON.parse does the same to a body number. Caught here for every route.
  // And no card number is taken in, in any parameter or body field (lib/luhn.ts): a card filter,
  // a note or a reason holding one is refused, so it is neither stored nor searched for.
  app.addHook('preHandler', async (req) => {
    for (const [part, values] of [
      ['params', req.params],
      ['query', req.query],
      ['body', req.body],
    ] as const) {
      if (typeof values !== 'object' || values === null) continue
      for (const [k, v] of Object.entries(values)) {
        if (typeof v === 'number' && !Number.isFinite(v))
          throw invalid(`${part}.${k}`, 'must be a finite number')
      }
      const card = findCardNumberIn(values, NO_TIMES, part)
      if (card !== null) {
        throw invalid(
          maskCardNumbers(card),
          'must not hold a card number (13-19 digits passing Luhn, separators ignored); send a card token',
        )
      }
    }
  })

  app.addHook('onResponse', async (req, reply) => {
    req.log.info(
      {
        // req.log already carries reqId.
        method: req.method,
        route: req.routeOptions.url ?? '(none)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    )
  })

  // No `upgrade-insecure-requests`: behind plain http in a private network it made browsers fetch
  // every asset of /docs over https, which is not there, and the page stayed blank.
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  })
  if (config.docs) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'pos-risk-monitor dashboard API',
          description:
            'Flagged-merchant queue, evidence, review cases, whitelists and the audit log. Every /v1 call needs an API key (Authorization: Bearer <key>, or x-api-key) and sees only its acquirer.',
          version: '1',
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer' },
            apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          },
        },
        security: [{ bearer: [] }, { apiKey: [] }],
      },
    })
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: true,
      // Swagger UI writes its own CSP, with upgrade-insecure-requests: removed for plain http, as above.
      transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/g, ''),
    })
  }

  registerConsole(app, loadConsole(resolve(config.consoleDir)))
  await app.register(operationsRoutes, {
    store,
    registry: opts.registry ?? null,
    probes: opts.probes ?? {},
  })

  await app.register(
    async (v1) => {
      v1.addHook('onRoute', (route) => {
        if (route.config?.role === undefined) {
          throw new Error(`route ${route.method} ${route.url} declares no role`)
        }
      })
      // Failed authentications are limited per address before a key is looked up (key-guard.ts):
      // a request whose key is not known to be good takes a unit first, and gives it back when the key
      // is good. A session cookie costs no look-up (sessions live in memory) and takes none.
      const chargeOrRefuse = (req: FastifyRequest, reply: FastifyReply) => {
        if (throttle.take(req.ip)) return
        reply.header('retry-after', String(throttle.retryAfterSeconds()))
        throw new ApiError(
          'RISK_ERR_API_RATE_LIMITED',
          'too many failed authentications from this address or in total; retry later',
        )
      }
      const signIns = new WeakSet<FastifyRequest>()
      // Authentication before the rate limit, so that the limit is per key, not per address.
      v1.addHook('onRequest', async (req: FastifyRequest, reply) => {
        const needed = req.routeOptions.config.role
        // Sign-in: the key comes in the body, and the route looks it up; its unit is given back when
        // the sign-in succeeds (onResponse below).
        if (needed === 'public') {
          chargeOrRefuse(req, reply)
          signIns.add(req)
          return
        }
        const key = presentedKey(req.headers)
        let principal: Principal | null
        if (key === null) {
          // The console's session cookie (CSRF-checked for changes), else no credentials at all.
          const session = await sessions.authenticate(req, reply)
          if (session === null) {
            chargeOrRefuse(req, reply)
            throw unauthenticated('an API key is required (Authorization: Bearer <key>)')
          }
          setSession(req, session)
          principal = session.principal
        } else {
          const knownGood = resolver.wasGood(key)
          if (!knownGood) chargeOrRefuse(req, reply)
          principal = await resolver.resolve(key)
          if (principal !== null && !knownGood) throttle.giveBack(req.ip)
        }
        if (principal === null) throw unauthenticated('the API key is unknown or revoked')
        setPrincipal(req, principal)
        if (needed !== undefined && !hasRole(principal.role, needed)) {
          throw new ApiError(
            'RISK_ERR_API_FORBIDDEN',
            `this needs the ${needed} role; the key is ${principal.role}`,
          )
        }
      })
      await v1.register(rateLimit, {
        max: config.rateLimitMax,
        timeWindow: config.rateLimitWindowMs,
        keyGenerator: (req) => {
          try {
            return `key:${principalOf(req).keyId}`
          } catch {
            return `ip:${req.ip}`
          }
        },
        errorResponseBuilder: (_req, ctx) =>
          new ApiError(
            'RISK_ERR_API_RATE_LIMITED',
            `rate limit of ${ctx.max} requests per ${ctx.after} exceeded`,
          ),
      })
      v1.addHook('onResponse', async (req, reply) => {
        if (signIns.has(req) && reply.statusCode < 400) throttle.giveBack(req.ip)
      })
      await v1.register(sessionRoutes, { sessions, resolveKey: (k) => resolver.resolve(k) })
      await v1.register(queueRoutes, deps)
      await v1.register(queueCountRoutes, deps)
      await v1.register(merchantRoutes, deps)
      await v1.register(evidenceRoutes, deps)
      await v1.register(apiKeyRoutes, deps)
      await v1.register(caseRoutes, deps)
      await v1.register(whitelistRoutes, deps)
      await v1.register(auditRoutes, deps)
      await v1.register(acquirerRoutes, deps)
    },
    { prefix: '/v1' },
  )

  await app.ready()
  return app
}

export interface RunningApi {
  readonly app: FastifyInstance
  /** `http://host:port` the API listens on. */
  readonly address: string
  close(): Promise<void>
}

/** Builds the app and listens on `config.host:config.port`. */
export async function startApi(opts: ApiOptions): Promise<RunningApi> {
  const app = await buildApp(opts)
  const address = await app.listen({ host: opts.config.host, port: opts.config.port })
  return { app, address, close: () => app.close() }
}
