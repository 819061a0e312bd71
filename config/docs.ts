import { ERROR_CODES } from '../lib/errors.ts'
import { isSetting } from './settings.ts'
import { CONFIG_SPEC } from './spec.ts'

/** The configuration reference table for the README, generated from CONFIG_SPEC. */
export function renderConfigTable(): string {
  const rows: string[] = [
    '| Key | Environment variable | Type | Default | Meaning |',
    '|---|---|---|---|---|',
  ]
  const visit = (node: object, path: string[]): void => {
    for (const [key, child] of Object.entries(node)) {
      if (isSetting(child)) {
        const def = child.default === undefined ? '(required)' : child.show(child.default)
        rows.push(
          `| \`${[...path, key].join('.')}\` | \`${child.env}\` | ${child.typeName} | ${def} | ${child.description} |`,
        )
      } else if (typeof child === 'object' && child !== null) {
        visit(child, [...path, key])
      }
    }
  }
  visit(CONFIG_SPEC, [])
  return rows.join('\n')
}

/** The error code table for the README, generated from lib/errors.ts. */
export function renderErrorTable(): string {
  const rows = ['| Code | Retriable | Meaning |', '|---|---|---|']
  for (const [code, e] of Object.entries(ERROR_CODES)) {
    rows.push(`| \`${code}\` | ${e.retriable ? 'yes' : 'no'} | ${e.description} |`)
  }
  return rows.join('\n')
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->` markers. */
export function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const i = doc.indexOf(start)
  const j = doc.indexOf(end)
  if (i < 0 || j < i) throw new Error(`README has no ${start} ... ${end} section`)
  return `${doc.slice(0, i + start.length)}\n${body}\n${doc.slice(j)}`
}

export function renderReadme(readme: string): string {
  return replaceSection(replaceSection(readme, 'config', renderConfigTable()), 'errors', renderErrorTable())
}
