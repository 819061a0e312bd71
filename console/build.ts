/**
 * Builds the console: `node console/build.ts [outdir]` (default console/dist). esbuild bundles
 * src/main.ts with uPlot into one minified script and one stylesheet, each named by a hash of its
 * content, and writes index.html pointing at them. The service serves the result at /console.
 *
 * It runs before `npm start` and `npm test` (prestart, pretest) and takes well under a second, so the
 * console is never stale and nothing needs building by hand. The rule catalogue (ids, categories,
 * descriptions, whether a rule may be whitelisted) is compiled in from rules/, the single source.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { WHITELISTABLE } from '../dashboard-api/repositories/whitelist.ts'
import { buildEntityRules } from '../rules/entity/engine.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'
import { RULES } from '../rules/index.ts'
import type { RuleInfo } from './src/rules.ts'

const HERE = fileURLToPath(new URL('.', import.meta.url))

export function ruleCatalogue(): RuleInfo[] {
  const entity = buildEntityRules({}, ENTITY_RULES)
  return [...RULES, ...entity].map((r) => ({
    id: r.meta.id,
    category: r.meta.category,
    family: r.meta.family,
    description: r.meta.description,
    whitelistable: WHITELISTABLE.get(r.meta.id) ?? false,
  }))
}

/** Builds into `outDir` (emptied first); returns the names of the written assets. */
export async function buildConsole(outDir: string): Promise<{ script: string; style: string }> {
  rmSync(outDir, { recursive: true, force: true })
  const assets = join(outDir, 'assets')
  mkdirSync(assets, { recursive: true })
  const result = await build({
    entryPoints: [join(HERE, 'src/main.ts'), join(HERE, 'src/styles.css')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    outdir: assets,
    entryNames: '[name]-[hash]',
    metafile: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    define: { __RULES__: JSON.stringify(ruleCatalogue()) },
  })
  const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p))
  const script = outputs.find((n) => n.startsWith('main-') && n.endsWith('.js'))
  const style = outputs.find((n) => n.startsWith('styles-') && n.endsWith('.css'))
  if (script === undefined || style === undefined)
    throw new Error(`unexpected build outputs: ${outputs.join(', ')}`)
  const html = readFileSync(join(HERE, 'index.html'), 'utf8')
    .replace('__SCRIPT__', `assets/${script}`)
    .replace('__STYLE__', `assets/${style}`)
  writeFileSync(join(outDir, 'index.html'), html)
  return { script, style }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(HERE, 'dist'))
  const t0 = performance.now()
  const built = await buildConsole(out)
  process.stderr.write(
    `console built in ${Math.round(performance.now() - t0)} ms: ${out} (${built.script})\n`,
  )
}
