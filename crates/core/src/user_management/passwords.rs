//! Passwords: argon2id (OWASP minimum: m = 19 MiB, t = 2, p = 1) for passwords set
//! through the API, and imported hashes from other systems kept as given.

use crate::kernel::error::CoreError;
use argon2::Argon2;
use argon2::password_hash::PasswordHasher;

/// Shortest accepted password, in characters.
pub const MIN_LENGTH: usize = 8;
/// Longest accepted password, in characters: argon2 takes any length, but hashing
/// megabytes per request is a denial of service.
pub const MAX_LENGTH: usize = 128;

/// Hash formats accepted on import, as the API names them.
pub const IMPORT_TYPES: &[&str] = &["bcrypt", "scrypt", "firebase-scrypt", "ssha", "pbkdf2", "argon2"];

/// A stored password: a PHC string (or the imported format) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassword {
    /// The hash.
    pub hash: String,
    /// `argon2id` for our own hashes, else the import type.
    pub kind: String,
}

fn strength_error(code: &str, message: &str) -> CoreError {
    CoreError::Refused {
        code: "password_strength_error",
        message: message.to_owned(),
        errors: vec![crate::FieldError::explained("password", code, message)],
    }
}

/// Checks length limits before any hashing work is spent.
pub fn check_strength(password: &str) -> Result<(), CoreError> {
    let n = password.chars().count();
    if n < MIN_LENGTH {
        return Err(strength_error(
            "password_too_short",
            &format!("Password must be at least {MIN_LENGTH} characters."),
        ));
    }
    if n > MAX_LENGTH {
        return Err(strength_error("password_too_long", &format!("Password must be at most {MAX_LENGTH} characters.")));
    }
    Ok(())
}

/// Hashes a password with argon2id on the blocking pool.
pub async fn hash(password: String) -> Result<StoredPassword, CoreError> {
    check_strength(&password)?;
    let hash = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let _record = Recorder(started);
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
        let hashed: argon2::password_hash::phc::PasswordHash =
            Argon2::default().hash_password_with_salt(password.as_bytes(), &salt).map_err(|e| e.to_string())?;
        Ok::<_, String>(hashed.to_string())
    })
    .await
    .map_err(|e| CoreError::Unavailable(e.to_string()))?
    .map_err(CoreError::Unavailable)?;
    Ok(StoredPassword { hash, kind: "argon2id".into() })
}

/// A fixed argon2id hash that no password matches, verified when an email names no user
/// so that an unknown address costs as much time as a wrong password.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$dmVzdGlidWxlLWRlY295$2y9yqJh5Kx2PqYq8C2Zq3y0Qm0tqC8m1y9oQJmC7bJ8";

/// Whether `password` matches `stored`, on the blocking pool. Argon2 hashes (ours and
/// imported ones) are verified; other imported formats cannot be, and never match.
/// `None` for `stored` spends the same time on a decoy hash and returns false.
pub async fn verify(stored: Option<StoredPassword>, password: String) -> Result<bool, CoreError> {
    if password.chars().count() > MAX_LENGTH {
        return Ok(false);
    }
    tokio::task::spawn_blocking(move || {
        let _record = Recorder(std::time::Instant::now());
        let (hash, real) = match &stored {
            Some(p) if p.hash.starts_with("$argon2") => (p.hash.as_str(), true),
            Some(p) => {
                tracing::warn!(kind = %p.kind, "a password of an imported format that cannot be verified here");
                (DECOY, false)
            }
            None => (DECOY, false),
        };
        let ok = argon2::password_hash::PasswordVerifier::<str>::verify_password(
            &Argon2::default(),
            password.as_bytes(),
            hash,
        )
        .is_ok();
        ok && real
    })
    .await
    .map_err(|e| CoreError::Unavailable(e.to_string()))
}

/// Records the time spent hashing, so operators (and benchmarks) can see its share.
struct Recorder(std::time::Instant);

impl Drop for Recorder {
    fn drop(&mut self) {
        metrics::histogram!("vestibule_password_hash_seconds").record(self.0.elapsed().as_secs_f64());
    }
}

/// Accepts an imported hash after a shape check of its declared type.
pub fn import(hash: &str, kind: &str) -> Result<StoredPassword, CoreError> {
    let invalid = || CoreError::refused("invalid_password_hash", "The password hash is not valid for its type.".into());
    if !IMPORT_TYPES.contains(&kind) {
        return Err(CoreError::field("password_hash_type", "invalid"));
    }
    if hash.is_empty() || hash.len() > 1024 || hash.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let ok = match kind {
        "bcrypt" => ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) && hash.len() == 60,
        "argon2" => hash.starts_with("$argon2"),
        "pbkdf2" => hash.starts_with("$pbkdf2"),
        _ => true,
    };
    if !ok {
        return Err(invalid());
    }
    Ok(StoredPassword { hash: hash.to_owned(), kind: kind.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;
    use argon2::password_hash::phc::PasswordHash;

    #[tokio::test]
    async fn hashes_with_argon2id_at_owasp_parameters() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", stored.hash);
        let parsed = PasswordHash::new(&stored.hash).unwrap();
        let parsed: PasswordHash = parsed;
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
    }

    #[tokio::test]
    async fn length_limits() {
        assert!(matches!(hash("short".into()).await, Err(CoreError::Refused { code: "password_strength_error", .. })));
        assert!(matches!(hash("x".repeat(129)).await, Err(CoreError::Refused { code: "password_strength_error", .. })));
    }

    #[test]
    fn imports_are_shape_checked() {
        assert!(import("$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "bcrypt").is_ok());
        assert!(import("plaintext", "bcrypt").is_err());
        assert!(import("abc", "md5").is_err());
    }
}
