-- 0002: rule hits, the evidence behind every score and alert.
--
-- One row per (acquirer, merchant, rule, window start): a rule that keeps firing for the same merchant
-- and window writes the same hit again with newer values, and ReplacingMergeTree keeps the one with
-- the latest detected_at (event time). Reads that need the current state use FINAL or argMax.
-- hit_id is derived from the same key by the engine, so the API and alerts can refer to a hit.
CREATE TABLE IF NOT EXISTS rule_hits
(
    acquirer_id     LowCardinality(String),
    merchant_id     String,
    rule_id         LowCardinality(String),
    window_start    DateTime64(3, 'UTC'),
    window_end      DateTime64(3, 'UTC'),
    hit_id          String,
    rule_version    UInt16,
    category        LowCardinality(String),
    observed        Float64,
    threshold       Float64,
    sample_txn_ids  Array(String),
    detail          String,
    config_hash     LowCardinality(String),
    detected_at     DateTime64(3, 'UTC'),
    written_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(detected_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (acquirer_id, merchant_id, rule_id, window_start);
