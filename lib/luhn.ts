/**
 * The card-number scanner: finds what looks like a payment card number (PAN) anywhere in a text, however
 * it is written, so that none is accepted, stored, logged or dead-lettered. Pure; every input of the
 * service (event fields, Kafka keys and headers, API parameters and bodies) goes through it.
 *
 * What counts as a card number: 13 to 19 digits passing the Luhn check and beginning as an issued card
 * can (see `issuable`: not with 0 or 7, nor with 1 unless 15 digits long), written
 * - as one run of digits, or as groups of digits joined by separators (spaces and every other
 *   whitespace, dashes, dots, slashes, underscores, commas, invisible format characters such as a
 *   zero-width space; any number of them between two groups), and
 * - with any Unicode decimal digits (full-width `４１１１`, Arabic-Indic, ...), not only ASCII ones,
 * - anywhere in a string of any length: behind a prefix (`tok-4111…`), between words, or as a span of
 *   consecutive groups inside a longer grouped number (a PAN followed by its expiry date, `… 12/27`).
 * A run of more than 19 digits with no separator is not a card number, and no window inside it is
 * tried: every long numeric id would otherwise fail one time in ten.
 */

/** True when a string of ASCII digits passes the Luhn (mod 10) check used by payment card numbers. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}

/**
 * Whether a card could begin so. A card number's first digit is its Major Industry Identifier: payment
 * networks issue from 2 to 6 (and 8 or 9 for some national schemes), airlines from 1 (UATP, 15 digits),
 * and nothing from 0 or 7. Without this, every epoch timestamp in milliseconds (13 digits, starting with
 * 1 until the year 2286), microseconds (16) or nanoseconds (19) would be a card number one time in ten:
 * a producer's `x-sent-at: 1764900000000` header must not dead-letter its event.
 */
export function issuable(digits: string): boolean {
  const first = digits.charCodeAt(0) - 48
  if (first === 0 || first === 7) return false
  return first !== 1 || digits.length === 15
}

export const MIN_PAN_DIGITS = 13
export const MAX_PAN_DIGITS = 19

/** Classes of a character: a digit is its value 0..9. */
const SEPARATOR = 10
const OTHER = 11

const ASCII_CLASS = new Int8Array(128).fill(OTHER)
for (let c = 0x30; c <= 0x39; c++) ASCII_CLASS[c] = c - 0x30
for (const c of ' \t\n\v\f\r-./\\_,') ASCII_CLASS[c.charCodeAt(0)] = SEPARATOR

const NON_ASCII_SEPARATOR =
  /^[\s\p{Pd}\p{Cf}\u00b7\u2022\u2024\u2027\u2044\u2215\u3001\u3002\u30fb\uff0c\uff0e\uff0f\uff3c\uff3f\uff61\uff65]$/u
const DECIMAL_DIGIT = /^\p{Nd}$/u
const nonAsciiClasses = new Map<number, number>()

function isDecimalDigit(cp: number): boolean {
  return cp >= 0 && cp <= 0x10ffff && DECIMAL_DIGIT.test(String.fromCodePoint(cp))
}

/**
 * Unicode encodes every set of decimal digits as 0..9 in consecutive code points, and sets that touch
 * each other (the mathematical digits) are whole sets: a digit's value is its distance from the start
 * of its block of consecutive digits, modulo 10.
 */
function classOfNonAscii(cp: number): number {
  const known = nonAsciiClasses.get(cp)
  if (known !== undefined) return known
  let cls = OTHER
  if (isDecimalDigit(cp)) {
    let k = 0
    while (k < 100 && isDecimalDigit(cp - k - 1)) k++
    cls = k % 10
  } else if (NON_ASCII_SEPARATOR.test(String.fromCodePoint(cp))) cls = SEPARATOR
  // Bounded: a hostile text of many distinct characters must not grow it without end.
  if (nonAsciiClasses.size < 65_536) nonAsciiClasses.set(cp, cls)
  return cls
}

function classOf(cp: number): number {
  return cp < 0x80 ? (ASCII_CLASS[cp] ?? OTHER) : classOfNonAscii(cp)
}

/** A card number found: the indices of its first and past-its-last character, in the scanned units. */
export interface CardNumberSpan {
  readonly start: number
  readonly end: number
}

interface Group {
  start: number
  end: number
  digits: string
}

/**
 * The card numbers in a sequence of character classes (see classOf), as spans of unit indices.
 * Overlapping candidates (a grouped number that is a PAN both with and without a trailing group) are
 * merged, since what matters is which characters must never leave.
 */
function scanClasses(classes: ArrayLike<number>): CardNumberSpan[] {
  const spans: CardNumberSpan[] = []
  const n = classes.length
  let i = 0
  while (i < n) {
    if ((classes[i] ?? OTHER) >= SEPARATOR) {
      i++
      continue
    }
    // A grouped number: groups of digits joined by runs of separators.
    const groups: Group[] = []
    let j = i
    for (;;) {
      let digits = ''
      const start = j
      while (j < n && (classes[j] ?? OTHER) < SEPARATOR) digits += String(classes[j++])
      groups.push({ start, end: j, digits })
      let k = j
      while (k < n && classes[k] === SEPARATOR) k++
      if (k === j || k >= n || (classes[k] ?? OTHER) >= SEPARATOR) break
      j = k
    }
    for (let a = 0; a < groups.length; a++) {
      let digits = ''
      for (let b = a; b < groups.length; b++) {
        digits += groups[b]?.digits ?? ''
        if (digits.length > MAX_PAN_DIGITS) break
        if (digits.length < MIN_PAN_DIGITS || !issuable(digits) || !luhnValid(digits)) continue
        const start = groups[a]?.start ?? 0
        const end = groups[b]?.end ?? 0
        const last = spans.at(-1)
        if (last !== undefined && start <= last.end)
          spans[spans.length - 1] = { start: last.start, end: Math.max(last.end, end) }
        else spans.push({ start, end })
      }
    }
    i = j
  }
  return spans
}

/**
 * ASCII text where no run of digits and separators holds 13 digits: cannot hold a card number, since a
 * candidate (scanClasses) is groups of digits joined by separators only. Most text the service scans
 * (ids, UUIDs, names) ends here, without the classes and groups of a full scan.
 */
function cannotHold(text: string): boolean {
  let digits = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x80) return false
    const cls = ASCII_CLASS[c] ?? OTHER
    if (cls < SEPARATOR) {
      if (++digits >= MIN_PAN_DIGITS) return false
    } else if (cls === OTHER) digits = 0
  }
  return true
}

/** The card numbers in `text`, as spans of UTF-16 indices. */
export function findCardNumbers(text: string): CardNumberSpan[] {
  if (cannotHold(text)) return []
  const classes: number[] = []
  const offsets: number[] = []
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i) ?? 0
    classes.push(classOf(cp))
    offsets.push(i)
    i += cp > 0xffff ? 2 : 1
  }
  offsets.push(text.length)
  return scanClasses(classes).map((s) => ({ start: offsets[s.start] ?? 0, end: offsets[s.end] ?? 0 }))
}

export function containsCardNumber(text: string): boolean {
  // The common answer without the empty array findCardNumbers makes: every string field and key of
  // every record is asked.
  return !cannotHold(text) && findCardNumbers(text).length > 0
}

/** `text` with every digit of every card number in it replaced by `*`; the same string when none. */
export function maskCardNumbers(text: string): string {
  const spans = findCardNumbers(text)
  if (spans.length === 0) return text
  let out = ''
  let at = 0
  for (const s of spans) {
    out += text.slice(at, s.start)
    for (const ch of text.slice(s.start, s.end)) out += classOf(ch.codePointAt(0) ?? 0) < SEPARATOR ? '*' : ch
    at = s.end
  }
  return out + text.slice(at)
}

/** The code point of the UTF-8 sequence at `i` and its length; an invalid byte is itself, as OTHER. */
function utf8At(bytes: Buffer, i: number): { cp: number; len: number } {
  const b = bytes[i] ?? 0
  const len =
    b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0
  if (len <= 1 || i + len > bytes.length) return { cp: b < 0x80 ? b : -1, len: 1 }
  let cp = b & (0xff >> (len + 1))
  for (let k = 1; k < len; k++) {
    const c = bytes[i + k] ?? 0
    if ((c & 0xc0) !== 0x80) return { cp: -1, len: 1 }
    cp = (cp << 6) | (c & 0x3f)
  }
  return { cp, len }
}

/**
 * Masks every card number in raw bytes read as UTF-8 (invalid bytes are taken as they are), for values
 * whose fields are unknown: undecodable messages, Kafka keys and headers. Each byte of a digit becomes
 * `*`, so lengths (and Avro framing) are unchanged. Null when there is nothing to mask.
 */
export function maskCardNumbersInBytes(value: Buffer): Buffer | null {
  // As cannotHold: ASCII bytes where no run of digits and separators holds 13 digits hold no card number.
  let digits = 0
  let longest = 0
  let ascii = true
  for (const b of value) {
    if (b >= 0x80) {
      ascii = false
      break
    }
    const cls = ASCII_CLASS[b] ?? OTHER
    if (cls < SEPARATOR) longest = Math.max(longest, ++digits)
    else if (cls === OTHER) digits = 0
  }
  if (ascii && longest < MIN_PAN_DIGITS) return null
  const classes: number[] = []
  const offsets: number[] = []
  for (let i = 0; i < value.length; ) {
    const { cp, len } = utf8At(value, i)
    classes.push(cp < 0 ? OTHER : classOf(cp))
    offsets.push(i)
    i += len
  }
  offsets.push(value.length)
  const spans = scanClasses(classes)
  if (spans.length === 0) return null
  const masked = Buffer.from(value)
  for (const s of spans) {
    for (let u = s.start; u < s.end; u++) {
      if ((classes[u] ?? OTHER) >= SEPARATOR) continue
      masked.fill(0x2a, offsets[u], offsets[u + 1])
    }
  }
  return masked
}

/** Decimal text of a whole number long enough to be a card number; null for anything else. */
function wholeNumberText(value: number | bigint): string | null {
  const text = typeof value === 'bigint' ? value.toString() : Number.isInteger(value) ? value.toFixed(0) : ''
  return text.replace('-', '').length >= MIN_PAN_DIGITS ? text : null
}

function childPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

/** Paths of numbers not to scan; NO_NUMBERS skips them all (a log's counters and times). */
export interface SkippedPaths {
  has(path: string): boolean
}

export const NO_NUMBERS: SkippedPaths = { has: () => true }

/**
 * The path of the first place in a decoded value (a record from JSON or Avro) that holds a card
 * number, or null: every string at any depth, every object key, bytes, and whole numbers long enough
 * to be one (a long can carry a card number as well as a string can). `skip` names paths of numbers
 * that are times: epoch milliseconds have 13 digits and pass Luhn one time in ten.
 */
export function findCardNumberIn(value: unknown, skip: SkippedPaths, path = ''): string | null {
  if (typeof value === 'string') return containsCardNumber(value) ? path : null
  if (typeof value === 'number' || typeof value === 'bigint') {
    const text = !longEnough(value) || skip.has(path) ? null : wholeNumberText(value)
    return text !== null && containsCardNumber(text) ? path : null
  }
  if (Buffer.isBuffer(value)) return maskCardNumbersInBytes(value) === null ? null : path
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findCardNumberIn(item, skip, `${path}[${i}]`)
      if (found !== null) return found
    }
    return null
  }
  if (isRecord(value)) {
    for (const k of Object.keys(value)) {
      if (containsCardNumber(k)) return childPath(path, k)
      const item = value[k]
      // The common leaves without building their path, which only a find or a number's skip needs.
      if (typeof item === 'string') {
        if (containsCardNumber(item)) return childPath(path, k)
        continue
      }
      if (item === null || item === undefined || typeof item === 'boolean') continue
      if ((typeof item === 'number' || typeof item === 'bigint') && !longEnough(item)) continue
      const found = findCardNumberIn(item, skip, childPath(path, k))
      if (found !== null) return found
    }
  }
  return null
}

function isRecord(v: unknown): v is Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null
}

/** Whether a number has the 13 digits a card number needs (wholeNumberText's test, without the text). */
function longEnough(value: number | bigint): boolean {
  return typeof value === 'bigint'
    ? value >= 1_000_000_000_000n || value <= -1_000_000_000_000n
    : Number.isInteger(value) && Math.abs(value) >= 1e12
}

/**
 * The value with every card number that findCardNumberIn would find masked: digits of strings, keys and
 * bytes become `*`; a number holding one becomes 0, the only replacement every numeric type can hold.
 * The same reference when there is nothing to mask, so a caller can tell.
 */
export function maskCardNumbersIn(value: unknown, skip: SkippedPaths, path = ''): unknown {
  if (typeof value === 'string') return maskCardNumbers(value)
  if (typeof value === 'number' || typeof value === 'bigint') {
    const text = skip.has(path) ? null : wholeNumberText(value)
    if (text === null || !containsCardNumber(text)) return value
    return typeof value === 'bigint' ? 0n : 0
  }
  if (Buffer.isBuffer(value)) return maskCardNumbersInBytes(value) ?? value
  if (Array.isArray(value)) {
    let changed = false
    const out = value.map((item, i) => {
      const masked = maskCardNumbersIn(item, skip, `${path}[${i}]`)
      if (masked !== item) changed = true
      return masked
    })
    return changed ? out : value
  }
  if (typeof value === 'object' && value !== null) return maskCardNumbersInRecord(value, skip, path)
  return value
}

/** maskCardNumbersIn of an object's keys and values, typed as the record it is. */
export function maskCardNumbersInRecord<T extends object>(
  record: T,
  skip: SkippedPaths,
  path = '',
): T | Record<string, unknown> {
  let changed = false
  const out: Record<string, unknown> = {}
  for (const [k, item] of Object.entries(record)) {
    const key = maskCardNumbers(k)
    const masked = maskCardNumbersIn(item, skip, childPath(path, k))
    if (key !== k || masked !== item) changed = true
    out[key] = masked
  }
  return changed ? out : record
}
