/**
 * The console in Chromium on the 1M-merchant store of api-data.ts: how long the queue and a merchant's
 * evidence page take to render, from the navigation to the page marking itself ready (every request
 * answered, every chart drawn). The API listens on a port and the page is real: sign-in, fetches,
 * uPlot and SVG drawing, as an analyst's laptop would do them (here on the same 2 cores as chDB).
 *
 *   BENCH_API_CHDB=/tmp/api-bench-data npm run bench:console
 *   BENCH_CONSOLE_PAGES=40 ...   # merchant pages measured (default 30); queue loads likewise
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { openAcquirers } from '../app/acquirers.ts'
import { loadConfig } from '../config/load.ts'
import { buildConsole } from '../console/build.ts'
import { startApi } from '../dashboard-api/app.ts'
import { createApiKey } from '../dashboard-api/repositories/api-keys.ts'
import { createLogger } from '../lib/logger.ts'
import { openStore } from '../store/client.ts'
import { launchChromium } from '../test/helpers/browser.ts'
import { ensureBenchStore, NOW } from './api-data.ts'

const PAGES = Number(process.env.BENCH_CONSOLE_PAGES ?? 30)
const kept = process.env.BENCH_API_CHDB
const dir = kept ?? mkdtempSync(join(tmpdir(), 'api-bench-'))
const built = mkdtempSync(join(tmpdir(), 'console-bench-'))

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

const row = (name: string, times: number[]) => {
  const t = [...times].sort((a, b) => a - b)
  return `| ${name} | ${t.length} | ${quantile(t, 0.5).toFixed(0)} | ${quantile(t, 0.9).toFixed(0)} | ${(t.at(-1) ?? 0).toFixed(0)} |`
}

const store = await openStore({ database: 'api_bench', chdbPath: join(dir, 'chdb') })
try {
  await ensureBenchStore(store)
  await buildConsole(built)
  const config = {
    ...loadConfig({ env: {} }).api,
    rateLimitMax: 1_000_000,
    host: '127.0.0.1',
    port: 0,
    consoleDir: built,
  }
  const defaults = loadConfig({ env: {} })
  const acquirers = await openAcquirers(defaults, {
    store,
    kafka: null,
    logger: createLogger('silent'),
    now: () => NOW,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  })
  const api = await startApi({ store, config, now: () => NOW, acquirers: acquirers.registry })
  const analyst = await createApiKey(
    store,
    { name: 'bench', role: 'analyst', scope: 'acq-0', createdBy: 'bench' },
    NOW,
  )
  const chromium = await launchChromium()
  const browser = chromium.browser
  try {
    const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage()
    await page.goto(`${api.address}/console/`)
    await page.waitForSelector('body[data-ready="signin"]')
    await page.fill('#key', analyst.key)
    await page.click('form.signin button[type=submit]')
    await page.waitForSelector('body[data-ready="queue"]')
    const merchants = await page.$$eval('#queue tbody tr', (rows) =>
      rows.map((r) => r.getAttribute('data-merchant') ?? ''),
    )

    const timeTo = async (go: () => Promise<unknown>, ready: string) => {
      const t0 = performance.now()
      await go()
      await page.waitForSelector(`body[data-ready="${ready}"]`, { timeout: 60_000 })
      return performance.now() - t0
    }
    const queueLoads: number[] = []
    const merchantPages: number[] = []
    const back: number[] = []
    // Where a merchant page's time goes: each request's duration in the browser, by route.
    const requests = new Map<string, number[]>()
    const lastResponse: number[] = []
    const collect = async () => {
      const entries = await page.evaluate(() =>
        performance
          .getEntriesByType('resource')
          .filter((e) => e.name.includes('/v1/'))
          .map((e) => ({
            name: e.name,
            start: e.startTime,
            end: (e as PerformanceResourceTiming).responseEnd,
          })),
      )
      const t0 = Math.min(...entries.map((e) => e.start))
      lastResponse.push(Math.max(...entries.map((e) => e.end)) - t0)
      for (const e of entries) {
        const route = new URL(e.name).pathname
          .replace(/merchants\/[^/]+/, 'merchants/{m}')
          .replace(/cases\/[^/?]+/, 'cases/{c}')
        requests.set(route, [...(requests.get(route) ?? []), e.end - e.start])
      }
    }
    // Two warm-up rounds, not counted: the first chDB reads of a part are cold.
    for (let i = -2; i < PAGES; i++) {
      const m = merchants[(i + 2) % merchants.length] ?? ''
      const q = await timeTo(() => page.reload(), 'queue')
      await page.evaluate(() => performance.clearResourceTimings())
      const d = await timeTo(
        () => page.evaluate((id) => (location.hash = `#/merchant/acq-0/${id}`), m),
        'merchant',
      )
      if (i >= 0) await collect()
      const b = await timeTo(() => page.evaluate(() => (location.hash = '#/queue')), 'queue')
      if (i >= 0) {
        queueLoads.push(q)
        merchantPages.push(d)
        back.push(b)
      }
    }
    console.log(
      `\n${PAGES} rounds after 2 warm-up ones; ${cpus().length} cores; Chromium ${browser.version()}`,
    )
    console.log('| page | n | median ms | p90 ms | max ms |')
    console.log('|---|---|---|---|---|')
    console.log(row('queue, full page load (HTML, assets, session, first page, counts)', queueLoads))
    console.log(
      row('merchant evidence page (9 requests, 7 charts, case and whitelist panels)', merchantPages),
    )
    console.log(row('back to the queue (in-page navigation)', back))
    console.log('\nmerchant page: requests as the browser timed them (they run in parallel)')
    console.log('| request | n | median ms | p90 ms | max ms |')
    console.log('|---|---|---|---|---|')
    for (const [route, times] of [...requests].sort()) console.log(row(route, times))
    console.log(row('first request sent to last response received', lastResponse))
  } finally {
    await chromium.close()
    await api.close()
  }
} finally {
  await store.close()
  rmSync(built, { recursive: true, force: true })
  if (kept === undefined) rmSync(dir, { recursive: true, force: true })
}
