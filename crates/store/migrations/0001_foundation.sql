-- Environments, API keys, organizations and their domains, events, idempotency keys
-- and shared rate-limit counters. Timestamps are integer milliseconds since the epoch.
CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    client_id   TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id),
    name            TEXT NOT NULL,
    key_digest      TEXT NOT NULL,
    obfuscated      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE UNIQUE INDEX api_keys_key_digest ON api_keys (key_digest);

CREATE TABLE organizations (
    environment_id                       TEXT NOT NULL,
    id                                   TEXT NOT NULL,
    name                                 TEXT NOT NULL,
    allow_profiles_outside_organization  BOOLEAN NOT NULL,
    metadata                             TEXT NOT NULL,
    external_id                          TEXT,
    stripe_customer_id                   TEXT,
    created_at                           BIGINT NOT NULL,
    updated_at                           BIGINT NOT NULL,
    version                              BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX organizations_external_id ON organizations (environment_id, external_id);
CREATE INDEX organizations_name ON organizations (environment_id, lower(name));

CREATE TABLE organization_domains (
    environment_id         TEXT NOT NULL,
    id                     TEXT NOT NULL,
    organization_id        TEXT NOT NULL,
    domain                 TEXT NOT NULL,
    state                  TEXT NOT NULL,
    verification_strategy  TEXT NOT NULL,
    verification_token     TEXT,
    verification_prefix    TEXT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id),
    FOREIGN KEY (environment_id, organization_id) REFERENCES organizations (environment_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX organization_domains_domain ON organization_domains (environment_id, domain);
CREATE INDEX organization_domains_organization ON organization_domains (environment_id, organization_id);

CREATE TABLE events (
    environment_id   TEXT NOT NULL,
    id               TEXT NOT NULL,
    event            TEXT NOT NULL,
    data             TEXT NOT NULL,
    context          TEXT NOT NULL,
    organization_id  TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE INDEX events_organization ON events (environment_id, organization_id, id);
CREATE INDEX events_created_at ON events (environment_id, created_at);

CREATE TABLE idempotency_keys (
    environment_id  TEXT NOT NULL,
    key             TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    status          INTEGER,
    body            BYTEA,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE TABLE rate_limits (
    bucket        TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
