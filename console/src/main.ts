import type { SessionReply } from '../../dashboard-api/schemas.ts'
import { ApiProblem, api, setCsrf, whenSignedOut } from './api.ts'
import { auditView } from './audit.ts'
import { forgetCharts } from './charts.ts'
import { clear, h } from './dom.ts'
import { merchantView } from './merchant.ts'
import { queueView } from './queue.ts'

/**
 * The analysts' console: sign-in, the queue, a merchant's evidence, the audit log. Routes live in the
 * URL fragment (#/queue, #/merchant/<acquirer>/<merchant>, #/audit), so the server serves one page
 * and the browser's back button works. Each view renders into #view and may return a keyboard
 * handler; `?` shows the keys.
 */
export interface Ctx {
  me: SessionReply
  view: HTMLElement
  /** Replaces the page's status line (errors, conflicts, confirmations); announced to screen readers. */
  say: (text: string, kind?: 'info' | 'error' | 'ok') => void
}

export type KeyHandler = (e: KeyboardEvent) => boolean
export type View = (ctx: Ctx, args: string[]) => Promise<KeyHandler | null>

const root = document.getElementById('app') as HTMLElement
let me: SessionReply | null = null
let keys: KeyHandler | null = null
let renderSeq = 0

function signInView(message?: string): void {
  document.body.dataset.ready = ''
  clear(root)
  const input = h('input', {
    id: 'key',
    type: 'password',
    name: 'key',
    autocomplete: 'off',
    required: true,
    placeholder: 'prm_…',
    'aria-describedby': 'key-help',
  })
  const status = h('p', { class: 'status error', role: 'alert' }, message ?? '')
  const form = h(
    'form',
    {
      class: 'signin',
      on: {
        submit: (e) => {
          e.preventDefault()
          void (async () => {
            try {
              const s = await api<SessionReply>('POST', '/session', { key: input.value.trim() })
              input.value = ''
              setCsrf(s.csrf_token)
              me = s
              if (location.hash === '' || location.hash === '#/signin') location.hash = '#/queue'
              else void render()
            } catch (err) {
              status.textContent = err instanceof ApiProblem ? err.message : String(err)
            }
          })()
        },
      },
    },
    h('h1', null, "Analysts' console"),
    h('label', { for: 'key' }, 'API key'),
    input,
    h(
      'p',
      { id: 'key-help', class: 'help' },
      'Sign in once with your API key. The console keeps a short session cookie, never the key.',
    ),
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  )
  root.append(h('main', { class: 'signin-page' }, form))
  document.body.dataset.ready = 'signin'
  input.focus()
}

function help(): void {
  const d = h(
    'dialog',
    { class: 'help-dialog', 'aria-label': 'keyboard shortcuts' },
    h('h2', null, 'Keys'),
    h(
      'dl',
      null,
      ...[
        ['j / ↓', 'next merchant (queue and merchant page)'],
        ['k / ↑', 'previous merchant'],
        ['Enter / o', 'open the selected merchant'],
        ['c', 'open a case, or go to the case panel'],
        ['n / p', 'next / previous queue page'],
        ['r', 'refresh'],
        ['q / Esc', 'back to the queue'],
        ['a', 'audit log (supervisors)'],
        ['?', 'this help'],
      ].flatMap(([k, v]) => [h('dt', null, h('kbd', null, k)), h('dd', null, v)]),
    ),
    h('form', { method: 'dialog' }, h('button', null, 'Close')),
  )
  document.body.append(d)
  d.addEventListener('close', () => d.remove())
  d.showModal()
}

async function signOut(): Promise<void> {
  try {
    await api('DELETE', '/session')
  } finally {
    me = null
    setCsrf(null)
    location.hash = '#/signin'
    signInView('Signed out.')
  }
}

function shell(who: SessionReply): { view: HTMLElement; status: HTMLElement } {
  clear(root)
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite', id: 'status' })
  const view = h('main', { id: 'view', tabindex: '-1' })
  const supervisor = who.role === 'supervisor' || who.role === 'admin'
  root.append(
    h(
      'header',
      { class: 'top' },
      h('a', { href: '#/queue', class: 'brand' }, 'pos-risk-monitor'),
      h(
        'nav',
        { 'aria-label': 'main' },
        h('a', { href: '#/queue' }, 'Queue'),
        supervisor ? h('a', { href: '#/audit' }, 'Audit log') : null,
      ),
      h(
        'span',
        { class: 'who', id: 'who' },
        `${who.name} · ${who.role} · ${who.acquirer_scope === '*' ? 'all acquirers' : who.acquirer_scope}`,
      ),
      h('button', { type: 'button', class: 'link', on: { click: () => help() } }, 'Keys (?)'),
      h('button', { type: 'button', id: 'sign-out', on: { click: () => void signOut() } }, 'Sign out'),
    ),
    status,
    view,
  )
  return { view, status }
}

async function render(): Promise<void> {
  const seq = ++renderSeq
  forgetCharts()
  keys = null
  if (me === null) {
    try {
      me = await api<SessionReply>('GET', '/session')
      setCsrf(me.csrf_token)
    } catch {
      signInView()
      return
    }
  }
  const route = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent)
  const [name = 'queue', ...args] = route
  if (name === 'signin') {
    location.hash = '#/queue'
    return
  }
  document.body.dataset.ready = ''
  const { view, status } = shell(me)
  const ctx: Ctx = {
    me,
    view,
    say: (text, kind = 'info') => {
      status.textContent = text
      status.className = `status ${kind}`
    },
  }
  const views: Record<string, View> = { queue: queueView, merchant: merchantView, audit: auditView }
  const v = views[name] ?? queueView
  try {
    const handler = await v(ctx, args)
    if (seq !== renderSeq) return
    keys = handler
    document.body.dataset.ready = name
  } catch (err) {
    if (seq !== renderSeq) return
    if (err instanceof ApiProblem && err.status === 401) return
    ctx.say(err instanceof ApiProblem ? `${err.code}: ${err.message}` : String(err), 'error')
    document.body.dataset.ready = `${name}-error`
  }
}

whenSignedOut(() => {
  me = null
  setCsrf(null)
  signInView('Your session has ended; sign in again.')
})

document.addEventListener('keydown', (e) => {
  const t = e.target
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement)
    return
  if (e.ctrlKey || e.metaKey || e.altKey) return
  if (document.querySelector('dialog[open]') !== null) return
  if (e.key === '?') {
    help()
    e.preventDefault()
    return
  }
  if (keys?.(e) === true) {
    e.preventDefault()
    return
  }
  if (e.key === 'q' || e.key === 'Escape') {
    location.hash = '#/queue'
  } else if (e.key === 'a' && me !== null && me.role !== 'analyst') {
    location.hash = '#/audit'
  }
})

window.addEventListener('hashchange', () => void render())
void render()
