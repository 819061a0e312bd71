import { describe, expect, it } from 'vitest'
import { buildRulesConfig, loadRulesConfig } from '../../rules/engine/config.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'

describe('config/rules.example.json', () => {
  it('is a valid rules configuration for the registered rules', () => {
    const path = new URL('../../config/rules.example.json', import.meta.url).pathname
    const config = loadRulesConfig(path, RULES, ENTITY_RULES)
    expect(config.entityRules.map((r) => r.meta.id)).toEqual([
      'card_ring',
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
    expect(config.layersOf('daily_volume')?.byMcc.get('5511')).toEqual({ floorMajor: 200_000 })
    expect(config.calibration).toEqual({ minPopulation: 30, minDays: 7 })
    expect(config.scoring.capacity.byAcquirer.get('acq-beta')).toBe(10)
  })
})

describe('the calibration section', () => {
  const problems = (raw: unknown) => {
    try {
      buildRulesConfig(raw, RULES, 'test', ENTITY_RULES)
      return ''
    } catch (e) {
      return e instanceof Error ? e.message : String(e)
    }
  }

  it.each([
    { raw: { calibration: { minDays: 0 } }, path: 'calibration.minDays: expected an integer in [1, 30]' },
    { raw: { calibration: { minPopulation: 2.5 } }, path: 'calibration.minPopulation: expected an integer' },
    { raw: { calibration: { minCohort: 3 } }, path: 'calibration.minCohort: unknown key' },
    { raw: { calibration: [] }, path: 'calibration: expected an object' },
  ])('names the bad key: $path', ({ raw, path }) => {
    expect(problems(raw)).toContain(path)
  })

  it('defaults to 30 merchants over 7 days', () => {
    expect(buildRulesConfig({}, RULES).calibration).toEqual({ minPopulation: 30, minDays: 7 })
    expect(buildRulesConfig({ calibration: { minDays: 3 } }, RULES).calibration).toEqual({
      minPopulation: 30,
      minDays: 3,
    })
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
    expect(problems({ entities: { rules: { card_ring: { minSharedCards: 1 } } } })).toContain(
      'entities.rules.card_ring.minSharedCards',
    )
    expect(problems({ entities: { rules: { nope: {} } } })).toContain('entities.rules.nope: unknown rule')
    const entry = { acquirer_id: 'a', merchant_id: 'm', reason: 'r', expires_at: '2027-01-01T00:00:00Z' }
    expect(problems({ whitelist: [{ ...entry, rule_id: 'card_ring' }] })).toBe('')
    expect(problems({ whitelist: [{ ...entry, rule_id: 'shared_settlement_account' }] })).toContain(
      'shared_settlement_account cannot be whitelisted',
    )
  })
})
