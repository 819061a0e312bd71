import { createRequire } from 'node:module'

/*
 * Coordinator look-ups of transactional producers, remembered.
 *
 * kafkajs asks the broker which node coordinates a transaction (FindCoordinator) before every request of
 * a transaction: AddPartitionsToTxn, AddOffsetsToTxn and EndTxn, and which node coordinates the consumer
 * group before TxnOffsetCommit. That is four round trips more per transaction, each waiting its turn on
 * a busy event loop, on the alert path three transactions deep (rules, entities, scoring); at 10,000
 * events/s the service sent 136 FindCoordinator requests a second. The Java producer asks once and asks
 * again only when a coordinator refuses it.
 *
 * This does the same for the clusters of transactional producers: the first TRANSACTION-type look-up
 * marks a cluster as one (consumers and admins never make one, so their look-ups, which kafkajs repeats
 * on purpose when it rejoins a group, are left alone), and from then on its answers are kept for
 * `TTL_MS`. A coordinator that moved refuses the next request (NOT_COORDINATOR); kafkajs's own retries
 * may ask again within the TTL and get the old node, but the failed transaction reaches
 * kafka/transactions.ts, which aborts it and calls `forgetCoordinators()`, so the part's retry looks the
 * coordinator up afresh. A move therefore costs one retried part, as it did before.
 *
 * kafkajs 2.2.4 is the last release and its internals do not change; the test
 * (test/integration/transactions.test.ts) counts the look-ups through kafkajs's request events, so a
 * different version that no longer has this method fails it rather than silently losing the saving.
 */

const TTL_MS = 30_000

// The cluster is not among kafkajs's exports; its module is, as a file of the package (no "exports" map).
const require = createRequire(import.meta.url)
const Cluster = require('kafkajs/src/cluster/index.js') as ClusterClass
const COORDINATOR = require('kafkajs/src/protocol/coordinatorTypes.js') as {
  GROUP: number
  TRANSACTION: number
}

interface ClusterInstance {
  findBroker(args: { nodeId: number }): Promise<unknown>
}
interface ClusterClass {
  prototype: ClusterInstance & {
    findGroupCoordinator(
      this: ClusterInstance,
      args: { groupId: string; coordinatorType?: number },
    ): Promise<unknown>
  }
}

interface Known {
  nodeId: number
  at: number
  epoch: number
}

/** Clusters of transactional producers, and what each learnt: `${type}:${groupId}` → node. */
const known = new WeakMap<ClusterInstance, Map<string, Known>>()
let epoch = 0

const original = Cluster.prototype.findGroupCoordinator
async function findGroupCoordinator(
  this: ClusterInstance,
  args: { groupId: string; coordinatorType?: number },
): Promise<unknown> {
  const type = args.coordinatorType ?? COORDINATOR.GROUP
  let cache = known.get(this)
  if (cache === undefined) {
    if (type !== COORDINATOR.TRANSACTION) return original.call(this, args)
    cache = new Map()
    known.set(this, cache)
  }
  const key = `${type}:${args.groupId}`
  const hit = cache.get(key)
  const now = Date.now()
  if (hit !== undefined && hit.epoch === epoch && now - hit.at < TTL_MS) {
    try {
      return await this.findBroker({ nodeId: hit.nodeId })
    } catch {
      // The node left the cluster's metadata (findBroker refreshed it): ask the cluster below.
      cache.delete(key)
    }
  }
  const broker = (await original.call(this, args)) as { nodeId: number }
  cache.set(key, { nodeId: broker.nodeId, at: now, epoch })
  return broker
}

/**
 * Forgets every coordinator learnt so far, in every cluster: called when a transaction failed, whatever
 * the cause, so its retry asks the broker again. Rare, and one round trip per transactional producer.
 */
export function forgetCoordinators(): void {
  epoch++
}

/** Installs the look-up above into kafkajs's cluster; kafka/transactions.ts does, before a producer starts. */
export function rememberCoordinators(): void {
  Cluster.prototype.findGroupCoordinator = findGroupCoordinator
}
