-- 0006: what the analysts' queue reads, so that a page costs the same with 1,000 merchants or 1,000,000.
--
-- `merchant_scores FINAL` over an acquirer's whole portfolio was the price of every queue page: FINAL
-- merges every version of every row of the acquirer (a portfolio of 250,000 merchants is 500,000 rows)
-- to keep the newest, before the filter on level could drop the 94% that are LOW; and the scorer's
-- small inserts keep a fresh part beside the big ones at all times, so the merge never gets cheaper.
--
-- The projection `by_level` holds the rows ordered by acquirer, level and score, so "the highest
-- scores at these levels" reads only the flagged rows of the acquirer, not its portfolio. It is read
-- without FINAL, so it also holds versions that a newer row in another part replaces; the API keeps
-- a row only when `merchant_scores FINAL` still has it (dashboard-api/repositories/queue.ts). Merges
-- rebuild the projection from the merged rows (deduplicate_merge_projection_mode = 'rebuild', which
-- ReplacingMergeTree requires for a projection), so a replaced version lives until its part is merged.
-- A projection lives in the table's own parts: every insert and every merge keeps it exact, which a
-- separate table fed by a view could not promise after a crash between the two writes. It costs the
-- scorer's inserts a second, narrow sorted part (bench/store-insert.bench.ts: 1.3 times the time of a
-- 100-row insert, 1.24 times for 1,000 rows).
-- The rows already stored get it by a mutation, waited for so that the first page after an upgrade
-- is already fast; it reads the projection's six columns, not the breakdowns, and is idempotent.
ALTER TABLE merchant_scores MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild';

ALTER TABLE merchant_scores ADD PROJECTION IF NOT EXISTS by_level
(
    SELECT acquirer_id, merchant_id, category, score, level, scored_at
    ORDER BY (acquirer_id, level, score, merchant_id, category)
);

ALTER TABLE merchant_scores MATERIALIZE PROJECTION by_level SETTINGS mutations_sync = 2;


-- The name and registered MCC of each merchant, for the queue's merchant column: merchant_profile
-- holds them in granules of 8,192 profiles, so a page of 50 merchants spread over the portfolio read
-- most of the acquirer's profiles (35 ms of CPU for 50 merchants of 250,000). The view copies every
-- state written to merchant_profile, by its view and by the writer's repair after a replay alike
-- (store/merchant-events.ts), so the two always merge to the same values; copying a state twice (the
-- migration run again, or a repair) does not change what argMax merges to.
CREATE TABLE IF NOT EXISTS merchant_names
(
    acquirer_id    LowCardinality(String),
    merchant_id    String,
    registered_mcc AggregateFunction(argMax, Nullable(String), Tuple(DateTime64(3, 'UTC'), String)),
    merchant_name  AggregateFunction(argMax, Nullable(String), Tuple(DateTime64(3, 'UTC'), String))
)
ENGINE = AggregatingMergeTree
ORDER BY (acquirer_id, merchant_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS merchant_names_mv TO merchant_names AS
SELECT acquirer_id, merchant_id, registered_mcc, merchant_name
FROM merchant_profile;

INSERT INTO merchant_names
SELECT acquirer_id, merchant_id, registered_mcc, merchant_name
FROM merchant_profile;
