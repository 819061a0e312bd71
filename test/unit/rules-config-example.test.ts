import { describe, expect, it } from 'vitest'
import { loadRulesConfig } from '../../rules/engine/config.ts'
import { RULES } from '../../rules/index.ts'

describe('config/rules.example.json', () => {
  it('is a valid rules configuration for the registered rules', () => {
    const path = new URL('../../config/rules.example.json', import.meta.url).pathname
    const config = loadRulesConfig(path, RULES)
    expect(config.whitelist).toHaveLength(1)
    expect(config.isWhitelisted('acq-alpha', 'm-42-000017', 'repeated_card', Date.parse('2027-01-01'))).toBe(true)
    expect(config.isWhitelisted('acq-alpha', 'm-42-000017', 'repeated_card', Date.parse('2027-04-01'))).toBe(false)
    expect(config.layersOf('daily_volume')?.byMcc.get('5511')).toEqual({ capMajor: 2_000_000 })
  })
})
