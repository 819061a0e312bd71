-- 0007: the score history keeps what its chart reads (score and level over time), not the breakdown.
--
-- Every change of a merchant's score or breakdown wrote a history row carrying the whole breakdown
-- (up to 24 hits with their samples and detail, JSON), beside the same row in merchant_scores. No page
-- read it, and it was the largest thing the service stored: 204 bytes per transaction of population
-- A's month uncompressed, more than the transactions table (178). A storage saving: the engine's CPU
-- did not move measurably, its cost being per insert more than per byte (BENCHMARKS.md, eleventh
-- session). The latest breakdown stays in merchant_scores; what each alert was raised on stays in
-- alerts.reasons.
ALTER TABLE score_history DROP COLUMN IF EXISTS breakdown;
