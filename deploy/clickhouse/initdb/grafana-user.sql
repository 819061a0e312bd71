-- Run once by the ClickHouse image on an empty data directory (docker-entrypoint-initdb.d).
-- Grafana reads the service's tables and nothing else: no writes, no other databases. The password
-- is the compose stack's default; a real deployment creates the user with its own secret.
CREATE USER IF NOT EXISTS grafana IDENTIFIED WITH sha256_password BY 'grafana';
GRANT SELECT ON pos_risk.* TO grafana;
