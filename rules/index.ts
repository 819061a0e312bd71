/**
 * The rule registry: every rule the engine runs, in an explicit list (no registration by import side
 * effects). Adding a rule is adding its file and a line here. Ids must be unique; checked at start-up.
 */
import { declineRatio } from './decline-ratio.ts'
import { checkRegistry, type RegisteredRule, register } from './engine/registry.ts'

export const RULES: readonly RegisteredRule[] = [register(declineRatio)]

checkRegistry(RULES)
