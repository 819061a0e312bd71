-- 0008: a stored breakdown refers to its hits for their evidence.
--
-- Each element of merchant_scores.breakdown was written with its hit's observed value, threshold,
-- sample transaction ids and detail (0003). Those are the hit's own and rule_hits stores them once per
-- hit; copied into the breakdown they were written again at every score change of the merchant, about
-- 540 bytes an element and most of a score event, growing with the merchant's live hits. Elements
-- written from now on carry the hit's part in the score (hit_id, rule, family, points before and after
-- decay, window, basis) and the dashboard API joins the evidence from rule_hits by hit_id; elements
-- written before keep theirs. Only the column's comment changes here.
ALTER TABLE merchant_scores COMMENT COLUMN breakdown 'JSON array, strongest first: each contributing hit''s hit_id, rule, family, points before and after decay, window and basis; its evidence (observed, threshold, samples, detail) is in rule_hits under the same hit_id';
