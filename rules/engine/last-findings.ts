/**
 * A merchant's last findings: what the engine wrote last for each (rule, window), so that a rule that
 * keeps finding the same thing writes nothing. Kept in one array of doubles per merchant, an entry of
 * ENTRY numbers per finding, at most `max` entries. Each entry holds the sequence number of its last
 * update: past `max`, a new entry takes the place of the least recently updated one (what a Map in
 * order of update would drop first), and an update is written in place, with nothing moved.
 *
 * A Map of records was about 400 bytes per remembered finding: the map's entry, a key, a record, three
 * boxed doubles, and the finding's detail text (the largest part, kept only to be compared). On the
 * engine bench's 1,000,000 events that was a third of all the engine kept per merchant. Here an entry
 * is seven unboxed doubles, and the detail is kept as a 53-bit hash of its text: two texts that differ
 * have the same hash with a chance of about one in 2^53 per comparison, and such a collision would
 * only hold back one update whose numbers are all the same as the last one's.
 */

/**
 * An entry: the key (findingKey), observed, threshold, window end, detail hash, configuration id, and
 * the sequence number of its last update.
 */
const K_KEY = 0
const K_OBSERVED = 1
const K_THRESHOLD = 2
const K_END = 3
const K_DETAIL = 4
const K_CONFIG = 5
const K_SEQ = 6
export const ENTRY = 7

/**
 * The key of a rule's finding: the rule's index and the window's start in one exact double, `span` a
 * power of two above every rule index. Null (never remembered, so always written) for a start that is
 * not an integer small enough to keep it exact: no rule makes one (a window starts at a local
 * midnight's millisecond).
 */
export function findingKey(rule: number, windowStart: number, span: number): number | null {
  if (rule < 0 || rule >= span || !Number.isSafeInteger(windowStart)) return null
  if (Math.abs(windowStart) > Math.floor(Number.MAX_SAFE_INTEGER / span) - 1) return null
  return windowStart * span + rule
}

/** The smallest power of two above `rules` (at least 1): the span of findingKey. */
export function keySpan(rules: number): number {
  let span = 1
  while (span <= rules) span *= 2
  return span
}

/** Where the entry of `key` starts, or -1. */
export function entryOf(findings: readonly number[], key: number): number {
  for (let o = 0; o < findings.length; o += ENTRY) if (findings[o + K_KEY] === key) return o
  return -1
}

/** Equal as their texts would be: NaN equals NaN, and 0 equals -0 (both print "0"). */
function sameNumber(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b))
}

/** Whether the entry at `o` holds these values: the finding is what was written last. */
export function isSame(
  findings: readonly number[],
  o: number,
  observed: number,
  threshold: number,
  windowEnd: number,
  detail: number,
  config: number,
): boolean {
  return (
    sameNumber(findings[o + K_OBSERVED] ?? Number.NaN, observed) &&
    sameNumber(findings[o + K_THRESHOLD] ?? Number.NaN, threshold) &&
    sameNumber(findings[o + K_END] ?? Number.NaN, windowEnd) &&
    findings[o + K_DETAIL] === detail &&
    findings[o + K_CONFIG] === config
  )
}

/**
 * Remembers a finding, updated at `seq` (above every earlier update's): in place of its previous entry
 * at `o`, else appended, else, with `max` entries already, in place of the least recently updated.
 */
export function remember(
  findings: number[],
  o: number,
  key: number,
  observed: number,
  threshold: number,
  windowEnd: number,
  detail: number,
  config: number,
  seq: number,
  max: number,
): void {
  let at = o
  if (at < 0) {
    if (findings.length < max * ENTRY) {
      findings.push(key, observed, threshold, windowEnd, detail, config, seq)
      return
    }
    at = 0
    for (let e = ENTRY; e < findings.length; e += ENTRY)
      if ((findings[e + K_SEQ] ?? 0) < (findings[at + K_SEQ] ?? 0)) at = e
  }
  findings[at + K_KEY] = key
  findings[at + K_OBSERVED] = observed
  findings[at + K_THRESHOLD] = threshold
  findings[at + K_END] = windowEnd
  findings[at + K_DETAIL] = detail
  findings[at + K_CONFIG] = config
  findings[at + K_SEQ] = seq
}

/**
 * A 53-bit hash of a text (two independent 32-bit multiplicative hashes of its UTF-16 units, one
 * kept whole, the other's top 21 bits), as a double: equal texts, equal hashes.
 */
export function textHash(text: string): number {
  let a = 0x811c9dc5
  let b = 0x9747b28c ^ text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  a ^= a >>> 16
  a = Math.imul(a, 0x85ebca6b)
  a ^= a >>> 13
  b = Math.imul(b ^ (b >>> 13), 0xc2b2ae35)
  b ^= b >>> 16
  return (a >>> 0) * 2 ** 21 + (b >>> 11)
}
