-- Token signing keys: one RSA-2048 key pair per environment, generated on first use
-- and never replaced by a concurrent first use (the environment is the primary key).
-- The private key is PKCS#8 DER and the certificate a self-signed X.509 for it, both
-- base64; the public half is the JWKS served at
-- /sso/jwks/{client_id} and verifies the environment's access tokens.
CREATE TABLE signing_keys (
    environment_id  TEXT PRIMARY KEY REFERENCES environments (id),
    id              TEXT NOT NULL UNIQUE,
    private_key     TEXT NOT NULL,
    certificate     TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
