/**
 * JSON of a value whose Maps are written as objects (a scorer's state keeps its hits in a Map, which
 * JSON.stringify would write as `{}`): what the earlier versions wrote, and what a comparison needs.
 */
export function jsonWithMaps(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v))
}
