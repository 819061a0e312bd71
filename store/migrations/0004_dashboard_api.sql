-- 0004: what the dashboard API (dashboard-api/) keeps: API keys, the audit log, case notes and
-- whitelist entries; and a skipping index for the one lookup of the API that is not a key prefix.


-- API keys. Only the SHA-256 of a key is stored: the key itself is shown once, when it is created.
-- The key carries its key_id in clear (prm_<key_id>_<secret>), so a lookup is a primary-key read and
-- the hash is then compared. One row per version of a key (created, then revoked); the newest wins.
-- role: analyst, supervisor, admin. acquirer_scope: one acquirer id, or '*' (admin only).
CREATE TABLE IF NOT EXISTS api_keys
(
    key_id          String,
    key_hash        String,
    name            String,
    role            LowCardinality(String),
    acquirer_scope  String,
    created_at      DateTime64(3, 'UTC'),
    created_by      String,
    revoked_at      Nullable(DateTime64(3, 'UTC')),
    updated_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key_id;


-- Every analyst action (open, assign, status, decision, action, note, whitelist add and remove):
-- who (key id and name, role), when (the API's clock), what (action, entity), before and after (the
-- entity as JSON, empty when there is none). Append-only: a plain MergeTree that the API only ever
-- inserts into; on a server, grant the API's user INSERT and SELECT on it and nothing else.
CREATE TABLE IF NOT EXISTS audit_log
(
    acquirer_id   LowCardinality(String),
    at            DateTime64(3, 'UTC'),
    audit_id      String,
    actor_key_id  String,
    actor_name    String,
    actor_role    LowCardinality(String),
    action        LowCardinality(String),
    entity_type   LowCardinality(String),
    entity_id     String,
    merchant_id   String,
    before        String,
    after         String,
    request_id    String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (acquirer_id, at, audit_id);


-- Notes on a case, append-only like the audit log (a note is evidence; it is never edited).
CREATE TABLE IF NOT EXISTS case_notes
(
    acquirer_id   LowCardinality(String),
    case_id       String,
    created_at    DateTime64(3, 'UTC'),
    note_id       String,
    author_key_id String,
    author_name   String,
    body          String
)
ENGINE = MergeTree
ORDER BY (acquirer_id, case_id, created_at, note_id);


-- Whitelist entries granted through the API: per merchant and rule, with a reason and an expiry. One
-- row per version (granted, then removed); the highest version wins, so reads use FINAL. The rule
-- engine reads the live ones through dashboard-api/repositories/whitelist.ts loadWhitelist().
CREATE TABLE IF NOT EXISTS whitelist_entries
(
    acquirer_id   LowCardinality(String),
    entry_id      String,
    merchant_id   String,
    rule_id       LowCardinality(String),
    reason        String,
    expires_at    DateTime64(3, 'UTC'),
    granted_by    String,
    granted_at    DateTime64(3, 'UTC'),
    removed_at    Nullable(DateTime64(3, 'UTC')),
    removed_by    String,
    version       UInt32
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (acquirer_id, entry_id);


-- terminal_bindings is keyed by terminal (the terminal-sharing rule's question); the merchant page
-- asks the other way round, which without an index reads every binding of the acquirer.
ALTER TABLE terminal_bindings ADD INDEX IF NOT EXISTS idx_bindings_merchant merchant_id TYPE bloom_filter GRANULARITY 1;
-- Parts written before this migration get the index too (a mutation; running it again is harmless).
ALTER TABLE terminal_bindings MATERIALIZE INDEX idx_bindings_merchant;

-- Cases are keyed by case id; the merchant page and "is a case open on this merchant" ask by merchant.
ALTER TABLE cases ADD INDEX IF NOT EXISTS idx_cases_merchant merchant_id TYPE bloom_filter GRANULARITY 1;
