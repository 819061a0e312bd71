import { createHash, randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Store } from '../store/client.ts'
import { type Principal, unauthenticated } from './auth.ts'
import { ApiError } from './errors.ts'
import { findApiKey } from './repositories/api-keys.ts'

/**
 * Browser sessions of the console. An analyst signs in once with an API key; the page then holds a
 * session cookie (httpOnly, SameSite=Strict, Path=/v1, Secure over https), never the key: a script
 * injected into the page cannot read the cookie, and no key sits in localStorage for one to steal.
 *
 * A session is as good as its key: it carries the key's id, role and acquirer scope, and the key is
 * looked up again (at most every `keyCacheMs`), so revoking the key ends its sessions too. Sessions
 * live in this process's memory: a restart signs everyone out, and API instances behind a load
 * balancer need sticky sessions (README). Idle sessions expire after `ttlMs`; none lives longer than
 * MAX_LIFETIME_MS whatever its activity.
 *
 * Cross-site request forgery: the cookie is SameSite=Strict, so a browser does not send it with a
 * request started by another site; on top of that every state-changing request made with the cookie
 * must carry the session's CSRF token in `x-csrf-token` (a synchronizer token, which another site
 * cannot read), and must not come from another origin (`Origin`, `Sec-Fetch-Site`). Requests that
 * present an API key in a header need none of this: a browser never adds that header by itself.
 */
export const SESSION_COOKIE = 'prm_session'
export const CSRF_HEADER = 'x-csrf-token'
/** A session is re-issued (and its cookie refreshed) by activity, but never lives longer than this. */
export const MAX_LIFETIME_MS = 12 * 3_600_000
/** More live sessions than this is an attack or a leak; the oldest go first. */
const MAX_SESSIONS = 10_000

export interface Session {
  readonly principal: Principal
  readonly csrf: string
  readonly createdAt: number
  expiresAt: number
  /** When the key was last found valid. */
  checkedAt: number
  /** When the cookie was last sent; it is refreshed when half its lifetime has passed. */
  cookieAt: number
}

export interface SessionOptions {
  readonly store: Store
  /** Idle lifetime of a session, ms. */
  readonly ttlMs: number
  /** How long a key found valid is not looked up again (API_KEY_CACHE_MS). */
  readonly keyCacheMs: number
  readonly now: () => number
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** The session id as the map holds it: a leaked heap dump must not give out usable cookies. */
function idHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('base64url')
}

/** The value of one cookie of a `Cookie` header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return null
}

/**
 * Whether an unsafe request comes from this very origin, as far as the browser says: `Sec-Fetch-Site`
 * when sent (every current browser), else `Origin` against `Host`. A request without either did not
 * come from a browser page (curl, an integration), which cannot carry the victim's cookie anyway.
 */
export function sameOrigin(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site']
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false
  const origin = req.headers.origin
  if (origin === undefined) return true
  try {
    return new URL(origin).host === req.headers.host
  } catch {
    return false
  }
}

export class Sessions {
  readonly #sessions = new Map<string, Session>()
  readonly #opts: SessionOptions

  constructor(opts: SessionOptions) {
    this.#opts = opts
  }

  get size(): number {
    return this.#sessions.size
  }

  /** Opens a session for a principal whose key was just checked; sets the cookie on the reply. */
  open(req: FastifyRequest, reply: FastifyReply, principal: Principal): Session {
    const now = this.#opts.now()
    this.#sweep(now)
    const id = randomBytes(32).toString('base64url')
    const session: Session = {
      principal,
      csrf: randomBytes(32).toString('base64url'),
      createdAt: now,
      expiresAt: now + this.#opts.ttlMs,
      checkedAt: now,
      cookieAt: now,
    }
    this.#sessions.set(idHash(id), session)
    this.#setCookie(req, reply, id, Math.floor(this.#opts.ttlMs / 1000))
    return session
  }

  /** Ends the request's session, if any, and clears the cookie. */
  close(req: FastifyRequest, reply: FastifyReply): void {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE)
    if (id !== null) this.#sessions.delete(idHash(id))
    this.#setCookie(req, reply, '', 0)
  }

  /**
   * The principal of the request's session, or null when it has no cookie. A cookie of no live
   * session, or a revoked key, is a 401; an unsafe request without the session's CSRF token or from
   * another origin is a 403. A session in use is kept alive (and its cookie refreshed now and then).
   */
  async authenticate(req: FastifyRequest, reply: FastifyReply): Promise<Session | null> {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE)
    if (id === null || id === '') return null
    const key = idHash(id)
    const session = this.#sessions.get(key)
    const now = this.#opts.now()
    if (session === undefined || session.expiresAt <= now || now - session.createdAt >= MAX_LIFETIME_MS) {
      this.#sessions.delete(key)
      throw unauthenticated('the session has expired or ended; sign in again')
    }
    if (UNSAFE.has(req.method)) {
      if (!sameOrigin(req)) throw forbidden('a request from another site is refused')
      if (req.headers[CSRF_HEADER] !== session.csrf) {
        throw forbidden(`this change needs the session's CSRF token in the ${CSRF_HEADER} header`)
      }
    }
    if (now - session.checkedAt >= this.#opts.keyCacheMs) {
      const record = await findApiKey(this.#opts.store, session.principal.keyId)
      if (record === null || record.revokedAt !== null) {
        this.#sessions.delete(key)
        throw unauthenticated('the API key of this session was revoked; sign in again')
      }
      session.checkedAt = now
    }
    session.expiresAt = Math.min(now + this.#opts.ttlMs, session.createdAt + MAX_LIFETIME_MS)
    if (now - session.cookieAt >= this.#opts.ttlMs / 2) {
      session.cookieAt = now
      this.#setCookie(req, reply, id, Math.ceil((session.expiresAt - now) / 1000))
    }
    return session
  }

  #sweep(now: number): void {
    for (const [k, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(k)
    // Insertion order is age order: drop the oldest when a flood of sign-ins fills the map.
    for (const k of this.#sessions.keys()) {
      if (this.#sessions.size < MAX_SESSIONS) break
      this.#sessions.delete(k)
    }
  }

  #setCookie(req: FastifyRequest, reply: FastifyReply, value: string, maxAgeS: number): void {
    // Secure only over https: a console served over plain http inside a private network (no TLS
    // termination) must still be able to sign in, and a browser drops a Secure cookie sent over http.
    const secure = req.protocol === 'https' ? '; Secure' : ''
    reply.header(
      'set-cookie',
      `${SESSION_COOKIE}=${value}; Path=/v1; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`,
    )
  }
}

function forbidden(message: string): ApiError {
  return new ApiError('RISK_ERR_API_FORBIDDEN', message)
}

const sessionsOfRequests = new WeakMap<FastifyRequest, Session>()

/** Remembers that the request authenticated with a session cookie (and not a key header). */
export function setSession(req: FastifyRequest, s: Session): void {
  sessionsOfRequests.set(req, s)
}

export function sessionOf(req: FastifyRequest): Session | null {
  return sessionsOfRequests.get(req) ?? null
}
