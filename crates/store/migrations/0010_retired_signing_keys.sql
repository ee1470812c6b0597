-- Keys replaced by a rotation (POST /signing_keys/rotate). Only the certificate (the public
-- key) is kept: a retired key signs nothing, but stays in the JWKS for a day so that the
-- access tokens it signed keep verifying until they expire.
CREATE TABLE retired_signing_keys (
    environment_id  TEXT NOT NULL,
    id              TEXT NOT NULL,
    certificate     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, id)
);
