/**
 * Card numbers (PANs) in the disguises the hostile-input review found, or could have: the scanner's unit
 * tests and the hostile-input suite share this table. Every PAN here passes Luhn; each is a test number
 * of a scheme (Visa, Mastercard, Amex, Discover, JCB, UnionPay), never a real card.
 */

export const PANS = {
  visa: '4111111111111111',
  mastercard: '5555555555554444',
  amex: '378282246310005',
  visa2: '4012888888881881',
  discover: '6011111111111117',
  visa13: '4222222222222',
  jcb: '3530111333300000',
  unionpay16: '6222021000123450',
  unionpay19: '6212345678901234569',
  /** An airline card (UATP): the one issuer of numbers beginning with 1, always 15 digits. */
  uatp: '135412345678911',
} as const

const FULL_WIDTH_ZERO = 0xff10
const ARABIC_INDIC_ZERO = 0x0660
const DEVANAGARI_ZERO = 0x0966

function digitsIn(pan: string, zero: number): string {
  return [...pan].map((d) => String.fromCodePoint(zero + Number(d))).join('')
}

function grouped(pan: string, sizes: readonly number[], sep: string): string {
  const out: string[] = []
  let at = 0
  for (const size of sizes) {
    if (at >= pan.length) break
    out.push(pan.slice(at, at + size))
    at += size
  }
  if (at < pan.length) out.push(pan.slice(at))
  return out.join(sep)
}

export interface Disguise {
  /** What the disguise is, for test names. */
  readonly name: string
  /** The PAN's digits, as a searcher would look for them. */
  readonly pan: string
  /** The text that carries it. */
  readonly text: string
}

/** Every disguise, each with its own PAN so a leak names the disguise that leaked. */
export const DISGUISES: readonly Disguise[] = [
  { name: 'plain', pan: PANS.visa, text: PANS.visa },
  { name: 'spaces 4-4-4-4', pan: PANS.mastercard, text: grouped(PANS.mastercard, [4, 4, 4, 4], ' ') },
  { name: 'dashes', pan: PANS.discover, text: grouped(PANS.discover, [4, 4, 4, 4], '-') },
  { name: 'dots', pan: PANS.visa2, text: grouped(PANS.visa2, [4, 4, 4, 4], '.') },
  { name: 'slashes', pan: PANS.jcb, text: grouped(PANS.jcb, [4, 4, 4, 4], '/') },
  { name: 'underscores', pan: PANS.unionpay16, text: grouped(PANS.unionpay16, [4, 4, 4, 4], '_') },
  { name: 'amex 4-6-5', pan: PANS.amex, text: grouped(PANS.amex, [4, 6, 5], ' ') },
  { name: 'spaced dash', pan: PANS.visa, text: grouped(PANS.visa, [4, 4, 4, 4], ' - ') },
  { name: 'wide gaps', pan: PANS.mastercard, text: grouped(PANS.mastercard, [4, 4, 4, 4], '      ') },
  { name: 'every digit apart', pan: PANS.discover, text: [...PANS.discover].join(' ') },
  { name: 'full-width digits', pan: PANS.unionpay16, text: digitsIn(PANS.unionpay16, FULL_WIDTH_ZERO) },
  {
    name: 'full-width digits and ideographic spaces',
    pan: PANS.visa,
    text: grouped(digitsIn(PANS.visa, FULL_WIDTH_ZERO), [4, 4, 4, 4], '\u3000'),
  },
  { name: 'arabic-indic digits', pan: PANS.mastercard, text: digitsIn(PANS.mastercard, ARABIC_INDIC_ZERO) },
  { name: 'devanagari digits', pan: PANS.visa2, text: digitsIn(PANS.visa2, DEVANAGARI_ZERO) },
  { name: 'zero-width spaces', pan: PANS.jcb, text: [...PANS.jcb].join('\u200b') },
  { name: 'no-break spaces', pan: PANS.amex, text: grouped(PANS.amex, [4, 6, 5], '\u00a0') },
  { name: 'tabs and newlines', pan: PANS.discover, text: grouped(PANS.discover, [4, 4, 4, 4], '\t\n') },
  { name: 'behind a prefix', pan: PANS.amex, text: `tok-${PANS.amex}` },
  { name: 'glued to letters', pan: PANS.visa, text: `card${PANS.visa}x` },
  { name: 'in a sentence', pan: PANS.unionpay19, text: `customer paid with ${PANS.unionpay19} today` },
  {
    name: 'with its expiry date',
    pan: PANS.mastercard,
    text: `${grouped(PANS.mastercard, [4, 4, 4, 4], ' ')} 12/27`,
  },
  { name: 'after an expiry date', pan: PANS.visa2, text: `exp 12/27 ${PANS.visa2}` },
  {
    name: 'followed by spaces (> 64 characters)',
    pan: PANS.mastercard,
    text: `${PANS.mastercard}${' '.repeat(80)}`,
  },
  {
    name: 'deep in a long string',
    pan: PANS.discover,
    text: `${'a'.repeat(700)}${PANS.discover}${'b'.repeat(700)}`,
  },
  { name: '13 digits', pan: PANS.visa13, text: PANS.visa13 },
  { name: '19 digits', pan: PANS.unionpay19, text: grouped(PANS.unionpay19, [4, 4, 4, 4], ' ') },
  { name: 'en dashes', pan: PANS.jcb, text: grouped(PANS.jcb, [4, 4, 4, 4], '\u2013') },
  { name: 'full-width dashes', pan: PANS.unionpay16, text: grouped(PANS.unionpay16, [4, 4, 4, 4], '\uff0d') },
]

/** Texts with digits that are not card numbers: the scanner must leave them alone. */
export const NOT_CARD_NUMBERS: readonly { readonly name: string; readonly text: string }[] = [
  { name: 'fails Luhn', text: '4111111111111112' },
  { name: '12 digits', text: '411111111111' },
  { name: 'a run of 20 digits', text: '41111111111111111111' },
  { name: 'a hex token', text: 'tok5f2a9c0e1d4b7a33' },
  { name: 'a uuid', text: '550e8400-e29b-41d4-a716-446655440000' },
  { name: 'an ISO time', text: '2026-01-15T12:00:00.000+08:00' },
  { name: 'a date and a time', text: '2026-01-15 12:00:00' },
  { name: 'a short id', text: 'm-1' },
  { name: 'an amount with separators', text: '1,234,567.89' },
  { name: 'no digits at all', text: 'corner store' },
  // Each passes Luhn; no card begins with 0 or 7, or with 1 unless it is 15 digits long (UATP).
  { name: 'an epoch time in milliseconds passing Luhn', text: '1764900000001' },
  { name: 'an epoch time in microseconds passing Luhn', text: '1764900000000005' },
  { name: 'an epoch time in nanoseconds passing Luhn', text: '1764900000000000001' },
  { name: 'a header of epoch milliseconds', text: 'x-sent-at=1764900000001' },
  { name: '13 digits passing Luhn, beginning with 0', text: '0123456789015' },
  { name: '16 digits passing Luhn, beginning with 7', text: '7123456789012342' },
]

/** Every Unicode decimal digit of a text, as ASCII: what anyone could rebuild a number from. */
export function digitsOf(text: string): string {
  let out = ''
  for (const ch of text) {
    if (ch >= '0' && ch <= '9') out += ch
    else if (/\p{Nd}/u.test(ch)) {
      const cp = ch.codePointAt(0) ?? 0
      let zero = cp
      while (cp - zero < 9 && /\p{Nd}/u.test(String.fromCodePoint(zero - 1))) zero--
      out += String((cp - zero) % 10)
    }
  }
  return out
}

/** The PANs of the disguise table found in `text`, however they are written. */
export function pansIn(text: string): string[] {
  const digits = digitsOf(text)
  return [...new Set(DISGUISES.map((d) => d.pan))].filter((pan) => digits.includes(pan))
}
