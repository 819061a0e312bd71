/**
 * The running service's queue, read over its API (GET /v1/queue, every page), to compare with what the
 * in-process backtest says the queue holds at the end of the same stream: the same month scored end to
 * end, events produced to Kafka and the queue read back as an analyst's client would.
 */
import type { MerchantResult } from './metrics.ts'

export interface QueueEntry {
  acquirer_id: string
  merchant_id: string
  category: 'fraud' | 'compliance'
  level: string
  score: number
}

/** Every row of the queue at MEDIUM or above (one per merchant and category), following next_cursor. */
export async function readServiceQueue(baseUrl: string, apiKey: string): Promise<QueueEntry[]> {
  const out: QueueEntry[] = []
  let cursor: string | null = null
  for (;;) {
    const url = new URL('/v1/queue', baseUrl)
    url.searchParams.set('limit', '200')
    if (cursor !== null) url.searchParams.set('cursor', cursor)
    const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } })
    if (!res.ok) throw new Error(`GET ${url.pathname}: ${res.status} ${await res.text()}`)
    const page = (await res.json()) as { items: Record<string, unknown>[]; next_cursor: string | null }
    for (const item of page.items)
      out.push({
        acquirer_id: String(item.acquirer_id),
        merchant_id: String(item.merchant_id),
        category: item.category === 'compliance' ? 'compliance' : 'fraud',
        level: String(item.level),
        score: Number(item.score),
      })
    cursor = page.next_cursor
    if (cursor === null) return out
  }
}

export interface QueueAgreement {
  /** Merchant and category pairs at MEDIUM or above in both queues, in the service's only, in the backtest's only. */
  both: number
  serviceOnly: string[]
  backtestOnly: string[]
  /** Of the pairs in both, those at the same level. */
  sameLevel: number
}

const flagged = (l: string | null) => l === 'MEDIUM' || l === 'HIGH' || l === 'CRITICAL'

/** How the service's queue and the backtest's queue at the end of the replay agree. */
export function compareQueues(
  service: readonly QueueEntry[],
  backtest: readonly MerchantResult[],
): QueueAgreement {
  const key = (acq: string, m: string, c: string) => `${acq}/${m}/${c}`
  const mine = new Map<string, string>()
  for (const r of backtest) {
    if (flagged(r.end_fraud)) mine.set(key(r.acquirer_id, r.merchant_id, 'fraud'), r.end_fraud ?? '')
    if (flagged(r.end_compliance))
      mine.set(key(r.acquirer_id, r.merchant_id, 'compliance'), r.end_compliance ?? '')
  }
  const theirs = new Map(service.map((e) => [key(e.acquirer_id, e.merchant_id, e.category), e.level]))
  let both = 0
  let sameLevel = 0
  for (const [k, level] of theirs) {
    const other = mine.get(k)
    if (other === undefined) continue
    both++
    if (other === level) sameLevel++
  }
  return {
    both,
    serviceOnly: [...theirs.keys()].filter((k) => !mine.has(k)).sort(),
    backtestOnly: [...mine.keys()].filter((k) => !theirs.has(k)).sort(),
    sameLevel,
  }
}
