import type {
  CardPattern,
  Case,
  CaseDetail,
  CasesReply,
  DailyRow,
  EvidenceReply,
  Hit,
  LifecycleReply,
  MerchantReply,
  TransactionsReply,
  WhitelistEntry,
  WhitelistReply,
} from '../../dashboard-api/schemas.ts'
import { ApiProblem, api, enc, qs } from './api.ts'
import * as charts from './charts.ts'
import { clear, h, money, when } from './dom.ts'
import { explainHit, figure } from './explain.ts'
import type { Ctx, KeyHandler } from './main.ts'
import { levelBadge, loadPage, merchantHref, queue } from './queue.ts'
import { RULE_BY_ID, RULES } from './rules.ts'

/**
 * A merchant's evidence: what fired and why, in words and pictures, and the case and whitelist
 * panels to act on it. Everything is fetched in parallel from /v1 and drawn once.
 */
export async function merchantView(ctx: Ctx, args: string[]): Promise<KeyHandler> {
  const [a = '', m = ''] = args
  const base = `/acquirers/${enc(a)}/merchants/${enc(m)}`
  // The side panels fetch and draw themselves alongside the evidence, not after it.
  const casePanel = h('section', { class: 'panel', id: 'case-panel', 'aria-labelledby': 'case-h' })
  const whitelistPanel = h('section', { class: 'panel', id: 'whitelist-panel', 'aria-labelledby': 'wl-h' })
  const panels = Promise.all([drawCase(ctx, a, m, casePanel), drawWhitelist(ctx, a, m, whitelistPanel)])
  // Awaited below; should the evidence fail first, the view's error is the one reported.
  panels.catch(() => undefined)
  const [detail, hits, daily, ev, cards, events] = await Promise.all([
    api<MerchantReply>('GET', base),
    api<{ items: Hit[] }>('GET', `${base}/hits?limit=100`),
    api<{ items: DailyRow[] }>('GET', `${base}/daily`),
    api<EvidenceReply>('GET', `${base}/evidence`),
    api<{ items: CardPattern[] }>('GET', `${base}/card-patterns`),
    api<LifecycleReply>('GET', `${base}/events`),
  ])
  const name = detail.profile?.name ?? m
  const at = queue.items.findIndex((i) => i.acquirer_id === a && i.merchant_id === m)
  if (at >= 0) queue.selected = at

  const go = async (d: number) => {
    let next = queue.selected + d
    if (next >= queue.items.length && queue.next !== null) {
      queue.back.push(queue.cursor)
      queue.cursor = queue.next
      await loadPage()
      next = 0
    } else if (next < 0 && queue.back.length > 0) {
      queue.cursor = queue.back.pop() ?? null
      await loadPage()
      next = queue.items.length - 1
    }
    const item = queue.items[next]
    if (item === undefined) return
    queue.selected = next
    // Not ready from the key press on: the hashchange that renders the next merchant comes a task
    // later, and until then this page would still say it is ready for keys (a test pressing k at once
    // saw it).
    document.body.dataset.ready = ''
    location.hash = merchantHref(item)
  }

  ctx.view.append(
    h(
      'div',
      { class: 'merchant-head' },
      h('a', { href: '#/queue', class: 'back' }, '← Queue'),
      h('h1', null, name, ' ', h('span', { class: 'muted' }, `${m} · ${a}`)),
      h(
        'div',
        { class: 'facts' },
        detail.profile === null
          ? 'no profile on file'
          : [
              `MCC ${detail.profile.registered_mcc ?? '?'}`,
              detail.profile.onboarded_at === null
                ? null
                : `onboarded ${detail.profile.onboarded_at.slice(0, 10)}`,
              `${detail.terminals.length} terminal(s) bound`,
              `${detail.profile.settlement_account_changes} settlement account change(s)`,
            ]
              .filter((x) => x !== null)
              .join(' · '),
      ),
      h(
        'div',
        { class: 'scores' },
        ...detail.scores.map((sc) =>
          h(
            'span',
            { class: 'score', dataset: { category: sc.category } },
            `${sc.category} ${sc.score} `,
            levelBadge(sc.level),
          ),
        ),
      ),
      h(
        'div',
        { class: 'nav-merchants' },
        h(
          'button',
          { type: 'button', id: 'prev-merchant', on: { click: () => void go(-1) } },
          '↑ Previous (k)',
        ),
        h('button', { type: 'button', id: 'next-merchant', on: { click: () => void go(1) } }, 'Next (j) ↓'),
      ),
    ),
    h(
      'div',
      { class: 'merchant-body' },
      h(
        'div',
        { class: 'evidence' },
        hitsSection(base, hits.items, ev.currency),
        h(
          'section',
          { class: 'charts', 'aria-label': 'charts' },
          charts.dailyVolume(daily.items, ev),
          h(
            'div',
            { class: 'pair' },
            charts.creditShare(daily.items, ev),
            charts.ticketSizes(daily.items, ev),
          ),
          h('div', { class: 'pair' }, charts.amounts(ev), charts.hours(ev)),
          charts.cardSwipes(cards.items),
          cardTable(cards.items, ev.currency),
          h('div', { class: 'pair' }, charts.fixes(ev), fixTable(ev)),
          charts.lifecycle(events.items),
        ),
      ),
      h('aside', { class: 'side' }, casePanel, whitelistPanel),
    ),
  )
  charts.drawPending()
  await panels

  return (e) => {
    switch (e.key) {
      case 'j':
      case 'ArrowDown':
        void go(1)
        return true
      case 'k':
      case 'ArrowUp':
        void go(-1)
        return true
      case 'c': {
        const target = casePanel.querySelector<HTMLElement>('#open-reason, #case-actions button, textarea')
        target?.focus()
        casePanel.scrollIntoView({ block: 'start' })
        return true
      }
      case 'r':
        window.dispatchEvent(new HashChangeEvent('hashchange'))
        return true
      default:
        return false
    }
  }
}

/**
 * One entry per rule: its newest hit explained in words, with the samples behind it one click away;
 * the rule's earlier windows fold under it (a rule that keeps firing writes one hit per window).
 */
function hitsSection(base: string, hits: readonly Hit[], currency: string | null): HTMLElement {
  const list = h('ol', { class: 'hits', id: 'hits' })
  const byRule = new Map<string, Hit[]>()
  for (const hit of hits) byRule.set(hit.rule_id, [...(byRule.get(hit.rule_id) ?? []), hit])
  for (const [ruleId, [hit, ...earlier]] of byRule) {
    if (hit === undefined) continue
    const samples = h('div', { class: 'samples', hidden: true })
    const button = h(
      'button',
      {
        type: 'button',
        class: 'samples-button',
        'aria-expanded': 'false',
        disabled: hit.sample_txn_ids.length === 0,
        on: {
          click: () => {
            const open = samples.hidden
            samples.hidden = !open
            button.setAttribute('aria-expanded', String(open))
            if (open && samples.childElementCount === 0) void loadSamples(base, hit, samples, currency)
          },
        },
      },
      `Sample transactions (${hit.sample_txn_ids.length})`,
    )
    const rule = RULE_BY_ID.get(ruleId)
    list.append(
      h(
        'li',
        { class: 'hit', dataset: { rule: ruleId } },
        h(
          'div',
          { class: 'hit-head' },
          h('strong', null, ruleId),
          h('span', { class: `chip chip-${hit.category}` }, hit.category),
          rule === undefined ? null : h('span', { class: 'muted' }, `family ${rule.family}`),
          h(
            'span',
            { class: 'figures' },
            `observed ${figure(ruleId, hit.observed, currency, hit.threshold)} · threshold ${figure(ruleId, hit.threshold, currency, hit.threshold)}`,
          ),
        ),
        h('p', { class: 'explain' }, explainHit(hit, currency)),
        hit.detail === '' ? null : h('p', { class: 'detail' }, hit.detail),
        button,
        samples,
        earlier.length === 0
          ? null
          : h(
              'details',
              { class: 'earlier' },
              h('summary', null, `${earlier.length} earlier window(s)`),
              h(
                'ul',
                null,
                ...earlier.map((e) =>
                  h(
                    'li',
                    null,
                    `${e.window_start.slice(0, 10)} – ${e.window_end.slice(0, 10)}: observed ${figure(ruleId, e.observed, currency, e.threshold)}, threshold ${figure(ruleId, e.threshold, currency, e.threshold)}`,
                  ),
                ),
              ),
            ),
      ),
    )
  }
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'hits-h' },
    h('h2', { id: 'hits-h' }, `Why it is flagged: ${byRule.size} rules, ${hits.length} hits`),
    hits.length === 0 ? h('p', { class: 'muted' }, 'No rule hits in range.') : list,
  )
}

async function loadSamples(base: string, hit: Hit, el: HTMLElement, currency: string | null): Promise<void> {
  const page = await api<TransactionsReply>(
    'GET',
    `${base}/transactions${qs({ txn: hit.sample_txn_ids, limit: 50 })}`,
  )
  el.append(
    h(
      'table',
      { class: 'txns' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ...['Time', 'Txn', 'Terminal', 'Card', 'Type', 'Amount', 'Result'].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        ...page.items.map((t) =>
          h(
            'tr',
            null,
            h('td', null, when(t.event_time)),
            h('td', null, t.txn_id),
            h('td', null, t.terminal_id),
            h('td', null, `${t.card_token.slice(0, 12)}… ${t.card_type}`),
            h('td', null, t.txn_type),
            h('td', { class: 'num' }, money(t.amount_minor, t.currency ?? currency, 2)),
            h('td', null, t.response_code === '00' ? 'approved' : `declined ${t.response_code}`),
          ),
        ),
      ),
    ),
  )
}

function cardTable(cards: readonly CardPattern[], currency: string | null): HTMLElement {
  return h(
    'figure',
    { class: 'chart', dataset: { chart: 'top-cards', points: String(cards.length) } },
    h(
      'figcaption',
      null,
      h('strong', null, 'Top cards'),
      h('span', { class: 'guide' }, 'the cards that recur most over 120 days'),
    ),
    h(
      'table',
      { class: 'cards', id: 'top-cards' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ...[
            '',
            'Card',
            'Swipes',
            'Days',
            'Most a day',
            'Days > 2',
            'Median gap',
            'Gaps 5–10 min',
            'Months',
            'Other merchants',
            'Approved',
          ].map((t) => h('th', { scope: 'col' }, t)),
        ),
      ),
      h(
        'tbody',
        null,
        ...cards.map((c, i) =>
          h(
            'tr',
            null,
            h('td', null, charts.cardStyleSwatch(i)),
            h('td', { title: c.card_token }, `${c.card_token.slice(0, 14)}… ${c.card_type}`),
            h('td', { class: 'num' }, String(c.swipes)),
            h('td', { class: 'num' }, String(c.active_days)),
            h('td', { class: 'num' }, String(c.max_per_day)),
            h('td', { class: 'num' }, String(c.days_over_two)),
            h('td', { class: 'num' }, c.median_gap_s === null ? '–' : gap(c.median_gap_s)),
            h('td', { class: 'num' }, `${c.gaps_5_10_min} of ${c.gaps}`),
            h('td', { class: 'num' }, String(c.active_months)),
            h('td', { title: c.other_merchant_ids.join(', ') }, String(c.other_merchants)),
            h('td', { class: 'num' }, money(c.approved_amount_minor, currency)),
          ),
        ),
      ),
    ),
  )
}

function gap(seconds: number): string {
  return seconds < 60
    ? `${Math.round(seconds)} s`
    : seconds < 3600
      ? `${(seconds / 60).toFixed(1)} min`
      : `${(seconds / 3600).toFixed(1)} h`
}

function fixTable(ev: EvidenceReply): HTMLElement {
  const rows = [...ev.locations.fixes]
    .sort((x, y) => (y.distance_km ?? 0) - (x.distance_km ?? 0))
    .slice(0, 12)
  return h(
    'table',
    { class: 'fixes', id: 'fixes-table' },
    h('caption', null, 'Farthest fixes'),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ...['Terminal', 'Distance', 'Transactions', 'Last seen'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h(
      'tbody',
      null,
      ...rows.map((f) =>
        h(
          'tr',
          { class: (f.distance_km ?? 0) > 10 ? 'far' : '' },
          h('td', null, f.terminal_id),
          h('td', { class: 'num' }, f.distance_km === null ? '?' : `${f.distance_km} km`),
          h('td', { class: 'num' }, String(f.transactions)),
          h('td', null, when(f.last_seen)),
        ),
      ),
    ),
  )
}

// ---- case panel ---------------------------------------------------------------------------------------

const DECISIONS = ['false_positive', 'confirmed_cash_out', 'compliance_breach']
const ACTIONS = ['delay_settlement', 'set_limits', 'suspend_acceptance', 'retrieve_terminal']

async function drawCase(ctx: Ctx, a: string, m: string, panel: HTMLElement): Promise<void> {
  clear(panel)
  panel.append(h('h2', { id: 'case-h' }, 'Case'))
  const list = await api<CasesReply>('GET', `/acquirers/${enc(a)}/cases${qs({ merchant: m, limit: 5 })}`)
  const newest = list.items[0]
  const supervisor = ctx.me.role !== 'analyst'
  const redraw = () => drawCase(ctx, a, m, panel)
  if (newest === undefined || newest.status === 'closed') {
    if (newest !== undefined) panel.append(caseSummary(newest))
    const reason = h('textarea', {
      id: 'open-reason',
      name: 'reason',
      rows: 2,
      required: true,
      maxLength: 2000,
    })
    panel.append(
      h(
        'form',
        {
          class: 'stack',
          id: 'open-case',
          on: {
            submit: (e) => {
              e.preventDefault()
              void act(ctx, async () => {
                await api('POST', `/acquirers/${enc(a)}/merchants/${enc(m)}/cases`, { reason: reason.value })
                ctx.say('Case opened.', 'ok')
                await redraw()
              })
            },
          },
        },
        h('label', { for: 'open-reason' }, 'Reason'),
        reason,
        h('button', { type: 'submit' }, 'Open a case (c)'),
      ),
    )
    if (newest !== undefined && supervisor) {
      panel.append(transitionButton(ctx, a, newest, 'open', 'Reopen', redraw))
    }
    return
  }
  const full = await api<CaseDetail>('GET', `/acquirers/${enc(a)}/cases/${enc(newest.case_id)}`)
  const c = full.case
  panel.append(caseSummary(c))
  const buttons = h('div', { class: 'buttons', id: 'case-actions' })
  const moves: [string, string, boolean][] = [
    ['investigating', 'Start investigating', c.status === 'open'],
    ['escalated', 'Escalate', c.status === 'investigating'],
    ['open', 'Release', c.status === 'investigating'],
    ['investigating', 'Back to investigation', c.status === 'escalated' && supervisor],
  ]
  for (const [to, label, ok] of moves) if (ok) buttons.append(transitionButton(ctx, a, c, to, label, redraw))
  buttons.append(
    h(
      'button',
      {
        type: 'button',
        on: {
          click: () =>
            void act(ctx, async () => {
              await api('PATCH', `/acquirers/${enc(a)}/cases/${enc(c.case_id)}`, {
                expected_version: c.version,
                assignee: ctx.me.name,
              })
              await redraw()
            }),
        },
      },
      'Assign to me',
    ),
  )
  panel.append(buttons)

  if (c.status !== 'escalated' || supervisor) {
    const decision = h(
      'select',
      { id: 'decision', name: 'decision' },
      ...DECISIONS.map((d) => h('option', { value: d, selected: c.decision === d }, d.replaceAll('_', ' '))),
    )
    const boxes = ACTIONS.map((x) =>
      h('input', { type: 'checkbox', name: 'action', value: x, checked: c.actions.includes(x) }),
    )
    panel.append(
      h(
        'form',
        {
          class: 'stack',
          id: 'close-case',
          on: {
            submit: (e) => {
              e.preventDefault()
              const actions = boxes.filter((b) => b.checked).map((b) => b.value)
              void act(ctx, async () => {
                await api('PATCH', `/acquirers/${enc(a)}/cases/${enc(c.case_id)}`, {
                  expected_version: c.version,
                  status: 'closed',
                  decision: decision.value,
                  ...(actions.length === 0 ? {} : { actions }),
                })
                ctx.say('Case closed.', 'ok')
                await redraw()
              })
            },
          },
        },
        h('label', { for: 'decision' }, 'Decision'),
        decision,
        h(
          'fieldset',
          { class: 'actions' },
          h('legend', null, 'Actions taken'),
          ...boxes.map((b) => h('label', null, b, ` ${b.value.replaceAll('_', ' ')}`)),
        ),
        h('button', { type: 'submit' }, 'Record decision and close'),
      ),
    )
  }

  const note = h('textarea', { id: 'note', name: 'note', rows: 2, maxLength: 4000 })
  panel.append(
    h('h3', null, `Notes (${full.notes.length})`),
    h(
      'ul',
      { class: 'notes', id: 'notes' },
      ...full.notes.map((n) =>
        h('li', null, h('span', { class: 'muted' }, `${when(n.created_at)} ${n.author}: `), n.body),
      ),
    ),
    h(
      'form',
      {
        class: 'stack',
        id: 'add-note',
        on: {
          submit: (e) => {
            e.preventDefault()
            void act(ctx, async () => {
              await api('POST', `/acquirers/${enc(a)}/cases/${enc(c.case_id)}/notes`, { body: note.value })
              await redraw()
            })
          },
        },
      },
      h('label', { for: 'note' }, 'Add a note'),
      note,
      h('button', { type: 'submit' }, 'Add note'),
    ),
  )
}

function caseSummary(c: Case): HTMLElement {
  return h(
    'dl',
    { class: 'case', id: 'case', dataset: { status: c.status, version: String(c.version) } },
    h('dt', null, 'Case'),
    h('dd', null, c.case_id),
    h('dt', null, 'Status'),
    h('dd', { id: 'case-status' }, `${c.status} (version ${c.version})`),
    h('dt', null, 'Assignee'),
    h('dd', null, c.assignee === '' ? 'nobody' : c.assignee),
    h('dt', null, 'Decision'),
    h('dd', null, c.decision ?? '–'),
    h('dt', null, 'Actions'),
    h('dd', null, c.actions.length === 0 ? '–' : c.actions.join(', ')),
    h('dt', null, 'Opened'),
    h('dd', null, `${when(c.opened_at)} by ${c.opened_by}: ${c.opened_reason}`),
  )
}

function transitionButton(
  ctx: Ctx,
  a: string,
  c: Case,
  to: string,
  label: string,
  redraw: () => Promise<void>,
): HTMLElement {
  return h(
    'button',
    {
      type: 'button',
      dataset: { to },
      on: {
        click: () =>
          void act(ctx, async () => {
            await api('PATCH', `/acquirers/${enc(a)}/cases/${enc(c.case_id)}`, {
              expected_version: c.version,
              status: to,
            })
            ctx.say(`Case moved to ${to}.`, 'ok')
            await redraw()
          }),
      },
    },
    label,
  )
}

/** Runs an action; a 409 (someone changed the case meanwhile) is shown plainly, with a way to reload. */
async function act(ctx: Ctx, fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
  } catch (e) {
    if (e instanceof ApiProblem && e.status === 409) {
      ctx.say(`Conflict: ${e.message}. Reload the case to see the current state, then try again.`, 'error')
      const reload = h(
        'button',
        {
          type: 'button',
          id: 'reload-case',
          on: { click: () => window.dispatchEvent(new HashChangeEvent('hashchange')) },
        },
        'Reload the case',
      )
      document.getElementById('status')?.append(' ', reload)
      return
    }
    ctx.say(e instanceof ApiProblem ? `${e.code}: ${e.message}` : String(e), 'error')
  }
}

// ---- whitelist panel ----------------------------------------------------------------------------------

async function drawWhitelist(ctx: Ctx, a: string, m: string, panel: HTMLElement): Promise<void> {
  clear(panel)
  const supervisor = ctx.me.role !== 'analyst'
  const list = await api<WhitelistReply>('GET', `/acquirers/${enc(a)}/whitelist${qs({ merchant: m })}`)
  const redraw = () => drawWhitelist(ctx, a, m, panel)
  panel.append(
    h('h2', { id: 'wl-h' }, 'Whitelist'),
    h(
      'ul',
      { class: 'whitelist', id: 'whitelist' },
      ...list.items.map((w: WhitelistEntry) =>
        h(
          'li',
          { dataset: { rule: w.rule_id } },
          h('strong', null, w.rule_id),
          ` until ${w.expires_at.slice(0, 10)} — ${w.reason} (${w.granted_by})`,
          supervisor
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'link',
                  on: {
                    click: () =>
                      void act(ctx, async () => {
                        await api('DELETE', `/acquirers/${enc(a)}/whitelist/${enc(w.entry_id)}`)
                        ctx.say(`Whitelist entry for ${w.rule_id} removed.`, 'ok')
                        await redraw()
                      }),
                  },
                },
                'remove',
              )
            : null,
        ),
      ),
    ),
  )
  if (list.items.length === 0) panel.append(h('p', { class: 'muted' }, 'No entry in force.'))
  if (!supervisor) {
    panel.append(h('p', { class: 'muted' }, 'A supervisor grants whitelist entries.'))
    return
  }
  const rule = h(
    'select',
    { id: 'wl-rule', name: 'rule' },
    ...RULES.filter((r) => r.whitelistable).map((r) => h('option', { value: r.id }, r.id)),
  )
  const reason = h('input', { id: 'wl-reason', name: 'reason', required: true, maxLength: 2000 })
  const expiry = h('input', {
    id: 'wl-expiry',
    name: 'expires',
    type: 'date',
    required: true,
    value: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10),
  })
  panel.append(
    h(
      'form',
      {
        class: 'stack',
        id: 'add-whitelist',
        on: {
          submit: (e) => {
            e.preventDefault()
            void act(ctx, async () => {
              await api('POST', `/acquirers/${enc(a)}/whitelist`, {
                merchant_id: m,
                rule_id: rule.value,
                reason: reason.value,
                expires_at: `${expiry.value}T23:59:59Z`,
              })
              ctx.say(`Whitelisted ${rule.value} until ${expiry.value}.`, 'ok')
              await redraw()
            })
          },
        },
      },
      h('label', { for: 'wl-rule' }, 'Rule (relocation, MCC mismatch and settlement churn never)'),
      rule,
      h('label', { for: 'wl-reason' }, 'Reason'),
      reason,
      h('label', { for: 'wl-expiry' }, 'Expires'),
      expiry,
      h('button', { type: 'submit' }, 'Grant whitelist entry'),
    ),
  )
}
