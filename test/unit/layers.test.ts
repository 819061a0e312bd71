import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '../..')

/**
 * Which top-level directories a layer may not import from. Stages meet through the contracts in
 * schemas/ (Avro records on topics, the in-process hand-offs), never through each other's code.
 */
const FORBIDDEN: Record<string, readonly string[]> = {
  schemas: ['ingest', 'rules', 'scoring', 'sink', 'store', 'app', 'dashboard-api'],
  kafka: ['ingest', 'rules', 'scoring', 'sink', 'store', 'app', 'dashboard-api'],
  store: ['ingest', 'rules', 'scoring', 'sink', 'kafka', 'app'],
  sink: ['ingest', 'rules', 'scoring', 'app', 'dashboard-api'],
  scoring: ['ingest', 'rules', 'sink', 'app', 'dashboard-api'],
  ingest: ['rules', 'scoring', 'sink', 'app', 'dashboard-api'],
  rules: ['ingest', 'sink', 'app', 'dashboard-api'],
}

function sources(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...sources(p))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

/** The top-level directories a file imports from (relative imports only). */
function importedLayers(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const layers: string[] = []
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const spec = m[1]
    if (spec === undefined) continue
    const target = relative(ROOT, resolve(dirname(file), spec))
    const top = target.split('/')[0]
    if (top !== undefined) layers.push(top)
  }
  return layers
}

describe('layers', () => {
  for (const [layer, forbidden] of Object.entries(FORBIDDEN)) {
    it(`${layer}/ imports from none of ${forbidden.join(', ')}`, () => {
      const violations: string[] = []
      for (const file of sources(join(ROOT, layer)))
        for (const top of importedLayers(file))
          if (forbidden.includes(top)) violations.push(`${relative(ROOT, file)} → ${top}/`)
      expect(violations).toEqual([])
    })
  }

  it('finds an import it is told to forbid (the check itself works)', () => {
    // rules/stage.ts reads the store and the contracts: both show up as layers.
    const layers = importedLayers(join(ROOT, 'rules/stage.ts'))
    expect(layers).toContain('schemas')
    expect(layers).toContain('kafka')
  })
})
