import { describe, expect, it } from 'vitest'
import {
  cannotHold,
  containsCardNumber,
  findCardNumbers,
  luhnValid,
  maskCardNumbers,
  maskCardNumbersInBytes,
  scanText,
} from '../../lib/luhn.ts'
import { prng } from '../../simulator/generator.ts'
import { DISGUISES, digitsOf, NOT_CARD_NUMBERS, PANS } from '../helpers/card-disguises.ts'

describe('the card-number scanner', () => {
  it.each(Object.entries(PANS))('knows the %s test number passes Luhn', (_scheme, pan) => {
    expect(luhnValid(pan)).toBe(true)
  })

  it.each(DISGUISES)('finds a card number written $name', ({ text, pan }) => {
    expect(containsCardNumber(text)).toBe(true)
    const masked = maskCardNumbers(text)
    expect(containsCardNumber(masked)).toBe(false)
    expect(digitsOf(masked)).not.toContain(pan)
    // Only digits change: the shape of the text stays, so a reader sees where something was withheld.
    expect([...masked].length).toBe([...text].length)
  })

  it.each(DISGUISES)(
    'masks the bytes of a card number written $name, keeping their length',
    ({ text, pan }) => {
      const bytes = Buffer.from(text, 'utf8')
      const masked = maskCardNumbersInBytes(bytes)
      expect(masked).not.toBeNull()
      expect(masked?.length).toBe(bytes.length)
      expect(digitsOf(masked?.toString('utf8') ?? '')).not.toContain(pan)
    },
  )

  it.each(NOT_CARD_NUMBERS)('leaves $name alone', ({ text }) => {
    expect(findCardNumbers(text)).toEqual([])
    expect(maskCardNumbers(text)).toBe(text)
    expect(maskCardNumbersInBytes(Buffer.from(text))).toBeNull()
  })

  it('masks only the digits of the number, not the text around it', () => {
    expect(maskCardNumbers('paid 4111 1111 1111 1111 at 10:30, txn 42')).toBe(
      'paid **** **** **** **** at 10:30, txn 42',
    )
    expect(maskCardNumbers(`a ${PANS.amex} and ${PANS.discover}`)).toBe(
      'a *************** and ****************',
    )
  })

  it('reports where each number is, as string indices', () => {
    const text = `x ${PANS.visa} y ４１１１１１１１１１１１１１１１`
    const spans = findCardNumbers(text)
    expect(spans.map((s) => text.slice(s.start, s.end))).toEqual([
      PANS.visa,
      '４１１１１１１１１１１１１１１１',
    ])
  })

  it('keeps the bytes around a number in raw bytes, and never changes its input', () => {
    const input = Buffer.concat([
      Buffer.from([0, 0, 0, 3, 0xe9]),
      Buffer.from('4111111111111111'),
      Buffer.from([0xff]),
    ])
    const copy = Buffer.from(input)
    const masked = maskCardNumbersInBytes(input)
    expect(masked?.length).toBe(input.length)
    expect(masked?.subarray(0, 5).equals(input.subarray(0, 5))).toBe(true)
    expect(masked?.subarray(5, 21).toString('latin1')).toBe('*'.repeat(16))
    expect(masked?.at(-1)).toBe(0xff)
    expect(input.equals(copy)).toBe(true)
  })

  it('finds a number in JSON bytes that are cut off', () => {
    const masked = maskCardNumbersInBytes(Buffer.from('{"card":"5555555555554444","x":1', 'latin1'))
    expect(masked?.toString('latin1')).toBe('{"card":"****************","x":1')
  })
})

describe('the pre-check of the card-number scanner', () => {
  // ASCII and other digits (full-width, Arabic-Indic, a mathematical digit of two UTF-16 units),
  // separators of every kind, letters (hexadecimal ones too) and other characters.
  const PIECES = [
    ...'0123456789',
    ...'4111111111111111',
    ' ',
    '-',
    '.',
    '/',
    '_',
    ',',
    '\t',
    '\u200b',
    '\u00a0',
    '\uff0d',
    '\uff14',
    '\uff11',
    '\u0664',
    '\u0661',
    '\u{1d7d2}',
    '\u{1d7cf}',
    'a',
    'f',
    'x',
    'Z',
    '卡',
    ':',
    '+',
  ]
  const PAN_PIECES = Object.values(PANS)

  function randomText(next: () => number): string {
    let text = ''
    const pieces = Math.floor(next() * 28)
    for (let i = 0; i < pieces; i++) {
      const roll = next()
      if (roll < 0.03) text += PAN_PIECES[Math.floor(next() * PAN_PIECES.length)] ?? ''
      else text += PIECES[Math.floor(next() * PIECES.length)] ?? ''
    }
    return text
  }

  it.each(DISGUISES)('does not skip a card number written $name', ({ text }) => {
    expect(cannotHold(text)).toBe(false)
    expect(scanText(text)).not.toEqual([])
  })

  it('never skips a text in which the full scan finds a card number (random texts)', () => {
    const next = prng(2026)
    let found = 0
    let skipped = 0
    for (let i = 0; i < 50_000; i++) {
      const text = randomText(next)
      const spans = scanText(text)
      if (spans.length > 0) found++
      if (cannotHold(text)) {
        skipped++
        expect(spans).toEqual([])
      }
      expect(findCardNumbers(text)).toEqual(spans)
      expect(containsCardNumber(text)).toBe(spans.length > 0)
    }
    // Both sides are exercised: texts with card numbers, and texts the pre-check answers alone.
    expect(found).toBeGreaterThan(1_000)
    expect(skipped).toBeGreaterThan(1_000)
  })

  it('skips a text shorter than 13 units whatever it holds', () => {
    for (const text of ['', '411111111111', '\uff14'.repeat(12), '\u{1d7d2}'.repeat(6)]) {
      expect(cannotHold(text)).toBe(true)
      expect(scanText(text)).toEqual([])
    }
  })
})
