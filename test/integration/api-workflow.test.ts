import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadWhitelist, toRulesFileWhitelist } from '../../dashboard-api/repositories/whitelist.ts'
import { buildRulesConfig, type WhitelistEntry } from '../../rules/engine/config.ts'
import { RULES } from '../../rules/index.ts'
import { openStore, type Store } from '../../store/client.ts'
import {
  keyFor,
  seedHits,
  seedMerchantEvents,
  seedScores,
  seedTransactions,
  testApp,
} from '../helpers/api.ts'
import { merchantEvent, txn } from '../helpers/events.ts'

type Headers = Record<string, string>

/**
 * The review workflow end to end through `inject()` on the real ClickHouse engine: evidence of a
 * merchant, the case state machine, concurrent changes, whitelists as the rule engine takes them, the
 * audit log, and cursors that neither skip nor repeat while rows arrive.
 */
describe('dashboard API workflow', () => {
  let dir: string
  let store: Store
  let app: FastifyInstance
  let clock = Date.UTC(2026, 10, 20, 12)
  const pushed: WhitelistEntry[][] = []
  let analyst: Headers
  let analyst2: Headers
  let supervisor: Headers
  const A = 'acq-w'
  const day = (d: number, h = 4) => Date.UTC(2026, 10, d, h)

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'api-workflow-'))
    store = await openStore({ database: 'api_workflow', chdbPath: join(dir, 'chdb') })
    analyst = (await keyFor(store, 'analyst', A, 'ana')).headers
    analyst2 = (await keyFor(store, 'analyst', A, 'bo')).headers
    supervisor = (await keyFor(store, 'supervisor', A, 'sue')).headers
    app = await testApp(store, {
      // Every reading of the clock is a millisecond later, so audit events have a strict order.
      now: () => ++clock,
      onWhitelistChange: (entries) => {
        pushed.push(entries)
      },
    })
  })

  afterAll(async () => {
    await app?.close()
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const get = async (url: string, headers: Headers = analyst) => {
    const res = await app.inject({ url, headers })
    expect([url, res.statusCode]).toEqual([url, 200])
    return res.json()
  }
  const send = (method: 'POST' | 'PATCH' | 'DELETE', url: string, headers: Headers, payload?: object) =>
    app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) })

  it("shows a merchant's profile, terminals, account changes, scores, history, hits, daily series, transactions and recurring cards", async () => {
    const m = 'm-evidence'
    await seedMerchantEvents(store, [
      merchantEvent({
        acquirer_id: A,
        merchant_id: m,
        event_time: day(1),
        registered_mcc: '5944',
        merchant_name: 'Gold Co',
      }),
      merchantEvent({
        acquirer_id: A,
        merchant_id: m,
        event_time: day(2),
        kind: 'TERMINAL_BOUND',
        terminal_id: 'T-1',
        merchant_name: null,
        registered_mcc: null,
        latitude: null,
        longitude: null,
        settlement_account_token: null,
      }),
      merchantEvent({
        acquirer_id: A,
        merchant_id: m,
        event_time: day(3),
        kind: 'SETTLEMENT_ACCOUNT_CHANGED',
        settlement_account_token: 'acct-2',
        merchant_name: null,
        registered_mcc: null,
        latitude: null,
        longitude: null,
      }),
    ])
    // tok-ring comes back on three days in two months; tok-once pays once.
    await seedTransactions(store, [
      txn({
        acquirer_id: A,
        merchant_id: m,
        txn_id: 'e1',
        event_time: Date.UTC(2026, 9, 30, 4),
        card_token: 'tok-ring',
        terminal_id: 'T-1',
        amount_minor: 4_990_000,
      }),
      txn({
        acquirer_id: A,
        merchant_id: m,
        txn_id: 'e2',
        event_time: day(10),
        card_token: 'tok-ring',
        terminal_id: 'T-1',
        amount_minor: 4_980_000,
      }),
      txn({
        acquirer_id: A,
        merchant_id: m,
        txn_id: 'e3',
        event_time: day(11),
        card_token: 'tok-ring',
        terminal_id: 'T-2',
        amount_minor: 4_970_000,
      }),
      txn({
        acquirer_id: A,
        merchant_id: m,
        txn_id: 'e4',
        event_time: day(11, 5),
        card_token: 'tok-once',
        terminal_id: 'T-1',
        amount_minor: 12_300,
      }),
    ])
    await seedScores(store, [
      { acquirer: A, merchant: m, category: 'fraud', score: 40, scoredAt: day(10) },
      {
        acquirer: A,
        merchant: m,
        category: 'fraud',
        score: 88,
        scoredAt: day(11),
        // As the scorer writes it: each hit's part in the score, its evidence by reference (the first
        // hit is stored below, the second no longer is).
        breakdown: [
          { hit_id: `structuring:${m}:${day(11, 0)}`, rule_id: 'structuring', points: 50, basis: null },
          { hit_id: 'h-gone', rule_id: 'structuring', points: 10 },
        ],
      },
    ])
    await seedHits(store, [
      {
        acquirer: A,
        merchant: m,
        rule: 'structuring',
        windowStart: day(11, 0),
        observed: 0.75,
        threshold: 0.3,
        samples: ['e3', 'e4'],
      },
    ])

    const base = `/v1/acquirers/${A}/merchants/${m}`
    const detail = await get(base)
    expect(detail.profile).toMatchObject({
      name: 'Gold Co',
      registered_mcc: '5944',
      settlement_account_token: 'acct-2',
      settlement_account_changes: 1,
      onboarded_at: new Date(day(1)).toISOString(),
    })
    expect(detail.terminals).toEqual([
      { terminal_id: 'T-1', bound: true, changed_at: new Date(day(2)).toISOString() },
    ])
    expect(detail.terminals_seen.map((t: { terminal_id: string }) => t.terminal_id)).toEqual(['T-1', 'T-2'])
    expect(detail.settlement_account_changes).toEqual([
      { at: new Date(day(3)).toISOString(), account_token: 'acct-2' },
    ])
    expect(detail.scores).toEqual([
      expect.objectContaining({
        category: 'fraud',
        score: 88,
        level: 'CRITICAL',
        breakdown: [
          {
            hit_id: `structuring:${m}:${day(11, 0)}`,
            rule_id: 'structuring',
            points: 50,
            observed: 0.75,
            threshold: 0.3,
            sample_txn_ids: ['e3', 'e4'],
            detail: 'structuring fired',
            basis: null,
          },
          { hit_id: 'h-gone', rule_id: 'structuring', points: 10 },
        ],
      }),
    ])

    expect((await get(`${base}/score-history`)).items.map((h: { score: number }) => h.score)).toEqual([
      88, 40,
    ])
    const hits = (await get(`${base}/hits?rule=structuring`)).items
    expect(hits).toEqual([
      expect.objectContaining({
        rule_id: 'structuring',
        observed: 0.75,
        threshold: 0.3,
        sample_txn_ids: ['e3', 'e4'],
      }),
    ])
    expect((await get(`${base}/hits?rule=night_share`)).items).toEqual([])

    const daily = (await get(`${base}/daily?from=2026-11-01&to=2026-11-30`)).items
    expect(daily.map((d: { date: string; approved_sales: number }) => [d.date, d.approved_sales])).toEqual([
      ['2026-11-10', 1],
      ['2026-11-11', 2],
    ])
    expect(daily[1]).toMatchObject({
      approved_amount_minor: 4_982_300,
      distinct_cards: 2,
      max_ticket_minor: 4_970_000,
    })

    const ids = async (qs: string) =>
      (await get(`${base}/transactions${qs}`)).items.map((t: { txn_id: string }) => t.txn_id)
    expect(await ids('')).toEqual(['e4', 'e3', 'e2', 'e1'])
    expect(await ids('?card=tok-ring')).toEqual(['e3', 'e2', 'e1'])
    expect(await ids('?terminal=T-2')).toEqual(['e3'])
    expect(
      await ids(`?from=${new Date(day(10)).toISOString()}&to=${new Date(day(11)).toISOString()}`),
    ).toEqual(['e2'])

    const cards = (await get(`${base}/top-cards`)).items
    expect(
      cards.map(
        (c: { card_token: string; active_months: number; active_days: number; terminals: number }) => [
          c.card_token,
          c.active_months,
          c.active_days,
          c.terminals,
        ],
      ),
    ).toEqual([
      ['tok-ring', 2, 3, 2],
      ['tok-once', 1, 1, 1],
    ])
  })

  it('runs a case from opening to decision, with a 409 naming the state for every illegal move', async () => {
    const m = 'm-case'
    await seedScores(store, [{ acquirer: A, merchant: m, score: 75 }])
    const cases = `/v1/acquirers/${A}/merchants/${m}/cases`
    const opened = await send('POST', cases, analyst, { reason: 'structuring and recurring cards' })
    expect(opened.statusCode).toBe(201)
    const c = opened.json().case
    expect(c).toMatchObject({ status: 'open', version: 1, opened_by: 'ana', decision: null })
    const again = await send('POST', cases, analyst2, { reason: 'me too' })
    expect([again.statusCode, again.json().error.message]).toEqual([
      409,
      `merchant ${m} already has case ${c.case_id}, which is open`,
    ])

    const url = `/v1/acquirers/${A}/cases/${c.case_id}`
    const step = async (headers: Headers, body: object, status = 200) => {
      const res = await send('PATCH', url, headers, body)
      expect([
        JSON.stringify(body),
        res.statusCode,
        res.statusCode === 200 ? '' : res.json().error.message,
      ]).toEqual([JSON.stringify(body), status, expect.any(String)])
      return res.json()
    }
    expect((await step(analyst, { expected_version: 1, status: 'investigating' })).case).toMatchObject({
      status: 'investigating',
      assignee: 'ana',
      version: 2,
    })
    // Bo still holds version 1: his change is refused, not silently applied over Ana's.
    const stale = await step(analyst2, { expected_version: 1, assignee: 'bo' }, 409)
    expect(stale.error.message).toContain('is investigating (version 2)')
    const illegal = await step(analyst, { expected_version: 2, status: 'investigating' }, 409)
    expect(illegal.error.message).toContain('is investigating')
    const undecided = await step(analyst, { expected_version: 2, status: 'closed' }, 409)
    expect(undecided.error.message).toContain('has no decision')
    await step(analyst, {
      expected_version: 2,
      decision: 'confirmed_cash_out',
      actions: ['delay_settlement', 'suspend_acceptance'],
    })
    await step(analyst, { expected_version: 3, status: 'escalated' })
    const forbidden = await step(analyst, { expected_version: 4, status: 'closed' }, 403)
    expect(forbidden.error.code).toBe('RISK_ERR_API_FORBIDDEN')
    const note = await send('POST', `${url}/notes`, supervisor, { body: 'terminal retrieved by field team' })
    expect(note.statusCode).toBe(201)
    const closed = await step(supervisor, {
      expected_version: 4,
      status: 'closed',
      actions: ['retrieve_terminal'],
    })
    expect(closed.case).toMatchObject({
      status: 'closed',
      decision: 'confirmed_cash_out',
      actions: ['delay_settlement', 'suspend_acceptance', 'retrieve_terminal'],
      version: 5,
    })
    expect(closed.notes).toEqual([
      expect.objectContaining({ author: 'sue', body: 'terminal retrieved by field team' }),
    ])
    const afterClose = await step(analyst, { expected_version: 5, assignee: 'bo' }, 409)
    expect(afterClose.error.message).toContain('is closed')

    // The audit log has every change, with who and the case before and after.
    const audit = (await get(`/v1/audit?entity_id=${c.case_id}`, supervisor)).items.reverse()
    expect(audit.map((e: { action: string; actor_name: string }) => `${e.actor_name}:${e.action}`)).toEqual([
      'ana:open',
      'ana:status:investigating,assign',
      'ana:decide:confirmed_cash_out,action',
      'ana:status:escalated',
      'sue:note',
      'sue:status:closed,action',
    ])
    expect(audit[1].before).toMatchObject({ status: 'open', version: 1 })
    expect(audit[1].after).toMatchObject({ status: 'investigating', version: 2 })
    expect(audit[0].before).toBeNull()
    expect(new Set(audit.map((e: { request_id: string }) => e.request_id)).size).toBe(audit.length)

    // Filters of the case list and of the queue's case column.
    expect(
      (await get(`/v1/acquirers/${A}/cases?status=closed&merchant=${m}`)).items.map(
        (x: { case_id: string }) => x.case_id,
      ),
    ).toEqual([c.case_id])
    expect((await get(`/v1/acquirers/${A}/cases?status=open&merchant=${m}`)).items).toEqual([])
    const queued = (await get('/v1/queue?case_status=closed')).items
    expect(
      queued.map((q: { merchant_id: string; case: { status: string } }) => [q.merchant_id, q.case.status]),
    ).toEqual([[m, 'closed']])
  })

  it('lets exactly one of two simultaneous changes of a case through, and opens one case for two simultaneous openings', async () => {
    const m = 'm-race'
    await seedScores(store, [{ acquirer: A, merchant: m, score: 66 }])
    const opens = await Promise.all(
      [analyst, analyst2].map((h) =>
        send('POST', `/v1/acquirers/${A}/merchants/${m}/cases`, h, { reason: 'race' }),
      ),
    )
    expect(opens.map((r) => r.statusCode).sort()).toEqual([201, 409])
    const c = opens.find((r) => r.statusCode === 201)?.json().case
    const url = `/v1/acquirers/${A}/cases/${c.case_id}`
    const changes = await Promise.all([
      send('PATCH', url, analyst, { expected_version: 1, assignee: 'ana' }),
      send('PATCH', url, analyst2, { expected_version: 1, assignee: 'bo' }),
    ])
    expect(changes.map((r) => r.statusCode).sort()).toEqual([200, 409])
    const winner = changes.find((r) => r.statusCode === 200)?.json().case.assignee
    const now = (await get(url)).case
    expect([now.assignee, now.version]).toEqual([winner, 2])
  })

  it('grants and removes whitelist entries that the rules configuration honours, and refuses the unwhitelistable', async () => {
    const m = 'm-jeweller'
    await seedScores(store, [{ acquirer: A, merchant: m, score: 50 }])
    const expires = clock + 30 * 86_400_000
    const add = await send('POST', `/v1/acquirers/${A}/whitelist`, supervisor, {
      merchant_id: m,
      rule_id: 'round_amount',
      reason: 'jeweller: round prices are its trade',
      expires_at: new Date(expires).toISOString(),
    })
    expect(add.statusCode).toBe(201)
    const entry = add.json()
    expect(entry).toMatchObject({
      merchant_id: m,
      rule_id: 'round_amount',
      granted_by: 'sue',
      removed_at: null,
    })

    // What the service merges into the rule engine: the engine's own shape, through its own validation.
    const live = await loadWhitelist(store, clock)
    expect(live).toEqual([
      {
        acquirerId: A,
        merchantId: m,
        ruleId: 'round_amount',
        reason: 'jeweller: round prices are its trade',
        expiresAt: expires,
        grantedBy: 'sue',
      },
    ])
    expect(pushed.at(-1)).toEqual(live)
    const rules = buildRulesConfig({ whitelist: toRulesFileWhitelist(live) }, RULES)
    expect(rules.isWhitelisted(A, m, 'round_amount', clock)).toBe(true)
    expect(rules.isWhitelisted(A, m, 'round_amount', expires + 1)).toBe(false)
    expect(rules.isWhitelisted('acq-other', m, 'round_amount', clock)).toBe(false)
    expect(await loadWhitelist(store, expires + 1)).toEqual([])

    for (const rule of ['relocation', 'mcc_mismatch', 'settlement_churn']) {
      const refused = await send('POST', `/v1/acquirers/${A}/whitelist`, supervisor, {
        merchant_id: m,
        rule_id: rule,
        reason: 'please',
        expires_at: new Date(expires).toISOString(),
      })
      expect([rule, refused.statusCode, refused.json().error.field]).toEqual([rule, 400, 'body.rule_id'])
    }
    const ghost = await send('POST', `/v1/acquirers/${A}/whitelist`, supervisor, {
      merchant_id: 'm-nobody',
      rule_id: 'night_share',
      reason: 'x',
      expires_at: new Date(expires).toISOString(),
    })
    expect(ghost.statusCode).toBe(404)

    const del = await send('DELETE', `/v1/acquirers/${A}/whitelist/${entry.entry_id}`, supervisor)
    expect(del.json()).toMatchObject({ removed_by: 'sue', version: 2 })
    expect(
      (await send('DELETE', `/v1/acquirers/${A}/whitelist/${entry.entry_id}`, supervisor)).statusCode,
    ).toBe(409)
    expect(await loadWhitelist(store, clock)).toEqual([])
    expect(pushed.at(-1)).toEqual([])
    expect((await get(`/v1/acquirers/${A}/whitelist`)).items).toEqual([])
    expect((await get(`/v1/acquirers/${A}/whitelist?include_inactive=true`)).items).toHaveLength(1)
    const trail = (await get(`/v1/audit?entity_type=whitelist`, supervisor)).items
    expect(trail.map((e: { action: string }) => e.action)).toEqual(['whitelist:remove', 'whitelist:add'])
  })

  it('filters the queue by level, category, rule, time and case status', async () => {
    const Q = 'acq-q'
    const qa = (await keyFor(store, 'analyst', Q)).headers
    await seedScores(store, [
      { acquirer: Q, merchant: 'q-1', category: 'fraud', score: 90, scoredAt: day(5) },
      { acquirer: Q, merchant: 'q-2', category: 'compliance', score: 70, scoredAt: day(6) },
      { acquirer: Q, merchant: 'q-3', category: 'fraud', score: 40, scoredAt: day(7) },
      { acquirer: Q, merchant: 'q-4', category: 'fraud', score: 10, scoredAt: day(7) },
    ])
    await seedHits(store, [{ acquirer: Q, merchant: 'q-3', rule: 'night_share', windowStart: day(7, 0) }])
    await send('POST', `/v1/acquirers/${Q}/merchants/q-2/cases`, qa, { reason: 'relocated terminal' })
    const list = async (qs: string) =>
      (await get(`/v1/queue${qs}`, qa)).items.map((i: { merchant_id: string }) => i.merchant_id)
    expect(await list('')).toEqual(['q-1', 'q-2', 'q-3'])
    expect(await list('?level=LOW')).toEqual(['q-4'])
    expect(await list('?level=CRITICAL&level=HIGH')).toEqual(['q-1', 'q-2'])
    expect(await list('?category=compliance')).toEqual(['q-2'])
    expect(await list('?rule=night_share')).toEqual(['q-3'])
    expect(await list(`?from=${new Date(day(6)).toISOString()}`)).toEqual(['q-2', 'q-3'])
    expect(await list(`?to=${new Date(day(6)).toISOString()}`)).toEqual(['q-1'])
    expect(await list('?case_status=open')).toEqual(['q-2'])
    expect(await list('?case_status=none')).toEqual(['q-1', 'q-3'])
  })

  it('pages the queue and the transactions without skipping or repeating a row while new rows arrive', async () => {
    const P = 'acq-p'
    const pa = (await keyFor(store, 'analyst', P)).headers
    // Many ties on the score, so the tie-breaker does real work.
    const original = Array.from({ length: 130 }, (_, i) => ({
      acquirer: P,
      merchant: `p-${String(i).padStart(3, '0')}`,
      score: 35 + (i % 13) * 5,
    }))
    await seedScores(store, original)
    const seen: string[] = []
    const scores: number[] = []
    let cursor: string | null = null
    let round = 0
    do {
      const page = await get(`/v1/queue?limit=20${cursor === null ? '' : `&cursor=${cursor}`}`, pa)
      for (const i of page.items) {
        seen.push(i.merchant_id)
        scores.push(i.score)
      }
      cursor = page.next_cursor
      // Between pages: new flagged merchants, above and below wherever the cursor is.
      round++
      await seedScores(store, [
        { acquirer: P, merchant: `new-hi-${round}`, score: 99 },
        { acquirer: P, merchant: `new-lo-${round}`, score: 36 },
        { acquirer: P, merchant: `new-tie-${round}`, score: 35 + (round % 13) * 5 },
      ])
    } while (cursor !== null)
    expect(new Set(seen).size).toBe(seen.length)
    for (const o of original) expect(seen).toContain(o.merchant)
    expect([...scores].sort((a, b) => b - a)).toEqual(scores)

    const m = 'p-txns'
    const t0 = day(15)
    // 150 transactions on 50 distinct times: three share every timestamp.
    await seedTransactions(
      store,
      Array.from({ length: 150 }, (_, i) =>
        txn({
          acquirer_id: P,
          merchant_id: m,
          txn_id: `pt-${String(i).padStart(3, '0')}`,
          event_time: t0 + Math.floor(i / 3) * 60_000,
        }),
      ),
    )
    const txSeen: string[] = []
    cursor = null
    round = 0
    do {
      const page = await get(
        `/v1/acquirers/${P}/merchants/${m}/transactions?limit=16${cursor === null ? '' : `&cursor=${cursor}`}`,
        pa,
      )
      txSeen.push(...page.items.map((t: { txn_id: string }) => t.txn_id))
      cursor = page.next_cursor
      round++
      await seedTransactions(store, [
        txn({ acquirer_id: P, merchant_id: m, txn_id: `late-new-${round}`, event_time: t0 + 200 * 60_000 }),
        txn({ acquirer_id: P, merchant_id: m, txn_id: `late-old-${round}`, event_time: t0 - 60_000 }),
      ])
    } while (cursor !== null)
    expect(new Set(txSeen).size).toBe(txSeen.length)
    const originals = txSeen.filter((id) => id.startsWith('pt-'))
    expect(originals).toHaveLength(150)
    // Newest first, and within one time the tie-breaker order.
    expect(originals.slice(0, 4)).toEqual(['pt-149', 'pt-148', 'pt-147', 'pt-146'])

    // A cursor taken to other filters is refused rather than silently misapplied.
    const first = await get(`/v1/queue?limit=5`, pa)
    const misuse = await app.inject({
      url: `/v1/queue?limit=5&category=fraud&cursor=${first.next_cursor}`,
      headers: pa,
    })
    expect([misuse.statusCode, misuse.json().error.field]).toEqual([400, 'query.cursor'])
  })
})
