import { randomUUID } from 'node:crypto'
import { containsCardNumber } from '../lib/luhn.ts'

/**
 * A new id `<prefix>-<uuid>` that can travel in a URL: the API refuses any path or body holding 13 to 19
 * digits that pass Luhn (separators ignored), and a UUID's hex is now and then all decimal across its
 * dashes. Such a draw (rare) is drawn again.
 */
export function newId(prefix: string): string {
  for (;;) {
    const id = `${prefix}-${randomUUID()}`
    if (!containsCardNumber(id)) return id
  }
}
