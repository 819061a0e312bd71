import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * Gives the event loop a turn once a loop has held its thread for `budgetMs`. Every stage's Kafka
 * client runs on the main thread and reads its broker's answers only between tasks; a part decoded in
 * one go (thousands of records, tens of milliseconds) held back the round trips of the alert path
 * (rules, scoring) behind it. Awaiting a settled promise does not yield (microtasks run before any I/O);
 * a setImmediate does, after the I/O callbacks that are due.
 */
export class Turns {
  readonly #budgetMs: number
  #since = performance.now()

  constructor(budgetMs = 4) {
    this.#budgetMs = budgetMs
  }

  /**
   * Whether the loop has held its thread for the budget, so that `take` would yield. A loop over every
   * record of a part asks this first: awaiting `take` costs a promise and a microtask per record even
   * when it returns at once.
   */
  due(): boolean {
    return performance.now() - this.#since >= this.#budgetMs
  }

  /** At once while within the budget; otherwise after the loop has had its turn (the budget starts again). */
  async take(): Promise<void> {
    if (!this.due()) return
    await nextTurn()
    this.#since = performance.now()
  }
}
