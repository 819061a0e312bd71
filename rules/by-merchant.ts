/**
 * The order in which a part's events go through the engine: each merchant's events together, in the
 * order they came, merchants in the order of their first event.
 *
 * A merchant's rule state is a few dozen arrays spread over the heap; in delivery order, consecutive
 * events belong to different merchants and each one fetches its merchant's state from memory again.
 * Taken together, a merchant's later events of the part find it in the cache. A rule reads only its
 * merchant's state and events (rules/README.md), so the engine finds for each merchant what delivery
 * order gives; only the order of different merchants' hits within the part changes.
 *
 * `keys[i]` is the merchant of the i-th event (two acquirers' merchants sharing an id are taken
 * together, each one's events still in their order); returns the events' indices in the new order.
 */
export function merchantOrder(keys: readonly string[]): Int32Array {
  const n = keys.length
  const groupOf = new Int32Array(n)
  const groups = new Map<string, number>()
  const sizes: number[] = []
  for (let i = 0; i < n; i++) {
    const key = keys[i] ?? ''
    let g = groups.get(key)
    if (g === undefined) {
      g = sizes.length
      groups.set(key, g)
      sizes.push(0)
    }
    groupOf[i] = g
    sizes[g] = (sizes[g] ?? 0) + 1
  }
  // Where each group starts, then each event placed at its group's next free position.
  const next = new Int32Array(sizes.length)
  for (let g = 1; g < sizes.length; g++) next[g] = (next[g - 1] ?? 0) + (sizes[g - 1] ?? 0)
  const order = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const g = groupOf[i] ?? 0
    order[next[g] ?? 0] = i
    next[g] = (next[g] ?? 0) + 1
  }
  return order
}
