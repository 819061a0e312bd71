import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ALL_ACQUIRERS, type Principal } from '../auth.ts'
import { ERRORS, principalOf, type RouteDeps } from '../context.ts'
import { invalid, notFound } from '../errors.ts'
import { createApiKey, findApiKey, keyInfoOf, listApiKeys, revokeApiKey } from '../repositories/api-keys.ts'
import { appendAudit } from '../repositories/audit.ts'
import { ApiKeyInfo, ApiKeyParams, ApiKeysReply, CreateApiKeyBody, CreatedApiKey } from '../schemas.ts'

/** An admin key of one acquirer manages that acquirer's keys only; an all-acquirer admin, every key. */
function manages(admin: Principal, scope: string): boolean {
  return admin.scope === ALL_ACQUIRERS || admin.scope === scope
}

/**
 * API keys, for admins: what `npm run api-keys` does against a running service (the embedded store
 * is locked by the service's process, so the CLI cannot open it then). Every change is audited.
 */
export const apiKeyRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { store } = deps

  app.get(
    '/api-keys',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'API keys (admin): id, name, role, acquirer scope, creation and revocation; never the key',
        tags: ['api-keys'],
        response: { 200: ApiKeysReply, ...ERRORS },
      },
    },
    async (req) => {
      const admin = principalOf(req)
      return { items: (await listApiKeys(store)).filter((k) => manages(admin, k.scope)).map(keyInfoOf) }
    },
  )

  app.post(
    '/api-keys',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Create an API key (admin); the key is in this reply only',
        tags: ['api-keys'],
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, ...ERRORS },
      },
    },
    async (req, reply) => {
      const admin = principalOf(req)
      const b = req.body
      if (b.acquirer === ALL_ACQUIRERS && b.role !== 'admin')
        throw invalid('body.acquirer', 'may be * for admin keys only')
      if (!manages(admin, b.acquirer))
        throw invalid('body.acquirer', `must be ${admin.scope}, the acquirer of this admin key`)
      const now = deps.now()
      const created = await createApiKey(
        store,
        { name: b.name, role: b.role, scope: b.acquirer, createdBy: admin.name },
        now,
      )
      const record = await findApiKey(store, created.keyId)
      if (record === null) throw new Error(`key ${created.keyId} was not stored`)
      await appendAudit(store, {
        acquirerId: b.acquirer,
        actor: admin,
        action: 'api_key:create',
        entityType: 'api_key',
        entityId: created.keyId,
        merchantId: '',
        before: null,
        after: keyInfoOf(record),
        requestId: req.id,
        at: now,
      })
      reply.code(201)
      return { ...keyInfoOf(record), key: created.key }
    },
  )

  app.delete(
    '/api-keys/:keyId',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Revoke an API key (admin); it stays listed with its revocation time',
        tags: ['api-keys'],
        params: ApiKeyParams,
        response: { 200: ApiKeyInfo, ...ERRORS },
      },
    },
    async (req) => {
      const admin = principalOf(req)
      const keyId = req.params.keyId
      const before = await findApiKey(store, keyId)
      if (before === null || !manages(admin, before.scope)) throw notFound('API key', keyId)
      const now = deps.now()
      if (before.revokedAt === null) {
        await appendAudit(store, {
          acquirerId: before.scope,
          actor: admin,
          action: 'api_key:revoke',
          entityType: 'api_key',
          entityId: keyId,
          merchantId: '',
          before: keyInfoOf(before),
          after: { ...keyInfoOf(before), revoked_at: new Date(now).toISOString() },
          requestId: req.id,
          at: now,
        })
        await revokeApiKey(store, keyId, now)
      }
      const after = await findApiKey(store, keyId)
      if (after === null) throw notFound('API key', keyId)
      return keyInfoOf(after)
    },
  )
}
