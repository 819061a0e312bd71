/** The rule catalogue, compiled in by build.ts from rules/ (ids, categories, words, whitelistability). */
export interface RuleInfo {
  id: string
  category: string
  family: string
  description: string
  whitelistable: boolean
}

declare const __RULES__: RuleInfo[]

export const RULES: readonly RuleInfo[] = __RULES__
export const RULE_BY_ID: ReadonlyMap<string, RuleInfo> = new Map(RULES.map((r) => [r.id, r]))

export const LEVELS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const

/** Levels are told apart by a shape and a word, not by colour alone. */
export const LEVEL_MARK: Record<string, string> = { LOW: '○', MEDIUM: '◆', HIGH: '▲', CRITICAL: '■' }
