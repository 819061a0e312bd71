-- 0001: raw event tables, daily merchant aggregates, merchant profile and terminal bindings.
--
-- Table names are never qualified: a migration runs in the configured database, which the server
-- backend selects with the client's `database` option and chDB with `USE` (its connection ignores
-- that option). ClickHouse stores views with their tables already qualified, so a view created here
-- keeps reading the right tables whatever the current database is later.
-- Query parameters are not used either: in CREATE VIEW they would make a parameterised view.
--
-- Every statement is idempotent, so a migration interrupted half way is simply run again.
--
-- Conventions shared by all tables:
-- * Times are DateTime64(3, 'UTC'): events carry epoch milliseconds and the raw tables keep them.
--   Local calendar days are computed by the writer in the acquirer's time zone (local_date,
--   local_hour), because the zone is configuration, not data ClickHouse knows.
-- * Avro enum symbols are LowCardinality(String), not Enum8: a symbol added to the schema must not
--   make every insert fail until someone runs an ALTER.
-- * Amounts are UInt64 minor units (events guarantee amount > 0); refunds are positive amounts of a
--   REFUND transaction, never negative numbers.
-- * Every table and aggregate leads with acquirer_id: one acquirer's rows never share a key with
--   another's, and every query filters on it first.
-- * non_replicated_deduplication_window keeps the hashes of the last inserted blocks, so that an
--   insert retried with the same insert_deduplication_token (the writers derive it from the ids in
--   the batch) is a no-op, in the table and in the materialized views fed from it. The views' target
--   tables need the window too: without it the raw table drops the retry but the view still counts
--   it (checked on chDB, with deduplicate_blocks_in_dependent_materialized_views = 1).


-- Every terminal transaction, stored once per (acquirer_id, merchant_id, txn_id).
-- The writer already skips txn_ids that are stored; ReplacingMergeTree is the second line of
-- defence: should a duplicate slip in (two writers racing), merges collapse it, and reads that must
-- be exact use FINAL. The sort key is the lookup the writer makes before every insert, and the one
-- every per-merchant rule reads by. Monthly partitions on event time keep retention a DROP PARTITION.
CREATE TABLE IF NOT EXISTS transactions
(
    acquirer_id       LowCardinality(String),
    merchant_id       String,
    txn_id            String,
    event_time        DateTime64(3, 'UTC'),
    terminal_id       String,
    card_token        String,
    card_bin          Nullable(String),
    card_type         LowCardinality(String),
    txn_type          LowCardinality(String),
    amount_minor      UInt64,
    currency          LowCardinality(String),
    mcc               LowCardinality(String),
    entry_mode        LowCardinality(String),
    response_code     LowCardinality(String),
    latitude          Nullable(Float64),
    longitude         Nullable(Float64),
    -- Derived by the writer.
    local_date        Date COMMENT 'Calendar day of event_time in the acquirer''s time zone',
    local_hour        UInt8 COMMENT 'Hour (0-23) of event_time in the acquirer''s time zone',
    is_approved       Bool COMMENT 'response_code = ''00''',
    is_sale           Bool COMMENT 'txn_type is PURCHASE or PREAUTH_COMPLETION',
    is_round_thousand Bool COMMENT 'amount in major units is a multiple of 1,000 (and at least 1,000)',
    is_whole_unit     Bool COMMENT 'amount has no minor part (always true for zero-decimal currencies)',
    -- Where the event was read from: a replay can be traced to the offset it came from.
    kafka_topic       LowCardinality(String),
    kafka_partition   UInt32,
    kafka_offset      UInt64,
    ingested_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (acquirer_id, merchant_id, txn_id)
SETTINGS non_replicated_deduplication_window = 1000;


-- Per acquirer, merchant, local day and currency: the counters the daily and 30-day rules read,
-- so that they never rescan raw transactions. Currency is part of the key because adding fen to
-- cents is meaningless; a merchant taking one currency has one row a day.
--
-- Populations (documented here because every rule depends on them):
-- * attempts, declines: every authorisation request of any type; a decline is response_code <> '00'.
-- * approved_*: approved sales (PURCHASE or PREAUTH_COMPLETION), the volume cash-out produces.
--   credit_*, debit_*, prepaid_*, round_thousand_*, whole_unit_sales, night_*, max_ticket_minor and
--   distinct_cards are all taken over approved sales too.
-- * refunds: approved REFUND transactions. Reversals and bare pre-authorisations only count as
--   attempts: without the original txn_id they cannot be netted off.
-- * night: local time 00:00 to 04:59.
-- Fed only by merchant_daily_mv, so it counts exactly what reaches transactions: the writer's
-- duplicate check is what makes a replayed event count once here.
CREATE TABLE IF NOT EXISTS merchant_daily
(
    acquirer_id                  LowCardinality(String),
    merchant_id                  String,
    local_date                   Date,
    currency                     LowCardinality(String),
    attempts                     SimpleAggregateFunction(sum, UInt64),
    declines                     SimpleAggregateFunction(sum, UInt64),
    approved_sales               SimpleAggregateFunction(sum, UInt64),
    approved_amount_minor        SimpleAggregateFunction(sum, UInt64),
    refunds                      SimpleAggregateFunction(sum, UInt64),
    refund_amount_minor          SimpleAggregateFunction(sum, UInt64),
    credit_sales                 SimpleAggregateFunction(sum, UInt64),
    credit_amount_minor          SimpleAggregateFunction(sum, UInt64),
    debit_sales                  SimpleAggregateFunction(sum, UInt64),
    debit_amount_minor           SimpleAggregateFunction(sum, UInt64),
    prepaid_sales                SimpleAggregateFunction(sum, UInt64),
    prepaid_amount_minor         SimpleAggregateFunction(sum, UInt64),
    round_thousand_sales         SimpleAggregateFunction(sum, UInt64),
    round_thousand_amount_minor  SimpleAggregateFunction(sum, UInt64),
    whole_unit_sales             SimpleAggregateFunction(sum, UInt64),
    night_sales                  SimpleAggregateFunction(sum, UInt64),
    night_amount_minor           SimpleAggregateFunction(sum, UInt64),
    max_ticket_minor             SimpleAggregateFunction(max, UInt64),
    distinct_cards               AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(local_date)
ORDER BY (acquirer_id, merchant_id, local_date, currency)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS merchant_daily_mv TO merchant_daily AS
SELECT
    acquirer_id,
    merchant_id,
    local_date,
    currency,
    count() AS attempts,
    countIf(NOT is_approved) AS declines,
    countIf(is_sale AND is_approved) AS approved_sales,
    sumIf(amount_minor, is_sale AND is_approved) AS approved_amount_minor,
    countIf(txn_type = 'REFUND' AND is_approved) AS refunds,
    sumIf(amount_minor, txn_type = 'REFUND' AND is_approved) AS refund_amount_minor,
    countIf(is_sale AND is_approved AND card_type = 'CREDIT') AS credit_sales,
    sumIf(amount_minor, is_sale AND is_approved AND card_type = 'CREDIT') AS credit_amount_minor,
    countIf(is_sale AND is_approved AND card_type = 'DEBIT') AS debit_sales,
    sumIf(amount_minor, is_sale AND is_approved AND card_type = 'DEBIT') AS debit_amount_minor,
    countIf(is_sale AND is_approved AND card_type = 'PREPAID') AS prepaid_sales,
    sumIf(amount_minor, is_sale AND is_approved AND card_type = 'PREPAID') AS prepaid_amount_minor,
    countIf(is_sale AND is_approved AND is_round_thousand) AS round_thousand_sales,
    sumIf(amount_minor, is_sale AND is_approved AND is_round_thousand) AS round_thousand_amount_minor,
    countIf(is_sale AND is_approved AND is_whole_unit) AS whole_unit_sales,
    countIf(is_sale AND is_approved AND local_hour < 5) AS night_sales,
    sumIf(amount_minor, is_sale AND is_approved AND local_hour < 5) AS night_amount_minor,
    maxIf(amount_minor, is_sale AND is_approved) AS max_ticket_minor,
    uniqExactStateIf(card_token, is_sale AND is_approved) AS distinct_cards
FROM transactions
GROUP BY acquirer_id, merchant_id, local_date, currency;

-- merchant_daily with its partial states merged: one plain row per key. Filter on acquirer_id
-- (and merchant_id, local_date) so the GROUP BY only reads the rows asked for.
CREATE VIEW IF NOT EXISTS merchant_daily_v AS
SELECT
    acquirer_id,
    merchant_id,
    local_date,
    currency,
    sum(attempts) AS attempts,
    sum(declines) AS declines,
    sum(approved_sales) AS approved_sales,
    sum(approved_amount_minor) AS approved_amount_minor,
    sum(refunds) AS refunds,
    sum(refund_amount_minor) AS refund_amount_minor,
    sum(credit_sales) AS credit_sales,
    sum(credit_amount_minor) AS credit_amount_minor,
    sum(debit_sales) AS debit_sales,
    sum(debit_amount_minor) AS debit_amount_minor,
    sum(prepaid_sales) AS prepaid_sales,
    sum(prepaid_amount_minor) AS prepaid_amount_minor,
    sum(round_thousand_sales) AS round_thousand_sales,
    sum(round_thousand_amount_minor) AS round_thousand_amount_minor,
    sum(whole_unit_sales) AS whole_unit_sales,
    sum(night_sales) AS night_sales,
    sum(night_amount_minor) AS night_amount_minor,
    max(max_ticket_minor) AS max_ticket_minor,
    uniqExactMerge(distinct_cards) AS distinct_cards
FROM merchant_daily
GROUP BY acquirer_id, merchant_id, local_date, currency;


-- Every merchant lifecycle event, stored once per (acquirer_id, merchant_id, event_id); same
-- duplicate handling as transactions. Lifecycle events are few, so the table is not partitioned:
-- a replay always lands in the one partition where merges can collapse it.
CREATE TABLE IF NOT EXISTS merchant_events
(
    acquirer_id              LowCardinality(String),
    merchant_id              String,
    event_id                 String,
    event_time               DateTime64(3, 'UTC'),
    kind                     LowCardinality(String),
    terminal_id              Nullable(String),
    registered_mcc           Nullable(String),
    merchant_name            Nullable(String),
    latitude                 Nullable(Float64),
    longitude                Nullable(Float64),
    settlement_account_token Nullable(String),
    kafka_topic              LowCardinality(String),
    kafka_partition          UInt32,
    kafka_offset             UInt64,
    ingested_at              DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (acquirer_id, merchant_id, event_id)
SETTINGS non_replicated_deduplication_window = 1000;


-- The merchant as its lifecycle events describe it now. Each attribute is the latest non-null value
-- by event time, not by arrival: argMax over (event_time, event_id) gives the same answer whatever
-- order the events came in, event_id only breaking ties. A NULL attribute in an event means "not
-- changed by this event", and argMax skips NULL values, so it never overwrites a known value.
-- Latitude and longitude are only taken from events that carry both, so they always come from the
-- same event.
CREATE TABLE IF NOT EXISTS merchant_profile
(
    acquirer_id                LowCardinality(String),
    merchant_id                String,
    registered_mcc             AggregateFunction(argMax, Nullable(String), Tuple(DateTime64(3, 'UTC'), String)),
    merchant_name              AggregateFunction(argMax, Nullable(String), Tuple(DateTime64(3, 'UTC'), String)),
    latitude                   AggregateFunction(argMax, Nullable(Float64), Tuple(DateTime64(3, 'UTC'), String)),
    longitude                  AggregateFunction(argMax, Nullable(Float64), Tuple(DateTime64(3, 'UTC'), String)),
    settlement_account_token   AggregateFunction(argMax, Nullable(String), Tuple(DateTime64(3, 'UTC'), String)),
    -- First onboarding and last closure; a merchant re-onboarded after closing has onboarded_at
    -- before closed_at and a last_event_at after it.
    onboarded_at               SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    closed_at                  SimpleAggregateFunction(max, Nullable(DateTime64(3, 'UTC'))),
    settlement_account_changes SimpleAggregateFunction(sum, UInt64),
    last_event_at              SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (acquirer_id, merchant_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Source columns are qualified (e.) because the aliases must carry the target's column names, and an
-- unqualified `latitude` after `... AS latitude` would mean the aggregate, not the column.
CREATE MATERIALIZED VIEW IF NOT EXISTS merchant_profile_mv TO merchant_profile AS
SELECT
    e.acquirer_id AS acquirer_id,
    e.merchant_id AS merchant_id,
    argMaxState(e.registered_mcc, (e.event_time, e.event_id)) AS registered_mcc,
    argMaxState(e.merchant_name, (e.event_time, e.event_id)) AS merchant_name,
    -- Not argMaxStateIf: -If drops the Nullable from the state type, and an empty state would then
    -- merge to 0.0, a real coordinate, instead of NULL.
    argMaxState(if(e.longitude IS NULL, NULL, e.latitude), (e.event_time, e.event_id)) AS latitude,
    argMaxState(if(e.latitude IS NULL, NULL, e.longitude), (e.event_time, e.event_id)) AS longitude,
    argMaxState(e.settlement_account_token, (e.event_time, e.event_id)) AS settlement_account_token,
    minIf(toNullable(e.event_time), e.kind = 'ONBOARDED') AS onboarded_at,
    maxIf(toNullable(e.event_time), e.kind = 'CLOSED') AS closed_at,
    countIf(e.kind = 'SETTLEMENT_ACCOUNT_CHANGED') AS settlement_account_changes,
    max(e.event_time) AS last_event_at
FROM merchant_events AS e
GROUP BY e.acquirer_id, e.merchant_id;

CREATE VIEW IF NOT EXISTS merchant_profile_v AS
SELECT
    acquirer_id,
    merchant_id,
    argMaxMerge(registered_mcc) AS registered_mcc,
    argMaxMerge(merchant_name) AS merchant_name,
    argMaxMerge(latitude) AS latitude,
    argMaxMerge(longitude) AS longitude,
    argMaxMerge(settlement_account_token) AS settlement_account_token,
    min(onboarded_at) AS onboarded_at,
    max(closed_at) AS closed_at,
    sum(settlement_account_changes) AS settlement_account_changes,
    max(last_event_at) AS last_event_at
FROM merchant_profile
GROUP BY acquirer_id, merchant_id;


-- Which terminal is bound to which merchant, from TERMINAL_BOUND / TERMINAL_UNBOUND events: per
-- (acquirer, terminal, merchant) the kind of the latest event by event time, so an UNBOUND that
-- arrives before the BOUND it follows still wins. Keyed by terminal first: the terminal-sharing rule
-- asks "how many merchants is this terminal bound to".
CREATE TABLE IF NOT EXISTS terminal_bindings
(
    acquirer_id LowCardinality(String),
    terminal_id String,
    merchant_id String,
    bound       AggregateFunction(argMax, Bool, Tuple(DateTime64(3, 'UTC'), String)),
    changed_at  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (acquirer_id, terminal_id, merchant_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS terminal_bindings_mv TO terminal_bindings AS
SELECT
    e.acquirer_id AS acquirer_id,
    assumeNotNull(e.terminal_id) AS terminal_id,
    e.merchant_id AS merchant_id,
    argMaxState(toBool(e.kind = 'TERMINAL_BOUND'), (e.event_time, e.event_id)) AS bound,
    max(e.event_time) AS changed_at
FROM merchant_events AS e
WHERE e.kind IN ('TERMINAL_BOUND', 'TERMINAL_UNBOUND') AND e.terminal_id IS NOT NULL
GROUP BY e.acquirer_id, e.terminal_id, e.merchant_id;

CREATE VIEW IF NOT EXISTS terminal_bindings_v AS
SELECT
    acquirer_id,
    terminal_id,
    merchant_id,
    argMaxMerge(bound) AS bound,
    max(changed_at) AS changed_at
FROM terminal_bindings
GROUP BY acquirer_id, terminal_id, merchant_id;
