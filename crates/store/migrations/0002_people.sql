-- Users, organization memberships, roles and permissions, invitations, and the
-- outbound mail queue.
CREATE TABLE users (
    environment_id       TEXT NOT NULL,
    id                   TEXT NOT NULL,
    email                TEXT NOT NULL,
    first_name           TEXT,
    last_name            TEXT,
    profile_picture_url  TEXT,
    email_verified       BOOLEAN NOT NULL,
    external_id          TEXT,
    metadata             TEXT NOT NULL,
    last_sign_in_at      BIGINT,
    locale               TEXT,
    password_hash        TEXT,
    password_kind        TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    version              BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX users_email ON users (environment_id, email);
CREATE UNIQUE INDEX users_external_id ON users (environment_id, external_id);

CREATE TABLE organization_memberships (
    environment_id     TEXT NOT NULL,
    id                 TEXT NOT NULL,
    user_id            TEXT NOT NULL,
    organization_id    TEXT NOT NULL,
    status             TEXT NOT NULL,
    role_slugs         TEXT NOT NULL,
    directory_managed  BOOLEAN NOT NULL,
    custom_attributes  TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id),
    FOREIGN KEY (environment_id, user_id) REFERENCES users (environment_id, id) ON DELETE CASCADE,
    FOREIGN KEY (environment_id, organization_id) REFERENCES organizations (environment_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX organization_memberships_user_organization ON organization_memberships (environment_id, user_id, organization_id);
CREATE INDEX organization_memberships_organization ON organization_memberships (environment_id, organization_id, user_id);

-- organization_id is '' for environment roles, so that one unique index covers both scopes.
CREATE TABLE roles (
    environment_id      TEXT NOT NULL,
    id                  TEXT NOT NULL,
    organization_id     TEXT NOT NULL,
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT,
    resource_type_slug  TEXT NOT NULL,
    permissions         TEXT NOT NULL,
    priority            BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX roles_slug ON roles (environment_id, organization_id, slug);

CREATE TABLE permissions (
    environment_id      TEXT NOT NULL,
    id                  TEXT NOT NULL,
    slug                TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT,
    resource_type_slug  TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX permissions_slug ON permissions (environment_id, slug);

CREATE TABLE invitations (
    environment_id         TEXT NOT NULL,
    id                     TEXT NOT NULL,
    email                  TEXT NOT NULL,
    state                  TEXT NOT NULL,
    accepted_at            BIGINT,
    revoked_at             BIGINT,
    expires_at             BIGINT NOT NULL,
    organization_id        TEXT,
    inviter_user_id        TEXT,
    accepted_user_id       TEXT,
    role_slug              TEXT,
    token                  TEXT NOT NULL,
    accept_invitation_url  TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
CREATE UNIQUE INDEX invitations_token ON invitations (token);
CREATE INDEX invitations_email ON invitations (environment_id, email);

CREATE TABLE mail_outbox (
    id               TEXT PRIMARY KEY,
    environment_id   TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    sent_at          BIGINT,
    failed_at        BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
