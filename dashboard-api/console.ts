import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'

/**
 * Serves the analysts' console (console/, built by console/build.ts) at /console. The files are read
 * once, at start-up, into memory: the bundle is small, a request can only name a file that was there
 * (no path from the URL ever reaches the file system), and a half-written build never serves a mix.
 *
 * Caching: asset names carry a hash of their content, so they are immutable for a year; the page
 * itself is `no-cache` (revalidated every time), so a new build is picked up at the next load.
 * Security: a CSP of its own, stricter than the API's: scripts and styles from this origin only,
 * no inline script, connections to this origin only, nothing may frame the page.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

interface Asset {
  readonly body: Buffer
  readonly type: string
}

export interface ConsoleFiles {
  readonly index: Buffer | null
  readonly assets: ReadonlyMap<string, Asset>
}

/** The built console in `dir` (index.html and assets/), or an empty set when it was not built. */
export function loadConsole(dir: string): ConsoleFiles {
  const indexPath = join(dir, 'index.html')
  if (!existsSync(indexPath)) return { index: null, assets: new Map() }
  const assets = new Map<string, Asset>()
  const assetDir = join(dir, 'assets')
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const type = TYPES[extname(name)]
      if (type !== undefined) assets.set(name, { body: readFileSync(join(assetDir, name)), type })
    }
  }
  return { index: readFileSync(indexPath), assets }
}

function page(reply: FastifyReply, files: ConsoleFiles): FastifyReply {
  reply.header('content-security-policy', CONSOLE_CSP)
  if (files.index === null) {
    return reply
      .code(503)
      .header('cache-control', 'no-store')
      .type('text/plain; charset=utf-8')
      .send('The console is not built: run `npm run build:console` (npm start and npm test do it).')
  }
  return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(files.index)
}

export function registerConsole(app: FastifyInstance, files: ConsoleFiles): void {
  const hide = { schema: { hide: true } }
  app.get('/console', hide, (_req, reply) => reply.redirect('/console/', 302))
  app.get('/console/', hide, (_req, reply) => page(reply, files))
  // Client-side routes (#/merchant/...) are in the fragment, so only the page itself is needed here.
  app.get<{ Params: { name: string } }>('/console/assets/:name', hide, (req, reply) => {
    const asset = files.assets.get(req.params.name)
    if (asset === undefined) {
      return reply.code(404).header('cache-control', 'no-store').type('text/plain').send('no such asset')
    }
    return reply
      .header('cache-control', 'public, max-age=31536000, immutable')
      .header('content-security-policy', CONSOLE_CSP)
      .type(asset.type)
      .send(asset.body)
  })
}
