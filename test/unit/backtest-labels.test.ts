import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readLabels } from '../../backtest/run.ts'

const dir = mkdtempSync(join(tmpdir(), 'labels-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A labels file with one merchant of `tactics`, written to the temporary directory. */
function file(name: string, tactics: unknown): string {
  const path = join(dir, `${name}.json`)
  const merchant = {
    merchant_id: 'm-1',
    acquirer_id: 'acq-1',
    label: 'fraud',
    scenario: 'hidden_in_large_business',
    tactics,
    expected_rules: ['swipe_gap'],
  }
  writeFileSync(
    path,
    JSON.stringify({ seed: 5, start: 0, days: 30, timeZone: '+08:00', merchants: [merchant] }),
  )
  return path
}

describe('readLabels', () => {
  it("takes a labels file from elsewhere, whose tactics are its own, not our simulator's", () => {
    const labels = readLabels(file('foreign', ['two_swipes_5min_apart', 'farmed_cards_2_bins']))
    expect(labels.merchants[0]?.tactics).toEqual(['two_swipes_5min_apart', 'farmed_cards_2_bins'])
  })

  it('refuses tactics that are not strings, naming the field', () => {
    expect(() => readLabels(file('bad', ['ok', 7]))).toThrow(/merchants\[0\]\.tactics: expected strings/)
    expect(() => readLabels(file('missing', undefined))).toThrow(/merchants\[0\]\.tactics/)
  })
})
