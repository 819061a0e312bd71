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
  const isGranted = whitelistIndex(granted)
  return (acquirerId, merchantId, ruleId, at) =>
    fromFile(acquirerId, merchantId, ruleId, at) || isGranted(acquirerId, merchantId, ruleId, at)
}

/**
 * Whether `entries` whitelist a merchant's rule at a time: some entry for the three is unexpired then,
 * i.e. `at` is before the latest expiry among them. Looked up by acquirer, merchant and rule in nested
 * maps: the engines ask at every finding of a whitelistable rule, and a key joined from the three was
 * a string built and hashed per finding. With no entries, nothing is looked up at all.
 */
export function whitelistIndex(entries: readonly WhitelistEntry[]): IsWhitelisted {
  if (entries.length === 0) return NEVER_WHITELISTED
  const index = new Map<string, Map<string, Map<string, number>>>()
  for (const w of entries) {
    let merchants = index.get(w.acquirerId)
    if (merchants === undefined) {
      merchants = new Map()
      index.set(w.acquirerId, merchants)
    }
    let rules = merchants.get(w.merchantId)
    if (rules === undefined) {
      rules = new Map()
      merchants.set(w.merchantId, rules)
    }
    rules.set(w.ruleId, Math.max(rules.get(w.ruleId) ?? Number.NEGATIVE_INFINITY, w.expiresAt))
  }
  return (acquirerId, merchantId, ruleId, at) => {
    const until = index.get(acquirerId)?.get(merchantId)?.get(ruleId)
    return until !== undefined && at < until
  }
}

const NEVER_WHITELISTED: IsWhitelisted = () => false
