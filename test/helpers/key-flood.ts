/**
 * An attacker in a process of its own: `node test/helpers/key-flood.ts <url> <requests> <per second>`
 * sends that many GETs with invented, well-formed API keys at that rate (at most 64 in flight), then
 * prints the count of each answer's status as JSON. Its own work stays off the server's event loop,
 * as an attacker's would (hostile-api.test.ts).
 */
import { randomBytes } from 'node:crypto'

const [url = '', total = '0', rate = '1000'] = process.argv.slice(2)
const n = Number(total)
const perSecond = Number(rate)
const codes: Record<string, number> = {}
const inFlight = new Set<Promise<void>>()
const start = performance.now()
for (let sent = 0; sent < n; sent++) {
  const wait = start + (sent * 1000) / perSecond - performance.now()
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  const key = `prm_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`
  const p = fetch(url, { headers: { authorization: `Bearer ${key}` } }).then(
    async (res) => {
      await res.arrayBuffer()
      codes[res.status] = (codes[res.status] ?? 0) + 1
    },
    () => {
      codes.error = (codes.error ?? 0) + 1
    },
  )
  inFlight.add(p)
  void p.finally(() => inFlight.delete(p))
  if (inFlight.size >= 64) await Promise.race(inFlight)
}
await Promise.all(inFlight)
process.stdout.write(`${JSON.stringify({ codes, seconds: (performance.now() - start) / 1000 })}\n`)
