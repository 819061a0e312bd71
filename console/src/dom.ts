/**
 * A few lines instead of a UI library: the console is a handful of views re-rendered from data, and
 * building elements with properties (never HTML strings) keeps every value from the API inert text.
 */
type Child = Node | string | number | null | undefined | false
type Props = Record<string, unknown> & { class?: string; on?: Record<string, (e: Event) => void> }

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (props !== null) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'on') {
        for (const [ev, fn] of Object.entries(v as Record<string, (e: Event) => void>))
          el.addEventListener(ev, fn)
      } else if (k === 'class') el.className = String(v)
      else if (k === 'dataset') Object.assign(el.dataset, v)
      else if (k in el && typeof v !== 'string') Reflect.set(el, k, v)
      else el.setAttribute(k, v === true ? '' : String(v))
    }
  }
  append(el, children)
  return el
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children) {
    if (Array.isArray(c)) append(el, c)
    else if (c === null || c === undefined || c === false) continue
    else el.append(c instanceof Node ? c : String(c))
  }
}

const SVG = 'http://www.w3.org/2000/svg'

export function s(
  tag: string,
  attrs: Record<string, string | number> = {},
  ...children: (Node | string)[]
): SVGElement {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  for (const c of children) el.append(c)
  return el
}

export function clear(el: Element): void {
  while (el.firstChild !== null) el.firstChild.remove()
}

/** Amounts in major units with thousands separators; minor units come from the API. */
export function money(minor: number, currency: string | null, digits = 0): string {
  const unit = currency === 'JPY' || currency === 'KRW' || currency === 'VND' ? 1 : 100
  return `${(minor / unit).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}${
    currency === null ? '' : ` ${currency}`
  }`
}

export function pct(x: number, digits = 0): string {
  return `${(x * 100).toFixed(digits)}%`
}

export function when(iso: string | null): string {
  if (iso === null || iso === '') return ''
  return iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC')
}
