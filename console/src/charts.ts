import uPlot from 'uplot'
import type { CardPattern, DailyRow, EvidenceReply, LifecycleReply } from '../../dashboard-api/schemas.ts'
import { h, money, s } from './dom.ts'

/**
 * The evidence pictures. Time series and distributions are uPlot charts (canvas, fast with thousands
 * of points); the terminal-fix scatter and the lifecycle time line are small SVGs. Colours are the
 * Okabe-Ito palette, which colour-blind readers tell apart, and every pair of series that shares a
 * chart also differs by line style or form, so no reading depends on colour alone.
 */
export const COLOURS = {
  blue: '#0072B2',
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  vermillion: '#D55E00',
  purple: '#CC79A7',
  yellow: '#F0E442',
  black: '#000000',
}
const DAY_S = 86_400

export interface Drawn {
  readonly el: HTMLElement
  readonly plot: uPlot | null
}

const drawn: uPlot[] = []
let resizeBound = false

function widthOf(el: HTMLElement): number {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width) - 8)
}

/** A chart box with a title, a one-line reading guide, and the number of data points it holds. */
function frame(id: string, title: string, guide: string, points: number): HTMLElement {
  const el = h('figure', { class: 'chart', dataset: { chart: id, points: String(points) } })
  el.append(h('figcaption', null, h('strong', null, title), h('span', { class: 'guide' }, guide)))
  return el
}

function plot(parent: HTMLElement, opts: Omit<uPlot.Options, 'width'>, data: uPlot.AlignedData): uPlot {
  const p = new uPlot({ ...opts, width: widthOf(parent) }, data, parent)
  drawn.push(p)
  if (!resizeBound) {
    resizeBound = true
    window.addEventListener('resize', () => {
      for (const d of drawn)
        if (d.root.isConnected)
          d.setSize({ width: widthOf(d.root.parentElement ?? d.root), height: d.height })
    })
  }
  return p
}

const pending: (() => void)[] = []

/** Charts are drawn once their box is in the page, so that they take its width. */
function later(fn: () => void): void {
  pending.push(fn)
}

export function drawPending(): void {
  for (const fn of pending.splice(0)) fn()
}

export function forgetCharts(): void {
  pending.length = 0
  for (const d of drawn.splice(0)) d.destroy()
}

function days(from: string, to: string): string[] {
  const out: string[] = []
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_S * 1000) {
    out.push(new Date(t).toISOString().slice(0, 10))
  }
  return out
}

const dayX = (d: string) => Date.parse(`${d}T00:00:00Z`) / 1000
const bars = uPlot.paths.bars?.({ size: [0.8, 40] })
const flat = (n: number, v: number | null) => new Array<number | null>(n).fill(v)

function majorAxis(currency: string | null): uPlot.Axis {
  return {
    size: 70,
    values: (_u, vals) => vals.map((v) => money(v, null)),
    label: currency ?? undefined,
  }
}

const utcDays: Partial<uPlot.Options> = { tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC') }

/** Daily volume against the merchant's own baseline, its peers' median day, and the daily limit. */
export function dailyVolume(rows: readonly DailyRow[], ev: EvidenceReply): HTMLElement {
  const ds = days(ev.from, ev.to)
  const byDay = new Map<string, number>()
  for (const r of rows)
    if (r.currency === (ev.currency ?? r.currency)) byDay.set(r.date, r.approved_amount_minor)
  const peer = new Map(ev.peer_daily.map((p) => [p.date, p.median_minor]))
  const el = frame(
    'daily-volume',
    'Daily volume, 90 days',
    `bars: approved volume per local day · dashed green: own median day · dotted orange: peers' median (${ev.baseline.peer_merchants} merchants of MCC ${ev.baseline.peer_mcc ?? '?'}) · red: daily limit ${money(ev.limits.daily_minor, ev.currency)}`,
    byDay.size,
  )
  later(() =>
    plot(
      el,
      {
        height: 240,
        ...utcDays,
        scales: {
          x: { time: true },
          y: { range: (_u, _min, max) => [0, Math.max(max, ev.limits.daily_minor * 1.1)] },
        },
        series: [
          {},
          {
            label: 'volume',
            fill: `${COLOURS.blue}99`,
            stroke: COLOURS.blue,
            paths: bars,
            points: { show: false },
          },
          { label: 'own median', stroke: COLOURS.green, dash: [8, 4], width: 2, points: { show: false } },
          { label: 'peers median', stroke: COLOURS.orange, dash: [2, 3], width: 2, points: { show: false } },
          {
            label: 'daily limit',
            stroke: COLOURS.vermillion,
            dash: [12, 4],
            width: 2,
            points: { show: false },
          },
        ],
        axes: [{}, majorAxis(ev.currency)],
      },
      [
        ds.map(dayX),
        ds.map((d) => byDay.get(d) ?? 0),
        flat(ds.length, ev.baseline.own_daily_median_minor),
        ds.map((d) => peer.get(d) ?? null),
        flat(ds.length, ev.limits.daily_minor),
      ],
    ),
  )
  return el
}

/** Credit share of the approved amount per day, with the credit_debit_mix threshold. */
export function creditShare(rows: readonly DailyRow[], ev: EvidenceReply): HTMLElement {
  const used = rows.filter((r) => r.approved_amount_minor > 0 && r.currency === (ev.currency ?? r.currency))
  const el = frame(
    'credit-share',
    'Credit vs debit share',
    'solid blue: credit share of approved amount per day · dashed red: 80% (credit_debit_mix, medium)',
    used.length,
  )
  later(() =>
    plot(
      el,
      {
        height: 200,
        ...utcDays,
        scales: { x: { time: true }, y: { range: [0, 1] } },
        series: [
          {},
          {
            label: 'credit share',
            stroke: COLOURS.blue,
            width: 2,
            value: (_u, v) => (v == null ? '' : `${(v * 100).toFixed(0)}%`),
          },
          { label: '80%', stroke: COLOURS.vermillion, dash: [10, 4], points: { show: false } },
        ],
        axes: [{}, { values: (_u, vals) => vals.map((v) => `${Math.round(v * 100)}%`) }],
      },
      [
        used.map((r) => dayX(r.date)),
        used.map((r) => r.credit_amount_minor / r.approved_amount_minor),
        flat(used.length, 0.8),
      ],
    ),
  )
  return el
}

/** Average credit and debit ticket per day: cash-out swipes large credit and small uniform debit. */
export function ticketSizes(rows: readonly DailyRow[], ev: EvidenceReply): HTMLElement {
  const used = rows.filter(
    (r) => r.credit_sales + r.debit_sales > 0 && r.currency === (ev.currency ?? r.currency),
  )
  const el = frame(
    'ticket-sizes',
    'Credit vs debit ticket size',
    'solid blue: average credit ticket · dashed orange: average debit ticket, per day',
    used.length,
  )
  later(() =>
    plot(
      el,
      {
        height: 200,
        ...utcDays,
        scales: { x: { time: true } },
        series: [
          {},
          { label: 'credit', stroke: COLOURS.blue, width: 2 },
          { label: 'debit', stroke: COLOURS.orange, width: 2, dash: [6, 4] },
        ],
        axes: [{}, majorAxis(ev.currency)],
      },
      [
        used.map((r) => dayX(r.date)),
        used.map((r) => (r.credit_sales > 0 ? r.credit_amount_minor / r.credit_sales : null)),
        used.map((r) => (r.debit_sales > 0 ? r.debit_amount_minor / r.debit_sales : null)),
      ],
    ),
  )
  return el
}

/** The amount distribution on a log scale, exact and near round thousands stacked, the single limit marked. */
export function amounts(ev: EvidenceReply): HTMLElement {
  const b = continuous(ev.amounts.bins)
  const el = frame(
    'amounts',
    'Amount distribution',
    `${ev.amounts.sales} approved sales, log scale · light blue: other amounts · orange: near a round thousand (±${(ev.limits.near_round_tolerance * 100).toFixed(0)}%) · red: exact round thousands · red line: single limit ${money(ev.limits.single_minor, ev.currency)}; ${ev.amounts.near_single_limit} swipes just under it`,
    b.length,
  )
  const limitAt = b.findIndex(
    (x) => x.from_minor <= ev.limits.single_minor && ev.limits.single_minor < x.to_minor,
  )
  later(() =>
    plot(
      el,
      {
        height: 220,
        scales: { x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] } },
        series: [
          { value: (_u, i) => (i == null ? '' : rangeLabel(b, i, ev.currency)) },
          // Stacked by hand: each series is the sum of itself and those drawn after it.
          {
            label: 'all',
            fill: `${COLOURS.sky}cc`,
            stroke: COLOURS.sky,
            paths: bars,
            points: { show: false },
          },
          {
            label: 'near + exact round',
            fill: `${COLOURS.orange}dd`,
            stroke: COLOURS.orange,
            paths: bars,
            points: { show: false },
          },
          {
            label: 'exact round',
            fill: `${COLOURS.vermillion}ee`,
            stroke: COLOURS.vermillion,
            paths: bars,
            points: { show: false },
          },
        ],
        axes: [
          {
            values: (_u, vals) =>
              vals.map((i) =>
                Number.isInteger(i) && b[i] !== undefined ? short(b[i].from_minor, ev.currency) : '',
              ),
          },
          { label: 'sales' },
        ],
        hooks: {
          draw: [
            (u) => {
              if (limitAt < 0) return
              const bin = b[limitAt]
              if (bin === undefined) return
              // The limit's place inside its bin, on the bins' log scale.
              const frac =
                Math.log(ev.limits.single_minor / bin.from_minor) / Math.log(bin.to_minor / bin.from_minor)
              const x = u.valToPos(limitAt - 0.5 + frac, 'x', true)
              const ctx = u.ctx
              ctx.save()
              ctx.strokeStyle = COLOURS.vermillion
              ctx.lineWidth = 2 * devicePixelRatio
              ctx.setLineDash([6, 3])
              ctx.beginPath()
              ctx.moveTo(x, u.bbox.top)
              ctx.lineTo(x, u.bbox.top + u.bbox.height)
              ctx.stroke()
              ctx.restore()
            },
          ],
        },
      },
      [
        b.map((_x, i) => i),
        b.map((x) => x.count),
        b.map((x) => x.near_round + x.exact_round),
        b.map((x) => x.exact_round),
      ],
    ),
  )
  return el
}

/**
 * The API sends the bins that hold sales; the chart needs the empty ones between them too, or the
 * log scale would close up around the gaps. Bins are 1/8 of a decade of minor units.
 */
function continuous(bins: EvidenceReply['amounts']['bins']): EvidenceReply['amounts']['bins'] {
  const at = (minor: number) => Math.round(Math.log10(minor) * 8)
  const byIndex = new Map(bins.map((x) => [at(x.from_minor), x]))
  const idx = [...byIndex.keys()]
  if (idx.length === 0) return []
  const out: EvidenceReply['amounts']['bins'] = []
  for (let i = Math.min(...idx); i <= Math.max(...idx); i++) {
    out.push(
      byIndex.get(i) ?? {
        from_minor: Math.round(10 ** (i / 8)),
        to_minor: Math.round(10 ** ((i + 1) / 8)),
        count: 0,
        exact_round: 0,
        near_round: 0,
      },
    )
  }
  return out
}

function short(minor: number, currency: string | null): string {
  const major = minor / (currency === 'JPY' ? 1 : 100)
  return major >= 1000 ? `${Math.round(major / 100) / 10}k` : String(Math.round(major))
}

function rangeLabel(b: EvidenceReply['amounts']['bins'], i: number, currency: string | null): string {
  const x = b[i]
  return x === undefined ? '' : `${money(x.from_minor, currency)} – ${money(x.to_minor, currency)}`
}

/** Share of approved sales per local hour, the merchant against its peers. */
export function hours(ev: EvidenceReply): HTMLElement {
  const total = ev.hours.merchant.reduce((a, b) => a + b, 0)
  const el = frame(
    'hours',
    'Hour of day',
    `bars: the merchant's share of sales per local hour (${ev.time_zone}) · dashed orange with dots: its peers`,
    total > 0 ? 24 : 0,
  )
  const hs = Array.from({ length: 24 }, (_x, i) => i)
  later(() =>
    plot(
      el,
      {
        height: 200,
        scales: { x: { time: false, range: [-0.5, 23.5] } },
        series: [
          { value: (_u, v) => (v == null ? '' : `${v}:00`) },
          {
            label: 'merchant',
            fill: `${COLOURS.blue}99`,
            stroke: COLOURS.blue,
            paths: bars,
            points: { show: false },
          },
          { label: 'peers', stroke: COLOURS.orange, dash: [6, 3], width: 2, points: { size: 6 } },
        ],
        axes: [
          { values: (_u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : '')) },
          { values: (_u, vals) => vals.map((v) => `${Math.round(v * 100)}%`) },
        ],
      },
      [hs, ev.hours.merchant, ev.hours.peers],
    ),
  )
  return el
}

const CARD_STYLES: { stroke: string; dash?: number[] }[] = [
  { stroke: COLOURS.vermillion },
  { stroke: COLOURS.blue, dash: [6, 3] },
  { stroke: COLOURS.orange, dash: [2, 3] },
  { stroke: COLOURS.green, dash: [10, 3, 2, 3] },
  { stroke: COLOURS.purple, dash: [12, 6] },
]

/** Swipes per day of the top cards: the same cards coming back, day after day, month after month. */
export function cardSwipes(cards: readonly CardPattern[]): HTMLElement {
  const top = cards.slice(0, CARD_STYLES.length)
  const dates = [...new Set(top.flatMap((c) => c.per_day.map((d) => d.date)))].sort()
  const el = frame(
    'card-swipes',
    'Top cards: swipes per day',
    'one line per card (style in the table); a line that keeps returning is a card that keeps coming back',
    dates.length,
  )
  later(() =>
    plot(
      el,
      {
        height: 200,
        ...utcDays,
        scales: { x: { time: true } },
        series: [
          {},
          ...top.map((c, i) => ({
            label: c.card_token.slice(0, 10),
            ...CARD_STYLES[i],
            width: 2,
            spanGaps: false,
            points: { show: true, size: 5 },
          })),
        ],
        axes: [{}, { label: 'swipes' }],
      },
      [
        dates.map(dayX),
        ...top.map((c) => {
          const m = new Map(c.per_day.map((d) => [d.date, d.swipes]))
          return dates.map((d) => m.get(d) ?? null)
        }),
      ],
    ),
  )
  return el
}

export function cardStyleSwatch(i: number): SVGElement | null {
  const st = CARD_STYLES[i]
  if (st === undefined) return null
  return s(
    'svg',
    { width: 28, height: 10, 'aria-hidden': 'true' },
    s('line', {
      x1: 0,
      y1: 5,
      x2: 28,
      y2: 5,
      stroke: st.stroke,
      'stroke-width': 2,
      'stroke-dasharray': (st.dash ?? []).join(' '),
    }),
  )
}

/**
 * Terminal fixes around the registered location, in km east and north of it (no map tiles: none can
 * be fetched, and distance is what the relocation rule reads). Circles grow with the number of
 * transactions; the registered place is the cross at the centre, the 10 km circle the rule's radius.
 */
export function fixes(ev: EvidenceReply): HTMLElement {
  const home = ev.locations.registered
  const pts = ev.locations.fixes
  const el = frame(
    'fixes',
    'Terminal fixes against the registered location',
    home === null
      ? 'no registered location on file'
      : 'km east (→) and north (↑) of the registered place (+); dashed circle: 10 km; circle size: transactions',
    pts.length,
  )
  const W = 420
  const H = 320
  const kmOf = (lat: number, lon: number) => {
    const lat0 = home?.latitude ?? pts[0]?.latitude ?? 0
    const lon0 = home?.longitude ?? pts[0]?.longitude ?? 0
    return { x: (lon - lon0) * 111.32 * Math.cos((lat0 * Math.PI) / 180), y: (lat - lat0) * 110.57 }
  }
  const xy = pts.map((p) => ({ ...kmOf(p.latitude, p.longitude), p }))
  const reach = Math.max(12, ...xy.map((q) => Math.max(Math.abs(q.x), Math.abs(q.y)) * 1.15))
  const sx = (x: number) => W / 2 + (x / reach) * (W / 2 - 30)
  const sy = (y: number) => H / 2 - (y / reach) * (H / 2 - 24)
  const max = Math.max(1, ...pts.map((p) => p.transactions))
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    width: W,
    height: H,
    role: 'img',
    'aria-label': 'terminal fixes scatter',
  })
  svg.append(
    s('line', { x1: 0, y1: sy(0), x2: W, y2: sy(0), class: 'axis' }),
    s('line', { x1: sx(0), y1: 0, x2: sx(0), y2: H, class: 'axis' }),
    s('circle', { cx: sx(0), cy: sy(0), r: sx(10) - sx(0), class: 'radius' }),
    s('text', { x: W - 4, y: sy(0) - 4, 'text-anchor': 'end', class: 'tick' }, `${Math.round(reach)} km`),
  )
  for (const q of xy) {
    const far = (q.p.distance_km ?? 0) > 10
    const c = s('circle', {
      cx: sx(q.x),
      cy: sy(q.y),
      r: 4 + 10 * Math.sqrt(q.p.transactions / max),
      class: far ? 'fix far' : 'fix',
    })
    c.append(
      s(
        'title',
        {},
        `${q.p.terminal_id}: ${q.p.transactions} transactions, ${q.p.distance_km ?? '?'} km from the registered place`,
      ),
    )
    svg.append(c)
    if (far)
      svg.append(s('text', { x: sx(q.x) + 8, y: sy(q.y) - 8, class: 'label' }, `${q.p.distance_km} km`))
  }
  if (home !== null) {
    svg.append(
      s('path', { d: `M${sx(0) - 7},${sy(0)} h14 M${sx(0)},${sy(0) - 7} v14`, class: 'home' }),
      s('text', { x: sx(0) + 9, y: sy(0) + 16, class: 'label' }, 'registered'),
    )
  }
  el.append(svg)
  return el
}

const EVENT_MARK: Record<string, { shape: string; cls: string; word: string }> = {
  ONBOARDED: { shape: 'circle', cls: 'ev-onboard', word: 'onboarded' },
  TERMINAL_BOUND: { shape: 'up', cls: 'ev-bind', word: 'terminal bound' },
  TERMINAL_UNBOUND: { shape: 'down', cls: 'ev-unbind', word: 'terminal unbound' },
  SETTLEMENT_ACCOUNT_CHANGED: { shape: 'square', cls: 'ev-account', word: 'settlement account changed' },
  MCC_CHANGED: { shape: 'diamond', cls: 'ev-mcc', word: 'MCC changed' },
  CLOSED: { shape: 'cross', cls: 'ev-closed', word: 'closed' },
}

function mark(shape: string, x: number, y: number, cls: string): SVGElement {
  switch (shape) {
    case 'up':
      return s('path', { d: `M${x},${y - 7} l7,12 h-14 z`, class: cls })
    case 'down':
      return s('path', { d: `M${x},${y + 7} l7,-12 h-14 z`, class: cls })
    case 'square':
      return s('rect', { x: x - 6, y: y - 6, width: 12, height: 12, class: cls })
    case 'diamond':
      return s('path', { d: `M${x},${y - 8} l8,8 l-8,8 l-8,-8 z`, class: cls })
    case 'cross':
      return s('path', { d: `M${x - 6},${y - 6} l12,12 M${x + 6},${y - 6} l-12,12`, class: `${cls} stroke` })
    default:
      return s('circle', { cx: x, cy: y, r: 6, class: cls })
  }
}

/** Lifecycle events on a time line, one row per kind, each kind its own shape. */
export function lifecycle(events: LifecycleReply['items']): HTMLElement {
  const el = frame(
    'lifecycle',
    'Lifecycle events',
    'terminal bindings, settlement account and MCC changes over time; hover a mark for its details',
    events.length,
  )
  const kinds = [...new Set(events.map((e) => e.kind))]
  const W = 900
  const rowH = 26
  const H = 30 + rowH * Math.max(1, kinds.length)
  const t = events.map((e) => Date.parse(e.at))
  const t0 = Math.min(...t)
  const t1 = Math.max(...t, t0 + DAY_S * 1000)
  const left = 190
  const sx = (v: number) => left + ((v - t0) / (t1 - t0)) * (W - left - 20)
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    width: '100%',
    role: 'img',
    'aria-label': 'lifecycle time line',
  })
  kinds.forEach((k, i) => {
    const y = 20 + i * rowH
    const m = EVENT_MARK[k] ?? { shape: 'circle', cls: 'ev-other', word: k }
    svg.append(s('line', { x1: left, y1: y, x2: W - 20, y2: y, class: 'axis' }))
    svg.append(mark(m.shape, 14, y, m.cls), s('text', { x: 28, y: y + 4, class: 'label' }, m.word))
  })
  events.forEach((e, i) => {
    const m = EVENT_MARK[e.kind] ?? { shape: 'circle', cls: 'ev-other', word: e.kind }
    const g = mark(m.shape, sx(t[i] ?? t0), 20 + kinds.indexOf(e.kind) * rowH, m.cls)
    const what = [
      e.terminal_id,
      e.registered_mcc === null ? null : `MCC ${e.registered_mcc}`,
      e.settlement_account_token,
    ]
      .filter((x) => x !== null)
      .join(', ')
    g.append(
      s('title', {}, `${e.at.slice(0, 16).replace('T', ' ')} ${m.word}${what === '' ? '' : `: ${what}`}`),
    )
    svg.append(g)
  })
  svg.append(
    s('text', { x: left, y: H - 4, class: 'tick' }, new Date(t0).toISOString().slice(0, 10)),
    s(
      'text',
      { x: W - 20, y: H - 4, 'text-anchor': 'end', class: 'tick' },
      new Date(t1).toISOString().slice(0, 10),
    ),
  )
  el.append(svg)
  return el
}
