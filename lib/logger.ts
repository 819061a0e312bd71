import { pino } from 'pino'

export type Logger = pino.Logger

/**
 * Structured JSON logs on stdout. Card tokens and secrets are redacted wherever they appear in a logged
 * object: a token is not a card number, but it still identifies a cardholder and does not belong in logs.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'pos-risk-monitor' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: ['card_token', '*.card_token', 'password', '*.password', 'saslPassword', '*.saslPassword'],
      censor: '[redacted]',
    },
  }
  return destination === undefined ? pino(options) : pino(options, destination)
}
