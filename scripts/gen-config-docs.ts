/**
 * Regenerates the configuration and error-code reference in README.md from config/spec.ts and
 * lib/errors.ts. `--check` exits 1 when the README is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { renderReadme } from '../config/docs.ts'

const path = fileURLToPath(new URL('../README.md', import.meta.url))
const current = readFileSync(path, 'utf8')
const next = renderReadme(current)
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('README.md reference tables are stale: run `npm run gen`')
    process.exit(1)
  }
} else if (next !== current) {
  writeFileSync(path, next)
}
