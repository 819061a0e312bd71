/**
 * The cross-merchant engine replaying 90 days of card activity, as the entity stage does at every
 * restart: CPU time for 400,000 records of 100,000 cards at 5,000 merchants.
 *
 *   npm run bench:entity
 */
import { buildEntityRules, EntityEngine } from '../rules/entity/engine.ts'
import { ENTITY_RULES } from '../rules/entity/index.ts'

const engine = new EntityEngine({
  rules: buildEntityRules({}, ENTITY_RULES),
  isWhitelisted: () => false,
  configHash: 'b',
})
const T0 = Date.UTC(2026, 7, 1)
const N = 400_000
const span = 90 * 86_400_000
const t = process.cpuUsage()
for (let i = 0; i < N; i++) {
  const at = T0 + Math.floor((i / N) * span)
  engine.onRecord({
    id: `r${i}`,
    kind: 'card',
    key: `tok-${(i * 7919) % 100_000}`,
    acquirerId: 'a',
    merchantId: `m-${i % 5000}`,
    at,
  })
}
const u = process.cpuUsage(t)
console.log(
  `${N} records over 90 days of event time: ${((u.user + u.system) / 1000).toFixed(0)} CPU ms, entities ${engine.entityCount}`,
)
