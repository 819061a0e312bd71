import { type CompiledRule, compileRule, type RuleMeta, ruleMeta } from './engine.ts'
import { defaults, type ParamSpecs, type ParamValues, resolveParams } from './params.ts'
import type { RuleDefinition } from './types.ts'

/** The layers of parameter overrides for one rule, from the rules configuration. */
export interface OverrideLayers {
  /** `rules.<id>` */
  global: Readonly<Record<string, unknown>>
  /** `mcc.<mcc>.<id>` */
  byMcc: ReadonlyMap<string, Readonly<Record<string, unknown>>>
  /** `acquirers.<acq>.rules.<id>` */
  byAcquirer: ReadonlyMap<string, Readonly<Record<string, unknown>>>
  /** `acquirers.<acq>.mcc.<mcc>.<id>`, keyed `acq\0mcc` */
  byAcquirerMcc: ReadonlyMap<string, Readonly<Record<string, unknown>>>
}

/**
 * A rule in the registry, with its parameter and state types closed over: the registry is a plain
 * array, and each entry validates its own overrides and compiles itself with its own types.
 */
export interface RegisteredRule {
  readonly meta: RuleMeta
  readonly params: ParamSpecs
  /** Problems of one layer of overrides, each with the path of the bad key; empty when valid. */
  check(overrides: Readonly<Record<string, unknown>>, path: string): string[]
  /** Binds the rule to its validated overrides; most specific layer wins: acquirer+MCC, acquirer, MCC. */
  compile(layers: OverrideLayers): CompiledRule
}

export function register<PS extends ParamSpecs, S extends object>(
  rule: RuleDefinition<PS, S>,
): RegisteredRule {
  const { id } = rule
  const apply = (base: ParamValues<PS>, overrides: Readonly<Record<string, unknown>> | undefined) => {
    if (overrides === undefined) return base
    const r = resolveParams(rule.params, base, overrides, id)
    // Layers are checked at load (check()), so a failure here is a programmer error.
    if (!r.ok) throw new Error(`unvalidated overrides for ${id}: ${r.problems.join('; ')}`)
    return r.value
  }
  return {
    meta: ruleMeta(rule),
    params: rule.params,
    check(overrides, path) {
      const r = resolveParams(rule.params, defaults(rule.params), overrides, path)
      return r.ok ? [] : r.problems
    },
    compile(layers) {
      const resolverFor = (l: OverrideLayers) => {
        const base = apply(defaults(rule.params), l.global)
        const cache = new Map<string, ParamValues<PS>>()
        return (acquirerId: string, mcc: string | null): ParamValues<PS> => {
          const key = `${acquirerId}\u0000${mcc ?? ''}`
          let values = cache.get(key)
          if (values === undefined) {
            values = base
            if (mcc !== null) values = apply(values, l.byMcc.get(mcc))
            values = apply(values, l.byAcquirer.get(acquirerId))
            if (mcc !== null) values = apply(values, l.byAcquirerMcc.get(`${acquirerId}\u0000${mcc}`))
            cache.set(key, values)
          }
          return values
        }
      }
      let current = resolverFor(layers)
      const compiled = compileRule(rule, (acquirerId, mcc) => current(acquirerId, mcc))
      return {
        ...compiled,
        // The engine that calls retune looks every merchant's parameters up again afterwards.
        retune: (next) => {
          current = resolverFor(next)
        },
      }
    },
  }
}

/** Refuses a registry with two rules of one id: hits and configuration are keyed by it. */
export function checkRegistry(rules: readonly RegisteredRule[]): void {
  const seen = new Set<string>()
  for (const r of rules) {
    if (!/^[a-z][a-z0-9_]*$/.test(r.meta.id)) throw new Error(`rule id "${r.meta.id}" is not snake_case`)
    if (seen.has(r.meta.id)) throw new Error(`two rules have the id ${r.meta.id}`)
    seen.add(r.meta.id)
  }
}
