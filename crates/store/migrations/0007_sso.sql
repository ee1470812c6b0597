-- Single sign-on: connections (SAML and OIDC), the redirect URIs an environment allows,
-- pending authorization requests (SAML request ids for InResponseTo, OIDC state),
-- the assertion replay cache, SSO profiles, single-use codes and access tokens (both
-- stored as SHA-256 digests), and the login-attempt log.
CREATE TABLE connections (
    environment_id   TEXT NOT NULL,
    id               TEXT NOT NULL,
    organization_id  TEXT,
    connection_type  TEXT NOT NULL,
    name             TEXT NOT NULL,
    state            TEXT NOT NULL,
    external_key     TEXT NOT NULL,
    saml             TEXT,
    oidc             TEXT,
    attribute_maps   TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX connections_external_key ON connections (external_key);
CREATE INDEX connections_organization ON connections (environment_id, organization_id);

CREATE TABLE redirect_uris (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    uri             TEXT NOT NULL,
    is_default      BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX redirect_uris_uri ON redirect_uris (environment_id, uri);

CREATE TABLE sso_requests (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    state           TEXT,
    data            TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);

CREATE TABLE saml_assertions_seen (
    environment_id  TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    assertion_id    TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, connection_id, assertion_id)
);
CREATE INDEX saml_assertions_seen_expiry ON saml_assertions_seen (expires_at);

CREATE TABLE sso_profiles (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    idp_id          TEXT NOT NULL,
    data            TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX sso_profiles_subject ON sso_profiles (environment_id, connection_id, idp_id);

CREATE TABLE sso_grants (
    digest          TEXT NOT NULL,
    environment_id  TEXT NOT NULL,
    kind            TEXT NOT NULL,
    profile_id      TEXT NOT NULL,
    data            TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (digest)
);
CREATE INDEX sso_grants_expiry ON sso_grants (expires_at);

CREATE TABLE sso_login_attempts (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    reason          TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE INDEX sso_login_attempts_connection ON sso_login_attempts (environment_id, connection_id, id);
