import type { Store } from '../store/client.ts'
import { hashKey, keyIdOf, type Principal, sameHash } from './auth.ts'
import { findApiKey } from './repositories/api-keys.ts'

/**
 * What stands between a request with a key and the store: the cache of looked-up keys, and the
 * throttle of failed authentications. A client that floods the API with invented keys must neither
 * cost a store look-up per request nor slow down the clients whose keys are good:
 * - failed authentications (no key, a malformed, unknown or revoked one) are counted per client
 *   address and in total; beyond either budget, a key not already known to be good is answered 429
 *   before it is looked up (a good key is still served, so a flood from an address shared with an
 *   analyst, or from many addresses, does not lock the analyst out);
 * - answers are cached in two bounded maps, good keys apart from unknown ones (negative caching), so
 *   invented keys never push a good key out of the cache;
 * - concurrent look-ups of one key share one store query.
 */

const MAX_ENTRIES = 10_000

/** Deletes the oldest entries (Maps iterate in insertion order) until there is room for one more. */
function makeRoom<K, V>(map: Map<K, V>): void {
  while (map.size >= MAX_ENTRIES) {
    const oldest = map.keys().next()
    if (oldest.done === true) return
    map.delete(oldest.value)
  }
}

/** Resolves presented keys to principals, remembering answers for `cacheMs` (the revocation delay). */
export class KeyResolver {
  /** Good keys by hash. An entry past `until` is looked up again, but still counts as known good. */
  readonly #good = new Map<string, { principal: Principal; until: number }>()
  /** Keys that were unknown, malformed or revoked, by hash, until when. */
  readonly #bad = new Map<string, number>()
  readonly #inFlight = new Map<string, Promise<Principal | null>>()
  readonly #store: Store
  readonly #cacheMs: number
  readonly #now: () => number

  constructor(store: Store, cacheMs: number, now: () => number) {
    this.#store = store
    this.#cacheMs = cacheMs
    this.#now = now
  }

  /** A key that resolved to a principal before: it skips the failed-authentication throttle. */
  wasGood(key: string): boolean {
    return this.#good.has(hashKey(key))
  }

  async resolve(key: string): Promise<Principal | null> {
    const keyId = keyIdOf(key)
    if (keyId === null) return null
    const hash = hashKey(key)
    const now = this.#now()
    const good = this.#good.get(hash)
    if (good !== undefined && good.until > now) return good.principal
    const bad = this.#bad.get(hash)
    if (bad !== undefined && bad > now) return null
    const pending = this.#inFlight.get(hash)
    if (pending !== undefined) return pending
    const lookup = this.#lookUp(keyId, hash).finally(() => this.#inFlight.delete(hash))
    this.#inFlight.set(hash, lookup)
    return lookup
  }

  async #lookUp(keyId: string, hash: string): Promise<Principal | null> {
    const record = await findApiKey(this.#store, keyId)
    const principal =
      record !== null && record.revokedAt === null && sameHash(record.hash, hash)
        ? { keyId: record.keyId, name: record.name, role: record.role, scope: record.scope }
        : null
    const until = this.#now() + this.#cacheMs
    this.#good.delete(hash)
    this.#bad.delete(hash)
    if (principal === null) {
      if (this.#cacheMs > 0) {
        makeRoom(this.#bad)
        this.#bad.set(hash, until)
      }
    } else {
      makeRoom(this.#good)
      this.#good.set(hash, { principal, until })
    }
    return principal
  }
}

export interface AuthThrottleOptions {
  /** Failed authentications one client address may have per window. */
  readonly perAddress: number
  /** Failed authentications all addresses together may have per window. */
  readonly total: number
  readonly windowMs: number
  readonly now: () => number
}

/**
 * Counts authentications that may fail, in fixed windows, per client address and in total. A request
 * takes its unit before its key is looked up, so that requests in flight at once cannot all slip under
 * the limit; a key that turns out good gives it back.
 */
export class AuthThrottle {
  readonly #opts: AuthThrottleOptions
  #windowStart = 0
  #total = 0
  readonly #byAddress = new Map<string, number>()

  constructor(opts: AuthThrottleOptions) {
    this.#opts = opts
  }

  /** Takes one unit for a request from `address` whose key is not known to be good; false when spent. */
  take(address: string): boolean {
    this.#roll()
    const count = this.#byAddress.get(address) ?? 0
    if (this.#total >= this.#opts.total || count >= this.#opts.perAddress) return false
    this.#total++
    // Bounded: past the limit of addresses, a new one is held by the total alone.
    if (count > 0 || this.#byAddress.size < MAX_ENTRIES * 10) this.#byAddress.set(address, count + 1)
    return true
  }

  /** Gives the unit back: the key was good. */
  giveBack(address: string): void {
    const count = this.#byAddress.get(address)
    if (count !== undefined && count > 0) this.#byAddress.set(address, count - 1)
    if (this.#total > 0) this.#total--
  }

  /** Seconds until the current window ends, for Retry-After. */
  retryAfterSeconds(): number {
    this.#roll()
    return Math.max(1, Math.ceil((this.#windowStart + this.#opts.windowMs - this.#opts.now()) / 1000))
  }

  #roll(): void {
    const now = this.#opts.now()
    if (now < this.#windowStart + this.#opts.windowMs) return
    this.#windowStart = now
    this.#total = 0
    this.#byAddress.clear()
  }
}
