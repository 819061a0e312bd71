import type { Consumer, IMemberAssignment } from 'kafkajs'
import type { Logger } from '../lib/logger.ts'

/** Whether a consumer is in its group right now: joined, and not rebalancing or crashed since. */
export interface Membership {
  readonly joined: boolean
}

/**
 * Follows a consumer's group membership through kafkajs events: `onJoin` gets each new assignment,
 * a rebalance or a crash clears `joined` (readiness probes read it), and a crash is logged with `name`.
 */
export function watchMembership(
  consumer: Consumer,
  log: Logger,
  name: string,
  onJoin: (assignment: IMemberAssignment) => void,
): Membership {
  const state = { joined: false }
  const { events } = consumer
  consumer.on(events.GROUP_JOIN, (e) => {
    state.joined = true
    onJoin(e.payload.memberAssignment)
  })
  consumer.on(events.REBALANCING, () => {
    state.joined = false
  })
  consumer.on(events.CRASH, (e) => {
    state.joined = false
    log.error({ error: e.payload.error.message, restart: e.payload.restart }, `${name} crashed`)
  })
  return state
}
