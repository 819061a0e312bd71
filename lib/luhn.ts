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
 * tried: every long numeric id would otherwise fail one time in ten. Nor are the digits of a UUID or
 * of a run of 20 to 128 hexadecimal characters: random ids of these kinds would otherwise fail one
 * time in 500 to 1,000 (see scanClasses).
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

/**
 * Classes of a character: a digit is its value 0..9; then the separators (the dash apart, for the shape
 * of a UUID), then what ends a number: ASCII letters (hexadecimal ones apart, for the same reason) and
 * everything else. Every class from SEPARATOR up is "not a digit", and up to DASH "a separator".
 */
const SEPARATOR = 10
const DASH = 11
const OTHER = 12
const HEX_LETTER = 13
const LETTER = 14

const ASCII_CLASS = new Int8Array(128).fill(OTHER)
for (let c = 0x30; c <= 0x39; c++) ASCII_CLASS[c] = c - 0x30
for (const c of ' \t\n\v\f\r./\\_,') ASCII_CLASS[c.charCodeAt(0)] = SEPARATOR
ASCII_CLASS[0x2d] = DASH
for (let c = 0x41; c <= 0x5a; c++) {
  ASCII_CLASS[c] = c <= 0x46 ? HEX_LETTER : LETTER
  ASCII_CLASS[c + 0x20] = c <= 0x46 ? HEX_LETTER : LETTER
}

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

const isSeparator = (cls: number | undefined) => cls === SEPARATOR || cls === DASH
const isLetter = (cls: number | undefined) => cls === HEX_LETTER || cls === LETTER
const isHex = (cls: number | undefined) => cls !== undefined && (cls < SEPARATOR || cls === HEX_LETTER)

/** The lengths of a UUID's hexadecimal groups, which dashes join (RFC 9562's textual form). */
const UUID_GROUPS = [8, 4, 4, 4, 12]
const UUID_LENGTH = 36

/** Whether a UUID in its textual form starts at `at`, with neither a letter, a digit nor a dash either side. */
function uuidAt(classes: ArrayLike<number>, at: number): boolean {
  if (at + UUID_LENGTH > classes.length) return false
  const before = at > 0 ? classes[at - 1] : OTHER
  const after = classes[at + UUID_LENGTH]
  const glued = (cls: number | undefined) =>
    cls !== undefined && (cls < SEPARATOR || cls === DASH || isLetter(cls))
  if (glued(before) || glued(after)) return false
  let u = at
  for (const [g, size] of UUID_GROUPS.entries()) {
    if (g > 0 && classes[u++] !== DASH) return false
    for (const end = u + size; u < end; u++) if (!isHex(classes[u])) return false
  }
  return true
}

/**
 * The classes with every UUID's characters taken as OTHER (a UUID is an identifier, whatever digits
 * its groups happen to hold: one random UUID in about 470 holds 13 to 19 digits in a row, across its
 * dashes, that pass Luhn); the same array when there is none.
 */
function withoutUuids(classes: ArrayLike<number>): ArrayLike<number> {
  let out: number[] | null = null
  for (let i = 0; i + UUID_LENGTH <= classes.length; i++) {
    if (!uuidAt(classes, i)) continue
    out ??= Array.from(classes)
    out.fill(OTHER, i, i + UUID_LENGTH)
    i += UUID_LENGTH - 1
  }
  return out ?? classes
}

/** The lengths of a hexadecimal identifier: longer than a card number, at most a SHA-512 digest. */
const HEX_ID_MIN = MAX_PAN_DIGITS + 1
const HEX_ID_MAX = 128

/**
 * Whether the digits from `start` to `end` are part of a hexadecimal identifier: an unbroken run of 20
 * to 128 hexadecimal characters, one of them a letter (a hash, a random id). As a run of more than 19
 * digits is not a card number, neither is such a run; `4111…a` (17 characters) still is, and so is a
 * number deep in a longer text of letters that happen to be a to f.
 */
function inHexId(classes: ArrayLike<number>, start: number, end: number): boolean {
  let from = start
  let to = end
  let letters = 0
  while (from > 0 && isHex(classes[from - 1]) && to - from < HEX_ID_MAX + 1)
    if (classes[--from] === HEX_LETTER) letters++
  while (to < classes.length && isHex(classes[to]) && to - from < HEX_ID_MAX + 1)
    if (classes[to++] === HEX_LETTER) letters++
  return letters > 0 && to - from >= HEX_ID_MIN && to - from <= HEX_ID_MAX
}

/**
 * The card numbers in a sequence of character classes (see classOf), as spans of unit indices.
 * Overlapping candidates (a grouped number that is a PAN both with and without a trailing group) are
 * merged, since what matters is which characters must never leave.
 *
 * Two kinds of identifier are not card numbers, however their digits fall: a UUID in its textual form,
 * and a run of 20 to 128 hexadecimal characters (inHexId). Random ids of these kinds would otherwise
 * fail one time in 500 to 1,000. A number glued to letters (`card4111…x`, `tok4111…`, `4111…a`) is
 * still one, and so is a number between letters of other scripts (`卡号4111…元`), which write no
 * spaces between words.
 */
function scanClasses(input: ArrayLike<number>): CardNumberSpan[] {
  const spans: CardNumberSpan[] = []
  const classes = withoutUuids(input)
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
      while (k < n && isSeparator(classes[k])) k++
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
        if (a === b && inHexId(classes, start, end)) continue
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
 * Text shorter than 13 units, or ASCII text where no run of digits and separators holds 13 digits:
 * cannot hold a card number, since a candidate (scanClasses) is groups of digits joined by separators
 * only. Most text the service scans (ids, UUIDs, names) ends here, without the classes and groups of a
 * full scan.
 */
export function cannotHold(text: string): boolean {
  // Every digit takes at least one UTF-16 unit: most fields and keys are shorter than a card number.
  if (text.length < MIN_PAN_DIGITS) return true
  let digits = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x80) return false
    const cls = ASCII_CLASS[c] ?? OTHER
    if (cls < SEPARATOR) {
      if (++digits >= MIN_PAN_DIGITS) return false
    } else if (!isSeparator(cls)) digits = 0
  }
  return true
}

/** The card numbers in `text`, as spans of UTF-16 indices. */
export function findCardNumbers(text: string): CardNumberSpan[] {
  return cannotHold(text) ? [] : scanText(text)
}

/** findCardNumbers without the pre-check (cannotHold), which must never skip what this finds. */
export function scanText(text: string): CardNumberSpan[] {
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
    else if (!isSeparator(cls)) digits = 0
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
    // for-in, not Object.keys: no array of the keys per record. Own keys only, as Object.keys gives.
    for (const k in value) {
      if (!Object.hasOwn(value, k)) continue
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
