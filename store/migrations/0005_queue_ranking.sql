-- 0005: what the analysts' queue reads, so that a page costs the same with 1,000 merchants or 1,000,000.
--
-- `merchant_scores FINAL` over an acquirer's whole portfolio was the price of every queue page: FINAL
-- merges every version of every row of the acquirer (a portfolio of 250,000 merchants is 500,000 rows)
-- to keep the newest, before the filter on level could drop the 94% that are LOW; and the scorer's
-- small inserts keep a fresh part beside the big one at all times, so the merge never gets cheaper.
--
-- merchant_queue is merchant_scores without the breakdown (the queue never shows it), kept by a
-- materialized view: the same rows, the same key and the same version column, so `merchant_queue FINAL`
-- answers exactly what `merchant_scores FINAL` does. Two things make it cheap to read:
-- * the projection `by_level` holds the rows ordered by acquirer, level and score, so "the highest
--   scores at these levels" reads only the flagged rows of the acquirer, not its portfolio. It is read
--   without FINAL, so it also holds versions that a newer row of another part replaces; the API keeps a
--   row only when `merchant_queue FINAL` still has it (dashboard-api/repositories/queue.ts). Merges
--   rebuild the projection from the merged rows (deduplicate_merge_projection_mode = 'rebuild'), so
--   such stale versions only live until their part is merged.
-- * small granules (256 rows): checking that a page's rows are the newest versions reads one granule
--   per merchant and part, a few thousand rows instead of 8,192 per merchant.
--
-- The view is created before the copy of the rows already stored, so a score written while this runs
-- reaches the table either way; a second copy of a row (the migration run again) is the same version
-- of the same key, which the engine collapses. No insert deduplication here: a score written again
-- (the scorer replaying a batch after a crash between merchant_scores and this table) always lands,
-- and collapses with its first copy if that one landed too.
CREATE TABLE IF NOT EXISTS merchant_queue
(
    acquirer_id   LowCardinality(String),
    merchant_id   String,
    category      LowCardinality(String),
    score         UInt8,
    level         LowCardinality(String),
    hit_count     UInt16,
    families      Array(LowCardinality(String)),
    scored_at     DateTime64(3, 'UTC'),
    PROJECTION by_level
    (
        SELECT acquirer_id, merchant_id, category, score, level, scored_at
        ORDER BY (acquirer_id, level, score, merchant_id, category)
    )
)
ENGINE = ReplacingMergeTree(scored_at)
ORDER BY (acquirer_id, merchant_id, category)
SETTINGS index_granularity = 256, deduplicate_merge_projection_mode = 'rebuild';

CREATE MATERIALIZED VIEW IF NOT EXISTS merchant_queue_mv TO merchant_queue AS
SELECT acquirer_id, merchant_id, category, score, level, hit_count, families, scored_at
FROM merchant_scores;

INSERT INTO merchant_queue
SELECT acquirer_id, merchant_id, category, score, level, hit_count, families, scored_at
FROM merchant_scores FINAL;


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
