-- Directory Sync: directories, the users and groups their identity providers provision
-- through SCIM, group memberships, and the emails of users (indexed for SCIM filters).
-- The *_key columns hold case-folded values of attributes SCIM compares case-insensitively.
CREATE TABLE directories (
    environment_id   TEXT NOT NULL,
    id               TEXT NOT NULL,
    organization_id  TEXT NOT NULL,
    external_key     TEXT NOT NULL,
    type             TEXT NOT NULL,
    state            TEXT NOT NULL,
    name             TEXT NOT NULL,
    domain           TEXT,
    token_digest     TEXT NOT NULL,
    -- JSON: custom attribute name -> SCIM attribute path.
    custom_attribute_mapping  TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id),
    FOREIGN KEY (environment_id, organization_id) REFERENCES organizations (environment_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX directories_external_key ON directories (external_key);
CREATE INDEX directories_organization ON directories (environment_id, organization_id, id);

CREATE TABLE directory_users (
    environment_id    TEXT NOT NULL,
    id                TEXT NOT NULL,
    directory_id      TEXT NOT NULL,
    organization_id   TEXT NOT NULL,
    resource          TEXT NOT NULL,
    custom_attributes TEXT NOT NULL,
    user_name         TEXT NOT NULL,
    user_name_key     TEXT NOT NULL,
    external_id       TEXT,
    display_name_key  TEXT,
    given_name_key    TEXT,
    family_name_key   TEXT,
    active            BOOLEAN NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    version           BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id),
    FOREIGN KEY (environment_id, directory_id) REFERENCES directories (environment_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX directory_users_user_name ON directory_users (environment_id, directory_id, user_name_key);
CREATE INDEX directory_users_directory ON directory_users (environment_id, directory_id, id);
CREATE INDEX directory_users_external_id ON directory_users (environment_id, directory_id, external_id);

CREATE TABLE directory_user_emails (
    environment_id  TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    position        BIGINT NOT NULL,
    directory_id    TEXT NOT NULL,
    value_key       TEXT NOT NULL,
    type            TEXT,
    is_primary      BOOLEAN NOT NULL,
    PRIMARY KEY (environment_id, user_id, position),
    FOREIGN KEY (environment_id, user_id) REFERENCES directory_users (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX directory_user_emails_value ON directory_user_emails (environment_id, directory_id, value_key);

CREATE TABLE directory_groups (
    environment_id    TEXT NOT NULL,
    id                TEXT NOT NULL,
    directory_id      TEXT NOT NULL,
    organization_id   TEXT NOT NULL,
    resource          TEXT NOT NULL,
    display_name_key  TEXT NOT NULL,
    external_id       TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    version           BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id),
    FOREIGN KEY (environment_id, directory_id) REFERENCES directories (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX directory_groups_directory ON directory_groups (environment_id, directory_id, id);
CREATE INDEX directory_groups_display_name ON directory_groups (environment_id, directory_id, display_name_key);

CREATE TABLE directory_group_members (
    environment_id  TEXT NOT NULL,
    group_id        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    directory_id    TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, group_id, user_id),
    FOREIGN KEY (environment_id, group_id) REFERENCES directory_groups (environment_id, id) ON DELETE CASCADE,
    FOREIGN KEY (environment_id, user_id) REFERENCES directory_users (environment_id, id) ON DELETE CASCADE
);
CREATE INDEX directory_group_members_user ON directory_group_members (environment_id, user_id, group_id);
