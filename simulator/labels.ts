/**
 * What the labelled simulator says about each merchant: the ground truth a backtest measures the engine
 * against. One label per merchant; the scenario names how it behaves, the tactics which tips of the
 * evasion playbook it follows (DOMAIN.md), and expected_rules the rules that ought to see it.
 */

export type LabelKind = 'fraud' | 'compliance' | 'lookalike' | 'legit'

/** The tips of the evasion playbook, and the naive and other abuse a simulated merchant may show. */
export const TACTICS = [
  /** Single swipes just under 50,000 and days just under 300,000. */
  'structuring',
  /** Amounts within ±0.5–2% of a round thousand, never exact (9,950, 10,150). */
  'near_round',
  /** No cents, ever. */
  'whole_units',
  /** About four credit swipes to one debit, debit swipes small and uniform, credit large. */
  'credit_mix',
  /** The same card twice a day, 5 to 9 minutes apart, most days. */
  'card_pairs',
  /** Cards back in consecutive months on a statement cycle, then moved to a sibling merchant's terminal. */
  'card_cycle',
  /** One pool of cards spread over the terminals of several merchants of one acquirer. */
  'ring',
  /** No evasion: exact round thousands, the same card many times a day, days over the cap. */
  'naive',
  /** A brand-new merchant whose volume takes off at once. */
  'bust_out',
  /** Bursts of small attempts with many cards, mostly declined. */
  'card_testing',
  'relocation',
  'mcc_mismatch',
  /** The registered MCC changed again and again, every sale under the one registered at the time. */
  'mcc_reregistration',
  'settlement_churn',
  'shared_account',
  'terminal_lent',
  'terminal_double_bound',
] as const

export type Tactic = (typeof TACTICS)[number]

export interface MerchantLabel {
  merchant_id: string
  acquirer_id: string
  label: LabelKind
  scenario: string
  /**
   * Which tips of the playbook the merchant follows: TACTICS for our simulator's merchants; a labels
   * file from elsewhere (a blind generator, an acquirer's confirmed cases) names its own.
   */
  tactics: readonly string[]
  /** Rules that ought to hit this merchant; empty for legitimate ones (no rule should). */
  expected_rules: string[]
}

/** The labels file: the run's parameters, then one label per merchant. */
export interface LabelsFile {
  /** The population preset the history was built from (simulator/population.ts), when known. */
  population?: string
  seed: number
  /** UTC ms of the first measured local day's start. */
  start: number
  /** Measured days from `start`. */
  days: number
  /** Days of history before `start`, replayed to warm windows and baselines but not measured. */
  historyDays: number
  timeZone: string
  merchants: MerchantLabel[]
}

/** A cash-out or compliance scenario: its tactics and the rules that should catch it. */
export interface ScenarioSpec {
  readonly id: string
  readonly label: 'fraud' | 'compliance'
  readonly tactics: readonly Tactic[]
  readonly expectedRules: readonly string[]
  /** Merchants per 1,000 simulated merchants (groups count their members). */
  readonly per1000: number
  /** Members of one group: a ring's merchants, the merchants of one shared account. */
  readonly groupSize: number
}

// Cash-out moves credit: every cash-out merchant's credit share is far above its peers', whatever else
// it does, so credit_debit_mix is expected of all of them.
const CASH = 'credit_debit_mix'

export const SCENARIOS: readonly ScenarioSpec[] = [
  // The playbook's tips, one at a time.
  {
    id: 'structuring',
    label: 'fraud',
    tactics: ['structuring'],
    expectedRules: ['structuring', CASH],
    per1000: 4,
    groupSize: 1,
  },
  {
    id: 'near_round',
    label: 'fraud',
    tactics: ['near_round'],
    expectedRules: ['near_round_amount', CASH],
    per1000: 4,
    groupSize: 1,
  },
  {
    id: 'whole_units',
    label: 'fraud',
    tactics: ['whole_units'],
    expectedRules: ['round_amount', CASH],
    per1000: 4,
    groupSize: 1,
  },
  {
    id: 'credit_mix',
    label: 'fraud',
    tactics: ['credit_mix'],
    expectedRules: [CASH],
    per1000: 4,
    groupSize: 1,
  },
  {
    id: 'card_pairs',
    label: 'fraud',
    tactics: ['card_pairs'],
    expectedRules: ['repeated_card', 'swipe_gap', CASH],
    per1000: 4,
    groupSize: 1,
  },
  // A primary merchant whose cards recur across the month boundary, and the sibling they move to.
  {
    id: 'card_cycle',
    label: 'fraud',
    tactics: ['card_cycle'],
    expectedRules: ['card_recurrence', CASH],
    per1000: 4,
    groupSize: 2,
  },
  // Combined.
  {
    id: 'playbook_evasive',
    label: 'fraud',
    tactics: ['card_pairs', 'near_round', 'whole_units', 'credit_mix'],
    expectedRules: ['repeated_card', 'swipe_gap', 'near_round_amount', 'round_amount', CASH],
    per1000: 4,
    groupSize: 1,
  },
  {
    id: 'structuring_pairs',
    label: 'fraud',
    tactics: ['structuring', 'card_pairs', 'whole_units'],
    expectedRules: ['structuring', 'repeated_card', 'swipe_gap', 'round_amount', CASH],
    per1000: 3,
    groupSize: 1,
  },
  {
    id: 'naive',
    label: 'fraud',
    tactics: ['naive'],
    expectedRules: ['round_amount', 'repeated_card', 'daily_volume', CASH],
    per1000: 3,
    groupSize: 1,
  },
  {
    id: 'ring',
    label: 'fraud',
    tactics: ['ring'],
    expectedRules: ['card_ring', CASH],
    per1000: 5,
    groupSize: 5,
  },
  {
    id: 'ring_evasive',
    label: 'fraud',
    tactics: ['ring', 'near_round', 'whole_units'],
    expectedRules: ['card_ring', 'near_round_amount', 'round_amount', CASH],
    per1000: 4,
    groupSize: 4,
  },
  {
    id: 'bust_out',
    label: 'fraud',
    tactics: ['bust_out'],
    expectedRules: ['new_merchant_ramp', CASH],
    per1000: 3,
    groupSize: 1,
  },
  {
    id: 'card_testing',
    label: 'fraud',
    tactics: ['card_testing'],
    expectedRules: ['decline_ratio'],
    per1000: 3,
    groupSize: 1,
  },
  // Compliance.
  {
    id: 'relocation',
    label: 'compliance',
    tactics: ['relocation'],
    expectedRules: ['relocation'],
    per1000: 4,
    groupSize: 1,
  },
  {
    id: 'mcc_mismatch',
    label: 'compliance',
    tactics: ['mcc_mismatch'],
    expectedRules: ['mcc_mismatch'],
    per1000: 4,
    groupSize: 1,
  },
  // MCC jumping on paper (mcc_mismatch's re-registration leg): no sale ever under another MCC than the
  // registered one, which changes two or three times in the month. A kind an independently written month
  // had and ours lacked: only the populations that weigh it have it (complianceWeights), so the
  // reference month A stays as it was.
  {
    id: 'paper_mcc_jump',
    label: 'compliance',
    tactics: ['mcc_reregistration'],
    expectedRules: ['mcc_mismatch'],
    per1000: 0,
    groupSize: 1,
  },
  {
    id: 'settlement_churn',
    label: 'compliance',
    tactics: ['settlement_churn'],
    expectedRules: ['settlement_churn'],
    per1000: 4,
    groupSize: 1,
  },
  {
    id: 'shared_account',
    label: 'compliance',
    tactics: ['shared_account'],
    expectedRules: ['shared_settlement_account'],
    per1000: 3,
    groupSize: 3,
  },
  // The borrower sells on a terminal bound to the lender; the lender's own side leaves no trace of it.
  {
    id: 'terminal_lent',
    label: 'compliance',
    tactics: ['terminal_lent'],
    expectedRules: ['terminal_sharing'],
    per1000: 4,
    groupSize: 2,
  },
  {
    id: 'terminal_double_bound',
    label: 'compliance',
    tactics: ['terminal_double_bound'],
    expectedRules: ['shared_terminal'],
    per1000: 4,
    groupSize: 2,
  },
]
