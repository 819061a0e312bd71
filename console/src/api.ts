/**
 * The console talks to the public /v1 API only, as any integration would, with the session cookie
 * (sent by the browser, unreadable by scripts) and the session's CSRF token on every change.
 */
export interface ApiFailure {
  status: number
  code: string
  message: string
  field?: string
}

export class ApiProblem extends Error {
  readonly status: number
  readonly code: string
  readonly field: string | undefined
  constructor(f: ApiFailure) {
    super(f.message)
    this.status = f.status
    this.code = f.code
    this.field = f.field
  }
}

let csrf: string | null = null
let onSignedOut: () => void = () => {}

export function setCsrf(token: string | null): void {
  csrf = token
}

export function whenSignedOut(fn: () => void): void {
  onSignedOut = fn
}

export type Query = Record<string, string | number | boolean | readonly string[] | undefined | null>

export function qs(q: Query): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue
    if (Array.isArray(v)) for (const x of v) p.append(k, String(x))
    else p.append(k, String(v))
  }
  const s = p.toString()
  return s === '' ? '' : `?${s}`
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (method !== 'GET' && csrf !== null) headers['x-csrf-token'] = csrf
  const res = await fetch(`/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  if (res.status === 204) return null as T
  const data: unknown = await res.json().catch(() => null)
  if (!res.ok) {
    const e =
      typeof data === 'object' && data !== null && 'error' in data
        ? (data.error as { code: string; message: string; field?: string })
        : { code: 'HTTP', message: res.statusText }
    if (res.status === 401 && path !== '/session') onSignedOut()
    throw new ApiProblem({ status: res.status, ...e })
  }
  return data as T
}

export const enc = encodeURIComponent
