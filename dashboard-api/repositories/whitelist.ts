import type { WhitelistEntry as EngineWhitelistEntry } from '../../rules/engine/config.ts'
import { buildEntityRules } from '../../rules/entity/engine.ts'
import { ENTITY_RULES } from '../../rules/entity/index.ts'
import { RULES } from '../../rules/index.ts'
import type { Store } from '../../store/client.ts'
import { newId } from '../ids.ts'
import type { WhitelistEntry } from '../schemas.ts'
import { chTime, insertRows, iso, isoOrNull, type Params, select } from '../sql.ts'

/**
 * Whitelist entries granted through the API (0004 whitelist_entries: one row per version, the
 * highest wins). The rule engine does not read this table itself: `loadWhitelist` hands the live
 * entries over in the engine's own shape, and the app calls its `onWhitelistChange` after every change
 * so the service can merge them in without waiting for a reload.
 */

/** Whether each known rule may be whitelisted, from the rule declarations themselves. */
export const WHITELISTABLE: ReadonlyMap<string, boolean> = new Map([
  ...RULES.map((r): [string, boolean] => [r.meta.id, r.meta.whitelistable]),
  // The cross-merchant rules declare `whitelistable` on their compiled form; defaults are enough here.
  ...buildEntityRules({}, ENTITY_RULES).map((r): [string, boolean] => [r.meta.id, r.meta.whitelistable]),
])

interface Row {
  entry_id: string
  acquirer_id: string
  merchant_id: string
  rule_id: string
  reason: string
  expires_at: string
  expires_ms: number
  granted_by: string
  granted_at: string
  removed_at: string | null
  removed_by: string
  version: number
}

const COLUMNS = `entry_id, acquirer_id, merchant_id, rule_id, reason, expires_at,
  toFloat64(toUnixTimestamp64Milli(expires_at)) AS expires_ms, granted_by, granted_at, removed_at, removed_by, version`

function toEntry(r: Row): WhitelistEntry {
  return {
    entry_id: r.entry_id,
    acquirer_id: r.acquirer_id,
    merchant_id: r.merchant_id,
    rule_id: r.rule_id,
    reason: r.reason,
    expires_at: iso(r.expires_at),
    granted_by: r.granted_by,
    granted_at: iso(r.granted_at),
    removed_at: isoOrNull(r.removed_at),
    removed_by: r.removed_at === null ? null : r.removed_by,
    version: Number(r.version),
  }
}

/** Entries in force at `now` for every acquirer, in the shape of the rules configuration's whitelist. */
export async function loadWhitelist(store: Store, now: number): Promise<EngineWhitelistEntry[]> {
  const rows = await select<Row>(
    store,
    `SELECT * FROM (SELECT ${COLUMNS} FROM {db:Identifier}.whitelist_entries FINAL)
     WHERE removed_at IS NULL AND expires_ms > {now:Float64}
     ORDER BY acquirer_id, merchant_id, rule_id, entry_id`,
    { now },
  )
  return rows.map((r) => ({
    acquirerId: r.acquirer_id,
    merchantId: r.merchant_id,
    ruleId: r.rule_id,
    reason: r.reason,
    expiresAt: r.expires_ms,
    grantedBy: r.granted_by,
  }))
}

export async function listWhitelist(
  store: Store,
  acquirer: string,
  opts: { merchant?: string; includeInactive: boolean; now: number },
): Promise<WhitelistEntry[]> {
  const params: Params = { acquirer, now: opts.now }
  const inner = ['acquirer_id = {acquirer:String}']
  if (opts.merchant !== undefined) {
    inner.push('merchant_id = {merchant:String}')
    params.merchant = opts.merchant
  }
  const rows = await select<Row>(
    store,
    `SELECT * FROM (SELECT ${COLUMNS} FROM {db:Identifier}.whitelist_entries FINAL WHERE ${inner.join(' AND ')})
     ${opts.includeInactive ? '' : 'WHERE removed_at IS NULL AND expires_ms > {now:Float64}'}
     ORDER BY merchant_id, rule_id, entry_id
     LIMIT 10000`,
    params,
  )
  return rows.map(toEntry)
}

export async function getWhitelistEntry(
  store: Store,
  acquirer: string,
  entryId: string,
): Promise<WhitelistEntry | null> {
  const rows = await select<Row>(
    store,
    `SELECT ${COLUMNS} FROM {db:Identifier}.whitelist_entries FINAL
     WHERE acquirer_id = {acquirer:String} AND entry_id = {entryId:String} LIMIT 1`,
    { acquirer, entryId },
  )
  const row = rows[0]
  return row === undefined ? null : toEntry(row)
}

export function newWhitelistEntry(
  acquirer: string,
  merchant: string,
  rule: string,
  reason: string,
  expiresAt: number,
  grantedBy: string,
  now: number,
): WhitelistEntry {
  return {
    entry_id: newId('wl'),
    acquirer_id: acquirer,
    merchant_id: merchant,
    rule_id: rule,
    reason,
    expires_at: iso(chTime(expiresAt)),
    granted_by: grantedBy,
    granted_at: iso(chTime(now)),
    removed_at: null,
    removed_by: null,
    version: 1,
  }
}

export async function writeWhitelistEntry(store: Store, e: WhitelistEntry): Promise<void> {
  await insertRows(store, 'whitelist_entries', [
    {
      acquirer_id: e.acquirer_id,
      entry_id: e.entry_id,
      merchant_id: e.merchant_id,
      rule_id: e.rule_id,
      reason: e.reason,
      expires_at: chTime(Date.parse(e.expires_at)),
      granted_by: e.granted_by,
      granted_at: chTime(Date.parse(e.granted_at)),
      removed_at: e.removed_at === null ? null : chTime(Date.parse(e.removed_at)),
      removed_by: e.removed_by ?? '',
      version: e.version,
    },
  ])
}

/**
 * The entries in the `whitelist` shape of the rules configuration file, for a service that builds its
 * rules configuration from the file plus the API's entries: buildRulesConfig then checks them again
 * with the file's own rules (whitelistable, reason, expiry).
 */
export function toRulesFileWhitelist(entries: readonly EngineWhitelistEntry[]): Record<string, string>[] {
  return entries.map((e) => ({
    acquirer_id: e.acquirerId,
    merchant_id: e.merchantId,
    rule_id: e.ruleId,
    reason: e.reason,
    expires_at: new Date(e.expiresAt).toISOString(),
    ...(e.grantedBy === null ? {} : { granted_by: e.grantedBy }),
  }))
}
