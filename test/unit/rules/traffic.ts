import type { Distribution, MerchantBaseline, PeerStats, References } from '../../../rules/engine/types.ts'
import type {
  CardType,
  MerchantEvent,
  TerminalTransaction,
  TxnType,
} from '../../../schemas/types.generated.ts'
import { prng } from '../../../simulator/generator.ts'

/**
 * Hostile traffic for differential tests of the rule engine: a few dense merchants whose events make
 * every rule of the catalogue fire now and then (repeated large cards, timed gaps, round and near-round
 * amounts, amounts under the limits, night trading, declines, far fixes, MCC jumps, account churn,
 * unbound terminals, one dominant BIN), out of order and late, in two currencies, with lifecycle events
 * that arrive late or twice. Seeded: the same seed gives the same events.
 */
export type TrafficEvent = { txn: TerminalTransaction } | { merchant: MerchantEvent }

const HOUR = 3_600_000
const DAY = 24 * HOUR
const MCCS = ['5411', '5812', '5311', '5944', '8398', '5732'] as const

interface Merchant {
  acquirerId: string
  merchantId: string
  lat: number
  lon: number
  terminals: string[]
  cards: { token: string; bin: string | null; type: CardType }[]
  currency: string
}

export function hostileTraffic(seed: number, events: number, start = Date.UTC(2026, 0, 3)): TrafficEvent[] {
  const rand = prng(seed)
  const pick = <T>(items: readonly T[]): T => {
    const item = items[Math.floor(rand() * items.length)]
    if (item === undefined) throw new Error('pick from an empty list')
    return item
  }
  const merchants: Merchant[] = []
  for (let i = 0; i < 6; i++) {
    const merchantId = `fz-${seed}-${i}`
    merchants.push({
      acquirerId: i % 2 === 0 ? 'acq-a' : 'acq-b',
      merchantId,
      lat: 31 + rand(),
      lon: 121 + rand(),
      terminals: [`${merchantId}-t0`, `${merchantId}-t1`, `${merchantId}-t2`],
      cards: Array.from({ length: 6 + Math.floor(rand() * 10) }, (_, c) => ({
        token: `tok-${merchantId}-${c}`,
        bin: rand() < 0.1 ? null : rand() < 0.6 ? '622848' : pick(['401200', '522100', '622202']),
        type: rand() < 0.6 ? 'CREDIT' : rand() < 0.9 ? 'DEBIT' : pick(['PREPAID', 'UNKNOWN'] as const),
      })),
      currency: i === 5 ? 'JPY' : 'CNY',
    })
  }
  const out: TrafficEvent[] = []
  let seq = 0
  const lifecycle = (m: Merchant, at: number, fields: Partial<MerchantEvent>): MerchantEvent => ({
    event_id: `ev-${m.merchantId}-${seq++}`,
    event_time: at,
    acquirer_id: m.acquirerId,
    merchant_id: m.merchantId,
    terminal_id: null,
    kind: 'ONBOARDED',
    registered_mcc: null,
    merchant_name: null,
    latitude: null,
    longitude: null,
    settlement_account_token: null,
    ...fields,
  })
  // Some merchants are onboarded with the traffic (new_merchant_ramp), some long before, one never.
  merchants.forEach((m, i) => {
    if (i === 4) return
    const at = i < 2 ? start - 2 * DAY : start - 200 * DAY
    out.push({
      merchant: lifecycle(m, at, {
        registered_mcc: pick(MCCS),
        latitude: m.lat,
        longitude: m.lon,
        settlement_account_token: `acct-${m.merchantId}-0`,
      }),
    })
    for (const t of m.terminals.slice(0, 2))
      out.push({ merchant: lifecycle(m, at + HOUR, { kind: 'TERMINAL_BOUND', terminal_id: t }) })
  })

  let clock = start
  const last = new Map<string, { card: number; at: number }>()
  while (out.length < events) {
    clock += rand() < 0.02 ? Math.floor(rand() * 3 * DAY) : Math.floor(rand() * 40 * 60_000)
    const m = merchants[Math.floor(rand() ** 1.5 * merchants.length)] ?? pick(merchants)
    const r = rand()
    if (r < 0.03) {
      out.push({ merchant: lifecycleEvent(m) })
      continue
    }
    // Out of order: mostly on time, some a little late, a few far beyond any allowed lateness.
    const late = rand()
    const at =
      late < 0.85
        ? clock
        : late < 0.97
          ? clock - Math.floor(rand() * 5 * HOUR)
          : clock - Math.floor(rand() * 9 * DAY)
    // Repeat swipes of one card a timed pause after the previous one (swipe_gap, repeated_card).
    const prev = last.get(m.merchantId)
    // Merchant 1 runs cards through on a timer most of the time.
    const repeat = prev !== undefined && rand() < (m.merchantId.endsWith('-1') ? 0.8 : 0.3)
    const cardIndex = repeat ? prev.card : Math.floor(rand() * m.cards.length)
    // Merchant 4 sees new cards of many BINs, more than bin_concentration tracks; the others one BIN.
    const wide = m.merchantId.endsWith('-4')
    const card =
      rand() < (wide ? 0.8 : 0.1)
        ? {
            token: `tok-new-${seq++}`,
            bin: wide ? String(400_000 + Math.floor(rand() * 300)) : '401200',
            type: 'DEBIT' as const,
          }
        : m.cards[cardIndex]
    const time = repeat ? prev.at + (5 + Math.floor(rand() * 6)) * 60_000 : at
    if (card === undefined) continue
    last.set(m.merchantId, { card: cardIndex, at: time })
    out.push({ txn: transaction(m, time, card) })
    // A redelivered transaction now and then: same id, same content.
    const previous = out.at(-1)
    if (rand() < 0.01 && previous !== undefined) out.push(previous)
  }
  return out.slice(0, events)

  function transaction(m: Merchant, at: number, card: Merchant['cards'][number]): TerminalTransaction {
    const unit = m.currency === 'JPY' ? 1 : 100
    // Merchant 3 works the near-round band, merchant 2 tests cards (many declines).
    const style = m.merchantId.endsWith('-3') && rand() < 0.6 ? 0.55 : rand()
    const a = style
    let major: number
    if (a < 0.35) major = Math.round(rand() * 30_000) / 100 + 1
    else if (a < 0.5) major = (1 + Math.floor(rand() * 30)) * 1_000
    else if (a < 0.6) major = (5 + Math.floor(rand() * 20)) * 1_000 + pick([-150, -100, -50, -1, 50, 100])
    else if (a < 0.72) major = 45_000 + Math.floor(rand() * 5_000)
    else if (a < 0.82) major = 1_000 + Math.floor(rand() * 9_000)
    else if (a < 0.9) major = 100 + Math.floor(rand() * 900)
    else major = Math.round(rand() * 100_000_00) / 100 + 1
    const amount = Math.max(1, Math.round(major * unit))
    const code = rand()
    const far = rand() < 0.08
    const noFix = rand() < 0.1
    const txnType: TxnType =
      rand() < 0.85 ? 'PURCHASE' : pick(['PREAUTH_COMPLETION', 'REFUND', 'REVERSAL', 'PREAUTH'] as const)
    return {
      txn_id: `tx-${m.merchantId}-${seq++}`,
      event_time: at,
      acquirer_id: m.acquirerId,
      merchant_id: m.merchantId,
      terminal_id: rand() < 0.9 ? pick(m.terminals) : `${m.merchantId}-stray`,
      card_token: card.token,
      card_bin: card.bin,
      card_type: card.type,
      txn_type: txnType,
      amount_minor: amount,
      currency: m.currency,
      // Now and then an MCC of no known tier, so a day can run out of MCC slots.
      mcc:
        rand() < 0.85
          ? pick(MCCS.slice(0, 1))
          : rand() < 0.8
            ? pick(MCCS)
            : String(1000 + Math.floor(rand() * 9000)),
      entry_mode: 'CHIP',
      response_code:
        code < (m.merchantId.endsWith('-2') ? 0.5 : 0.8)
          ? '00'
          : code < 0.95
            ? pick(['05', '51', '55'])
            : pick(['91', '96']),
      latitude: noFix ? null : rand() < 0.02 ? 0 : m.lat + (far ? 0.5 + rand() : rand() * 0.01),
      longitude: noFix ? null : rand() < 0.02 ? 0 : m.lon + (far ? 0.5 + rand() : rand() * 0.01),
    }
  }

  function lifecycleEvent(m: Merchant): MerchantEvent {
    // Lifecycle events may be late by days: the engine keeps them whatever their lateness.
    const at = clock - (rand() < 0.2 ? Math.floor(rand() * 10 * DAY) : 0)
    const k = rand()
    if (k < 0.3)
      return lifecycle(m, at, {
        kind: 'SETTLEMENT_ACCOUNT_CHANGED',
        settlement_account_token: `acct-${m.merchantId}-${Math.floor(rand() * 4)}`,
      })
    if (k < 0.45) return lifecycle(m, at, { kind: 'MCC_CHANGED', registered_mcc: pick(MCCS) })
    if (k < 0.55) {
      const moved = rand() < 0.5
      return lifecycle(m, at, {
        kind: 'ADDRESS_CHANGED',
        latitude: moved ? m.lat + 1 : m.lat,
        longitude: moved ? m.lon + 1 : m.lon,
      })
    }
    if (k < 0.75) return lifecycle(m, at, { kind: 'TERMINAL_BOUND', terminal_id: pick(m.terminals) })
    if (k < 0.9) return lifecycle(m, at, { kind: 'TERMINAL_UNBOUND', terminal_id: pick(m.terminals) })
    return lifecycle(m, at, {
      kind: 'ONBOARDED',
      registered_mcc: pick(MCCS),
      latitude: m.lat,
      longitude: m.lon,
    })
  }
}

/** Standard normal quantiles at QUANTILE_GRID: a distribution with a median and a spread. */
const Z = [-1.645, -1.2816, -0.6745, 0, 0.6745, 1.2816, 1.645, 2.326]
const around = (median: number, spread: number, n: number): Distribution => ({
  n,
  days: 30,
  q: Z.map((z) => Math.max(0, median + (spread * z) / 0.6745)),
})

function stats(n: number, scale = 1): PeerStats {
  return {
    creditShare: around(0.45 * scale, 0.05, n),
    avgTicket: around(800_000 * scale, 200_000, n),
    nightShare: around(0.03 * scale, 0.02, n),
    dailyVolume: around(2_000_000 * scale, 500_000, n),
    roundShare: around(0.05 * scale, 0.03, n),
    wholeUnitShare: around(0.2 * scale, 0.05, n),
    topBinShare: around(0.15 * scale, 0.05, n),
  }
}

/** Peers by MCC that make the peer comparisons bite; none for some MCCs, a thin cohort for one. */
export function hostilePeers(mcc: string | null): References | null {
  const population = stats(400, 1.2)
  if (mcc === null || mcc === '5732') return { cohort: null, population }
  return { cohort: stats(mcc === '5944' ? 5 : 40), population }
}

/** Baselines for some merchants. */
export function hostileBaseline(merchantId: string): MerchantBaseline | null {
  return merchantId.endsWith('-1') || merchantId.endsWith('-3')
    ? { dailyVolumeMedian: 3_000_000, activeDays: 30 }
    : null
}
