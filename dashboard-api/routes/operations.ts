import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Registry } from 'prom-client'
import type { Store } from '../../store/client.ts'
import { HealthReply, ReadyReply } from '../schemas.ts'

type Probe = () => boolean | Promise<boolean>

export interface OperationsDeps {
  readonly store: Store
  readonly registry: Registry | null
  readonly probes: { readonly kafka?: Probe; readonly clickhouse?: Probe; readonly live?: Probe }
}

/** A probe that throws or hangs past 2 s counts as down: /readyz must answer even then. */
async function probe(fn: Probe): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      Promise.resolve().then(fn),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 2000)
      }),
    ])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

/** Operations endpoints, outside /v1 and without a key: orchestrators and Prometheus call them. */
export const operationsRoutes: FastifyPluginAsyncTypebox<OperationsDeps> = async (app, deps) => {
  const clickhouse: Probe = deps.probes.clickhouse ?? (async () => (await deps.store.ping()).success)

  app.get(
    '/healthz',
    {
      config: { role: 'public' },
      schema: {
        summary: 'The process is alive: every pipeline stage makes progress, or is still curing its failure',
        description:
          'Fails (503) once a stage has been unable to progress for half of `LIVENESS_TIMEOUT_MS` (out of its consumer group, crashed, retrying the same failure, its topic gone); the process exits at the full timeout.',
        tags: ['operations'],
        security: [],
        response: { 200: HealthReply, 503: HealthReply },
      },
    },
    async (_req, reply) => {
      const live = deps.probes.live
      const ok = live === undefined ? true : await probe(live)
      reply.code(ok ? 200 : 503)
      return { status: ok ? ('ok' as const) : ('failing' as const) }
    },
  )

  app.get(
    '/readyz',
    {
      config: { role: 'public' },
      schema: {
        summary: 'ClickHouse (and Kafka, when this process has a probe for it) are reachable',
        tags: ['operations'],
        security: [],
        response: { 200: ReadyReply, 503: ReadyReply },
      },
    },
    async (_req, reply) => {
      const kafkaProbe = deps.probes.kafka
      const [ch, kafka] = await Promise.all([
        probe(clickhouse),
        kafkaProbe === undefined ? Promise.resolve(null) : probe(kafkaProbe),
      ])
      const ready = ch && kafka !== false
      reply.code(ready ? 200 : 503)
      return {
        status: ready ? ('ready' as const) : ('not_ready' as const),
        checks: { clickhouse: ch, kafka },
      }
    },
  )

  app.get(
    '/metrics',
    {
      config: { role: 'public' },
      schema: { summary: 'Prometheus metrics', tags: ['operations'], security: [], hide: false },
    },
    async (_req, reply) => {
      const registry = deps.registry
      if (registry === null) {
        reply.type('text/plain; version=0.0.4; charset=utf-8')
        return ''
      }
      reply.type(registry.contentType)
      return registry.metrics()
    },
  )
}
