import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Principal } from '../auth.ts'
import { unauthenticated } from '../auth.ts'
import { ERRORS, principalOf } from '../context.ts'
import { ApiError } from '../errors.ts'
import { SessionReply, SignInBody } from '../schemas.ts'
import { type Session, type Sessions, sameOrigin, sessionOf } from '../session.ts'

export interface SessionRouteOptions {
  readonly sessions: Sessions
  /** The principal of a presented key, or null (unknown, malformed, revoked). */
  readonly resolveKey: (key: string) => Promise<Principal | null>
}

function replyOf(p: Principal, s: Session | null) {
  return {
    key_id: p.keyId,
    name: p.name,
    role: p.role,
    acquirer_scope: p.scope,
    csrf_token: s?.csrf ?? null,
    expires_at: s === null ? null : new Date(s.expiresAt).toISOString(),
  }
}

/**
 * Sign-in and sign-out of the console (see session.ts). Sign-in is the one /v1 route without a key:
 * it takes the key in its body, once, and answers with the session cookie and the CSRF token.
 */
export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRouteOptions> = async (app, opts) => {
  app.post(
    '/session',
    {
      config: { role: 'public' },
      schema: {
        summary: 'Sign in with an API key: sets the session cookie, returns the CSRF token',
        description:
          'The cookie is httpOnly, SameSite=Strict, Path=/v1 (Secure over https). Send the returned csrf_token as x-csrf-token with every POST, PATCH and DELETE made with the cookie.',
        tags: ['session'],
        body: SignInBody,
        security: [],
        response: { 200: SessionReply, ...ERRORS },
      },
    },
    async (req, reply) => {
      // A forged sign-in would log the victim into the attacker's account (login CSRF).
      if (!sameOrigin(req))
        throw new ApiError('RISK_ERR_API_FORBIDDEN', 'a sign-in from another site is refused')
      const principal = await opts.resolveKey(req.body.key)
      if (principal === null) throw unauthenticated('the API key is unknown or revoked')
      const session = opts.sessions.open(req, reply, principal)
      reply.header('cache-control', 'no-store')
      return replyOf(principal, session)
    },
  )

  app.get(
    '/session',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Who the caller is (key, role, acquirer scope) and, for a session, its CSRF token',
        tags: ['session'],
        response: { 200: SessionReply, ...ERRORS },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-store')
      return replyOf(principalOf(req), sessionOf(req))
    },
  )

  app.delete(
    '/session',
    {
      config: { role: 'analyst' },
      schema: {
        summary: 'Sign out: ends the session and clears its cookie',
        tags: ['session'],
        response: { 204: { type: 'null' }, ...ERRORS },
      },
    },
    async (req, reply) => {
      opts.sessions.close(req, reply)
      reply.code(204)
      return null
    },
  )
}
