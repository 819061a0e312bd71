/**
 * A merchant's registration changes of one field (its settlement account, its registered MCC), kept
 * for the churn rules: the events that set the field, in event-time order whatever order they arrived
 * in, the newest `max` of those within `horizonMs` of the merchant's watermark.
 */
export interface FieldChange {
  /** The event's id: a redelivered event must not count twice. */
  readonly id: string
  readonly time: number
  /** The value the event set. */
  readonly value: string
  /** A change event (the onboarding only sets the first value). */
  readonly change: boolean
}

/**
 * Adds `item` to `list` (made at its first item: most merchants have one event, the onboarding, and an
 * array's first push reserves 17) and drops what fell out of the horizon. Returns the list and the
 * number of change events in it, `changes` being the number before.
 */
export function keepChange(
  list: FieldChange[] | null,
  changes: number,
  item: FieldChange,
  horizon: number,
  max: number,
): { list: FieldChange[] | null; changes: number } {
  if (list?.some((e) => e.id === item.id) === true) return { list, changes }
  if (list === null) list = [item]
  else {
    let i = list.length
    while (i > 0 && (list[i - 1]?.time ?? 0) > item.time) i--
    list.splice(i, 0, item)
  }
  let n = changes + (item.change ? 1 : 0)
  while (list.length > 0 && ((list[0]?.time ?? 0) < horizon || list.length > max)) {
    if (list.shift()?.change === true) n--
  }
  return { list, changes: n }
}

/** The change events after `from` that set a value other than the one before: re-confirmations do not count. */
export function realChanges(list: readonly FieldChange[] | null, from: number): FieldChange[] {
  const out: FieldChange[] = []
  let previous: string | null = null
  for (const e of list ?? []) {
    const real = e.change && e.value !== previous
    previous = e.value
    if (real && e.time > from) out.push(e)
  }
  return out
}
