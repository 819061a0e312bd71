import { int, num } from '../engine/params.ts'
import type { ActivityRecord } from './activity.ts'
import { defineEntityRule } from './engine.ts'

/**
 * Card rings: a set of cards farmed across a small group of merchants. One card at several merchants a
 * week is normal life (DOMAIN.md: an active card pays at several shops of the same acquirer); what
 * shopping does not do is bring *the same many cards* back, with large purchases, to *the same few*
 * merchants again and again. So the rule looks at a merchant's repeat large-ticket customers (cards with
 * sales of at least `minAmount` on `minVisits` visits at least 12 hours apart within `windowDays`) and
 * asks how many of them are also repeat large-ticket customers of one other merchant: a ring's members
 * share most of theirs, while neighbouring shops share a few regulars and a jeweller's customers rarely
 * come back at all.
 *
 * Two hops, each keyed so that it partitions and stays bounded:
 * 1. Per card (the card entity of the entity-activity topic): the card's large sales per merchant over
 *    the window (at most 16 merchants, 8 sales each). When the card becomes a repeat large customer of
 *    a merchant it derives a `link` record keyed by that merchant, and one per other merchant where it
 *    is a repeat large customer too (both ways), each renewed every `refreshDays` while it lasts.
 * 2. Per merchant (the link entity): its repeat cards and, per partner merchant, the cards they share
 *    (at most 1,024 cards, 64 partners of 256 cards), pruned by the window. It fires when a partner
 *    shares at least `minSharedCards` of its repeat cards and at least `minShare` of them.
 *
 * Calibration: the measure is relative to the merchant's own repeat-customer base (a share), with count
 * floors, rather than to a population model of card overlap, which the stream cannot hold without a
 * third hop. A legitimate pattern does look like it (businesses buying at two or three wholesalers of
 * one market), so the rule is weak: it counts beside another family of evidence, never alone.
 */
const DAY_MS = 86_400_000
const MAX_WINDOW_DAYS = 35
/** A card's merchants kept by the first hop; a card at more is shopping, and its oldest merchant goes. */
const MAX_CARD_MERCHANTS = 16
/** Large sales kept per card and merchant: enough to count visits, bounded. */
const MAX_SALES = 8
/** Two sales this far apart are two visits (a day apart, in any time zone). */
const VISIT_GAP_MS = 12 * 3_600_000
const MAX_REPEAT_CARDS = 1024
const MAX_PARTNERS = 64
const MAX_SHARED = 256

/**
 * First hop: one card's large sales at a merchant, and when its links were last derived. There is one
 * per card and merchant with a large sale, most with one sale and no partner, so the sales array is
 * replaced at each change at its exact length (a growing array keeps room for 17), and the partners
 * map is made at the first partner.
 */
interface CardMerchant {
  /** Event times of large sales, ascending. */
  sales: readonly number[]
  lastSale: number
  /** When this merchant's repeat link was last derived; -Infinity before. */
  linkedAt: number
  /** When the link to each partner was last derived; null before the first. */
  partners: Map<string, number> | null
}

/** The card's merchants. */
type CardState = Map<string, CardMerchant>

/** Second hop: a merchant's repeat cards (card → latest evidence) and the cards each partner shares. */
interface Evidence {
  at: number
  /** The sale the latest link was derived from. */
  txn: string
}

interface RingState {
  repeat: Map<string, Evidence>
  partners: Map<string, Map<string, Evidence>>
  /** The start of the current firing episode, or null while silent (see spread.ts). */
  anchor: number | null
}

function visits(sales: readonly number[]): number {
  let n = 0
  let last = Number.NEGATIVE_INFINITY
  for (const t of sales) {
    if (t - last >= VISIT_GAP_MS) {
      n++
      last = t
    }
  }
  return n
}

function link(r: ActivityRecord, merchantId: string, partner: string | null): ActivityRecord {
  const base = {
    id: `${r.id}>${merchantId}|${partner ?? ''}`,
    kind: 'link' as const,
    key: merchantId,
    acquirerId: r.acquirerId,
    merchantId,
    at: r.at,
    card: r.key,
    source: r.id,
  }
  return partner === null ? base : { ...base, partner }
}

function keep(map: Map<string, Evidence>, card: string, at: number, txn: string, max: number): void {
  const known = map.get(card)
  if (known !== undefined && known.at >= at) return
  if (known === undefined && map.size >= max) {
    let oldest: string | null = null
    let oldestAt = Number.POSITIVE_INFINITY
    for (const [c, e] of map)
      if (e.at < oldestAt) {
        oldestAt = e.at
        oldest = c
      }
    if (oldest !== null) map.delete(oldest)
  }
  map.set(card, { at, txn })
}

function prune(map: Map<string, Evidence>, horizon: number): void {
  for (const [c, e] of map) if (e.at <= horizon) map.delete(c)
}

export const cardRing = defineEntityRule({
  id: 'card_ring',
  version: 1,
  category: 'fraud',
  // Who the cards are and what else they do (the graph), not what kind of card they are: independent
  // of credit_debit_mix's and bin_concentration's evidence, so a family of its own.
  family: 'network',
  kind: 'link',
  description:
    "Of a merchant's repeat large-ticket cards (large sales on two or more visits within 30 days), the share that are also repeat large-ticket cards of one other merchant of the acquirer: a ring farming the same cards across a few terminals.",
  calibration:
    "Compares with the merchant's own repeat large-ticket customers: one partner merchant sharing 8 or more of them, and more than half. No population model of card overlap is kept (the stream cannot hold one without a third hop), so the rule is weak: a market of wholesalers shares its business customers too.",
  whitelistable: true,
  retentionDays: MAX_WINDOW_DAYS,
  params: {
    minAmount: num({
      default: 1_000,
      min: 0,
      description: 'Sales of at least this amount (major units) count as large purchases of a card.',
    }),
    minVisits: int({
      default: 2,
      min: 2,
      max: MAX_SALES,
      description: 'Visits (12 hours or more apart) with large purchases that make a card a repeat customer.',
    }),
    windowDays: int({
      default: 30,
      min: 7,
      max: MAX_WINDOW_DAYS,
      description:
        "Window, days of event time, over which a card's visits and a merchant's shared cards count.",
    }),
    minSharedCards: int({
      default: 8,
      min: 2,
      max: MAX_SHARED,
      description: 'Count floor: repeat cards a partner merchant must share before the share counts.',
    }),
    minShare: num({
      default: 0.5,
      min: 0,
      max: 1,
      description:
        "Share of the merchant's repeat large-ticket cards one partner shares above which the rule fires.",
    }),
    refreshDays: int({
      default: 7,
      min: 1,
      max: 30,
      description:
        'A card that stays a repeat customer renews its links this often, so they stay in the window.',
    }),
  },
  source: {
    kind: 'card',
    retentionDays: MAX_WINDOW_DAYS,
    createState: (): CardState => new Map(),
    accepts: (r, p) => (r.amount ?? 0) >= p.minAmount,
    onRecord(state, r, p) {
      if ((r.amount ?? 0) < p.minAmount) return []
      const horizon = r.at - p.windowDays * DAY_MS
      for (const [m, cm] of state) {
        if (cm.lastSale > horizon) continue
        state.delete(m)
      }
      let cm = state.get(r.merchantId)
      if (cm === undefined) {
        if (state.size >= MAX_CARD_MERCHANTS) {
          let oldest: string | null = null
          let oldestAt = Number.POSITIVE_INFINITY
          for (const [m, x] of state)
            if (x.lastSale < oldestAt) {
              oldestAt = x.lastSale
              oldest = m
            }
          if (oldest !== null) state.delete(oldest)
        }
        cm = { sales: [], lastSale: r.at, linkedAt: Number.NEGATIVE_INFINITY, partners: null }
        state.set(r.merchantId, cm)
      }
      // The same sale twice (a redelivery, a replay) changes nothing.
      if (cm.sales.includes(r.at)) return []
      let i = cm.sales.length
      while (i > 0 && (cm.sales[i - 1] ?? 0) > r.at) i--
      const sales = cm.sales.toSpliced(i, 0, r.at)
      let drop = Math.max(0, sales.length - MAX_SALES)
      while (drop < sales.length && (sales[drop] ?? r.at) <= horizon) drop++
      cm.sales = drop === 0 ? sales : sales.slice(drop)
      if (r.at > cm.lastSale) cm.lastSale = r.at
      if (visits(cm.sales) < p.minVisits) return []
      const out: ActivityRecord[] = []
      const refresh = p.refreshDays * DAY_MS
      if (cm.linkedAt <= r.at - refresh) {
        cm.linkedAt = r.at
        out.push(link(r, r.merchantId, null))
      }
      for (const [other, om] of state) {
        if (other === r.merchantId) continue
        const live = om.sales.filter((t) => t > horizon)
        if (visits(live) < p.minVisits) continue
        if ((cm.partners?.get(other) ?? Number.NEGATIVE_INFINITY) > r.at - refresh) continue
        cm.partners ??= new Map()
        cm.partners.set(other, r.at)
        om.partners ??= new Map()
        om.partners.set(r.merchantId, r.at)
        out.push(link(r, r.merchantId, other), link(r, other, r.merchantId))
      }
      return out
    },
  },
  createState: (): RingState => ({ repeat: new Map(), partners: new Map(), anchor: null }),
  onRecord(state, r) {
    const card = r.card
    if (card === undefined) return
    const txn = r.source ?? r.id
    keep(state.repeat, card, r.at, txn, MAX_REPEAT_CARDS)
    const partner = r.partner
    if (partner === undefined) return
    let shared = state.partners.get(partner)
    if (shared === undefined) {
      if (state.partners.size >= MAX_PARTNERS) {
        // The partner sharing the fewest cards makes room: rings share many.
        let weakest: string | null = null
        let fewest = Number.POSITIVE_INFINITY
        for (const [m, cards] of state.partners)
          if (cards.size < fewest) {
            fewest = cards.size
            weakest = m
          }
        if (weakest !== null) state.partners.delete(weakest)
      }
      shared = new Map()
      state.partners.set(partner, shared)
    }
    keep(shared, card, r.at, txn, MAX_SHARED)
  },
  evaluate(state, entity, p) {
    const horizon = entity.watermark - p.windowDays * DAY_MS
    prune(state.repeat, horizon)
    for (const [m, cards] of state.partners) {
      prune(cards, horizon)
      if (cards.size === 0) state.partners.delete(m)
    }
    const repeat = state.repeat.size
    const ring: { merchant: string; shared: number }[] = []
    for (const [m, cards] of state.partners)
      if (cards.size >= p.minSharedCards && cards.size / Math.max(repeat, cards.size) > p.minShare)
        ring.push({ merchant: m, shared: cards.size })
    if (ring.length === 0) {
      state.anchor = null
      return null
    }
    ring.sort((a, b) => b.shared - a.shared || (a.merchant < b.merchant ? -1 : 1))
    const top = ring[0]
    if (top === undefined) return null
    const share = top.shared / Math.max(repeat, top.shared)
    let earliest = Number.POSITIVE_INFINITY
    for (const e of state.repeat.values()) if (e.at < earliest) earliest = e.at
    state.anchor ??= Math.max(earliest, horizon + 1)
    const samples = [...(state.partners.get(top.merchant)?.values() ?? [])]
      .sort((a, b) => b.at - a.at)
      .slice(0, 5)
      .map((e) => e.txn)
    const others = ring
      .slice(0, 5)
      .map((x) => `${x.merchant} (${x.shared})`)
      .join(', ')
    return {
      observed: share,
      threshold: p.minShare,
      windowStart: state.anchor,
      windowEnd: entity.watermark + 1,
      merchants: new Map([[entity.key, samples]]),
      detail: () =>
        `${top.shared} of the merchant's ${repeat} repeat large-ticket cards (${p.minAmount}+ on ${p.minVisits}+ visits in ${p.windowDays} days) ` +
        `are repeat large-ticket cards at ${top.merchant} too (${(share * 100).toFixed(0)}%); ${ring.length} merchant(s) share ${p.minSharedCards}+ of them: ${others}.`,
    }
  },
})
