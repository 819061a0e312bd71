import type { WhitelistEntry } from './engine/config.ts'

export type IsWhitelisted = (acquirerId: string, merchantId: string, ruleId: string, at: number) => boolean

/**
 * The whitelist the engines use: the rules file's entries (reloaded on SIGHUP) plus the entries analysts
 * granted through the dashboard API (stored in ClickHouse, refreshed). Both only ever hold rules that may
 * be whitelisted; the file loader and the API refuse the others.
 */
export function combinedWhitelist(
  fromFile: IsWhitelisted,
  granted: readonly WhitelistEntry[],
): IsWhitelisted {
  const index = new Map<string, number>()
  for (const w of granted) {
    const key = `${w.acquirerId}\u0000${w.merchantId}\u0000${w.ruleId}`
    index.set(key, Math.max(index.get(key) ?? Number.NEGATIVE_INFINITY, w.expiresAt))
  }
  return (acquirerId, merchantId, ruleId, at) => {
    if (fromFile(acquirerId, merchantId, ruleId, at)) return true
    const until = index.get(`${acquirerId}\u0000${merchantId}\u0000${ruleId}`)
    return until !== undefined && at < until
  }
}
