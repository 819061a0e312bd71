-- 0003: merchant scores, their history, published alerts, and review cases.
--
-- Written by the scoring stage (scoring/), read by the dashboard API. Categories are the lower-case
-- rule categories 'fraud' and 'compliance'; levels are the RiskAlert symbols LOW, MEDIUM, HIGH,
-- CRITICAL. Times named *_at without further comment are event time (the merchant's watermark when the
-- scorer looked), never arrival time, so a replay writes the same rows again.


-- The latest score of each merchant and category. The scorer writes a row whenever the rounded score
-- or the level changes; ReplacingMergeTree keeps the newest by scored_at, so reads use FINAL (or
-- argMax). `breakdown` is a JSON array, strongest first: one element per contributing hit with its
-- hit_id, rule, family, points before and after decay, observed value, threshold, window and sample
-- transaction ids, so the score is explained without joining rule_hits.
CREATE TABLE IF NOT EXISTS merchant_scores
(
    acquirer_id   LowCardinality(String),
    merchant_id   String,
    category      LowCardinality(String),
    score         UInt8,
    level         LowCardinality(String),
    breakdown     String,
    hit_count     UInt16,
    families      Array(LowCardinality(String)),
    scored_at     DateTime64(3, 'UTC'),
    written_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(scored_at)
ORDER BY (acquirer_id, merchant_id, category);


-- Every change of a merchant's score, for the history chart. ReplacingMergeTree on the full key only
-- so that a replay (which writes the same rows again) collapses.
CREATE TABLE IF NOT EXISTS score_history
(
    acquirer_id   LowCardinality(String),
    merchant_id   String,
    category      LowCardinality(String),
    scored_at     DateTime64(3, 'UTC'),
    score         UInt8,
    level         LowCardinality(String),
    breakdown     String,
    written_at    DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(written_at)
PARTITION BY toYYYYMM(scored_at)
ORDER BY (acquirer_id, merchant_id, category, scored_at);


-- Every alert the scorer published, once per alert_id (deterministic: the same situation gives the
-- same id, so a replay rewrites the same row). `reasons` is the RiskAlert reasons array as JSON;
-- `topic` is where it was published.
CREATE TABLE IF NOT EXISTS alerts
(
    acquirer_id     LowCardinality(String),
    alert_id        String,
    merchant_id     String,
    category        LowCardinality(String),
    level           LowCardinality(String),
    previous_level  Nullable(String),
    score           UInt8,
    families        Array(LowCardinality(String)),
    rule_ids        Array(LowCardinality(String)),
    reasons         String,
    topic           String,
    created_at      DateTime64(3, 'UTC'),
    written_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(written_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (acquirer_id, alert_id);


-- Review cases. One row per version of a case: every change (status, assignee, decision, action)
-- writes the whole case again with version + 1, and ReplacingMergeTree keeps the highest version, so
-- reads use FINAL. The change itself, with who and why, goes to the audit log.
-- status: open, investigating, escalated, closed. decision: false_positive, confirmed_cash_out,
-- compliance_breach (empty while undecided). actions: delay_settlement, set_limits,
-- suspend_acceptance, retrieve_terminal.
-- The scorer opens a case itself (opened_by 'system') when a rule that regulation makes mandatory
-- fires; its case_id is derived from the hit, so a replay opens the same case, not a second one.
CREATE TABLE IF NOT EXISTS cases
(
    acquirer_id    LowCardinality(String),
    case_id        String,
    merchant_id    String,
    status         LowCardinality(String),
    assignee       String,
    decision       LowCardinality(String),
    actions        Array(LowCardinality(String)),
    opened_by      String,
    opened_reason  String,
    opened_at      DateTime64(3, 'UTC'),
    updated_at     DateTime64(3, 'UTC'),
    version        UInt32
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (acquirer_id, case_id);
