/**
 * Setting kinds of the configuration spec. Each kind parses a raw value (an environment variable's
 * string, or a JSON value from the config file) into a typed value or a problem description; the
 * loader adds the path of the bad key. A setting carries its own documentation, so the README's
 * configuration reference is generated from the spec and cannot drift.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string }

export interface Setting<T> {
  readonly kind: 'setting'
  /** Environment variable that sets it. */
  readonly env: string
  /** Value when neither the environment nor the file sets it; undefined means required. */
  readonly default: T | undefined
  readonly description: string
  /** Human-readable type for the docs. */
  readonly typeName: string
  /** Never print the value (passwords). */
  readonly secret: boolean
  readonly parse: (raw: unknown) => Parsed<T>
  /** How the default is shown in the docs. */
  readonly show: (value: T) => string
}

interface Common<T> {
  env: string
  default?: T
  description: string
  secret?: boolean
}

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value }
}

function bad<T>(problem: string): Parsed<T> {
  return { ok: false, problem }
}

function make<T>(
  c: Common<T>,
  typeName: string,
  parse: (raw: unknown) => Parsed<T>,
  show: (v: T) => string,
): Setting<T> {
  return {
    kind: 'setting',
    env: c.env,
    default: c.default,
    description: c.description,
    typeName,
    secret: c.secret ?? false,
    parse,
    show,
  }
}

export function str(c: Common<string> & { pattern?: RegExp; patternHint?: string }): Setting<string> {
  return make(
    c,
    'string',
    (raw) => {
      if (typeof raw !== 'string') return bad(`expected a string, got ${typeof raw}`)
      if (c.pattern !== undefined && !c.pattern.test(raw)) {
        return bad(`"${raw}" is not ${c.patternHint ?? `matching ${c.pattern.source}`}`)
      }
      return ok(raw)
    },
    (v) => (v === '' ? '(empty)' : `\`${v}\``),
  )
}

/** An optional string: empty means unset. */
export function optionalStr(c: Common<string | null>): Setting<string | null> {
  return make(
    { ...c, default: c.default ?? null },
    'string',
    (raw) => {
      if (raw === null) return ok(null)
      if (typeof raw !== 'string') return bad(`expected a string, got ${typeof raw}`)
      return ok(raw === '' ? null : raw)
    },
    (v) => (v === null ? '(unset)' : `\`${v}\``),
  )
}

export function int(c: Common<number> & { min?: number; max?: number }): Setting<number> {
  const min = c.min ?? Number.MIN_SAFE_INTEGER
  const max = c.max ?? Number.MAX_SAFE_INTEGER
  return make(
    c,
    `integer ${min === Number.MIN_SAFE_INTEGER ? '' : `≥ ${min}`}${max === Number.MAX_SAFE_INTEGER ? '' : `, ≤ ${max}`}`.trim(),
    (raw) => {
      const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return bad(`"${String(raw)}" is not an integer`)
      if (n < min || n > max) return bad(`${n} is outside [${min}, ${max}]`)
      return ok(n)
    },
    (v) => `\`${v}\``,
  )
}

export function bool(c: Common<boolean>): Setting<boolean> {
  return make(
    c,
    'boolean',
    (raw) => {
      if (typeof raw === 'boolean') return ok(raw)
      if (raw === 'true' || raw === '1') return ok(true)
      if (raw === 'false' || raw === '0') return ok(false)
      return bad(`"${String(raw)}" is not a boolean (true, false, 1, 0)`)
    },
    (v) => `\`${v}\``,
  )
}

export function oneOf<const V extends string>(c: Common<V> & { values: readonly V[] }): Setting<V> {
  return make(
    c,
    c.values.map((v) => `\`${v}\``).join(' \\| '),
    (raw) => {
      const found = c.values.find((v) => v === raw)
      return found === undefined ? bad(`"${String(raw)}" is not one of ${c.values.join(', ')}`) : ok(found)
    },
    (v) => `\`${v}\``,
  )
}

/** A list: comma-separated in the environment, a JSON array of strings in the file. */
export function list(
  c: Common<readonly string[]> & { item?: RegExp; itemHint?: string },
): Setting<readonly string[]> {
  return make(
    c,
    'comma-separated list',
    (raw) => {
      const items = typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : raw
      if (!Array.isArray(items)) return bad('expected a list')
      const out: string[] = []
      for (const item of items) {
        if (typeof item !== 'string') return bad('every item must be a string')
        if (item === '') continue
        if (c.item !== undefined && !c.item.test(item))
          return bad(`"${item}" is not ${c.itemHint ?? 'valid'}`)
        out.push(item)
      }
      return ok(out)
    },
    (v) => (v.length === 0 ? '(empty)' : `\`${v.join(',')}\``),
  )
}

/** A map of string to string: `k=v,k2=v2` in the environment, a JSON object in the file. */
export function stringMap(
  c: Common<Readonly<Record<string, string>>> & { value?: (v: string) => string | null },
): Setting<Readonly<Record<string, string>>> {
  return make(
    c,
    'map `key=value,...`',
    (raw) => {
      let entries: [string, unknown][]
      if (typeof raw === 'string') {
        entries = []
        for (const part of raw.split(',').map((s) => s.trim())) {
          if (part === '') continue
          const eq = part.indexOf('=')
          if (eq <= 0) return bad(`"${part}" is not key=value`)
          entries.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()])
        }
      } else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
        entries = Object.entries(raw)
      } else {
        return bad('expected key=value pairs')
      }
      const out: Record<string, string> = {}
      for (const [k, v] of entries) {
        if (typeof v !== 'string') return bad(`the value of "${k}" must be a string`)
        const problem = c.value?.(v) ?? null
        if (problem !== null) return bad(`"${k}": ${problem}`)
        out[k] = v
      }
      return ok(out)
    },
    (v) =>
      Object.keys(v).length === 0
        ? '(empty)'
        : `\`${Object.entries(v)
            .map(([k, x]) => `${k}=${x}`)
            .join(',')}\``,
  )
}

export function isSetting(v: unknown): v is Setting<unknown> {
  return typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'setting'
}
