-- The OAuth device flow (RFC 8628): a device polls with its device code while the user
-- approves its user code in an application where they are signed in. Both codes are
-- stored as SHA-256 digests. status: pending, approved, denied or used.
CREATE TABLE device_authorizations (
    environment_id    TEXT NOT NULL,
    id                TEXT NOT NULL,
    device_digest     TEXT NOT NULL,
    user_code_digest  TEXT NOT NULL,
    status            TEXT NOT NULL,
    user_id           TEXT,
    interval_secs     BIGINT NOT NULL,
    last_poll_at      BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX device_authorizations_device ON device_authorizations (device_digest);
CREATE UNIQUE INDEX device_authorizations_user_code ON device_authorizations (environment_id, user_code_digest);
CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);
