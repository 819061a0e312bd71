/**
 * What an acquirer id may be, and the alert topic it names. Pure; the registry (registry.ts) and ingest
 * validation (schemas/validate.ts) share it.
 *
 * An acquirer's alerts go to its own topic, `alerts.topicPattern` with `{acquirer}` replaced by the id
 * as it is: acquirers subscribe to that name, so it is never rewritten. Kafka refuses a topic whose
 * name differs from an existing one only by `.` against `_` (both become `_` in its metric names), and
 * on a broker whose disk ignores case (macOS, Windows) two names that differ only by case share a log
 * directory. So two acquirers may coexist only when their topics differ after both foldings: the
 * registry refuses the second id of such a pair, and the alert topics of known acquirers never collide.
 */

/** The characters a topic name may hold; 64 leaves room for the pattern within Kafka's 249. */
export const ACQUIRER_ID = /^[A-Za-z0-9._-]{1,64}$/
export const ACQUIRER_ID_RULE = '1 to 64 letters, digits, dots, dashes or underscores'
/** Kafka's longest topic name. */
export const MAX_TOPIC_LENGTH = 249

export function alertTopicName(pattern: string, acquirerId: string): string {
  return pattern.replaceAll('{acquirer}', acquirerId)
}

/** Two topics with the same key cannot both exist on one broker (see above). */
export function topicCollisionKey(topic: string): string {
  return topic.replaceAll('.', '_').toLowerCase()
}

/** Why `acquirerId` cannot name an acquirer under `pattern`, or null when it can. */
export function acquirerIdProblem(acquirerId: string, pattern: string): string | null {
  if (!ACQUIRER_ID.test(acquirerId)) return `must be ${ACQUIRER_ID_RULE}`
  if (acquirerId === '.' || acquirerId === '..') return 'must not be "." or ".."'
  const topic = alertTopicName(pattern, acquirerId)
  if (topic.length > MAX_TOPIC_LENGTH) {
    return `makes the alert topic ${topic.length} characters long, more than Kafka's ${MAX_TOPIC_LENGTH}`
  }
  return null
}

export interface TopicClaim {
  /** Who holds the topic: an acquirer id, or a description such as "the service's own topics". */
  readonly owner: string
  readonly topic: string
}

/** The first claim whose topic collides with `topic` (the same topic included), or null. */
export function collidingClaim(topic: string, claims: Iterable<TopicClaim>): TopicClaim | null {
  const key = topicCollisionKey(topic)
  for (const c of claims) if (topicCollisionKey(c.topic) === key) return c
  return null
}

/** `who` is the acquirer being checked, e.g. `acquirer "acq.zz"`. */
export function collisionMessage(who: string, topic: string, claim: TopicClaim): string {
  return `${who} would publish to ${topic}, which collides with ${claim.topic} of ${claim.owner} (Kafka treats "." and "_" alike, and a broker's disk may ignore case)`
}
