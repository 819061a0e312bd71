import { AssignerProtocol, type PartitionAssigner } from 'kafkajs'

/**
 * Gives each member the same partition numbers of every subscribed topic. The stages that read both
 * input topics keep a merchant's state from its transactions *and* its lifecycle events: both topics are
 * keyed by merchant with the same partition count, so partition n of each holds the same merchants, and
 * they must land on the same member. kafkajs's round-robin assigner deals the topic-partitions out in one
 * list, which keeps pairs together only when the member count divides the partition count.
 *
 * Partition numbers are spread round-robin over the members sorted by id, which every member computes
 * alike; a topic with fewer partitions simply gives fewer numbers.
 */
export function assignPartitionNumbers(
  memberIds: readonly string[],
  partitionsOf: ReadonlyMap<string, readonly number[]>,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort()
  const out = new Map<string, Record<string, number[]>>()
  for (const m of members) out.set(m, {})
  if (members.length === 0) return out
  for (const [topic, partitions] of partitionsOf) {
    for (const p of [...partitions].sort((a, b) => a - b)) {
      const member = members[p % members.length]
      if (member === undefined) continue
      const own = out.get(member) ?? {}
      const list = own[topic] ?? []
      list.push(p)
      own[topic] = list
      out.set(member, own)
    }
  }
  return out
}

/** The kafkajs assigner over {@link assignPartitionNumbers}. */
export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'CoPartitionedAssigner',
  version: 0,
  async assign({ members, topics }) {
    const partitionsOf = new Map<string, number[]>()
    for (const topic of topics)
      partitionsOf.set(
        topic,
        cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId),
      )
    const assignment = assignPartitionNumbers(
      members.map((m) => m.memberId),
      partitionsOf,
    )
    return [...assignment].map(([memberId, own]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 0,
        assignment: own,
        userData: Buffer.alloc(0),
      }),
    }))
  },
  protocol({ topics }) {
    return {
      name: 'CoPartitionedAssigner',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    }
  },
})
