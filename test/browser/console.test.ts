/// <reference lib="dom" />
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { type RunningService, startService } from '../../app/service.ts'
import { loadConfig } from '../../config/load.ts'
import { buildConsole } from '../../console/build.ts'
import { createApiKey } from '../../dashboard-api/repositories/api-keys.ts'
import { EventCodec } from '../../kafka/codec.ts'
import { createLogger } from '../../lib/logger.ts'
import { sleep } from '../../lib/retry.ts'
import { HistorySimulator } from '../../simulator/history.ts'
import { produceEvents } from '../../simulator/stream.ts'
import { launchChromium, type TestBrowser } from '../helpers/browser.ts'
import { testKafka, uniqueName, waitFor } from '../helpers/kafka.ts'

// What the console shows after a request: a loaded machine (CI beside other jobs) can take seconds to
// answer, and expect.poll gives up after one by default.
const SLOW = { timeout: 20_000, interval: 100 }

const DAY_MS = 86_400_000
const HOST = 'console.test'
const EVIL = 'evil.test'
/** `CONSOLE_SCREENSHOTS=refresh npm run test:browser` rewrites the README's pictures; otherwise a temp dir. */
const SHOTS =
  process.env.CONSOLE_SCREENSHOTS === 'refresh'
    ? join(import.meta.dirname, '../../docs/screenshots')
    : mkdtempSync(join(tmpdir(), 'console-shots-'))

/**
 * The analysts' console in real headless Chromium, over the real service (npm start's code: ingest,
 * rules, scoring, the API) fed with the simulator's labelled traffic on the real broker and chDB.
 * The page is served under a name that is not loopback, over plain http, as in a private network.
 */
describe("the analysts' console in Chromium", () => {
  let dir: string
  let service: RunningService
  let tb: TestBrowser
  let origin: string
  let attacker: Server
  let attackerOrigin: string
  const keys: Record<string, { key: string; keyId: string }> = {}
  let cashOut = ''
  const prefix = uniqueName('console')
  // Today's local midnight (UTC+8) closes the simulated history: everything is in the past.
  const todayStart = Math.floor((Date.now() + 8 * 3_600_000) / DAY_MS) * DAY_MS - 8 * 3_600_000
  const sim = new HistorySimulator({
    seed: 15,
    merchants: 300,
    days: 12,
    historyDays: 16,
    start: todayStart - 12 * DAY_MS,
    // Twice the preset's share of cash-out fronts: acq-alpha's queue must fill more than one page of 25,
    // and with population-calibrated rules the ordinary shops and look-alikes stay out of it.
    cashOutShare: 0.16,
  })

  const api = async (key: string, path: string, init: RequestInit = {}) => {
    const res = await fetch(`${service.api?.address}/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers },
    })
    return {
      status: res.status,
      body: (await res.json().catch(() => null)) as Record<string, unknown> | null,
    }
  }
  const key = (name: string) => keys[name]?.key ?? ''

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-browser-'))
    mkdirSync(SHOTS, { recursive: true })
    await buildConsole(join(dir, 'console'))
    const config = loadConfig({
      env: {
        KAFKA_BROKERS: inject('kafkaBrokers'),
        KAFKA_GROUP_ID: `${prefix}-group`,
        KAFKA_TOPIC_PARTITIONS: '2',
        TOPIC_TRANSACTIONS: `${prefix}.transactions`,
        TOPIC_MERCHANT_EVENTS: `${prefix}.merchant-events`,
        TOPIC_ENTITY_ACTIVITY: `${prefix}.entity-activity`,
        TOPIC_RULE_HITS: `${prefix}.rule-hits`,
        TOPIC_SCORING_STATE: `${prefix}.scoring-state`,
        TOPIC_SCORE_EVENTS: `${prefix}.score-events`,
        TOPIC_PARKED: `${prefix}.parked`,
        ALERTS_TOPIC_PATTERN: `${prefix}.alerts.{acquirer}`,
        // The simulator's acquirers: its labelled history is what the test produces.
        ACQUIRERS: 'acq-alpha,acq-beta',
        CHDB_PATH: join(dir, 'chdb'),
        CLICKHOUSE_DATABASE: 'console_browser',
        SIMULATOR: 'off',
        API_HOST: '127.0.0.1',
        API_PORT: '0',
        API_CONSOLE_DIR: join(dir, 'console'),
        RULES_BASELINE_REFRESH_MS: '10000',
      },
    })
    service = await startService(config, { logger: createLogger('silent'), now: Date.now, sleep })
    const ingest = service.ingest
    if (ingest === null || service.api === null) throw new Error('the service runs no pipeline or no API')
    const produced = await produceEvents(
      testKafka(inject('kafkaBrokers')),
      new EventCodec({}),
      sim.events(),
      {
        topics: { transactions: config.topics.transactions, merchantEvents: config.topics.merchantEvents },
        ratePerSecond: null,
      },
    )
    await waitFor(
      async () => ingest.stats.consumed >= produced,
      () => `consumed ${ingest.stats.consumed} of ${produced}`,
      240_000,
    )
    // Scoring runs behind ingest: wait until the flagged set stops changing.
    let last = -1
    let stable = 0
    await waitFor(
      async () => {
        const rs = await service.store.client.query({
          query: `SELECT toUInt32(count()) AS n, toUInt32(sum(score)) AS s FROM {db:Identifier}.merchant_scores FINAL WHERE level != 'LOW'`,
          query_params: { db: service.store.database },
          format: 'JSONEachRow',
        })
        const [row] = await rs.json<{ n: number; s: number }>()
        const now = Number(row?.n ?? 0) * 1e6 + Number(row?.s ?? 0)
        stable = now === last && now > 0 ? stable + 1 : 0
        last = now
        if (stable < 3) await sleep(2000)
        return stable >= 3
      },
      () => `scores still changing (${last})`,
      120_000,
    )
    for (const [name, role, scope] of [
      ['analyst', 'analyst', 'acq-alpha'],
      ['supervisor', 'supervisor', 'acq-alpha'],
      ['beta', 'analyst', 'acq-beta'],
    ] as const) {
      keys[name] = await createApiKey(service.store, { name, role, scope, createdBy: 'test' }, Date.now())
    }
    // The highest-ranked cash-out merchant of acq-alpha, as the simulator labelled it.
    const cashOuts = new Set(sim.merchants.filter((m) => m.cashOut !== null).map((m) => m.merchantId))
    const q = await api(key('analyst'), '/queue?category=fraud&limit=200')
    const items = (q.body?.items ?? []) as { merchant_id: string }[]
    cashOut = items.find((i) => cashOuts.has(i.merchant_id))?.merchant_id ?? ''
    if (cashOut === '') throw new Error('no cash-out merchant of acq-alpha in the queue')

    origin = `http://${HOST}:${new URL(service.api.address).port}`
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html')
      res.end(forgeryPage(origin, cashOut))
    })
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r))
    attackerOrigin = `http://${EVIL}:${(attacker.address() as AddressInfo).port}`
    tb = await launchChromium([HOST, EVIL])
  }, 420_000)

  afterAll(async () => {
    await tb?.close()
    attacker?.close()
    await service?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  async function signedIn(name: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await tb.browser.newContext({ viewport: { width: 1440, height: 900 } })
    const page = await context.newPage()
    await page.goto(`${origin}/console/`)
    await page.waitForSelector('body[data-ready="signin"]')
    await page.fill('#key', key(name))
    await page.click('form.signin button[type=submit]')
    await page.waitForSelector('body[data-ready="queue"]')
    return { context, page }
  }

  it('signs in with a key into an httpOnly SameSite=Strict session, and refuses a wrong key', async () => {
    const context = await tb.browser.newContext()
    const page = await context.newPage()
    const failed: string[] = []
    page.on('requestfailed', (r) => failed.push(r.url()))
    const res = await page.goto(`${origin}/console`)
    expect(res?.headers()['cache-control']).toBe('no-cache')
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'")
    expect(res?.headers()['content-security-policy']).not.toContain('unsafe-inline')
    await page.waitForSelector('body[data-ready="signin"]')
    await page.fill('#key', `prm_0123456789abcdef_${'x'.repeat(43)}`)
    await page.click('form.signin button[type=submit]')
    await expect.poll(() => page.textContent('.signin .status'), SLOW).toContain('unknown or revoked')
    await page.fill('#key', key('analyst'))
    await page.click('form.signin button[type=submit]')
    await page.waitForSelector('body[data-ready="queue"]')
    expect(await page.textContent('#who')).toContain('analyst · acq-alpha')
    const [cookie] = await context.cookies(`${origin}/v1/`)
    expect(cookie).toMatchObject({ name: 'prm_session', httpOnly: true, sameSite: 'Strict', path: '/v1' })
    // Plain http: no Secure flag, or the browser would have dropped the cookie.
    expect(cookie?.secure).toBe(false)
    // The key is nowhere a script can read it.
    const stored = await page.evaluate(
      () => JSON.stringify({ ...localStorage, ...sessionStorage }) + document.cookie,
    )
    expect(stored).not.toContain(key('analyst'))
    expect(stored).not.toContain('prm_session')
    expect(failed).toEqual([])
    const asset = await page.evaluate(() => document.querySelector('script')?.getAttribute('src'))
    const assetRes = await fetch(`${service.api?.address}/console/${asset}`)
    expect(assetRes.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    await context.close()
  })

  it('shows the queue with counts per level, filters, keyset pages and keyboard selection', async () => {
    const { context, page } = await signedIn('analyst')
    const counts = await api(key('analyst'), '/queue/counts')
    const c = (counts.body?.counts ?? {}) as Record<string, number>
    for (const level of ['MEDIUM', 'HIGH', 'CRITICAL']) {
      expect(await page.textContent(`.count[data-level="${level}"] strong`)).toBe(String(c[level]))
    }
    const total = (c.MEDIUM ?? 0) + (c.HIGH ?? 0) + (c.CRITICAL ?? 0)
    expect(total).toBeGreaterThan(25)
    const firstPage = await page.$$eval('#queue tbody tr', (rows) =>
      rows.map((r) => r.getAttribute('data-key')),
    )
    expect(firstPage).toHaveLength(25)
    await page.screenshot({ path: join(SHOTS, 'queue.png') })

    await page.click('#next-page')
    await expect
      .poll(() => page.$$eval('#queue tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key'))), SLOW)
      .not.toEqual(firstPage)
    const second = await page.$$eval('#queue tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key')))
    expect(second.filter((k) => firstPage.includes(k))).toEqual([])
    await page.click('#prev-page')
    await expect
      .poll(() => page.$$eval('#queue tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key'))), SLOW)
      .toEqual(firstPage)

    await page.selectOption('select[name=category]', 'compliance')
    await expect
      .poll(
        () =>
          page.$$eval('#queue tbody tr td:nth-child(4)', (tds) => [
            ...new Set(tds.map((t) => t.textContent)),
          ]),
        SLOW,
      )
      .toEqual(['compliance'])
    await page.selectOption('select[name=category]', '')
    await page.uncheck('input[name=level][value=MEDIUM]')
    await expect
      .poll(
        () =>
          page.$$eval('#queue tbody tr .level', (ls) => ls.some((l) => l.textContent?.includes('MEDIUM'))),
        SLOW,
      )
      .toBe(false)
    // Two filters changed in a row, the first request's reply held back until after the second's: the
    // page shows the second (a stale reply drawn over a newer one once showed the unfiltered queue).
    const held = (url: URL) => url.pathname.endsWith('/queue') && !url.searchParams.has('rule')
    await page.route(held, async (route) => {
      await new Promise((r) => setTimeout(r, 1_000))
      await route.continue()
    })
    await page.check('input[name=level][value=MEDIUM]')
    await page.selectOption('select[name=rule]', 'structuring')
    const withRule = await api(key('analyst'), '/queue?rule=structuring&limit=25')
    const expected = ((withRule.body?.items ?? []) as { merchant_id: string }[]).map((i) => i.merchant_id)
    expect(expected.length).toBeGreaterThan(0)
    await expect
      .poll(
        () => page.$$eval('#queue tbody tr', (rows) => rows.map((r) => r.getAttribute('data-merchant'))),
        SLOW,
      )
      .toEqual(expected)
    // Until the held reply has come and gone, and still after it.
    await page.waitForTimeout(1_500)
    expect(
      await page.$$eval('#queue tbody tr', (rows) => rows.map((r) => r.getAttribute('data-merchant'))),
    ).toEqual(expected)
    await page.unroute(held)
    await page.selectOption('select[name=rule]', '')
    await page.selectOption('select[name=case_status]', 'none')
    await expect
      .poll(
        () =>
          page.$$eval('#queue tbody tr td:nth-child(8)', (tds) => [
            ...new Set(tds.map((t) => t.textContent)),
          ]),
        SLOW,
      )
      .toEqual(['none'])
    await afterRefresh(page, () => page.selectOption('select[name=case_status]', ''))

    // j moves the selection down, k up, Enter opens the merchant (once the focus has left the filters).
    await page.waitForSelector('#queue tbody tr.selected')
    await page.click('.queue-head h1')
    const before = await page.getAttribute('#queue tbody tr.selected', 'data-key')
    // Polled: a refresh that began before the key press redraws the rows as it found them when it ends.
    await page.keyboard.press('j')
    await expect.poll(() => page.getAttribute('#queue tbody tr.selected', 'data-key'), SLOW).not.toBe(before)
    await page.keyboard.press('k')
    await expect.poll(() => page.getAttribute('#queue tbody tr.selected', 'data-key'), SLOW).toBe(before)

    // A refresh (every 30 s, or r) keeps the page and the selected merchant.
    await afterRefresh(page, () => page.click('#next-page'))
    expect(await page.textContent('.pager .muted')).toBe('page 2')
    await page.keyboard.press('j')
    await page.keyboard.press('j')
    const chosen = await page.getAttribute('#queue tbody tr.selected', 'data-key')
    await afterRefresh(page, () => page.keyboard.press('r'))
    expect(await page.textContent('.pager .muted')).toBe('page 2')
    expect(await page.getAttribute('#queue tbody tr.selected', 'data-key')).toBe(chosen)

    // Enter opens the selected merchant; j and k go on to the next and previous one in the queue.
    await page.keyboard.press('Enter')
    await page.waitForSelector('body[data-ready="merchant"]')
    const opened = page.url()
    expect(decodeURIComponent(opened)).toContain(`/${chosen?.split('/')[1]}`)
    await page.keyboard.press('j')
    await expect.poll(() => page.url(), SLOW).not.toBe(opened)
    await page.waitForSelector('body[data-ready="merchant"]')
    await page.keyboard.press('k')
    await expect.poll(() => page.url(), SLOW).toBe(opened)
    await context.close()
  })

  it("draws a cash-out merchant's evidence: every chart from real data, hits in words, samples one click away", async () => {
    const { context, page } = await signedIn('analyst')
    await page.goto(`${origin}/console/#/merchant/acq-alpha/${encodeURIComponent(cashOut)}`)
    await page.waitForSelector('body[data-ready="merchant"]')
    const charts = await page.$$eval('figure.chart', (fs) =>
      fs.map((f) => ({
        chart: f.getAttribute('data-chart'),
        points: Number(f.getAttribute('data-points')),
        drawn: f.querySelector('canvas, svg, table') !== null,
      })),
    )
    expect(charts.map((c) => c.chart).sort()).toEqual(
      [
        'amounts',
        'card-swipes',
        'credit-share',
        'daily-volume',
        'fixes',
        'hours',
        'lifecycle',
        'ticket-sizes',
        'top-cards',
      ].sort(),
    )
    for (const c of charts) expect(c, c.chart ?? '').toMatchObject({ drawn: true })
    for (const c of charts) expect(c.points, c.chart ?? '').toBeGreaterThan(0)
    // The charts' numbers are the API's: the daily series holds one point per day with sales.
    const daily = await api(
      key('analyst'),
      `/acquirers/acq-alpha/merchants/${encodeURIComponent(cashOut)}/daily`,
    )
    const days = new Set(((daily.body?.items ?? []) as { date: string }[]).map((d) => d.date))
    expect(charts.find((c) => c.chart === 'daily-volume')?.points).toBe(days.size)

    const hits = await page.$$eval('#hits li.hit', (ls) =>
      ls.map((l) => ({
        rule: l.getAttribute('data-rule'),
        text: l.querySelector('.explain')?.textContent ?? '',
      })),
    )
    expect(hits.length).toBeGreaterThan(0)
    for (const h of hits)
      expect(h.text).toMatch(/Observed .+ against a threshold of .+, (on|from) \d{4}-\d\d-\d\d/)
    const withSamples = page.locator('#hits li.hit button.samples-button:not([disabled])').first()
    await withSamples.click()
    const sampleRows = page.locator('#hits li.hit .samples:not([hidden]) tbody tr')
    await expect.poll(() => sampleRows.count(), SLOW).toBeGreaterThan(0)
    await page.screenshot({ path: join(SHOTS, 'merchant.png'), fullPage: true })
    await context.close()
  })

  it('takes a case from open to closed, notes it, and shows a version conflict plainly', async () => {
    const { context, page } = await signedIn('analyst')
    const m = encodeURIComponent(cashOut)
    await page.goto(`${origin}/console/#/merchant/acq-alpha/${m}`)
    await page.waitForSelector('body[data-ready="merchant"]')
    await page.keyboard.press('c')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('open-reason')
    await page.fill('#open-reason', 'structuring and recurring cards')
    await page.click('#open-case button[type=submit]')
    await page.waitForSelector('#case[data-status="open"]')
    await page.click('#case-actions button[data-to="investigating"]')
    await page.waitForSelector('#case[data-status="investigating"]')
    await page.fill('#note', 'same ten cards every day, 6 minutes apart')
    await page.click('#add-note button[type=submit]')
    await expect.poll(() => page.textContent('#notes'), SLOW).toContain('6 minutes apart')

    // Someone else changes the case meanwhile: the page's next change is refused with the current state.
    const cases = await api(key('supervisor'), `/acquirers/acq-alpha/cases?merchant=${m}`)
    const open = ((cases.body?.items ?? []) as { case_id: string; version: number }[])[0]
    expect(open).toBeDefined()
    const moved = await api(key('supervisor'), `/acquirers/acq-alpha/cases/${open?.case_id}`, {
      method: 'PATCH',
      body: JSON.stringify({ expected_version: open?.version, assignee: 'ana' }),
    })
    expect(moved.status).toBe(200)
    await page.click('#case-actions button[data-to="escalated"]')
    await expect.poll(() => page.textContent('#status'), SLOW).toMatch(/Conflict: .*version/)
    await page.click('#reload-case')
    await page.waitForSelector('body[data-ready="merchant"]')
    await page.waitForSelector('#case[data-status="investigating"]')

    await page.selectOption('#decision', 'confirmed_cash_out')
    await page.check('#close-case input[value=delay_settlement]')
    await page.check('#close-case input[value=suspend_acceptance]')
    await page.click('#close-case button[type=submit]')
    await page.waitForSelector('#case[data-status="closed"]')
    const closed = await api(key('analyst'), `/acquirers/acq-alpha/cases/${open?.case_id}`)
    expect(closed.body?.case).toMatchObject({
      status: 'closed',
      decision: 'confirmed_cash_out',
      actions: ['delay_settlement', 'suspend_acceptance'],
    })
    await context.close()
  })

  it('grants and removes a whitelist entry, and a supervisor browses every action in the audit log', async () => {
    const { context, page } = await signedIn('supervisor')
    await page.goto(`${origin}/console/#/merchant/acq-alpha/${encodeURIComponent(cashOut)}`)
    await page.waitForSelector('body[data-ready="merchant"]')
    // The rules regulation wants reviewed every time are not offered.
    const offered = await page.$$eval('#wl-rule option', (os) => os.map((o) => o.getAttribute('value')))
    expect(offered).toContain('round_amount')
    expect(offered).not.toContain('relocation')
    expect(offered).not.toContain('settlement_churn')
    await page.selectOption('#wl-rule', 'round_amount')
    await page.fill('#wl-reason', 'jeweller: round prices are its trade')
    await page.click('#add-whitelist button[type=submit]')
    await page.waitForSelector('#whitelist li[data-rule="round_amount"]')
    await page.click('#whitelist li[data-rule="round_amount"] button')
    await expect.poll(() => page.locator('#whitelist li[data-rule="round_amount"]').count(), SLOW).toBe(0)

    await page.keyboard.press('a')
    await page.waitForSelector('body[data-ready="audit"]')
    const actions = await page.$$eval('#audit tbody tr', (rs) => rs.map((r) => r.getAttribute('data-action')))
    for (const a of ['open', 'status:investigating', 'note', 'assign', 'whitelist:add', 'whitelist:remove']) {
      expect(
        actions.some((x) => x?.startsWith(a)),
        `${a} in ${actions.join(' ')}`,
      ).toBe(true)
    }
    expect(actions.some((a) => a?.startsWith('status:closed,decide:confirmed_cash_out'))).toBe(true)
    await context.close()
  })

  it('shows a key of another acquirer none of it', async () => {
    const { context, page } = await signedIn('beta')
    const acquirers = await page.$$eval('#queue tbody tr td:nth-child(3)', (tds) => [
      ...new Set(tds.map((t) => t.textContent)),
    ])
    expect(acquirers).toEqual(['acq-beta'])
    const merchants = await page.$$eval('#queue tbody tr', (rows) =>
      rows.map((r) => r.getAttribute('data-merchant')),
    )
    expect(merchants).not.toContain(cashOut)
    await page.goto(`${origin}/console/#/merchant/acq-alpha/${encodeURIComponent(cashOut)}`)
    await page.waitForSelector('body[data-ready="merchant-error"]')
    expect(await page.textContent('#status')).toContain('RISK_ERR_API_NOT_FOUND')
    await page.goto(`${origin}/console/#/audit`)
    await page.waitForSelector('body[data-ready="audit"]')
    expect(await page.textContent('#view')).toContain('for supervisors')
    await context.close()
  })

  it('refuses a forged cross-site request, and a same-site change without the CSRF token', async () => {
    const { context, page } = await signedIn('analyst')
    const m = encodeURIComponent(cashOut)
    const count = async () =>
      (
        ((await api(key('analyst'), `/acquirers/acq-alpha/cases?merchant=${m}`)).body?.items ??
          []) as unknown[]
      ).length
    const before = await count()
    // Another site, in the same browser that holds the session: a form post and a fetch with credentials.
    const evil = await context.newPage()
    const answers: number[] = []
    evil.on('response', (r) => {
      if (r.request().method() === 'POST' && r.url().endsWith('/cases')) answers.push(r.status())
    })
    const done = evil.waitForEvent('console', (msg) => msg.text().startsWith('forgery done'))
    await evil.goto(attackerOrigin)
    await done
    await expect.poll(() => answers.length, SLOW).toBeGreaterThan(0)
    // The requests reached the service without the session (the cookie stays home) and were refused.
    for (const s of answers) expect([401, 403]).toContain(s)
    expect(await count()).toBe(before)
    // The console's own origin, with the cookie but without the token: 403.
    const status = await page.evaluate(
      async ([path]) =>
        (
          await fetch(path ?? '', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ reason: 'forged' }),
          })
        ).status,
      [`/v1/acquirers/acq-alpha/merchants/${m}/cases`],
    )
    expect(status).toBe(403)
    expect(await count()).toBe(before)
    await context.close()
  })

  it('signs out: the session ends and the cookie goes', async () => {
    const { context, page } = await signedIn('analyst')
    await page.click('#sign-out')
    await page.waitForSelector('body[data-ready="signin"]')
    expect(await context.cookies(`${origin}/v1/`)).toEqual([])
    const status = await page.evaluate(async () => (await fetch('/v1/session')).status)
    expect(status).toBe(401)
    await context.close()
  })

  it('serves Swagger UI and the console over plain http under a non-loopback name', async () => {
    const context = await tb.browser.newContext()
    const page = await context.newPage()
    const problems: string[] = []
    page.on('requestfailed', (r) => problems.push(`failed ${r.url()}`))
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`)
    })
    const res = await page.goto(`${origin}/docs`)
    expect(res?.headers()['content-security-policy'] ?? '').not.toContain('upgrade-insecure-requests')
    await page.waitForSelector('.swagger-ui .opblock', { timeout: 30_000 })
    expect(await page.locator('.swagger-ui .opblock').count()).toBeGreaterThan(20)
    expect(problems).toEqual([])
    await context.close()
  })
})

/** Does something that refreshes the queue, and waits until the refresh has been drawn. */
async function afterRefresh(page: Page, action: () => Promise<unknown>): Promise<void> {
  const count = async () => Number(await page.getAttribute('#refreshed', 'data-refreshes'))
  const before = await count()
  await action()
  await expect.poll(count, SLOW).toBeGreaterThan(before)
}

/**
 * Another site's page: a form posted to the console's API (text/plain, the one body a form can send
 * as JSON) and a credentialed fetch. The browser does not send the SameSite=Strict cookie with either.
 */
function forgeryPage(target: string, merchant: string): string {
  const url = `${target}/v1/acquirers/acq-alpha/merchants/${encodeURIComponent(merchant)}/cases`
  return `<!doctype html><html><body>
<form id="f" method="POST" action="${url}" enctype="text/plain" target="sink">
<input name='{"reason":"forged","x":"' value='"}'></form><iframe name="sink"></iframe>
<script>
document.getElementById('f').submit();
fetch(${JSON.stringify(url)}, { method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ reason: 'forged' }) })
  .then((r) => console.log('forgery done: ' + r.type), (e) => console.log('forgery done: ' + e));
</script></body></html>`
}
