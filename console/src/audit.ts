import type { AuditReply } from '../../dashboard-api/schemas.ts'
import { api, qs } from './api.ts'
import { clear, h, when } from './dom.ts'
import type { Ctx, KeyHandler } from './main.ts'

/** The audit log, newest first, for supervisors: who did what to which case, entry or key, and when. */
export async function auditView(ctx: Ctx): Promise<KeyHandler | null> {
  ctx.view.append(h('h1', null, 'Audit log'))
  if (ctx.me.role === 'analyst') {
    ctx.view.append(h('p', { class: 'muted' }, 'The audit log is for supervisors.'))
    return null
  }
  const filters = { merchant: '', entity_type: '' }
  const cursors: (string | null)[] = []
  let cursor: string | null = null
  const tbody = h('tbody')
  const more = h('button', { type: 'button', id: 'audit-more' }, 'Older entries →')
  const load = async () => {
    const page = await api<AuditReply>('GET', `/audit${qs({ ...filters, cursor, limit: 50 })}`)
    clear(tbody)
    for (const e of page.items) {
      tbody.append(
        h(
          'tr',
          { dataset: { action: e.action } },
          h('td', null, when(e.at)),
          h('td', null, `${e.actor_name} (${e.actor_role})`),
          h('td', null, e.action),
          h('td', null, `${e.entity_type} ${e.entity_id}`),
          h(
            'td',
            null,
            e.merchant_id === ''
              ? ''
              : h(
                  'a',
                  {
                    href: `#/merchant/${encodeURIComponent(e.acquirer_id)}/${encodeURIComponent(e.merchant_id)}`,
                  },
                  e.merchant_id,
                ),
          ),
          h('td', null, e.acquirer_id),
          h('td', { class: 'change' }, change(e.before, e.after)),
        ),
      )
    }
    if (page.items.length === 0)
      tbody.append(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No entries.')))
    more.disabled = page.next_cursor === null
    more.onclick = () => {
      cursors.push(cursor)
      cursor = page.next_cursor
      void load()
    }
  }
  const input = (name: keyof typeof filters, label: string, el: HTMLInputElement | HTMLSelectElement) => {
    el.addEventListener('change', () => {
      filters[name] = el.value.trim()
      cursor = null
      cursors.length = 0
      void load()
    })
    return h('label', null, label, el)
  }
  ctx.view.append(
    h(
      'form',
      { class: 'filters', on: { submit: (e) => e.preventDefault() } },
      input('merchant', 'Merchant', h('input', { name: 'merchant', size: 14 })),
      input(
        'entity_type',
        'Entity',
        h(
          'select',
          { name: 'entity_type' },
          ...['', 'case', 'whitelist', 'api_key'].map((v) => h('option', { value: v }, v === '' ? 'any' : v)),
        ),
      ),
    ),
    h(
      'table',
      { class: 'audit', id: 'audit' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ...['When', 'Who', 'Action', 'Entity', 'Merchant', 'Acquirer', 'Change'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      tbody,
    ),
    h(
      'div',
      { class: 'pager' },
      h(
        'button',
        {
          type: 'button',
          on: {
            click: () => {
              cursor = cursors.pop() ?? null
              void load()
            },
          },
        },
        '← Newer',
      ),
      more,
    ),
  )
  await load()
  return null
}

/** The fields an action changed, as `field: before → after`. */
function change(before: unknown, after: unknown): string {
  const b = typeof before === 'object' && before !== null ? (before as Record<string, unknown>) : {}
  const a = typeof after === 'object' && after !== null ? (after as Record<string, unknown>) : {}
  const out: string[] = []
  for (const k of Object.keys(a)) {
    if (k === 'updated_at' || k === 'version') continue
    const x = JSON.stringify(b[k] ?? null)
    const y = JSON.stringify(a[k] ?? null)
    if (x !== y) out.push(`${k}: ${x === 'null' ? '' : `${x} → `}${y}`)
  }
  return out.slice(0, 6).join('; ')
}
