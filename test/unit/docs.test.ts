import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { renderReadme } from '../../config/docs.ts'
import { isSetting } from '../../config/settings.ts'
import { CONFIG_SPEC } from '../../config/spec.ts'
import { ERROR_CODES } from '../../lib/errors.ts'
import { renderRulesReference } from '../../rules/engine/docs.ts'
import { buildEntityRules } from '../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

function envVars(node: object): string[] {
  return Object.values(node).flatMap((v) =>
    isSetting(v) ? [v.env] : typeof v === 'object' && v ? envVars(v) : [],
  )
}

describe('README reference', () => {
  it('matches the configuration spec and the error table (run `npm run gen` when this fails)', () => {
    expect(renderReadme(readme)).toBe(readme)
  })

  it('documents every environment variable and every error code', () => {
    for (const env of envVars(CONFIG_SPEC)) expect(readme).toContain(`\`${env}\``)
    for (const code of Object.keys(ERROR_CODES)) expect(readme).toContain(`\`${code}\``)
  })

  it('has no two settings on one environment variable', () => {
    const vars = envVars(CONFIG_SPEC)
    expect(new Set(vars).size).toBe(vars.length)
  })
})

describe('rules reference', () => {
  it('rules/README.md matches the rule declarations (run `npm run gen` when this fails)', () => {
    const current = readFileSync(new URL('../../rules/README.md', import.meta.url), 'utf8')
    expect(current).toBe(renderRulesReference(RULES, buildEntityRules({}, ENTITY_RULES)))
  })

  it('documents every parameter of every rule', () => {
    const doc = renderRulesReference(RULES, buildEntityRules({}, ENTITY_RULES))
    for (const r of [...RULES, ...buildEntityRules({}, ENTITY_RULES)])
      for (const name of Object.keys(r.params)) expect(doc).toContain(`| \`${name}\` |`)
  })
})
