import { beforeAll, describe, expect, it } from 'vitest'

// The console's rule list is compiled in by its build (console/build.ts); the module reads it at load.
let figure: typeof import('../../console/src/explain.ts').figure
beforeAll(async () => {
  Reflect.set(globalThis, '__RULES__', [])
  ;({ figure } = await import('../../console/src/explain.ts'))
})

describe("the console's figures of a hit", () => {
  it("shows high_ticket's observed average ticket as an amount, not as a z-score", () => {
    expect(figure('high_ticket', 1_351_000, 'CNY', 50_000)).toBe('13,510 CNY')
    expect(figure('high_ticket', 50_000, 'CNY', 50_000)).toBe('500 CNY')
  })

  it('shows a share as a percentage, whatever its value', () => {
    expect(figure('credit_debit_mix', 0.9996, null, 0.6)).toBe('100.0%')
    expect(figure('mcc_mismatch', 0.3667, null, 0)).toBe('36.7%')
  })

  it('shows a counting leg of a rule of shares as a count: the threshold says which leg fired', () => {
    // mcc_mismatch's re-registrations, structuring's days under the daily limit, even at a floor of 1.
    expect(figure('mcc_mismatch', 1, null, 1)).toBe('1')
    expect(figure('mcc_mismatch', 3, null, 2)).toBe('3')
    expect(figure('structuring', 6, null, 5)).toBe('6')
    expect(figure('structuring', 0.45, null, 0.3)).toBe('45.0%')
  })
})
