-- Webhook endpoints and the delivery queue: one row per (endpoint, event), created in
-- the same transaction as the event, and one row per delivery attempt.
CREATE TABLE webhook_endpoints (
    environment_id   TEXT NOT NULL,
    id               TEXT NOT NULL,
    endpoint_url     TEXT NOT NULL,
    secret           TEXT NOT NULL,
    status           TEXT NOT NULL,
    events           TEXT NOT NULL,
    disabled_reason  TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX webhook_endpoints_url ON webhook_endpoints (environment_id, endpoint_url);

CREATE TABLE webhook_deliveries (
    environment_id   TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_name       TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (environment_id, endpoint_id, event_id),
    FOREIGN KEY (environment_id, endpoint_id) REFERENCES webhook_endpoints (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
    environment_id  TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    status_code     BIGINT,
    latency_ms      BIGINT NOT NULL,
    error           TEXT,
    attempted_at    BIGINT NOT NULL,
    PRIMARY KEY (environment_id, endpoint_id, event_id, attempt),
    FOREIGN KEY (environment_id, endpoint_id, event_id)
        REFERENCES webhook_deliveries (environment_id, endpoint_id, event_id) ON DELETE CASCADE
);
