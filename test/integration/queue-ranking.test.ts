import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type QueueFilter, queueCounts, queuePage } from '../../dashboard-api/repositories/queue.ts'
import { chTime, insertRows } from '../../dashboard-api/sql.ts'
import type { MerchantEvent } from '../../schemas/types.generated.ts'
import { openStore, type Store } from '../../store/client.ts'
import { insertMerchantEvents, type MerchantEventInput } from '../../store/merchant-events.ts'
import { levelOf, seedHits } from '../helpers/api.ts'
import { merchantEvent } from '../helpers/events.ts'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 1)

/**
 * What migration 0006 adds for the queue, against what it is derived from: merchant_names must merge
 * to the profile's name and MCC, and a queue page read through the by_level projection must be the
 * rows of `merchant_scores FINAL`, filtered and sorted, whatever versions the parts still hold.
 * Merges of merchant_scores are stopped, so the replaced versions stay in the projection the queue
 * reads and the page has to skip them.
 */
describe('queue reads (0006)', () => {
  let dir: string
  let store: Store

  const q = async <T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> => {
    const rs = await store.client.query({
      query,
      query_params: { db: store.database, ...params },
      format: 'JSONEachRow',
    })
    return rs.json<T>()
  }

  interface Version {
    acquirer: string
    merchant: string
    category: 'fraud' | 'compliance'
    score: number
    level?: string
    at: number
    families?: string[]
  }
  /** One insert, so one part: as the scorer writes a batch. */
  const write = (versions: readonly Version[]) =>
    insertRows(
      store,
      'merchant_scores',
      versions.map((v) => ({
        acquirer_id: v.acquirer,
        merchant_id: v.merchant,
        category: v.category,
        score: v.score,
        level: v.level ?? levelOf(v.score),
        breakdown: '[]',
        hit_count: v.score % 7,
        families: v.families ?? ['amount'],
        scored_at: chTime(v.at),
        written_at: chTime(Date.now()),
      })),
    )

  const merchants = [
    ...Array.from({ length: 60 }, (_, i) => ({ acquirer: 'acq-a', merchant: `m-${i}` })),
    ...Array.from({ length: 20 }, (_, i) => ({ acquirer: 'acq-b', merchant: `m-${i}` })),
  ]
  const categories = ['fraud', 'compliance'] as const
  // The first scores: a spread over every level.
  const first: Version[] = merchants.flatMap((m, i) =>
    categories.map((category, c) => ({ ...m, category, score: (i * 37 + c * 53) % 100, at: T0 + i * 1000 })),
  )
  // A day later the strongest fall to LOW (decay), some LOW ones jump, and families change.
  const later: Version[] = first
    .filter((v) => v.score >= 70 || v.score % 9 === 0)
    .map((v) => ({
      ...v,
      score: v.score >= 70 ? v.score % 30 : 90 + (v.score % 10),
      at: v.at + DAY,
      families: ['velocity'],
    }))
  // The same instant as a row of `later` with another score: the last written wins, as in FINAL.
  const tie: Version[] = later
    .filter((_, i) => i % 4 === 0)
    .map((v) => ({ ...v, score: (v.score + 41) % 100 }))
  // An old version arriving late, with a high score: the newer version stays.
  const late: Version[] = first
    .filter((_, i) => i % 5 === 0)
    .map((v) => ({ ...v, score: 99, at: v.at - DAY }))

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'queue-ranking-'))
    store = await openStore({ database: 'queue_ranking', chdbPath: join(dir, 'chdb') })
    await store.client.command({
      query: 'SYSTEM STOP MERGES {db:Identifier}.merchant_scores',
      query_params: { db: store.database },
    })
    for (const batch of [first, later, tie, late, later /* a replayed batch */]) await write(batch)

    await insertMerchantEvents(
      store,
      merchants
        .filter((_, i) => i % 6 !== 5) // some merchants have scores and no profile
        .flatMap((m, i): MerchantEvent[] => [
          merchantEvent({
            acquirer_id: m.acquirer,
            merchant_id: m.merchant,
            event_id: `on-${m.merchant}`,
            merchant_name: `Shop ${m.merchant}`,
            registered_mcc: '5411',
            event_time: T0 - 30 * DAY,
          }),
          ...(i % 4 === 0
            ? [
                merchantEvent({
                  acquirer_id: m.acquirer,
                  merchant_id: m.merchant,
                  event_id: `mcc-${m.merchant}`,
                  kind: 'MCC_CHANGED',
                  registered_mcc: '5999',
                  merchant_name: null,
                  latitude: null,
                  longitude: null,
                  settlement_account_token: null,
                  event_time: T0 - DAY,
                }),
              ]
            : []),
        ])
        .map((event, i): MerchantEventInput => ({ event, topic: 'test', partition: 0, offset: String(i) })),
      { timeZoneOf: () => '+08:00', now: T0 },
    )
    await seedHits(
      store,
      merchants
        .filter((_, i) => i % 3 === 0)
        .map((m, i) => ({
          ...m,
          rule: i % 2 === 0 ? 'structuring' : 'round_amount',
          windowStart: T0 + i * DAY,
        })),
    )
    await insertRows(
      store,
      'cases',
      merchants
        .filter((_, i) => i % 5 === 1)
        .flatMap((m, i) => [
          // Two cases for some merchants: the newest one's status is the queue's.
          ...(i % 2 === 0 ? [{ ...m, id: `old-${m.merchant}`, status: 'closed', at: T0 - 9 * DAY }] : []),
          { ...m, id: `case-${m.merchant}`, status: i % 3 === 0 ? 'open' : 'investigating', at: T0 - DAY },
        ])
        .map((c) => ({
          acquirer_id: c.acquirer,
          case_id: c.id,
          merchant_id: c.merchant,
          status: c.status,
          assignee: '',
          decision: '',
          actions: [],
          opened_by: 'test',
          opened_reason: '',
          opened_at: chTime(c.at),
          updated_at: chTime(c.at),
          version: 1,
        })),
    )
  })

  afterAll(async () => {
    await store?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const COLUMNS = 'acquirer_id, merchant_id, category, score, level, hit_count, families, scored_at'

  it('keeps replaced versions in the projection, more of them than the first round of a page reads', async () => {
    // Without FINAL, every version the parts hold: what the projection holds.
    const [projected] = await q<{ n: number }>(
      "SELECT toUInt32(count()) AS n FROM {db:Identifier}.merchant_scores WHERE level != 'LOW'",
    )
    const [newest] = await q<{ n: number }>(
      "SELECT toUInt32(count()) AS n FROM {db:Identifier}.merchant_scores FINAL WHERE level != 'LOW'",
    )
    expect(Number(projected?.n) - Number(newest?.n)).toBeGreaterThan(2 * 3 + 16)
  })

  it("merges merchant_names to the profile's name and MCC", async () => {
    const names = await q(
      `SELECT acquirer_id, merchant_id, argMaxMerge(merchant_name) AS name, argMaxMerge(registered_mcc) AS mcc
       FROM {db:Identifier}.merchant_names GROUP BY acquirer_id, merchant_id ORDER BY acquirer_id, merchant_id`,
    )
    const profiles = await q(
      `SELECT acquirer_id, merchant_id, merchant_name AS name, registered_mcc AS mcc
       FROM {db:Identifier}.merchant_profile_v ORDER BY acquirer_id, merchant_id`,
    )
    expect(names.length).toBeGreaterThan(0)
    expect(names).toEqual(profiles)
  })

  it('repairs merchant_names with the profile when a replayed batch finds events its view never counted', async () => {
    const names = (acquirer: string) =>
      q(
        `SELECT merchant_id, argMaxMerge(merchant_name) AS name, argMaxMerge(registered_mcc) AS mcc
         FROM {db:Identifier}.merchant_names WHERE acquirer_id = {a:String} GROUP BY merchant_id ORDER BY merchant_id`,
        { a: acquirer },
      )
    const profiles = (acquirer: string) =>
      q(
        `SELECT merchant_id, merchant_name AS name, registered_mcc AS mcc FROM {db:Identifier}.merchant_profile_v
         WHERE acquirer_id = {a:String} ORDER BY merchant_id`,
        { a: acquirer },
      )
    const inputs = ['m-1', 'm-2', 'm-3'].map(
      (m, i): MerchantEventInput => ({
        event: merchantEvent({
          acquirer_id: 'acq-r',
          merchant_id: m,
          merchant_name: `Repaired ${m}`,
          registered_mcc: '5812',
        }),
        topic: 'test',
        partition: 1,
        offset: String(i),
      }),
    )
    const view = async (verb: 'DETACH' | 'ATTACH') =>
      store.client.command({
        query: `${verb} TABLE {db:Identifier}.merchant_names_mv`,
        query_params: { db: store.database },
      })
    // Killed after the profile took the events and before merchant_names did.
    await view('DETACH')
    await insertMerchantEvents(store, inputs, { timeZoneOf: () => '+08:00', now: T0 })
    await view('ATTACH')
    expect(await names('acq-r')).toEqual([])
    expect(await profiles('acq-r')).toHaveLength(3)

    expect(await insertMerchantEvents(store, inputs, { timeZoneOf: () => '+08:00', now: T0 })).toMatchObject({
      inserted: 0,
      duplicates: 3,
    })
    expect(await names('acq-r')).toEqual(await profiles('acq-r'))
  })

  /** The queue as the old query read it: every row's newest version, filtered, in queue order. */
  async function oracle(f: Omit<QueueFilter, 'limit' | 'after'>) {
    const rows = await q<{
      acquirer_id: string
      merchant_id: string
      category: string
      score: number
      level: string
      scored_at: string
    }>(`SELECT ${COLUMNS} FROM {db:Identifier}.merchant_scores FINAL`)
    const hits = await q<{
      acquirer_id: string
      merchant_id: string
      rule_id: string
      ws: number
      we: number
    }>(
      `SELECT acquirer_id, merchant_id, rule_id, toUnixTimestamp64Milli(window_start) AS ws,
              toUnixTimestamp64Milli(window_end) AS we FROM {db:Identifier}.rule_hits FINAL`,
    )
    const cases = await q<{ acquirer_id: string; merchant_id: string; status: string }>(
      `SELECT acquirer_id, merchant_id, argMax(status, (opened_at, case_id)) AS status
       FROM {db:Identifier}.cases FINAL GROUP BY acquirer_id, merchant_id`,
    )
    const key = (r: { acquirer_id: string; merchant_id: string }) => `${r.acquirer_id}/${r.merchant_id}`
    const caseOf = new Map(cases.map((c) => [key(c), c.status]))
    const ruled = new Set(
      hits
        .filter(
          (h) =>
            h.rule_id === f.rule &&
            (f.from === undefined || Number(h.we) >= f.from) &&
            (f.to === undefined || Number(h.ws) < f.to),
        )
        .map(key),
    )
    const at = (r: { scored_at: string }) => Date.parse(`${r.scored_at.replace(' ', 'T')}Z`)
    return rows
      .filter(
        (r) =>
          (f.acquirer === null || r.acquirer_id === f.acquirer) &&
          f.levels.includes(r.level) &&
          (f.category === undefined || r.category === f.category) &&
          (f.from === undefined || at(r) >= f.from) &&
          (f.to === undefined || at(r) < f.to) &&
          (f.rule === undefined || ruled.has(key(r))) &&
          (f.caseStatus === undefined ||
            (f.caseStatus === 'none' ? !caseOf.has(key(r)) : caseOf.get(key(r)) === f.caseStatus)),
      )
      .sort(
        (x, y) =>
          Number(y.score) - Number(x.score) ||
          (x.acquirer_id < y.acquirer_id ? -1 : x.acquirer_id > y.acquirer_id ? 1 : 0) ||
          (x.merchant_id < y.merchant_id ? -1 : x.merchant_id > y.merchant_id ? 1 : 0) ||
          (x.category < y.category ? -1 : x.category > y.category ? 1 : 0),
      )
      .map((r) => `${r.acquirer_id}/${r.merchant_id}/${r.category}/${r.score}/${r.level}/${r.scored_at}`)
  }

  const flagged = ['MEDIUM', 'HIGH', 'CRITICAL']
  const cases: [string, Omit<QueueFilter, 'limit' | 'after'>][] = [
    ['one acquirer, MEDIUM and above', { acquirer: 'acq-a', levels: flagged }],
    ['every acquirer', { acquirer: null, levels: flagged }],
    ['LOW only', { acquirer: 'acq-a', levels: ['LOW'] }],
    ['CRITICAL fraud', { acquirer: 'acq-a', levels: ['CRITICAL'], category: 'fraud' }],
    ['a rule', { acquirer: 'acq-a', levels: flagged, rule: 'structuring' }],
    [
      'a rule in a window',
      { acquirer: null, levels: ['LOW', ...flagged], rule: 'round_amount', from: T0 + DAY },
    ],
    ['never had a case', { acquirer: 'acq-a', levels: flagged, caseStatus: 'none' }],
    ['newest case open', { acquirer: null, levels: [...flagged, 'LOW'], caseStatus: 'open' }],
    ['scored in a window', { acquirer: 'acq-a', levels: flagged, from: T0 + DAY, to: T0 + DAY + 30_000 }],
  ]

  it.each(cases)('pages "%s" as the newest versions filtered and sorted, and counts them', async (_, f) => {
    const expected = await oracle(f)
    expect(expected.length).toBeGreaterThan(0)
    for (const limit of [1, 3, 50]) {
      const seen: string[] = []
      let after: QueueFilter['after']
      for (let pages = 0; pages < 200; pages++) {
        const page = await queuePage(store, { ...f, limit, ...(after === undefined ? {} : { after }) })
        seen.push(
          ...page.items.map(
            (r) =>
              `${r.acquirer_id}/${r.merchant_id}/${r.category}/${r.score}/${r.level}/${r.scored_at.slice(0, -1).replace('T', ' ')}`,
          ),
        )
        if (page.items.length < limit || page.last === null) break
        after = page.last
      }
      expect(seen).toEqual(expected)
    }
    const { levels: _levels, ...scope } = f
    const counts = await queueCounts(store, scope)
    const all = await oracle({ ...f, levels: ['LOW', ...flagged] })
    const byLevel = Object.fromEntries(
      ['LOW', ...flagged]
        .map((l) => [l, all.filter((r) => r.split('/')[4] === l).length])
        .filter(([, n]) => n !== 0),
    )
    expect(counts).toEqual(byLevel)
  })

  it('labels each row with the merchant name and MCC of its profile, and none without one', async () => {
    const page = await queuePage(store, { acquirer: 'acq-a', levels: flagged, limit: 50 })
    const profiles = new Map(
      (
        await q<{ merchant_id: string; name: string; mcc: string }>(
          `SELECT merchant_id, merchant_name AS name, registered_mcc AS mcc FROM {db:Identifier}.merchant_profile_v
           WHERE acquirer_id = 'acq-a'`,
        )
      ).map((p) => [p.merchant_id, p]),
    )
    expect(page.items.some((r) => !profiles.has(r.merchant_id))).toBe(true)
    for (const r of page.items) {
      const p = profiles.get(r.merchant_id)
      expect([r.merchant_name, r.registered_mcc]).toEqual([p?.name ?? null, p?.mcc ?? null])
    }
  })
})
