-- AuthKit: sessions and their refresh tokens, one-time codes and tokens (magic auth,
-- email verification, password reset, email change, pending authentication), MFA
-- factors and challenges, sign-in failure counters, the JWT template and CORS origins.

-- A session lives until it is revoked or expires; status is 'active' or 'revoked'
-- (an active session past expires_at is served as 'expired').
CREATE TABLE user_sessions (
    environment_id   TEXT NOT NULL,
    id               TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    organization_id  TEXT,
    auth_method      TEXT NOT NULL,
    ip_address       TEXT,
    user_agent       TEXT,
    status           TEXT NOT NULL,
    expires_at       BIGINT NOT NULL,
    ended_at         BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id),
    FOREIGN KEY (environment_id, user_id) REFERENCES users (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX user_sessions_user ON user_sessions (environment_id, user_id, id);
CREATE INDEX user_sessions_expiry ON user_sessions (expires_at);

-- Refresh tokens by SHA-256 digest, single use: redeeming one sets used_at, in the same
-- statement that checks it was unset, and inserts its successor.
CREATE TABLE refresh_tokens (
    digest           TEXT PRIMARY KEY,
    environment_id   TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    organization_id  TEXT,
    used_at          BIGINT,
    created_at       BIGINT NOT NULL,
    FOREIGN KEY (environment_id, session_id) REFERENCES user_sessions (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (environment_id, session_id);

-- One-time codes and tokens. digest is the SHA-256 of the code or token, looked up and
-- compared; secret is the code sealed under the master key, because WorkOS serves it back
-- (GET /user_management/magic_auth/{id}). consumed_at is set once, attempts counts wrong
-- guesses against the code.
CREATE TABLE auth_codes (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    kind            TEXT NOT NULL,
    user_id         TEXT,
    email           TEXT NOT NULL,
    digest          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    data            TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    consumed_at     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE INDEX auth_codes_digest ON auth_codes (digest);
CREATE INDEX auth_codes_email ON auth_codes (environment_id, kind, email, id);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

-- TOTP factors; secret is sealed. last_step is the last RFC 6238 time step accepted, so
-- a code is never accepted twice.
CREATE TABLE auth_factors (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    user_id         TEXT,
    factor_type     TEXT NOT NULL,
    issuer          TEXT NOT NULL,
    account         TEXT NOT NULL,
    secret          TEXT NOT NULL,
    last_step       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE INDEX auth_factors_user ON auth_factors (environment_id, user_id, id);

CREATE TABLE auth_challenges (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    factor_id       TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    consumed_at     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id),
    FOREIGN KEY (environment_id, factor_id) REFERENCES auth_factors (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX auth_challenges_expiry ON auth_challenges (expires_at);

-- Failed sign-ins per key ('email:<address>' or 'ip:<address>') in fixed windows, shared
-- by every instance on the same database.
CREATE TABLE sign_in_failures (
    environment_id  TEXT NOT NULL,
    key             TEXT NOT NULL,
    window_start    BIGINT NOT NULL,
    failures        BIGINT NOT NULL,
    PRIMARY KEY (environment_id, key, window_start)
);
CREATE INDEX sign_in_failures_window ON sign_in_failures (window_start);

CREATE TABLE jwt_templates (
    environment_id  TEXT PRIMARY KEY,
    content         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE cors_origins (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    origin          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX cors_origins_origin ON cors_origins (environment_id, origin);
