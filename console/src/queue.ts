import type { QueueCountsReply, QueueItem, QueueReply } from '../../dashboard-api/schemas.ts'
import { api, enc, qs } from './api.ts'
import { clear, h, when } from './dom.ts'
import type { Ctx, KeyHandler } from './main.ts'
import { LEVEL_MARK, LEVELS, RULES } from './rules.ts'

/**
 * The queue: flagged merchants, highest score first, with a count per level, filters, keyset pages
 * and a refresh every 30 seconds that keeps the page, the selected row and the scroll position. The
 * state outlives the view, so coming back from a merchant finds the queue as it was left.
 */
export interface QueueFilters {
  level: string[]
  category: string
  rule: string
  case_status: string
  acquirer: string
}

export const queue = {
  filters: {
    level: ['MEDIUM', 'HIGH', 'CRITICAL'],
    category: '',
    rule: '',
    case_status: '',
    acquirer: '',
  } as QueueFilters,
  /** Cursors of the pages before the current one (null: the first page), and the current one's. */
  back: [] as (string | null)[],
  cursor: null as string | null,
  next: null as string | null,
  items: [] as QueueItem[],
  selected: 0,
}

const REFRESH_MS = 30_000

export const rowKey = (i: Pick<QueueItem, 'acquirer_id' | 'merchant_id' | 'category'>) =>
  `${i.acquirer_id}/${i.merchant_id}/${i.category}`

export const merchantHref = (i: Pick<QueueItem, 'acquirer_id' | 'merchant_id'>) =>
  `#/merchant/${enc(i.acquirer_id)}/${enc(i.merchant_id)}`

/** The number of the latest page request: a reply to an earlier one that arrives after it is dropped. */
let latestPage = 0

/**
 * Loads the page the filters and cursor ask for into `queue`. False when a later request was made
 * meanwhile (the analyst changed two filters in a row): its reply is the one to show, whichever
 * arrives last, so this one is dropped rather than drawn over it.
 */
export async function loadPage(): Promise<boolean> {
  const mine = ++latestPage
  const f = queue.filters
  const page = await api<QueueReply>(
    'GET',
    `/queue${qs({
      level: f.level,
      category: f.category,
      rule: f.rule,
      case_status: f.case_status,
      acquirer: f.acquirer,
      cursor: queue.cursor,
      limit: 25,
    })}`,
  )
  if (mine !== latestPage) return false
  queue.items = page.items
  queue.next = page.next_cursor
  return true
}

export function levelBadge(level: string): HTMLElement {
  return h('span', { class: `level level-${level.toLowerCase()}` }, `${LEVEL_MARK[level] ?? ''} ${level}`)
}

export async function queueView(ctx: Ctx): Promise<KeyHandler> {
  const f = queue.filters
  const counts = h('div', { class: 'counts', 'aria-label': 'rows per level', id: 'counts' })
  const tbody = h('tbody')
  const pager = h('div', { class: 'pager' })
  const refreshed = h('span', { class: 'muted', id: 'refreshed' })

  const select = (name: keyof QueueFilters, label: string, options: [string, string][]) =>
    h(
      'label',
      null,
      label,
      h(
        'select',
        {
          name,
          on: {
            change: (e) => {
              Reflect.set(f, name, (e.target as HTMLSelectElement).value)
              void restart()
            },
          },
        },
        ...options.map(([v, t]) => h('option', { value: v, selected: f[name] === v }, t)),
      ),
    )
  const levelBoxes = h(
    'fieldset',
    { class: 'levels' },
    h('legend', null, 'Levels'),
    ...LEVELS.map((l) =>
      h(
        'label',
        null,
        h('input', {
          type: 'checkbox',
          name: 'level',
          value: l,
          checked: f.level.includes(l),
          on: {
            change: (e) => {
              const on = (e.target as HTMLInputElement).checked
              f.level = LEVELS.filter((x) => (x === l ? on : f.level.includes(x)))
              void restart()
            },
          },
        }),
        ` ${l}`,
      ),
    ),
  )
  const filters = h(
    'form',
    { class: 'filters', on: { submit: (e) => e.preventDefault() } },
    levelBoxes,
    select('category', 'Category', [
      ['', 'any'],
      ['fraud', 'fraud'],
      ['compliance', 'compliance'],
    ]),
    select('rule', 'Rule', [['', 'any'], ...RULES.map((r): [string, string] => [r.id, r.id])]),
    select('case_status', 'Case', [
      ['', 'any'],
      ['none', 'no case'],
      ['open', 'open'],
      ['investigating', 'investigating'],
      ['escalated', 'escalated'],
      ['closed', 'closed'],
    ]),
    ctx.me.acquirer_scope === '*'
      ? h(
          'label',
          null,
          'Acquirer',
          h('input', {
            name: 'acquirer',
            value: f.acquirer,
            placeholder: 'all',
            size: 10,
            on: {
              change: (e) => {
                f.acquirer = (e.target as HTMLInputElement).value.trim()
                void restart()
              },
            },
          }),
        )
      : null,
  )
  const table = h(
    'table',
    { class: 'queue', id: 'queue' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...[
          '#',
          'Merchant',
          'Acquirer',
          'Category',
          'Score',
          'Level',
          'Families',
          'Newest case',
          'Scored',
        ].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    tbody,
  )
  ctx.view.append(
    h('div', { class: 'queue-head' }, h('h1', null, 'Queue'), counts, refreshed),
    filters,
    table,
    pager,
  )

  const drawCounts = (c: QueueCountsReply['counts']) => {
    clear(counts)
    for (const l of LEVELS) {
      counts.append(
        h('span', { class: 'count', dataset: { level: l } }, levelBadge(l), h('strong', null, String(c[l]))),
      )
    }
  }

  const drawRows = () => {
    clear(tbody)
    const offset = queue.back.length * 25
    queue.items.forEach((i, n) => {
      const row = h(
        'tr',
        {
          class: n === queue.selected ? 'selected' : '',
          'aria-selected': n === queue.selected ? 'true' : 'false',
          dataset: { key: rowKey(i), merchant: i.merchant_id },
          on: {
            click: () => {
              queue.selected = n
              location.hash = merchantHref(i)
            },
          },
        },
        h('td', null, String(offset + n + 1)),
        h(
          'td',
          null,
          h('a', { href: merchantHref(i) }, i.merchant_name ?? i.merchant_id),
          h(
            'div',
            { class: 'muted' },
            `${i.merchant_id}${i.registered_mcc === null ? '' : ` · MCC ${i.registered_mcc}`}`,
          ),
        ),
        h('td', null, i.acquirer_id),
        h('td', null, i.category),
        h('td', { class: 'num' }, String(i.score)),
        h('td', null, levelBadge(i.level)),
        h('td', null, i.families.join(', ')),
        h(
          'td',
          null,
          i.case === null ? h('span', { class: 'muted' }, 'none') : `${i.case.status} (v${i.case.version})`,
        ),
        h('td', { class: 'muted' }, when(i.scored_at)),
      )
      tbody.append(row)
    })
    if (queue.items.length === 0)
      tbody.append(
        h('tr', null, h('td', { colspan: 9, class: 'muted' }, 'Nothing in the queue under these filters.')),
      )
    clear(pager)
    pager.append(
      h(
        'button',
        {
          type: 'button',
          id: 'prev-page',
          disabled: queue.back.length === 0,
          on: { click: () => attempt(prevPage()) },
        },
        '← Previous page',
      ),
      h('span', { class: 'muted' }, `page ${queue.back.length + 1}`),
      h(
        'button',
        {
          type: 'button',
          id: 'next-page',
          disabled: queue.next === null,
          on: { click: () => attempt(nextPage()) },
        },
        'Next page →',
      ),
    )
  }

  // What the analyst asked for (a page, a refresh) and could not get is said, not dropped.
  const attempt = (p: Promise<void>) => {
    p.catch(() => ctx.say('The queue could not be loaded; press r to try again.', 'error'))
  }
  const refresh = async () => {
    const selectedKey =
      queue.items[queue.selected] === undefined ? null : rowKey(queue.items[queue.selected] as QueueItem)
    const [current, c] = await Promise.all([
      loadPage(),
      api<QueueCountsReply>(
        'GET',
        `/queue/counts${qs({ category: f.category, rule: f.rule, case_status: f.case_status, acquirer: f.acquirer })}`,
      ),
    ])
    // A later refresh (another filter) is under way: it draws, with its own counts.
    if (!current) return
    // Keep the analyst on the same merchant when the ranking moved under them.
    const found = selectedKey === null ? -1 : queue.items.findIndex((i) => rowKey(i) === selectedKey)
    queue.selected = found >= 0 ? found : Math.min(queue.selected, Math.max(0, queue.items.length - 1))
    drawCounts(c.counts)
    drawRows()
    refreshed.textContent = `updated ${new Date().toLocaleTimeString()}`
    // A count of refreshes, so that a test (or a curious analyst) can tell one from the next.
    refreshed.dataset.refreshes = String(Number(refreshed.dataset.refreshes ?? 0) + 1)
  }
  const restart = async () => {
    queue.back = []
    queue.cursor = null
    queue.selected = 0
    await refresh()
  }
  const nextPage = async () => {
    if (queue.next === null) return
    queue.back.push(queue.cursor)
    queue.cursor = queue.next
    queue.selected = 0
    await refresh()
  }
  const prevPage = async () => {
    if (queue.back.length === 0) return
    queue.cursor = queue.back.pop() ?? null
    queue.selected = 0
    await refresh()
  }

  await refresh()
  const timer = window.setInterval(() => {
    if (!table.isConnected) {
      window.clearInterval(timer)
      return
    }
    void refresh().catch(() => ctx.say('The queue could not be refreshed; retrying.', 'error'))
  }, REFRESH_MS)

  const move = (d: number) => {
    if (queue.items.length === 0) return
    queue.selected = Math.max(0, Math.min(queue.items.length - 1, queue.selected + d))
    drawRows()
    tbody.querySelector('tr.selected')?.scrollIntoView({ block: 'nearest' })
  }
  return (e) => {
    switch (e.key) {
      case 'j':
      case 'ArrowDown':
        move(1)
        return true
      case 'k':
      case 'ArrowUp':
        move(-1)
        return true
      case 'Enter':
      case 'o': {
        const i = queue.items[queue.selected]
        if (i !== undefined) location.hash = merchantHref(i)
        return true
      }
      case 'n':
        attempt(nextPage())
        return true
      case 'p':
        attempt(prevPage())
        return true
      case 'r':
        attempt(refresh())
        return true
      default:
        return false
    }
  }
}
