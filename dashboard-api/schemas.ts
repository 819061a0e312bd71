/**
 * Every schema of the dashboard API, in one place. Routes validate params, query and body with them,
 * serialise replies through them (so a column added to a table never leaks into a reply), and the
 * OpenAPI description at /docs/json is generated from them. TypeScript types come from `Static<>`.
 */
import { type Static, type TSchema, Type } from 'typebox'
import { ACQUIRER_ID, ACQUIRER_ID_RULE } from '../acquirers/ids.ts'

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])

// ---- vocabulary -------------------------------------------------------------------------------------

export const ROLES = ['analyst', 'supervisor', 'admin'] as const
export const LEVELS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const
export const CATEGORIES = ['fraud', 'compliance'] as const
export const CASE_STATUSES = ['open', 'investigating', 'escalated', 'closed'] as const
export const DECISIONS = ['false_positive', 'confirmed_cash_out', 'compliance_breach'] as const
export const ACTIONS = ['delay_settlement', 'set_limits', 'suspend_acceptance', 'retrieve_terminal'] as const

export type Role = (typeof ROLES)[number]
export type Level = (typeof LEVELS)[number]
export type Category = (typeof CATEGORIES)[number]
export type CaseStatus = (typeof CASE_STATUSES)[number]
export type Decision = (typeof DECISIONS)[number]
export type CaseAction = (typeof ACTIONS)[number]

const ID_PATTERN = '^[^\\u0000-\\u001f\\u007f]+$'
/**
 * Free text (reasons, notes): no control characters but tabs and line breaks, and none of the
 * invisible bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which make
 * a text display differently from what it holds ("Trojan Source").
 */
const TEXT_PATTERN =
  '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$'
/** A name on one line (an assignee): as free text, without tabs and line breaks either. */
const LINE_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$'

/** What a 400 says when a value fails one of these patterns (app.ts), instead of the pattern itself. */
export const PATTERN_PROBLEMS: Readonly<Record<string, string>> = {
  [ID_PATTERN]: 'must not contain control characters',
  [TEXT_PATTERN]: 'must not contain control characters (but tabs and line breaks) or bidirectional controls',
  [LINE_PATTERN]: 'must not contain control characters, line breaks or bidirectional controls',
  [ACQUIRER_ID.source]: `must be ${ACQUIRER_ID_RULE}`,
}

/** Ids as the ingest contract allows them: 1 to 128 characters, no control characters. */
export const Id = Type.String({ minLength: 1, maxLength: 128, pattern: ID_PATTERN })
export const Time = Type.String({ format: 'date-time', description: 'ISO-8601 time with offset' })
export const Day = Type.String({ format: 'date', description: 'calendar day, YYYY-MM-DD' })
export const Level = Type.Enum([...LEVELS])
export const Category = Type.Enum([...CATEGORIES])
export const CaseStatus = Type.Enum([...CASE_STATUSES])
export const Decision = Type.Enum([...DECISIONS])
export const CaseAction = Type.Enum([...ACTIONS])
export const RuleId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9_]+$' })
export const Cursor = Type.String({
  minLength: 1,
  maxLength: 1024,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'opaque; the next_cursor of the previous page, with the same filters',
})
const limit = (max: number, def: number) =>
  Type.Integer({ minimum: 1, maximum: max, default: def, description: `page size, at most ${max}` })
export const Text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: TEXT_PATTERN })
/** An assignee: a name on one line, empty for nobody. */
export const Assignee = (description?: string) =>
  Type.String({
    maxLength: 128,
    pattern: LINE_PATTERN,
    ...(description === undefined ? {} : { description }),
  })

/** `from`, `to` and a `limit` of at most `max` (default `def`): the window and page of a list query. */
const rangeOf = (max: number, def: number) => ({
  from: Type.Optional(Time),
  to: Type.Optional(Time),
  limit: Type.Optional(limit(max, def)),
})

// ---- errors -----------------------------------------------------------------------------------------

export const ErrorReply = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'RISK_ERR_API_*; see the README error table' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the parameter or field at fault' })),
    }),
  },
  { $id: 'ErrorReply' },
)
export type ErrorReply = Static<typeof ErrorReply>

// ---- params -----------------------------------------------------------------------------------------

export const AcquirerParams = Type.Object({ acquirerId: Id }, { additionalProperties: false })
export const MerchantParams = Type.Object({ acquirerId: Id, merchantId: Id }, { additionalProperties: false })
export const CaseParams = Type.Object({ acquirerId: Id, caseId: Id }, { additionalProperties: false })
export const WhitelistParams = Type.Object({ acquirerId: Id, entryId: Id }, { additionalProperties: false })

// ---- queue ------------------------------------------------------------------------------------------

export const QueueQuery = Type.Object(
  {
    acquirer: Type.Optional(Id),
    level: Type.Optional(
      Type.Array(Level, { maxItems: 4, description: 'levels to show; default MEDIUM, HIGH, CRITICAL' }),
    ),
    category: Type.Optional(Category),
    rule: Type.Optional(RuleId),
    case_status: Type.Optional(Type.Enum([...CASE_STATUSES, 'none'])),
    ...rangeOf(200, 50),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
)
export type QueueQuery = Static<typeof QueueQuery>

export const CaseSummary = Type.Object({
  case_id: Type.String(),
  status: Type.String(),
  assignee: Type.String(),
  version: Type.Integer(),
})

export const QueueItem = Type.Object({
  acquirer_id: Type.String(),
  merchant_id: Type.String(),
  merchant_name: Nullable(Type.String()),
  registered_mcc: Nullable(Type.String()),
  category: Type.String(),
  score: Type.Integer(),
  level: Type.String(),
  hit_count: Type.Integer(),
  families: Type.Array(Type.String()),
  scored_at: Type.String(),
  case: Nullable(CaseSummary),
})
export type QueueItem = Static<typeof QueueItem>

export const QueueReply = Type.Object({ items: Type.Array(QueueItem), next_cursor: Nullable(Type.String()) })
export type QueueReply = Static<typeof QueueReply>

// ---- merchant ---------------------------------------------------------------------------------------

export const ScoreNow = Type.Object({
  category: Type.String(),
  score: Type.Integer(),
  level: Type.String(),
  hit_count: Type.Integer(),
  families: Type.Array(Type.String()),
  scored_at: Type.String(),
  breakdown: Type.Array(Type.Object({}, { additionalProperties: true }), {
    description: "the scorer's explanation, strongest hit first (see 0003_scores_alerts_cases.sql)",
  }),
})
export type ScoreNow = Static<typeof ScoreNow>

export const MerchantReply = Type.Object({
  acquirer_id: Type.String(),
  merchant_id: Type.String(),
  profile: Nullable(
    Type.Object({
      name: Nullable(Type.String()),
      registered_mcc: Nullable(Type.String()),
      latitude: Nullable(Type.Number()),
      longitude: Nullable(Type.Number()),
      settlement_account_token: Nullable(Type.String()),
      onboarded_at: Nullable(Type.String()),
      closed_at: Nullable(Type.String()),
      settlement_account_changes: Type.Integer(),
      last_event_at: Type.String(),
    }),
  ),
  terminals: Type.Array(
    Type.Object({ terminal_id: Type.String(), bound: Type.Boolean(), changed_at: Type.String() }),
  ),
  terminals_seen: Type.Array(
    Type.Object({
      terminal_id: Type.String(),
      transactions: Type.Integer(),
      last_seen: Type.String(),
    }),
    { description: 'terminals in the last 30 days of transactions' },
  ),
  settlement_account_changes: Type.Array(
    Type.Object({ at: Type.String(), account_token: Nullable(Type.String()) }),
  ),
  scores: Type.Array(ScoreNow),
  cases: Type.Array(CaseSummary, { description: 'cases not closed' }),
})
export type MerchantReply = Static<typeof MerchantReply>

export const RangeQuery = Type.Object(rangeOf(1000, 200), { additionalProperties: false })
export type RangeQuery = Static<typeof RangeQuery>

export const ScoreHistoryQuery = Type.Object(
  {
    category: Type.Optional(Category),
    ...rangeOf(1000, 200),
  },
  { additionalProperties: false },
)
export type ScoreHistoryQuery = Static<typeof ScoreHistoryQuery>

export const ScoreHistoryReply = Type.Object({
  items: Type.Array(
    Type.Object({
      category: Type.String(),
      scored_at: Type.String(),
      score: Type.Integer(),
      level: Type.String(),
    }),
  ),
})
export type ScoreHistoryReply = Static<typeof ScoreHistoryReply>

export const HitsQuery = Type.Object(
  {
    rule: Type.Optional(RuleId),
    ...rangeOf(1000, 200),
  },
  { additionalProperties: false },
)
export type HitsQuery = Static<typeof HitsQuery>

export const Hit = Type.Object({
  hit_id: Type.String(),
  rule_id: Type.String(),
  rule_version: Type.Integer(),
  category: Type.String(),
  observed: Type.Number(),
  threshold: Type.Number(),
  window_start: Type.String(),
  window_end: Type.String(),
  sample_txn_ids: Type.Array(Type.String()),
  detail: Type.String(),
  config_hash: Type.String(),
  detected_at: Type.String(),
})
export type Hit = Static<typeof Hit>
export const HitsReply = Type.Object({ items: Type.Array(Hit) })

export const DailyQuery = Type.Object(
  { from: Type.Optional(Day), to: Type.Optional(Day) },
  { additionalProperties: false },
)
export type DailyQuery = Static<typeof DailyQuery>

export const DailyRow = Type.Object({
  date: Type.String(),
  currency: Type.String(),
  attempts: Type.Integer(),
  declines: Type.Integer(),
  approved_sales: Type.Integer(),
  approved_amount_minor: Type.Number(),
  refunds: Type.Integer(),
  refund_amount_minor: Type.Number(),
  credit_sales: Type.Integer(),
  credit_amount_minor: Type.Number(),
  debit_sales: Type.Integer(),
  debit_amount_minor: Type.Number(),
  round_thousand_sales: Type.Integer(),
  whole_unit_sales: Type.Integer(),
  night_sales: Type.Integer(),
  night_amount_minor: Type.Number(),
  max_ticket_minor: Type.Number(),
  distinct_cards: Type.Integer(),
})
export type DailyRow = Static<typeof DailyRow>
export const DailyReply = Type.Object({ items: Type.Array(DailyRow) })

export const TransactionsQuery = Type.Object(
  {
    card: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'card token' })),
    terminal: Type.Optional(Id),
    txn: Type.Optional(
      Type.Array(Id, { maxItems: 50, description: "these transactions only (a hit's sample_txn_ids)" }),
    ),
    ...rangeOf(500, 100),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
)
export type TransactionsQuery = Static<typeof TransactionsQuery>

export const Transaction = Type.Object({
  txn_id: Type.String(),
  event_time: Type.String(),
  terminal_id: Type.String(),
  card_token: Type.String(),
  card_bin: Nullable(Type.String()),
  card_type: Type.String(),
  txn_type: Type.String(),
  amount_minor: Type.Number(),
  currency: Type.String(),
  mcc: Type.String(),
  entry_mode: Type.String(),
  response_code: Type.String(),
  latitude: Nullable(Type.Number()),
  longitude: Nullable(Type.Number()),
})
export type Transaction = Static<typeof Transaction>
export const TransactionsReply = Type.Object({
  items: Type.Array(Transaction),
  next_cursor: Nullable(Type.String()),
})
export type TransactionsReply = Static<typeof TransactionsReply>

export const TopCardsQuery = Type.Object(rangeOf(100, 20), { additionalProperties: false })
export type TopCardsQuery = Static<typeof TopCardsQuery>

export const TopCard = Type.Object({
  card_token: Type.String(),
  card_type: Type.String(),
  card_bin: Nullable(Type.String()),
  swipes: Type.Integer(),
  approved_amount_minor: Type.Number(),
  active_days: Type.Integer(),
  active_months: Type.Integer(),
  terminals: Type.Integer(),
  first_seen: Type.String(),
  last_seen: Type.String(),
})
export type TopCard = Static<typeof TopCard>
export const TopCardsReply = Type.Object({ items: Type.Array(TopCard) })

// ---- cases ------------------------------------------------------------------------------------------

export const Case = Type.Object({
  acquirer_id: Type.String(),
  case_id: Type.String(),
  merchant_id: Type.String(),
  status: Type.String(),
  assignee: Type.String(),
  decision: Nullable(Type.String()),
  actions: Type.Array(Type.String()),
  opened_by: Type.String(),
  opened_reason: Type.String(),
  opened_at: Type.String(),
  updated_at: Type.String(),
  version: Type.Integer({ description: 'send it back as expected_version to change the case' }),
})
export type Case = Static<typeof Case>

export const Note = Type.Object({
  note_id: Type.String(),
  author: Type.String(),
  body: Type.String(),
  created_at: Type.String(),
})
export type Note = Static<typeof Note>

export const CaseDetail = Type.Object({ case: Case, notes: Type.Array(Note) })
export type CaseDetail = Static<typeof CaseDetail>

export const CasesQuery = Type.Object(
  {
    status: Type.Optional(CaseStatus),
    merchant: Type.Optional(Id),
    assignee: Type.Optional(Assignee()),
    limit: Type.Optional(limit(200, 50)),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
)
export type CasesQuery = Static<typeof CasesQuery>
export const CasesReply = Type.Object({ items: Type.Array(Case), next_cursor: Nullable(Type.String()) })
export type CasesReply = Static<typeof CasesReply>

export const OpenCaseBody = Type.Object(
  { reason: Text(2000), assignee: Type.Optional(Assignee()) },
  { additionalProperties: false },
)
export type OpenCaseBody = Static<typeof OpenCaseBody>

export const UpdateCaseBody = Type.Object(
  {
    expected_version: Type.Integer({
      minimum: 1,
      maximum: 4294967295,
      description: 'the version the change was made on; a case changed since is a 409',
    }),
    status: Type.Optional(CaseStatus),
    assignee: Type.Optional(Assignee('empty unassigns')),
    decision: Type.Optional(Decision),
    actions: Type.Optional(
      Type.Array(CaseAction, { minItems: 1, maxItems: 4, uniqueItems: true, description: 'actions taken' }),
    ),
  },
  { additionalProperties: false, minProperties: 2 },
)
export type UpdateCaseBody = Static<typeof UpdateCaseBody>

export const NoteBody = Type.Object({ body: Text(4000) }, { additionalProperties: false })
export type NoteBody = Static<typeof NoteBody>

// ---- whitelist --------------------------------------------------------------------------------------

export const WhitelistEntry = Type.Object({
  entry_id: Type.String(),
  acquirer_id: Type.String(),
  merchant_id: Type.String(),
  rule_id: Type.String(),
  reason: Type.String(),
  expires_at: Type.String(),
  granted_by: Type.String(),
  granted_at: Type.String(),
  removed_at: Nullable(Type.String()),
  removed_by: Nullable(Type.String()),
  version: Type.Integer(),
})
export type WhitelistEntry = Static<typeof WhitelistEntry>

export const WhitelistQuery = Type.Object(
  { merchant: Type.Optional(Id), include_inactive: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
)
export type WhitelistQuery = Static<typeof WhitelistQuery>
export const WhitelistReply = Type.Object({ items: Type.Array(WhitelistEntry) })
export type WhitelistReply = Static<typeof WhitelistReply>

export const AddWhitelistBody = Type.Object(
  { merchant_id: Id, rule_id: RuleId, reason: Text(2000), expires_at: Time },
  { additionalProperties: false },
)
export type AddWhitelistBody = Static<typeof AddWhitelistBody>

// ---- audit ------------------------------------------------------------------------------------------

export const AuditQuery = Type.Object(
  {
    acquirer: Type.Optional(Id),
    actor: Type.Optional(Type.String({ maxLength: 128, description: 'key id' })),
    entity_type: Type.Optional(Type.Enum(['case', 'whitelist', 'api_key', 'acquirer'])),
    entity_id: Type.Optional(Id),
    merchant: Type.Optional(Id),
    ...rangeOf(500, 100),
    cursor: Type.Optional(Cursor),
  },
  { additionalProperties: false },
)
export type AuditQuery = Static<typeof AuditQuery>

export const AuditEvent = Type.Object({
  audit_id: Type.String(),
  acquirer_id: Type.String(),
  at: Type.String(),
  actor_key_id: Type.String(),
  actor_name: Type.String(),
  actor_role: Type.String(),
  action: Type.String(),
  entity_type: Type.String(),
  entity_id: Type.String(),
  merchant_id: Type.String(),
  before: Type.Unknown({ description: 'the entity before the action (null when there was none)' }),
  after: Type.Unknown({ description: 'the entity after the action' }),
  request_id: Type.String(),
})
export type AuditEvent = Static<typeof AuditEvent>
export const AuditReply = Type.Object({ items: Type.Array(AuditEvent), next_cursor: Nullable(Type.String()) })
export type AuditReply = Static<typeof AuditReply>

// ---- acquirers --------------------------------------------------------------------------------------

export const RegisterAcquirerBody = Type.Object(
  {
    acquirer_id: Type.String({
      pattern: ACQUIRER_ID.source,
      description: `${ACQUIRER_ID_RULE}; it names the acquirer's alert topic`,
    }),
  },
  { additionalProperties: false },
)
export type RegisterAcquirerBody = Static<typeof RegisterAcquirerBody>

export const Acquirer = Type.Object({
  acquirer_id: Type.String(),
  alert_topic: Type.String(),
  source: Type.Enum(['configured', 'registered']),
  registered_at: Nullable(Type.String()),
  registered_by: Nullable(Type.String()),
})
export type Acquirer = Static<typeof Acquirer>
export const AcquirersReply = Type.Object({ items: Type.Array(Acquirer) })

// ---- operations -------------------------------------------------------------------------------------

export const HealthReply = Type.Object({
  status: Type.Enum(['ok', 'failing']),
})
export const ReadyReply = Type.Object({
  status: Type.Enum(['ready', 'not_ready']),
  checks: Type.Object({
    clickhouse: Type.Boolean(),
    kafka: Nullable(Type.Boolean({ description: 'null when this process has no Kafka probe' })),
  }),
})
export type ReadyReply = Static<typeof ReadyReply>

// ---- console: session, queue counts, evidence for the charts, API keys ------------------------------

export const SignInBody = Type.Object(
  { key: Type.String({ minLength: 1, maxLength: 256, description: 'an API key, prm_<key_id>_<secret>' }) },
  { additionalProperties: false },
)
export type SignInBody = Static<typeof SignInBody>

export const SessionReply = Type.Object({
  key_id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  acquirer_scope: Type.String({ description: 'one acquirer id, or * (every acquirer)' }),
  csrf_token: Nullable(
    Type.String({
      description:
        'send it as x-csrf-token with every POST, PATCH and DELETE made with the session cookie; null when the request authenticated with an API key',
    }),
  ),
  expires_at: Nullable(Type.String({ description: 'when the session ends unless it is used before' })),
})
export type SessionReply = Static<typeof SessionReply>

export const QueueCountsQuery = Type.Object(
  {
    acquirer: Type.Optional(Id),
    category: Type.Optional(Category),
    rule: Type.Optional(RuleId),
    case_status: Type.Optional(Type.Enum([...CASE_STATUSES, 'none'])),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
  },
  { additionalProperties: false },
)
export type QueueCountsQuery = Static<typeof QueueCountsQuery>

export const QueueCountsReply = Type.Object({
  counts: Type.Object({
    LOW: Type.Integer(),
    MEDIUM: Type.Integer(),
    HIGH: Type.Integer(),
    CRITICAL: Type.Integer(),
  }),
})
export type QueueCountsReply = Static<typeof QueueCountsReply>

export const EvidenceQuery = Type.Object(
  {
    to: Type.Optional(Day),
    days: Type.Optional(
      Type.Integer({ minimum: 7, maximum: 180, default: 90, description: 'local days ending on to' }),
    ),
  },
  { additionalProperties: false },
)
export type EvidenceQuery = Static<typeof EvidenceQuery>

const Limits = Type.Object({
  single_minor: Type.Number({ description: 'the single-swipe limit cash-out keeps under (structuring)' }),
  daily_minor: Type.Number({ description: 'the daily volume cap (daily_volume, structuring)' }),
  near_round_tolerance: Type.Number({ description: 'near-round: within this share of a round thousand' }),
})

export const EvidenceReply = Type.Object({
  from: Type.String({ description: 'first local day' }),
  to: Type.String({ description: 'last local day' }),
  time_zone: Type.String(),
  currency: Nullable(Type.String({ description: 'the currency the merchant takes most' })),
  limits: Limits,
  baseline: Type.Object({
    own_daily_median_minor: Nullable(Type.Number({ description: 'median volume per active day' })),
    peer_mcc: Nullable(Type.String()),
    peer_merchants: Type.Integer({ description: 'peers (same acquirer and registered MCC) compared with' }),
  }),
  peer_daily: Type.Array(
    Type.Object({ date: Type.String(), median_minor: Type.Number(), merchants: Type.Integer() }),
    { description: "peers' median approved volume per day, over the peers that traded that day" },
  ),
  amounts: Type.Object({
    bins: Type.Array(
      Type.Object({
        from_minor: Type.Number(),
        to_minor: Type.Number(),
        count: Type.Integer(),
        exact_round: Type.Integer({ description: 'of which exact round thousands' }),
        near_round: Type.Integer({ description: 'of which within the tolerance of a round thousand' }),
      }),
    ),
    sales: Type.Integer(),
    exact_round: Type.Integer(),
    near_round: Type.Integer(),
    near_single_limit: Type.Integer({ description: 'swipes in [0.9, 1.0) of the single limit' }),
  }),
  hours: Type.Object({
    merchant: Type.Array(Type.Number(), { description: 'share of approved sales per local hour, 0-23' }),
    peers: Type.Array(Type.Number(), { description: "the peers' share per local hour" }),
  }),
  locations: Type.Object({
    registered: Nullable(Type.Object({ latitude: Type.Number(), longitude: Type.Number() })),
    fixes: Type.Array(
      Type.Object({
        terminal_id: Type.String(),
        latitude: Type.Number(),
        longitude: Type.Number(),
        transactions: Type.Integer(),
        distance_km: Nullable(Type.Number({ description: 'from the registered location' })),
        last_seen: Type.String(),
      }),
    ),
  }),
})
export type EvidenceReply = Static<typeof EvidenceReply>

export const CardPatternsQuery = Type.Object(
  {
    days: Type.Optional(Type.Integer({ minimum: 7, maximum: 180, default: 120 })),
    limit: Type.Optional(limit(50, 10)),
  },
  { additionalProperties: false },
)
export type CardPatternsQuery = Static<typeof CardPatternsQuery>

export const CardPattern = Type.Object({
  card_token: Type.String(),
  card_type: Type.String(),
  swipes: Type.Integer(),
  active_days: Type.Integer(),
  active_months: Type.Integer(),
  max_per_day: Type.Integer({ description: 'most swipes on one local day' }),
  days_over_two: Type.Integer({ description: 'days with more than 2 swipes' }),
  median_gap_s: Nullable(Type.Number({ description: 'median gap between swipes on the same day, seconds' })),
  gaps_5_10_min: Type.Integer({ description: 'same-day gaps between 5 and 10 minutes' }),
  gaps: Type.Integer({ description: 'same-day gaps in all' }),
  approved_amount_minor: Type.Number(),
  other_merchants: Type.Integer({
    description: "the acquirer's other merchants that saw the card in the last 30 days of the window",
  }),
  other_merchant_ids: Type.Array(Type.String(), { description: 'up to 5 of them' }),
  per_day: Type.Array(Type.Object({ date: Type.String(), swipes: Type.Integer() })),
})
export type CardPattern = Static<typeof CardPattern>
export const CardPatternsReply = Type.Object({ items: Type.Array(CardPattern) })

export const LifecycleQuery = Type.Object(
  { limit: Type.Optional(limit(1000, 500)) },
  { additionalProperties: false },
)
export type LifecycleQuery = Static<typeof LifecycleQuery>

export const LifecycleReply = Type.Object({
  items: Type.Array(
    Type.Object({
      at: Type.String(),
      kind: Type.String(),
      terminal_id: Nullable(Type.String()),
      registered_mcc: Nullable(Type.String()),
      settlement_account_token: Nullable(Type.String()),
    }),
  ),
})
export type LifecycleReply = Static<typeof LifecycleReply>

export const ApiKeyInfo = Type.Object({
  key_id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  acquirer_scope: Type.String(),
  created_at: Type.String(),
  created_by: Type.String(),
  revoked_at: Nullable(Type.String()),
})
export type ApiKeyInfo = Static<typeof ApiKeyInfo>
export const ApiKeysReply = Type.Object({ items: Type.Array(ApiKeyInfo) })

export const CreateApiKeyBody = Type.Object(
  {
    name: Text(128),
    role: Type.Enum([...ROLES]),
    acquirer: Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^(\\*|[A-Za-z0-9][A-Za-z0-9._:-]*)$',
      description: 'an acquirer id, or * (admin keys only)',
    }),
  },
  { additionalProperties: false },
)
export type CreateApiKeyBody = Static<typeof CreateApiKeyBody>
export const CreatedApiKey = Type.Object({
  ...ApiKeyInfo.properties,
  key: Type.String({ description: 'shown once; only its SHA-256 is stored' }),
})

export const ApiKeyParams = Type.Object(
  { keyId: Type.String({ pattern: '^[0-9a-f]{16}$' }) },
  { additionalProperties: false },
)
