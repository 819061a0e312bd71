/** True when a string of decimal digits passes the Luhn (mod 10) check used by payment card numbers. */
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
 * True when a value looks like a real card number (PAN): 13 to 19 digits passing Luhn once spaces and
 * dashes are removed. Any whitespace is removed, not only the space character, so that a number keyed
 * with tabs or no-break spaces is still caught: missing one is worse than rejecting an odd token.
 */
export function looksLikeCardNumber(value: string): boolean {
  if (value.length > 64) return false
  const digits = value.replace(/[\s-]/g, '')
  return digits.length >= 13 && digits.length <= 19 && luhnValid(digits)
}

/**
 * Masks, in place of each digit, every run of 13 to 19 digits in raw bytes that passes Luhn, and returns
 * the masked copy, or null when there is none. For messages that cannot be decoded at all: their fields
 * are unknown, so a card number anywhere in them is masked before the bytes are dead-lettered. Digits
 * become `*` one for one, so lengths (and Avro framing) are unchanged.
 */
export function maskCardNumbersInBytes(value: Buffer): Buffer | null {
  const text = value.toString('latin1')
  let masked: Buffer | null = null
  for (const m of text.matchAll(/(?<!\d)\d{13,19}(?!\d)/g)) {
    if (!luhnValid(m[0])) continue
    masked ??= Buffer.from(value)
    masked.fill(0x2a, m.index, m.index + m[0].length)
  }
  return masked
}
