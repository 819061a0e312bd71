-- 0005: the acquirers a deployment serves, beyond those configured (acquirers.known): registered
-- through the admin API (POST /v1/acquirers) and read by every process of the deployment
-- (acquirers/registry.ts). An event of an acquirer that is neither configured nor registered is
-- dead-lettered, so traffic can never invent an acquirer or its alert topic.
-- alert_topic: the topic created for the acquirer at registration (alerts.topicPattern at the time).
-- A registration is never edited; when two processes register one id at once, the first row counts
-- (readers take the earliest registered_at per id).
CREATE TABLE IF NOT EXISTS acquirers
(
    acquirer_id    String,
    alert_topic    String,
    registered_at  DateTime64(3, 'UTC'),
    registered_by  String
)
ENGINE = MergeTree
ORDER BY acquirer_id;
