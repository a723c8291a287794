-- One row per Idempotency-Key a caller sent: a fingerprint of the request
-- it came with and, once answered, the answer to give again. The primary
-- key lets exactly one of many concurrent requests with a key run; the
-- others wait for its answer. Keys expire after 24 hours.
CREATE TABLE idempotency_keys (
    key             text PRIMARY KEY,
    fingerprint     text NOT NULL,
    -- NULL while the first request runs.
    response_status integer,
    response_body   text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
