import type { MerchantEvent, TerminalTransaction } from './types.generated.ts'

/**
 * In-process contracts between pipeline stages. Records that cross a topic are Avro (`*.avsc` here,
 * types generated); these are the hand-offs inside one process, defined once so that no stage imports
 * another.
 */

/** Events that the store accepted as new, from one part of one partition's batch. */
export type StoredBatch =
  | { readonly kind: 'transactions'; readonly items: readonly TerminalTransaction[] }
  | { readonly kind: 'merchantEvents'; readonly items: readonly MerchantEvent[] }
