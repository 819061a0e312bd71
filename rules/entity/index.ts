/**
 * The cross-merchant rules, run by the entity stage on the entity-activity topic. An explicit list,
 * like rules/index.ts; ids must not collide with the per-merchant rules (hits share one table).
 */
import { cardRing } from './card-ring.ts'
import { type RegisteredEntityRule, registerEntityRule } from './engine.ts'
import { sharedSettlementAccount } from './shared-settlement-account.ts'
import { sharedTerminal } from './shared-terminal.ts'

export const ENTITY_RULES: readonly RegisteredEntityRule[] = [
  registerEntityRule(cardRing),
  registerEntityRule(sharedSettlementAccount),
  registerEntityRule(sharedTerminal),
]
