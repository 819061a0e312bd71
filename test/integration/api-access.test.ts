import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { Counter, Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { revokeApiKey } from '../../dashboard-api/repositories/api-keys.ts'
import { createLogger } from '../../lib/logger.ts'
import { openStore, type Store } from '../../store/client.ts'
import {
  apiConfig,
  keyFor,
  seedHits,
  seedMerchantEvents,
  seedScores,
  seedTransactions,
  testApp,
} from '../helpers/api.ts'
import { merchantEvent, txn } from '../helpers/events.ts'
import { testKafka } from '../helpers/kafka.ts'

type Headers = Record<string, string>
interface Key {
  headers: Headers
  keyId: string
}

/**
 * Who may call what, and who sees whose data: every /v1 route against no key, a bad key, a revoked
 * key, each role, and a key of another acquirer; hostile input on every kind of parameter.
 */
describe('dashboard API access', () => {
  let dir: string
  let store: Store
  let app: FastifyInstance
  const logLines: string[] = []
  const keys: Record<string, Key> = {}
  let caseA = ''
  let entryA = ''
  const day = Date.UTC(2026, 10, 20, 4)

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'api-access-'))
    store = await openStore({ database: 'api_access', chdbPath: join(dir, 'chdb') })
    keys.analystA = await keyFor(store, 'analyst', 'acq-a')
    keys.supervisorA = await keyFor(store, 'supervisor', 'acq-a')
    keys.analystB = await keyFor(store, 'analyst', 'acq-b')
    keys.supervisorB = await keyFor(store, 'supervisor', 'acq-b')
    keys.admin = await keyFor(store, 'admin', '*')
    // m-1 exists in both acquirers (ids are only unique within one); m-only-a only in acq-a.
    for (const acquirer of ['acq-a', 'acq-b']) {
      await seedMerchantEvents(store, [
        merchantEvent({ acquirer_id: acquirer, merchant_id: 'm-1', merchant_name: `shop of ${acquirer}` }),
      ])
      await seedTransactions(store, [
        txn({ acquirer_id: acquirer, merchant_id: 'm-1', event_time: day, card_token: `tok-${acquirer}` }),
      ])
      await seedScores(store, [{ acquirer, merchant: 'm-1', score: acquirer === 'acq-a' ? 70 : 90 }])
      await seedHits(store, [{ acquirer, merchant: 'm-1', rule: 'round_amount', windowStart: day }])
    }
    await seedMerchantEvents(store, [merchantEvent({ acquirer_id: 'acq-a', merchant_id: 'm-only-a' })])
    await seedMerchantEvents(store, [merchantEvent({ acquirer_id: 'acq-a', merchant_id: '商户-一号' })])
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk))
        done()
      },
    })
    const registry = new Registry()
    new Counter({ name: 'risk_test_total', help: 'a test counter', registers: [registry] }).inc(3)
    app = await testApp(store, { logger: createLogger('info', sink), registry })
    const opened = await app.inject({
      method: 'POST',
      url: '/v1/acquirers/acq-a/merchants/m-1/cases',
      headers: keys.supervisorA?.headers ?? {},
      payload: { reason: 'seed' },
    })
    caseA = opened.json().case.case_id
    const wl = await app.inject({
      method: 'POST',
      url: '/v1/acquirers/acq-a/whitelist',
      headers: keys.supervisorA?.headers ?? {},
      payload: {
        merchant_id: 'm-1',
        rule_id: 'round_amount',
        reason: 'jeweller',
        expires_at: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      },
    })
    entryA = wl.json().entry_id
  })

  afterAll(async () => {
    await app?.close()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function key(name: string): Headers {
    const k = keys[name]
    if (k === undefined) throw new Error(`no key ${name}`)
    return k.headers
  }

  /** Every /v1 route on acq-a's data, with the least role that may call it and a valid body. */
  function routes() {
    const m = '/v1/acquirers/acq-a/merchants/m-1'
    const expires = new Date(Date.now() + 86_400_000).toISOString()
    return [
      { method: 'GET', url: '/v1/queue', role: 'analyst', scoped: false },
      { method: 'GET', url: m, role: 'analyst', scoped: true },
      { method: 'GET', url: `${m}/score-history`, role: 'analyst', scoped: true },
      { method: 'GET', url: `${m}/hits`, role: 'analyst', scoped: true },
      { method: 'GET', url: `${m}/daily`, role: 'analyst', scoped: true },
      { method: 'GET', url: `${m}/transactions`, role: 'analyst', scoped: true },
      { method: 'GET', url: `${m}/top-cards`, role: 'analyst', scoped: true },
      { method: 'GET', url: `${m}/evidence`, role: 'analyst', scoped: true },
      { method: 'GET', url: `${m}/card-patterns`, role: 'analyst', scoped: true },
      { method: 'GET', url: `${m}/events`, role: 'analyst', scoped: true },
      { method: 'GET', url: '/v1/queue/counts', role: 'analyst', scoped: false },
      { method: 'GET', url: '/v1/session', role: 'analyst', scoped: false },
      { method: 'DELETE', url: '/v1/session', role: 'analyst', scoped: false },
      { method: 'GET', url: '/v1/api-keys', role: 'admin', scoped: false },
      {
        method: 'POST',
        url: '/v1/api-keys',
        role: 'admin',
        scoped: false,
        payload: { name: 'new analyst', role: 'analyst', acquirer: 'acq-a' },
      },
      { method: 'DELETE', url: '/v1/api-keys/0123456789abcdef', role: 'admin', scoped: false },
      { method: 'GET', url: '/v1/acquirers/acq-a/cases', role: 'analyst', scoped: true },
      { method: 'GET', url: `/v1/acquirers/acq-a/cases/${caseA}`, role: 'analyst', scoped: true },
      {
        method: 'POST',
        url: `/v1/acquirers/acq-a/cases/${caseA}/notes`,
        role: 'analyst',
        scoped: true,
        payload: { body: 'seen' },
      },
      {
        method: 'PATCH',
        url: `/v1/acquirers/acq-a/cases/${caseA}`,
        role: 'analyst',
        scoped: true,
        payload: { expected_version: 999, assignee: 'x' },
      },
      { method: 'POST', url: `${m}/cases`, role: 'analyst', scoped: true, payload: { reason: 'again' } },
      { method: 'GET', url: '/v1/acquirers/acq-a/whitelist', role: 'analyst', scoped: true },
      {
        method: 'POST',
        url: '/v1/acquirers/acq-a/whitelist',
        role: 'supervisor',
        scoped: true,
        payload: { merchant_id: 'm-1', rule_id: 'night_share', reason: 'hotel bar', expires_at: expires },
      },
      {
        method: 'DELETE',
        url: '/v1/acquirers/acq-a/whitelist/wl-none',
        role: 'supervisor',
        scoped: true,
      },
      { method: 'GET', url: '/v1/audit', role: 'supervisor', scoped: false },
      { method: 'GET', url: '/v1/acquirers', role: 'admin', scoped: false },
      {
        method: 'POST',
        url: '/v1/acquirers',
        role: 'admin',
        scoped: false,
        payload: { acquirer_id: 'acq-c' },
      },
    ] as const
  }

  it('lists every /v1 route of the OpenAPI description in the matrix', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json()
    const documented: string[] = []
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      if (!path.startsWith('/v1/')) continue
      for (const method of Object.keys(ops)) documented.push(`${method.toUpperCase()} ${path}`)
    }
    // Sign-in is the one route that takes no key (its key is in the body): console-session.test.ts.
    documented.splice(documented.indexOf('POST /v1/session'), 1)
    const tested = routes().map(
      (r) =>
        `${r.method} ${r.url
          .replace('/acq-a/', '/{acquirerId}/')
          .replace('/m-1', '/{merchantId}')
          .replace(caseA, '{caseId}')
          .replace('wl-none', '{entryId}')
          .replace('0123456789abcdef', '{keyId}')}`,
    )
    expect(new Set(tested)).toEqual(new Set(documented))
  })

  it('answers 401 without a key, with a malformed, an unknown or a revoked key', async () => {
    const revoked = await keyFor(store, 'admin', '*', 'leaver')
    await revokeApiKey(store, revoked.keyId, Date.now())
    const unknown = `prm_0123456789abcdef_${'A'.repeat(43)}`
    for (const r of routes()) {
      for (const headers of [
        {},
        { authorization: 'Bearer nonsense' },
        { authorization: `Bearer ${unknown}` },
        { 'x-api-key': unknown },
        revoked.headers,
      ]) {
        const res = await app.inject({
          method: r.method,
          url: r.url,
          headers,
          payload: 'payload' in r ? r.payload : undefined,
        })
        expect([r.method, r.url, res.statusCode]).toEqual([r.method, r.url, 401])
        expect(res.json().error.code).toBe('RISK_ERR_API_UNAUTHENTICATED')
      }
    }
  })

  it('answers 403 to a role below the route, and lets the role itself through', async () => {
    const below = [
      ...routes()
        .filter((x) => x.role !== 'analyst')
        .map((r) => ({ r, who: 'analystA' })),
      ...routes()
        .filter((x) => x.role === 'admin')
        .map((r) => ({ r, who: 'supervisorA' })),
    ]
    for (const { r, who } of below) {
      const res = await app.inject({
        method: r.method,
        url: r.url,
        headers: key(who),
        payload: 'payload' in r ? r.payload : undefined,
      })
      expect([r.url, who, res.statusCode]).toEqual([r.url, who, 403])
      expect(res.json().error.code).toBe('RISK_ERR_API_FORBIDDEN')
    }
    for (const r of routes()) {
      const who = r.role === 'analyst' ? 'analystA' : r.role === 'supervisor' ? 'supervisorA' : 'admin'
      const res = await app.inject({
        method: r.method,
        url: r.url,
        headers: key(who),
        payload: 'payload' in r ? r.payload : undefined,
      })
      // Allowed through: the answer is the route's own (2xx, or its 404/409 on these ids), never 401/403.
      expect([r.method, r.url, [401, 403].includes(res.statusCode)]).toEqual([r.method, r.url, false])
      expect(res.statusCode).toBeLessThan(500)
    }
  })

  it("answers another acquirer's key on every acquirer-owned route with the 404 of a missing resource", async () => {
    for (const r of routes().filter((x) => x.scoped)) {
      const who = r.role === 'analyst' ? 'analystB' : 'supervisorB'
      const res = await app.inject({
        method: r.method,
        url: r.url,
        headers: key(who),
        payload: 'payload' in r ? r.payload : undefined,
      })
      expect([r.method, r.url, res.statusCode]).toEqual([r.method, r.url, 404])
      expect(res.json().error.code).toBe('RISK_ERR_API_NOT_FOUND')
    }
    // Byte for byte: a merchant of acq-a asked by acq-b, and a merchant that exists nowhere.
    const foreign = await app.inject({
      url: '/v1/acquirers/acq-a/merchants/m-only-a',
      headers: key('analystB'),
    })
    const viaOwn = await app.inject({
      url: '/v1/acquirers/acq-b/merchants/m-only-a',
      headers: key('analystB'),
    })
    const missing = await app.inject({
      url: '/v1/acquirers/acq-a/merchants/m-only-a',
      headers: key('analystA'),
    })
    expect(missing.statusCode).toBe(200)
    expect(foreign.body).toBe(viaOwn.body)
    expect(foreign.statusCode).toBe(404)
  })

  it('shows each key only its own acquirer in the lists, and everything to an all-acquirer admin', async () => {
    const queueOf = async (name: string, qs = '') =>
      (await app.inject({ url: `/v1/queue${qs}`, headers: key(name) }))
        .json()
        .items.map((i: { acquirer_id: string; score: number }) => `${i.acquirer_id}:${i.score}`)
    expect(await queueOf('analystA')).toEqual(['acq-a:70'])
    expect(await queueOf('analystB')).toEqual(['acq-b:90'])
    expect(await queueOf('analystB', '?acquirer=acq-a')).toEqual([])
    expect(await queueOf('admin')).toEqual(['acq-b:90', 'acq-a:70'])
    expect(await queueOf('admin', '?acquirer=acq-a')).toEqual(['acq-a:70'])

    const same = await app.inject({ url: '/v1/acquirers/acq-b/merchants/m-1', headers: key('analystB') })
    expect(same.json().profile.name).toBe('shop of acq-b')
    expect(same.json().cases).toEqual([])
    const tx = await app.inject({
      url: '/v1/acquirers/acq-b/merchants/m-1/transactions',
      headers: key('analystB'),
    })
    expect(tx.json().items.map((t: { card_token: string }) => t.card_token)).toEqual(['tok-acq-b'])

    const auditB = await app.inject({ url: '/v1/audit', headers: key('supervisorB') })
    expect(auditB.json().items).toEqual([])
    const auditA = await app.inject({ url: '/v1/audit', headers: key('supervisorA') })
    expect(auditA.json().items.length).toBeGreaterThan(0)
    const wlB = await app.inject({ url: '/v1/acquirers/acq-b/whitelist', headers: key('analystB') })
    expect(wlB.json().items).toEqual([])
    const delB = await app.inject({
      method: 'DELETE',
      url: `/v1/acquirers/acq-b/whitelist/${entryA}`,
      headers: key('supervisorB'),
    })
    expect(delB.statusCode).toBe(404)
    const casesB = await app.inject({ url: `/v1/acquirers/acq-b/cases/${caseA}`, headers: key('analystB') })
    expect(casesB.statusCode).toBe(404)
  })

  it('answers hostile input with a 400 naming the field, or a correct empty answer; never a 500', async () => {
    const m = '/v1/acquirers/acq-a/merchants/m-1'
    const cases: [string, string, number, string | null, unknown?][] = [
      ['GET', `/v1/acquirers/acq-a/merchants/${encodeURIComponent("m' OR '1'='1")}`, 404, null],
      ['GET', `/v1/acquirers/${encodeURIComponent("acq-a' --")}/merchants/m-1`, 404, null],
      ['GET', `/v1/acquirers/acq-a/merchants/${'x'.repeat(129)}`, 400, 'params.merchantId'],
      ['GET', `/v1/acquirers/acq-a/merchants/${encodeURIComponent('m\u0000-1')}`, 400, 'params.merchantId'],
      ['GET', `/v1/acquirers/acq-a/merchants/${encodeURIComponent('商户-一号')}`, 200, null],
      ['GET', `${m}/transactions?card=${encodeURIComponent("'; DROP TABLE transactions; --")}`, 200, null],
      ['GET', `${m}/transactions?card=4111111111111111`, 400, 'query.card'],
      ['GET', `${m}/transactions?card=4111-1111-1111-1111`, 400, 'query.card'],
      ['GET', `${m}/transactions?terminal=${encodeURIComponent("T1') OR (1=1")}`, 200, null],
      ['GET', `${m}/transactions?limit=0`, 400, 'query.limit'],
      ['GET', `${m}/transactions?limit=501`, 400, 'query.limit'],
      ['GET', `${m}/transactions?limit=abc`, 400, 'query.limit'],
      ['GET', `${m}/transactions?limit=1e400`, 400, 'query.limit'],
      ['GET', `${m}/transactions?limit=99999999999999999999999`, 400, 'query.limit'],
      ['GET', `${m}/transactions?cursor=${encodeURIComponent("1' OR 1=1")}`, 400, 'query.cursor'],
      ['GET', `${m}/transactions?cursor=eyJrIjpbMSwiYSJdLCJmIjoieCJ9`, 400, 'query.cursor'],
      ['GET', `${m}/transactions?from=yesterday`, 400, 'query.from'],
      ['GET', `${m}/transactions?from=9999-01-01T00:00:00Z`, 400, 'query.from'],
      ['GET', `${m}/transactions?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z`, 400, 'query.to'],
      ['GET', `${m}/transactions?evil=1`, 400, 'query.evil'],
      ['GET', `${m}/daily?from=2026-13-45`, 400, 'query.from'],
      ['GET', `${m}/hits?rule=${encodeURIComponent("round_amount' OR 1=1")}`, 400, 'query.rule'],
      ['GET', `${m}/score-history?category=${encodeURIComponent('fraud\u202e')}`, 400, 'query.category'],
      ['GET', '/v1/queue?level=EXTREME', 400, 'query.level.0'],
      ['GET', `/v1/queue?acquirer=${encodeURIComponent("acq-a' OR 1=1 --")}`, 200, null],
      ['GET', `/v1/queue?case_status=${encodeURIComponent('open;')}`, 400, 'query.case_status'],
      ['POST', `${m}/cases`, 400, 'body.reason', {}],
      ['POST', `${m}/cases`, 400, 'body.reason', { reason: 'x'.repeat(2001) }],
      ['POST', `${m}/cases`, 400, 'body.extra', { reason: 'ok', extra: 1 }],
      [
        'PATCH',
        `/v1/acquirers/acq-a/cases/${'c'.repeat(10)}`,
        400,
        'body.status',
        { expected_version: 1, status: 'deleted' },
      ],
      [
        'PATCH',
        '/v1/acquirers/acq-a/cases/c-1',
        400,
        'body.expected_version',
        { expected_version: -1, assignee: '' },
      ],
      [
        'PATCH',
        '/v1/acquirers/acq-a/cases/c-1',
        400,
        'body.expected_version',
        { expected_version: 2 ** 53, assignee: '' },
      ],
      ['PATCH', '/v1/acquirers/acq-a/cases/c-1', 400, 'body', { expected_version: 1 }],
      [
        'POST',
        '/v1/acquirers/acq-a/whitelist',
        400,
        'body.rule_id',
        { merchant_id: 'm-1', rule_id: 'relocation', reason: 'r', expires_at: '2026-12-31T00:00:00Z' },
      ],
      [
        'POST',
        '/v1/acquirers/acq-a/whitelist',
        400,
        'body.rule_id',
        { merchant_id: 'm-1', rule_id: 'no_such_rule', reason: 'r', expires_at: '2026-12-31T00:00:00Z' },
      ],
      [
        'POST',
        '/v1/acquirers/acq-a/whitelist',
        400,
        'body.expires_at',
        { merchant_id: 'm-1', rule_id: 'night_share', reason: 'r', expires_at: '2001-01-01T00:00:00Z' },
      ],
      [
        'POST',
        '/v1/acquirers/acq-a/whitelist',
        400,
        'body.expires_at',
        { merchant_id: 'm-1', rule_id: 'night_share', reason: 'r', expires_at: '2199-01-01T00:00:00Z' },
      ],
    ]
    const before = await app.inject({ url: `${m}/transactions`, headers: key('supervisorA') })
    for (const [method, url, status, field, payload] of cases) {
      const res = await app.inject({
        method: method === 'PATCH' ? 'PATCH' : method === 'POST' ? 'POST' : 'GET',
        url,
        headers: key('supervisorA'),
        ...(payload === undefined
          ? {}
          : {
              payload: JSON.stringify(payload),
              headers: { ...key('supervisorA'), 'content-type': 'application/json' },
            }),
      })
      expect([url, res.statusCode]).toEqual([url, status])
      if (field !== null) {
        expect([url, res.json().error.field]).toEqual([url, field])
        expect(res.json().error.message).toContain(field)
        expect(res.json().error.code).toBe('RISK_ERR_API_INVALID_INPUT')
      }
      if (status === 200 && url.includes('transactions')) expect(res.json().items).toEqual([])
    }
    // A JSON body that does not parse, and a number too large for a double.
    const broken = await app.inject({
      method: 'POST',
      url: `${m}/cases`,
      headers: { ...key('supervisorA'), 'content-type': 'application/json' },
      payload: '{"reason": "x"',
    })
    expect(broken.statusCode).toBe(400)
    const huge = await app.inject({
      method: 'PATCH',
      url: `/v1/acquirers/acq-a/cases/${caseA}`,
      headers: { ...key('supervisorA'), 'content-type': 'application/json' },
      payload: '{"expected_version": 1e400, "assignee": "x"}',
    })
    expect([huge.statusCode, huge.json().error.field]).toEqual([400, 'body.expected_version'])
    // Nothing was dropped or changed by any of it.
    const after = await app.inject({ url: `${m}/transactions`, headers: key('supervisorA') })
    expect(after.body).toBe(before.body)
  })

  it('keeps card tokens, keys and query strings out of the logs', async () => {
    const secret = 'tok-never-logged'
    await app.inject({
      url: `/v1/acquirers/acq-a/merchants/m-1/transactions?card=${secret}`,
      headers: key('analystA'),
    })
    await app.inject({
      url: '/v1/acquirers/acq-a/merchants/m-1/transactions?card=4111111111111111',
      headers: key('analystA'),
    })
    const logs = logLines.join('')
    expect(logs).toContain('/v1/acquirers/:acquirerId/merchants/:merchantId/transactions')
    expect(logs).not.toContain(secret)
    expect(logs).not.toContain('4111111111111111')
    expect(logs).not.toContain(key('analystA').authorization?.slice(7) ?? 'never')
  })

  it('limits the rate per key, and answers 429 with a coded error', async () => {
    const limited = await testApp(store, { config: apiConfig({ rateLimitMax: 3 }) })
    try {
      const codes: number[] = []
      for (let i = 0; i < 4; i++)
        codes.push((await limited.inject({ url: '/v1/queue', headers: key('analystA') })).statusCode)
      expect(codes).toEqual([200, 200, 200, 429])
      const last = await limited.inject({ url: '/v1/queue', headers: key('analystA') })
      expect(last.json().error.code).toBe('RISK_ERR_API_RATE_LIMITED')
      // Another key has its own budget.
      expect((await limited.inject({ url: '/v1/queue', headers: key('analystB') })).statusCode).toBe(200)
    } finally {
      await limited.close()
    }
  })

  it('serves /healthz, /metrics, /docs with security headers, and /readyz from real probes', async () => {
    const health = await app.inject({ url: '/healthz' })
    expect(health.json()).toEqual({ status: 'ok' })
    expect(health.headers['x-content-type-options']).toBe('nosniff')
    expect(health.headers['strict-transport-security']).toBeDefined()
    const metrics = await app.inject({ url: '/metrics' })
    expect(metrics.body).toContain('risk_test_total 3')
    expect((await app.inject({ url: '/docs' })).statusCode).toBe(200)

    const brokers = inject('kafkaBrokers')
    const reachable = async (list: string) => {
      const admin = testKafka(list).admin()
      try {
        await admin.connect()
        await admin.listTopics()
        return true
      } catch {
        return false
      } finally {
        await admin.disconnect()
      }
    }
    const up = await testApp(store, { probes: { kafka: () => reachable(brokers) } })
    const down = await testApp(store, { probes: { kafka: () => reachable('127.0.0.1:1') } })
    try {
      const ready = await up.inject({ url: '/readyz' })
      expect([ready.statusCode, ready.json()]).toEqual([
        200,
        { status: 'ready', checks: { clickhouse: true, kafka: true } },
      ])
      const notReady = await down.inject({ url: '/readyz' })
      expect([notReady.statusCode, notReady.json().checks]).toEqual([503, { clickhouse: true, kafka: false }])
    } finally {
      await up.close()
      await down.close()
    }
  })
})
