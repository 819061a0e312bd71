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

/** The two scores a rule's hits count towards. */
export type RuleCategory = 'fraud' | 'compliance'

/**
 * What a relative finding was compared with: `peers` (an adequate cohort), `population` (the acquirer's
 * merchants: the cohort is too thin), `absolute` (a fixed threshold by design: no population measure of
 * it is kept), `none` (no baseline yet: the absolute floor alone, in a new deployment's first days).
 * Findings of rules that compare with nothing (the playbook's own traces, compliance breaches) carry
 * no basis.
 */
export type Basis = 'peers' | 'population' | 'absolute' | 'none'
