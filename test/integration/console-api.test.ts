import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONSOLE_CSP } from '../../dashboard-api/console.ts'
import { revokeApiKey } from '../../dashboard-api/repositories/api-keys.ts'
import { openStore, type Store } from '../../store/client.ts'
import {
  apiConfig,
  keyFor,
  seedMerchantEvents,
  seedScores,
  seedTransactions,
  testApp,
} from '../helpers/api.ts'
import { merchantEvent, txn } from '../helpers/events.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
/** 17:30 UTC on 20 November: already 21 November at UTC+8, the acquirers' local day. */
const NOW = Date.UTC(2026, 10, 20, 17, 30)

/**
 * What the console needs from the API, through inject(): sessions and their CSRF protection, the
 * counts per level, the evidence series, API keys for admins, the console's files and headers, and the
 * local-day default of /daily.
 */
describe('console API', () => {
  let dir: string
  let store: Store
  let app: FastifyInstance
  let clock = NOW
  const keys: Record<string, { headers: Record<string, string>; key: string; keyId: string }> = {}
  const m = '/v1/acquirers/acq-c/merchants/m-cash'

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-api-'))
    store = await openStore({ database: 'console_api', chdbPath: join(dir, 'chdb') })
    keys.analyst = await keyFor(store, 'analyst', 'acq-c')
    keys.supervisor = await keyFor(store, 'supervisor', 'acq-c')
    keys.other = await keyFor(store, 'analyst', 'acq-d')
    keys.admin = await keyFor(store, 'admin', '*')
    keys.adminC = await keyFor(store, 'admin', 'acq-c')
    const built = join(dir, 'console')
    mkdirSync(join(built, 'assets'), { recursive: true })
    writeFileSync(join(built, 'index.html'), '<!doctype html><script src="assets/main-ABC.js"></script>')
    writeFileSync(join(built, 'assets/main-ABC.js'), 'console.log(1)')

    // A cash-out merchant and a peer of the same MCC, registered in Shanghai.
    for (const id of ['m-cash', 'm-peer']) {
      await seedMerchantEvents(store, [
        merchantEvent({
          acquirer_id: 'acq-c',
          merchant_id: id,
          registered_mcc: '5411',
          latitude: 31.23,
          longitude: 121.47,
          event_time: NOW - 60 * DAY,
        }),
        merchantEvent({
          acquirer_id: 'acq-c',
          merchant_id: id,
          kind: 'TERMINAL_BOUND',
          terminal_id: `T-${id}`,
          event_time: NOW - 59 * DAY,
        }),
      ])
    }
    const at = (daysAgo: number, hour: number, min = 0) =>
      NOW - daysAgo * DAY - (NOW % DAY) + hour * HOUR + min * 60_000
    await seedTransactions(store, [
      // Exact round thousands, near-round ones, and swipes just under the 50,000 single limit.
      ...[10_000, 20_000, 30_000].map((major, i) =>
        txn({
          acquirer_id: 'acq-c',
          merchant_id: 'm-cash',
          amount_minor: major * 100,
          event_time: at(3, 2, i),
        }),
      ),
      ...[9_950, 10_150, 19_900].map((major, i) =>
        txn({
          acquirer_id: 'acq-c',
          merchant_id: 'm-cash',
          amount_minor: major * 100,
          event_time: at(3, 3, i),
        }),
      ),
      ...[48_000, 49_500].map((major, i) =>
        txn({
          acquirer_id: 'acq-c',
          merchant_id: 'm-cash',
          amount_minor: major * 100,
          event_time: at(2, 4, i),
        }),
      ),
      // One card three times a day, 6 minutes apart, two days running; also seen at the peer.
      ...[0, 1].flatMap((d) =>
        [0, 6, 12].map((min) =>
          txn({
            acquirer_id: 'acq-c',
            merchant_id: 'm-cash',
            card_token: 'tok-farm',
            amount_minor: 4_900_000,
            event_time: at(5 + d, 10, min),
          }),
        ),
      ),
      txn({ acquirer_id: 'acq-c', merchant_id: 'm-peer', card_token: 'tok-farm', event_time: at(4, 12) }),
      // A fix 150 km from the registered place.
      txn({
        acquirer_id: 'acq-c',
        merchant_id: 'm-cash',
        latitude: 32.5,
        longitude: 121.47,
        terminal_id: 'T-far',
        event_time: at(1, 9),
      }),
      // Sales of the peer over the days, for the peers' median.
      ...[1, 2, 3].map((d) =>
        txn({ acquirer_id: 'acq-c', merchant_id: 'm-peer', amount_minor: 100_000, event_time: at(d, 14) }),
      ),
      // 17:00 UTC today is 01:00 of the acquirer's next local day: the day a UTC default left out.
      txn({
        acquirer_id: 'acq-c',
        merchant_id: 'm-cash',
        txn_id: 'tx-local-today',
        event_time: Date.UTC(2026, 10, 20, 17, 0),
      }),
    ])
    await seedScores(store, [
      { acquirer: 'acq-c', merchant: 'm-cash', score: 90 },
      { acquirer: 'acq-c', merchant: 'm-peer', score: 40 },
      { acquirer: 'acq-c', merchant: 'm-cash', category: 'compliance', score: 65 },
      { acquirer: 'acq-c', merchant: 'm-low', score: 10 },
      { acquirer: 'acq-d', merchant: 'm-other', score: 95 },
    ])
    app = await testApp(store, {
      now: () => clock,
      config: apiConfig({ consoleDir: built, sessionTtlMs: 10 * 60_000 }),
    })
  })

  afterAll(async () => {
    await app?.close()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const host = { host: 'console.example:8080' }

  async function signIn(name: string) {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { ...host, origin: 'http://console.example:8080', 'sec-fetch-site': 'same-origin' },
      payload: { key: keys[name]?.key },
    })
    const cookie = String(res.headers['set-cookie']).split(';')[0] ?? ''
    return { res, cookie, csrf: String(res.json().csrf_token) }
  }

  it('signs in with a key: an httpOnly, SameSite=Strict, Path=/v1 cookie and a CSRF token; never the key', async () => {
    const { res, cookie, csrf } = await signIn('analyst')
    expect(res.statusCode).toBe(200)
    expect(res.headers['set-cookie']).toMatch(
      /^prm_session=[A-Za-z0-9_-]{43}; Path=\/v1; HttpOnly; SameSite=Strict; Max-Age=600$/,
    )
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.json()).toMatchObject({
      role: 'analyst',
      acquirer_scope: 'acq-c',
      key_id: keys.analyst?.keyId,
    })
    expect(res.body).not.toContain(keys.analyst?.key)
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const me = await app.inject({ url: '/v1/session', headers: { ...host, cookie } })
    expect(me.json().csrf_token).toBe(csrf)
    const queue = await app.inject({ url: '/v1/queue', headers: { ...host, cookie } })
    expect(queue.statusCode).toBe(200)
    // Over https (behind a proxy that says so), the cookie is Secure as well.
    const tls = await testApp(store, { config: apiConfig({ trustProxy: true }) })
    const secure = await tls.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { 'x-forwarded-proto': 'https' },
      payload: { key: keys.analyst?.key },
    })
    expect(secure.headers['set-cookie']).toMatch(/; Secure$/)
    await tls.close()
  })

  it.each([
    ['an unknown key', { key: `prm_0123456789abcdef_${'A'.repeat(43)}` }, {}, 401],
    ['a malformed key', { key: 'hunter2' }, {}, 401],
    ['no key', {}, {}, 400],
    ['another origin', 'analyst', { origin: 'http://evil.example' }, 403],
    ['a cross-site fetch', 'analyst', { 'sec-fetch-site': 'cross-site' }, 403],
  ])('refuses a sign-in with %s', async (_what, body, headers, status) => {
    const payload = typeof body === 'string' ? { key: keys[body]?.key } : body
    const res = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: { ...host, ...headers },
      payload,
    })
    expect(res.statusCode).toBe(status)
    expect(res.headers['set-cookie']).toBeUndefined()
  })

  it('refuses a change made with the cookie but without the CSRF token, or from another site', async () => {
    const { cookie, csrf } = await signIn('analyst')
    const url = `${m}/cases`
    const cases = [
      [{ cookie }, 403],
      [{ cookie, 'x-csrf-token': 'forged' }, 403],
      [{ cookie, 'x-csrf-token': csrf, origin: 'http://evil.example' }, 403],
      [{ cookie, 'x-csrf-token': csrf, 'sec-fetch-site': 'same-site' }, 403],
      [{ 'x-csrf-token': csrf }, 401],
    ] as const
    for (const [headers, status] of cases) {
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { ...host, ...headers },
        payload: { reason: 'x' },
      })
      expect([headers, res.statusCode]).toEqual([headers, status])
    }
    const ok = await app.inject({
      method: 'POST',
      url,
      headers: { ...host, cookie, 'x-csrf-token': csrf, origin: 'http://console.example:8080' },
      payload: { reason: 'from the console' },
    })
    expect(ok.statusCode).toBe(201)
    // Reads need no token; a key in a header needs none either (a browser never adds it by itself).
    expect((await app.inject({ url: `${m}/hits`, headers: { ...host, cookie } })).statusCode).toBe(200)
  })

  it('ends a session on sign-out, on expiry and when its key is revoked', async () => {
    const a = await signIn('analyst')
    const out = await app.inject({
      method: 'DELETE',
      url: '/v1/session',
      headers: { ...host, cookie: a.cookie, 'x-csrf-token': a.csrf },
    })
    expect(out.statusCode).toBe(204)
    expect(out.headers['set-cookie']).toMatch(
      /^prm_session=; Path=\/v1; HttpOnly; SameSite=Strict; Max-Age=0/,
    )
    expect((await app.inject({ url: '/v1/queue', headers: { ...host, cookie: a.cookie } })).statusCode).toBe(
      401,
    )

    const b = await signIn('analyst')
    clock += 11 * 60_000
    try {
      const late = await app.inject({ url: '/v1/queue', headers: { ...host, cookie: b.cookie } })
      expect(late.statusCode).toBe(401)
      expect(late.json().error.message).toContain('expired')
    } finally {
      clock = NOW
    }

    const leaver = await keyFor(store, 'analyst', 'acq-c', 'leaver')
    const signedIn = await app.inject({
      method: 'POST',
      url: '/v1/session',
      headers: host,
      payload: { key: leaver.key },
    })
    const cookie = String(signedIn.headers['set-cookie']).split(';')[0] ?? ''
    expect((await app.inject({ url: '/v1/queue', headers: { ...host, cookie } })).statusCode).toBe(200)
    await revokeApiKey(store, leaver.keyId, Date.now())
    const revoked = await app.inject({ url: '/v1/queue', headers: { ...host, cookie } })
    expect(revoked.statusCode).toBe(401)
  })

  it('counts the queue per level under the same filters, within the key acquirer', async () => {
    const counts = async (name: string, qs = '') =>
      (await app.inject({ url: `/v1/queue/counts${qs}`, headers: keys[name]?.headers ?? {} })).json().counts
    expect(await counts('analyst')).toEqual({ LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 1 })
    expect(await counts('analyst', '?category=compliance')).toEqual({
      LOW: 0,
      MEDIUM: 0,
      HIGH: 1,
      CRITICAL: 0,
    })
    expect(await counts('analyst', '?acquirer=acq-d')).toEqual({ LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 })
    expect(await counts('admin')).toEqual({ LOW: 1, MEDIUM: 1, HIGH: 1, CRITICAL: 2 })
    expect(await counts('admin', '?acquirer=acq-d')).toEqual({ LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 1 })
  })

  it("ends /daily on the acquirer's local day, not the UTC date", async () => {
    const res = await app.inject({ url: `${m}/daily`, headers: keys.analyst?.headers ?? {} })
    const dates = res.json().items.map((r: { date: string }) => r.date)
    expect(dates.at(-1)).toBe('2026-11-21')
    expect(dates).toHaveLength(new Set(dates).size)
  })

  it('serves the series of the evidence charts from the stored transactions', async () => {
    const res = await app.inject({ url: `${m}/evidence`, headers: keys.analyst?.headers ?? {} })
    expect(res.statusCode).toBe(200)
    const ev = res.json()
    expect(ev).toMatchObject({ to: '2026-11-21', from: '2026-08-24', time_zone: '+08:00', currency: 'CNY' })
    expect(ev.limits).toEqual({
      single_minor: 5_000_000,
      daily_minor: 30_000_000,
      near_round_tolerance: 0.02,
    })
    // Exact: 10,000, 20,000, 30,000, 48,000 and the farm card's six 49,000s; near: 9,950, 10,150,
    // 19,900 and 49,500; under the single limit ([45,000, 50,000)): 48,000, 49,500 and the six 49,000s.
    expect(ev.amounts).toMatchObject({ exact_round: 10, near_round: 4, near_single_limit: 8 })
    const binned = ev.amounts.bins.reduce((s: number, b: { count: number }) => s + b.count, 0)
    expect(binned).toBe(ev.amounts.sales)
    for (const b of ev.amounts.bins) expect(b.from_minor).toBeLessThan(b.to_minor)
    // The cohort of MCC 5411: the peer and the merchant itself.
    expect(ev.baseline).toMatchObject({ peer_mcc: '5411', peer_merchants: 2 })
    expect(ev.peer_daily.length).toBeGreaterThan(0)
    expect(ev.hours.merchant.reduce((s: number, x: number) => s + x, 0)).toBeCloseTo(1, 6)
    expect(ev.hours.merchant).toHaveLength(24)
    const far = ev.locations.fixes.find((f: { terminal_id: string }) => f.terminal_id === 'T-far')
    expect(far.distance_km).toBeGreaterThan(135)
    expect(far.distance_km).toBeLessThan(145)
    expect(ev.locations.registered).toEqual({ latitude: 31.23, longitude: 121.47 })
  })

  it("shows the recurring cards' swipes per day, gaps, and the other merchants that saw them", async () => {
    const res = await app.inject({ url: `${m}/card-patterns`, headers: keys.analyst?.headers ?? {} })
    const farm = res.json().items.find((c: { card_token: string }) => c.card_token === 'tok-farm')
    expect(farm).toMatchObject({
      swipes: 6,
      active_days: 2,
      max_per_day: 3,
      days_over_two: 2,
      median_gap_s: 360,
      gaps_5_10_min: 4,
      gaps: 4,
      other_merchants: 1,
      other_merchant_ids: ['m-peer'],
    })
    expect(farm.per_day.map((d: { swipes: number }) => d.swipes)).toEqual([3, 3])
    const events = await app.inject({ url: `${m}/events`, headers: keys.analyst?.headers ?? {} })
    expect(events.json().items.map((e: { kind: string }) => e.kind)).toEqual(['ONBOARDED', 'TERMINAL_BOUND'])
    const samples = await app.inject({
      url: `${m}/transactions?txn=tx-local-today&txn=nope`,
      headers: keys.analyst?.headers ?? {},
    })
    expect(samples.json().items.map((t: { txn_id: string }) => t.txn_id)).toEqual(['tx-local-today'])
  })

  it('lets admins create, list and revoke keys, within their acquirer, audited', async () => {
    const admin = keys.admin?.headers ?? {}
    const created = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: admin,
      payload: { name: 'new analyst', role: 'analyst', acquirer: 'acq-c' },
    })
    expect(created.statusCode).toBe(201)
    const k = created.json()
    expect(k).toMatchObject({
      name: 'new analyst',
      role: 'analyst',
      acquirer_scope: 'acq-c',
      revoked_at: null,
    })
    const works = await app.inject({ url: '/v1/queue', headers: { authorization: `Bearer ${k.key}` } })
    expect(works.statusCode).toBe(200)
    const list = await app.inject({ url: '/v1/api-keys', headers: admin })
    expect(list.body).not.toContain(k.key)
    expect(list.json().items.map((i: { key_id: string }) => i.key_id)).toContain(k.key_id)
    const scoped = await app.inject({ url: '/v1/api-keys', headers: keys.adminC?.headers ?? {} })
    expect(new Set(scoped.json().items.map((i: { acquirer_scope: string }) => i.acquirer_scope))).toEqual(
      new Set(['acq-c']),
    )
    for (const [payload, field] of [
      [{ name: 'x', role: 'analyst', acquirer: '*' }, 'body.acquirer'],
      [{ name: 'x', role: 'analyst', acquirer: 'README.md package.json' }, 'body.acquirer'],
      [{ name: 'x', role: 'root', acquirer: 'acq-c' }, 'body.role'],
    ] as const) {
      const res = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload })
      expect([payload, res.statusCode, res.json().error.field]).toEqual([payload, 400, field])
    }
    const elsewhere = await app.inject({
      method: 'POST',
      url: '/v1/api-keys',
      headers: keys.adminC?.headers ?? {},
      payload: { name: 'x', role: 'analyst', acquirer: 'acq-d' },
    })
    expect(elsewhere.statusCode).toBe(400)
    const revoked = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${k.key_id}`, headers: admin })
    expect(revoked.json().revoked_at).not.toBeNull()
    const gone = await app.inject({ url: '/v1/queue', headers: { authorization: `Bearer ${k.key}` } })
    expect(gone.statusCode).toBe(401)
    const audit = await app.inject({ url: '/v1/audit?entity_type=api_key', headers: admin })
    expect(
      audit
        .json()
        .items.map((e: { action: string }) => e.action)
        .sort(),
    ).toEqual(['api_key:create', 'api_key:revoke'])
  })

  it('serves the console: page no-cache, hashed assets immutable, a CSP without inline scripts', async () => {
    const redirect = await app.inject({ url: '/console' })
    expect([redirect.statusCode, redirect.headers.location]).toEqual([302, '/console/'])
    const page = await app.inject({ url: '/console/' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['cache-control']).toBe('no-cache')
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP)
    expect(CONSOLE_CSP).not.toContain('unsafe-inline')
    expect(CONSOLE_CSP).not.toContain('upgrade-insecure-requests')
    const asset = await app.inject({ url: '/console/assets/main-ABC.js' })
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8')
    for (const url of [
      '/console/assets/nope.js',
      '/console/assets/..%2Findex.html',
      '/console/assets/..%2F..%2Fpackage.json',
    ]) {
      expect((await app.inject({ url })).statusCode).toBe(404)
    }
    const api = await app.inject({ url: '/healthz' })
    expect(api.headers['content-security-policy']).not.toContain('upgrade-insecure-requests')
    const unbuilt = await testApp(store, { config: apiConfig({ consoleDir: join(dir, 'nothing') }) })
    const missing = await unbuilt.inject({ url: '/console/' })
    expect(missing.statusCode).toBe(503)
    expect(missing.body).toContain('npm run build:console')
    await unbuilt.close()
  })
})
