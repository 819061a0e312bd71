import { pino } from 'pino'
import { maskCardNumbers, maskCardNumbersIn, maskCardNumbersInRecord, NO_NUMBERS } from './luhn.ts'

export type Logger = pino.Logger

/**
 * An Error as pino's serializer would show it, masked: its message and stack are not enumerable, so
 * a walk over its properties alone would miss a card number quoted in them.
 */
function maskedError(e: Error): Record<string, unknown> {
  return {
    ...maskCardNumbersInRecord({ ...e }, NO_NUMBERS),
    type: e.name,
    message: maskCardNumbers(e.message),
    ...(e.stack === undefined ? {} : { stack: maskCardNumbers(e.stack) }),
  }
}

/**
 * Structured JSON logs on stdout. Card tokens and secrets are redacted wherever they appear in a logged
 * object: a token is not a card number, but it still identifies a cardholder and does not belong in logs.
 * And no card number is ever written, whatever logs it: every string of every record and message goes
 * through the scanner (lib/luhn.ts). Numbers are left as they are (counters, times, offsets). Child
 * bindings are not scanned (pino never formats them): they are the code's own, component names.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'pos-risk-monitor' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (record) => {
        const out: Record<string, unknown> = {}
        for (const [k, v] of Object.entries(record)) {
          out[maskCardNumbers(k)] = v instanceof Error ? maskedError(v) : maskCardNumbersIn(v, NO_NUMBERS)
        }
        return out
      },
    },
    hooks: {
      logMethod(args, method) {
        for (const [i, a] of args.entries()) if (typeof a === 'string') args[i] = maskCardNumbers(a)
        method.apply(this, args)
      },
    },
    redact: {
      paths: ['card_token', '*.card_token', 'password', '*.password', 'saslPassword', '*.saslPassword'],
      censor: '[redacted]',
    },
  }
  return destination === undefined ? pino(options) : pino(options, destination)
}
