import { describe, expect, it } from 'vitest'
import { buildRulesConfig, loadRulesConfig } from '../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'

describe('config/rules.example.json', () => {
  it('is a valid rules configuration for the registered rules', () => {
    const path = new URL('../../config/rules.example.json', import.meta.url).pathname
    const config = loadRulesConfig(path, RULES, ENTITY_RULES)
    expect(config.entityRules.map((r) => r.meta.id)).toEqual([
      'card_spread',
      'shared_settlement_account',
      'shared_terminal',
    ])
    expect(config.whitelist).toHaveLength(1)
    expect(config.isWhitelisted('acq-alpha', 'm-42-000017', 'repeated_card', Date.parse('2027-01-01'))).toBe(
      true,
    )
    expect(config.isWhitelisted('acq-alpha', 'm-42-000017', 'repeated_card', Date.parse('2027-04-01'))).toBe(
      false,
    )
    expect(config.layersOf('daily_volume')?.byMcc.get('5511')).toEqual({ capMajor: 2_000_000 })
  })
})

describe('the rules file and the cross-merchant rules', () => {
  it('validates the entities section with paths, and lets the whitelist name only whitelistable entity rules', () => {
    const problems = (raw: unknown) => {
      try {
        buildRulesConfig(raw, RULES, 'test', ENTITY_RULES)
        return ''
      } catch (e) {
        return e instanceof Error ? e.message : String(e)
      }
    }
    expect(problems({ entities: { rules: { card_spread: { minMerchants: 1 } } } })).toContain(
      'entities.rules.card_spread.minMerchants',
    )
    expect(problems({ entities: { rules: { nope: {} } } })).toContain('entities.rules.nope: unknown rule')
    const entry = { acquirer_id: 'a', merchant_id: 'm', reason: 'r', expires_at: '2027-01-01T00:00:00Z' }
    expect(problems({ whitelist: [{ ...entry, rule_id: 'card_spread' }] })).toBe('')
    expect(problems({ whitelist: [{ ...entry, rule_id: 'shared_settlement_account' }] })).toContain(
      'shared_settlement_account cannot be whitelisted',
    )
  })
})
