import { isRiskError, type RiskError } from './errors.ts'

export interface RetryOptions {
  initialMs: number
  maxMs: number
  /** False stops retrying: the last error is thrown (shutdown or a lost partition). */
  shouldContinue: () => boolean
  /** Called before each wait; the consumer heartbeats and reports unreadiness here. */
  onRetry: (error: RiskError, attempt: number, delayMs: number) => Promise<void> | void
  sleep: (ms: number) => Promise<void>
}

/**
 * Runs `fn` until it succeeds, waiting with exponential back-off between attempts while the error is
 * retriable. A non-retriable error (or any error that is not a RiskError: a programmer error) is
 * thrown at once: retrying cannot fix it.
 */
export async function retryWhileRetriable<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  let delay = opts.initialMs
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (e) {
      if (!isRiskError(e) || !e.retriable || !opts.shouldContinue()) throw e
      await opts.onRetry(e, attempt, delay)
      await opts.sleep(delay)
      delay = Math.min(delay * 2, opts.maxMs)
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
