/** Regenerates rules/README.md from the rule declarations. `--check` exits 1 when it is stale. */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { renderRulesReference } from '../rules/engine/docs.ts'
import { buildEntityRules } from '../rules/entity/engine.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { RULES } from '../rules/index.ts'

const path = fileURLToPath(new URL('../rules/README.md', import.meta.url))
const next = renderRulesReference(RULES, buildEntityRules({}, ENTITY_RULES))
if (process.argv.includes('--check')) {
  if (readFileSync(path, 'utf8') !== next) {
    console.error('rules/README.md is stale: run `npm run gen`')
    process.exit(1)
  }
} else {
  writeFileSync(path, next)
}
