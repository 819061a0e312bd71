import { describe, expect, it } from 'vitest'
import { RiskError } from '../../lib/errors.ts'
import { createLogger } from '../../lib/logger.ts'
import { containsCardNumber } from '../../lib/luhn.ts'
import { DISGUISES } from '../helpers/card-disguises.ts'

/** The lines a logger writes, parsed. */
function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  let text = ''
  const logger = createLogger('info', {
    write: (s: string) => {
      text += s
    },
  })
  return {
    logger,
    lines: () =>
      text
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  }
}

describe('the logger writes no card number, whoever logs one', () => {
  it.each(DISGUISES)(
    'masks one written $name in a record, a nested value, a key, an error and the message',
    ({ text, pan }) => {
      const { logger, lines } = capture()
      logger.child({ component: 'test' }).warn(
        {
          field: text,
          nested: { list: ['x', text] },
          [text]: 1,
          error: new Error(`bad ${text}`),
          risk: new RiskError('RISK_ERR_INVALID_FIELD', `got ${text}`, { context: { value: text } }),
        },
        `message ${text}`,
      )
      const written = JSON.stringify(lines())
      expect(containsCardNumber(written)).toBe(false)
      expect(written.replace(/\D/g, '')).not.toContain(pan)
      expect(lines()[0]?.msg).toMatch(/^message /)
    },
  )

  it('keeps numbers and ordinary text as they are', () => {
    const { logger, lines } = capture()
    logger.info({ offset: '1234567890123456', eventTime: 1768478399992, partition: 3, txn: 'tx-1' }, 'stored')
    expect(lines()[0]).toMatchObject({
      eventTime: 1768478399992,
      partition: 3,
      txn: 'tx-1',
      msg: 'stored',
    })
    // 1234567890123456 fails Luhn: an ordinary long number in a string stays readable.
    expect(lines()[0]?.offset).toBe('1234567890123456')
  })
})
