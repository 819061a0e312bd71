import { describe, expect, it } from 'vitest'
import { maskCardNumbersInBytes } from '../../lib/luhn.ts'

describe('maskCardNumbersInBytes', () => {
  it.each([
    ['garbage 4111111111111111 garbage', 'garbage **************** garbage'],
    ['{"card":"5555555555554444","x":1', '{"card":"****************","x":1'],
    ['a 378282246310005 and 6011111111111117', 'a *************** and ****************'],
  ])('masks card numbers in %j', (input, expected) => {
    expect(maskCardNumbersInBytes(Buffer.from(input, 'latin1'))?.toString('latin1')).toBe(expected)
  })

  it.each([
    ['4111111111111112', 'fails Luhn'],
    ['411111111111', 'too short'],
    ['41111111111111111111', 'too long (20 digits)'],
    ['no digits at all', 'nothing to mask'],
  ])('leaves %j alone (%s)', (input) => {
    expect(maskCardNumbersInBytes(Buffer.from(input))).toBeNull()
  })

  it('keeps the length and the bytes around the number, and never changes its input', () => {
    const input = Buffer.concat([
      Buffer.from([0, 0, 0, 3, 0xe9]),
      Buffer.from('4111111111111111'),
      Buffer.from([0xff]),
    ])
    const copy = Buffer.from(input)
    const masked = maskCardNumbersInBytes(input)
    expect(masked?.length).toBe(input.length)
    expect(masked?.subarray(0, 5).equals(input.subarray(0, 5))).toBe(true)
    expect(masked?.at(-1)).toBe(0xff)
    expect(input.equals(copy)).toBe(true)
  })
})
