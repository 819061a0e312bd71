/**
 * Typed rule parameters. A rule declares its parameters with these builders; the rule's params type is
 * inferred from the declaration, defaults come from it, the rules configuration is validated against
 * it, and the parameter reference is generated from it. Rules never see an unvalidated value.
 */

export interface ParamSpec<T extends number | boolean> {
  readonly kind: 'param'
  readonly type: 'number' | 'integer' | 'boolean'
  readonly default: T
  readonly description: string
  readonly min?: number
  readonly max?: number
  /** Returns the value, or a problem description. */
  readonly parse: (raw: unknown) => { ok: true; value: T } | { ok: false; problem: string }
}

export type ParamSpecs = Readonly<Record<string, ParamSpec<number> | ParamSpec<boolean>>>

/** The parameter values a rule receives, inferred from its declaration. */
export type ParamValues<S extends ParamSpecs> = { readonly [K in keyof S]: S[K]['default'] }

function range(min: number | undefined, max: number | undefined, v: number): string | null {
  if (min !== undefined && v < min) return `${v} is below the minimum ${min}`
  if (max !== undefined && v > max) return `${v} is above the maximum ${max}`
  return null
}

interface NumberParam {
  default: number
  description: string
  min?: number
  max?: number
}

function numeric(type: 'number' | 'integer', p: NumberParam): ParamSpec<number> {
  const valid = type === 'integer' ? Number.isSafeInteger : Number.isFinite
  return {
    kind: 'param',
    type,
    ...p,
    parse: (raw) => {
      if (typeof raw !== 'number' || !valid(raw)) {
        return {
          ok: false,
          problem: `expected ${type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`,
        }
      }
      const problem = range(p.min, p.max, raw)
      return problem === null ? { ok: true, value: raw } : { ok: false, problem }
    },
  }
}

export function num(p: NumberParam): ParamSpec<number> {
  return numeric('number', p)
}

export function int(p: NumberParam): ParamSpec<number> {
  return numeric('integer', p)
}

export function bool(p: { default: boolean; description: string }): ParamSpec<boolean> {
  return {
    kind: 'param',
    type: 'boolean',
    ...p,
    parse: (raw) =>
      typeof raw === 'boolean'
        ? { ok: true, value: raw }
        : { ok: false, problem: `expected true or false, got ${JSON.stringify(raw)}` },
  }
}

/** The defaults of a declaration, as the typed values a rule receives. */
export function defaults<S extends ParamSpecs>(specs: S): ParamValues<S> {
  const out: Record<string, number | boolean> = {}
  for (const [k, spec] of Object.entries(specs)) out[k] = spec.default
  // Built key by key from the declaration itself, so it has exactly the inferred shape.
  return out as ParamValues<S>
}

/**
 * Validates overrides against a declaration and returns the merged values, or the problems, each with
 * the path of the bad key (`path` is where the overrides sit in the configuration file).
 */
export function resolveParams<S extends ParamSpecs>(
  specs: S,
  base: ParamValues<S>,
  overrides: Readonly<Record<string, unknown>>,
  path: string,
): { ok: true; value: ParamValues<S> } | { ok: false; problems: string[] } {
  const out: Record<string, number | boolean> = { ...base }
  const problems: string[] = []
  for (const [key, raw] of Object.entries(overrides)) {
    const spec = specs[key]
    if (spec === undefined) {
      problems.push(`${path}.${key}: unknown parameter (known: ${Object.keys(specs).join(', ')})`)
      continue
    }
    const parsed = spec.parse(raw)
    if (parsed.ok) out[key] = parsed.value
    else problems.push(`${path}.${key}: ${parsed.problem}`)
  }
  // Every key was either copied from a valid base or parsed by its own spec.
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out as ParamValues<S> }
}
