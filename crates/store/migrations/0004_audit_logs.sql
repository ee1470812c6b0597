-- Audit logs: actions and their immutable, versioned schemas; events; exports (a job
-- queue whose CSV is kept in chunks, so any instance can serve it); retention per
-- organization; and server-wide secrets that every instance must share.
CREATE TABLE audit_log_actions (
    environment_id  TEXT NOT NULL,
    name            TEXT NOT NULL,
    id              TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, name)
);
CREATE UNIQUE INDEX audit_log_actions_id ON audit_log_actions (environment_id, id);

-- A schema version is never updated: editing a schema inserts the next version.
CREATE TABLE audit_log_schemas (
    environment_id  TEXT NOT NULL,
    action          TEXT NOT NULL,
    version         BIGINT NOT NULL,
    id              TEXT NOT NULL,
    actor           TEXT,
    targets         TEXT NOT NULL,
    metadata        TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, action, version),
    FOREIGN KEY (environment_id, action) REFERENCES audit_log_actions (environment_id, name) ON DELETE CASCADE
);
CREATE UNIQUE INDEX audit_log_schemas_id ON audit_log_schemas (environment_id, action, id);

CREATE TABLE audit_log_events (
    environment_id   TEXT NOT NULL,
    id               TEXT NOT NULL,
    organization_id  TEXT NOT NULL,
    action           TEXT NOT NULL,
    occurred_at      BIGINT NOT NULL,
    version          BIGINT,
    actor_id         TEXT NOT NULL,
    actor_type       TEXT NOT NULL,
    actor_name       TEXT,
    actor_metadata   TEXT NOT NULL,
    targets          TEXT NOT NULL,
    location         TEXT NOT NULL,
    user_agent       TEXT,
    metadata         TEXT NOT NULL,
    idempotency_key  TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE INDEX audit_log_events_range ON audit_log_events (environment_id, organization_id, occurred_at, id);
CREATE INDEX audit_log_events_occurred_at ON audit_log_events (occurred_at);

-- state: pending, ready or error. A pending export is leased by one worker at a time.
CREATE TABLE audit_log_exports (
    environment_id   TEXT NOT NULL,
    id               TEXT NOT NULL,
    organization_id  TEXT NOT NULL,
    range_start      BIGINT NOT NULL,
    range_end        BIGINT NOT NULL,
    filters          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    lease_until      BIGINT NOT NULL,
    row_count        BIGINT,
    chunk_count      BIGINT,
    error            TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (id)
);
CREATE INDEX audit_log_exports_due ON audit_log_exports (lease_until) WHERE state = 'pending';
CREATE INDEX audit_log_exports_created_at ON audit_log_exports (created_at);

CREATE TABLE audit_log_export_chunks (
    export_id  TEXT NOT NULL REFERENCES audit_log_exports (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    data       BYTEA NOT NULL,
    PRIMARY KEY (export_id, seq)
);

CREATE TABLE audit_log_retention (
    environment_id            TEXT NOT NULL,
    organization_id           TEXT NOT NULL,
    retention_period_in_days  BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL,
    PRIMARY KEY (environment_id, organization_id),
    FOREIGN KEY (environment_id, organization_id) REFERENCES organizations (environment_id, id) ON DELETE CASCADE
);

CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
