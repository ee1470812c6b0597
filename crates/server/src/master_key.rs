//! The master key that seals stored secrets (`vestibule_core::kernel::sealing`).
//!
//! - `--master-key-file PATH`: 32 random bytes, base64, on one line. Created (mode 0600)
//!   when missing; every instance on one database must read the same file.
//! - Otherwise, on SQLite: `<database file>.key` beside the database, created at first
//!   start; an in-memory database gets a key that lives as long as the process.
//! - Otherwise, on PostgreSQL: no key, and the server says at start that secrets are
//!   stored unsealed. (A key made up by one instance would be unknown to the others.)

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use vestibule_core::kernel::sealing::{MASTER_KEY_LEN, Sealer};

/// Where the master key comes from, decided from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A key file, created when missing.
    File(PathBuf),
    /// A fresh key for this process only (in-memory databases).
    Ephemeral,
    /// No key: secrets are stored unsealed.
    None,
}

/// The key source for `database` given an explicit `--master-key-file`.
pub fn source(database: &str, file: Option<&Path>) -> KeySource {
    if let Some(f) = file {
        return KeySource::File(f.to_owned());
    }
    match vestibule_store::sqlite_parts(database) {
        Some(("" | ":memory:", _)) => KeySource::Ephemeral,
        Some((path, _)) => KeySource::File(PathBuf::from(format!("{path}.key"))),
        None => KeySource::None,
    }
}

/// The sealer for `source`, reading or creating its key file.
pub fn sealer(source: &KeySource) -> anyhow::Result<Sealer> {
    match source {
        KeySource::File(path) => Ok(Sealer::new(&load_or_create(path)?)),
        KeySource::Ephemeral => Ok(Sealer::new(&Sealer::generate_key())),
        KeySource::None => Ok(Sealer::passthrough()),
    }
}

/// Reads the key at `path`, or writes a new one there if there is no file yet. Creation is
/// atomic (written aside, then linked into place), so instances starting together on an
/// empty path all end up with the one key that won.
fn load_or_create(path: &Path) -> anyhow::Result<[u8; MASTER_KEY_LEN]> {
    match std::fs::read_to_string(path) {
        Ok(text) => return parse(&text).with_context(|| format!("master key file {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read master key file {}", path.display())),
    }
    let key = Sealer::generate_key();
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let aside =
        dir.join(format!(".{}.{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("key"), std::process::id()));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file =
            options.open(&aside).with_context(|| format!("cannot create master key file {}", aside.display()))?;
        writeln!(file, "{}", B64.encode(key))?;
        file.sync_all()?;
    }
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => {
            tracing::warn!(path = %path.display(), "created a new master key file: back it up with the database; without it, stored secrets cannot be read");
            Ok(key)
        }
        // Another instance created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read master key file {}", path.display()))?;
            parse(&text).with_context(|| format!("master key file {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot create master key file {}", path.display())),
    }
}

fn parse(text: &str) -> anyhow::Result<[u8; MASTER_KEY_LEN]> {
    let bytes = B64.decode(text.trim()).map_err(|_| anyhow::anyhow!("is not base64"))?;
    bytes.try_into().map_err(|_| {
        anyhow::anyhow!("must hold {MASTER_KEY_LEN} bytes (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_follows_the_database() {
        assert_eq!(source("sqlite://./data/v.db", None), KeySource::File("./data/v.db.key".into()));
        assert_eq!(source("sqlite:///var/v.db?synchronous=full", None), KeySource::File("/var/v.db.key".into()));
        assert_eq!(source("sqlite::memory:", None), KeySource::Ephemeral);
        assert_eq!(source("postgres://h/db", None), KeySource::None);
        assert_eq!(source("postgres://h/db", Some(Path::new("/etc/v.key"))), KeySource::File("/etc/v.key".into()));
    }

    #[test]
    fn a_missing_key_file_is_created_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.db.key");
        let first = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // Sealed with the created key, opened with the key read back.
        let sealed = Sealer::new(&first).seal("c", "s");
        assert_eq!(sealer(&KeySource::File(path)).unwrap().open("c", &sealed).unwrap(), "s");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left behind");
    }

    #[test]
    fn malformed_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [("short", B64.encode([1u8; 16])), ("garbage", "not a key".to_owned())] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let err = load_or_create(&path).unwrap_err();
            assert!(format!("{err:#}").contains(&path.display().to_string()), "{err:#}");
        }
    }
}
