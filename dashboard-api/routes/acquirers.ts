import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { KnownAcquirer } from '../../acquirers/registry.ts'
import { ERRORS, principalOf, type RouteDeps } from '../context.ts'
import { conflict, invalid } from '../errors.ts'
import { appendAudit } from '../repositories/audit.ts'
import { Acquirer, AcquirersReply, ErrorReply, RegisterAcquirerBody } from '../schemas.ts'
import { chTime, iso } from '../sql.ts'

function toAcquirer(a: KnownAcquirer): Acquirer {
  return {
    acquirer_id: a.acquirerId,
    alert_topic: a.alertTopic,
    source: a.source,
    registered_at: a.registeredAt === null ? null : iso(chTime(a.registeredAt)),
    registered_by: a.registeredBy,
  }
}

/**
 * The acquirers the deployment serves (admin): configured ones and those registered here. Registering
 * an acquirer creates its alert topic and lets its events in (acquirers/registry.ts); an id whose
 * topic would collide with another acquirer's is a 409 naming both topics.
 */
export const acquirerRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  app.get(
    '/acquirers',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'The acquirers this deployment serves, with their alert topics (admin)',
        tags: ['acquirers'],
        response: { 200: AcquirersReply, ...ERRORS },
      },
    },
    async () => {
      await deps.acquirers.refresh()
      return { items: deps.acquirers.list().map(toAcquirer) }
    },
  )

  app.post(
    '/acquirers',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Register an acquirer: its events are accepted and its alert topic created (admin)',
        description:
          'Idempotent: registering a known acquirer again answers 200 with it. An id whose alert topic would collide with a known acquirer\'s, a topic of the service or one on the broker (Kafka treats "." and "_" alike; case is ignored too) is a 409.',
        tags: ['acquirers'],
        body: RegisterAcquirerBody,
        response: { 200: Acquirer, 201: Acquirer, 409: ErrorReply, ...ERRORS },
      },
    },
    async (req, reply) => {
      const actor = principalOf(req)
      const id = req.body.acquirer_id
      if (!deps.acquirers.isKnown(id)) {
        await appendAudit(deps.store, {
          acquirerId: id,
          actor,
          action: 'register',
          entityType: 'acquirer',
          entityId: id,
          merchantId: '',
          before: null,
          after: { acquirer_id: id },
          requestId: req.id,
          at: deps.now(),
        })
      }
      const result = await deps.acquirers.register(id, actor.name)
      if (!result.ok) {
        if (result.reason === 'invalid')
          throw invalid('body.acquirer_id', result.message.replace(/^acquirer_id /, ''))
        throw conflict(result.message)
      }
      reply.code(result.created ? 201 : 200)
      return toAcquirer(result.acquirer)
    },
  )
}
