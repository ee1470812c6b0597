//! `vestibule admin`: environments and API keys, straight on the server's database.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use vestibule_core::environments::{Environment, EnvironmentKind};

/// Arguments of `vestibule admin`.
#[derive(Args)]
pub struct AdminArgs {
    /// The server's database URL.
    #[arg(long, env = "VESTIBULE_DATABASE", default_value = "sqlite://./vestibule.db", global = true)]
    database: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Environments.
    #[command(subcommand)]
    Environments(EnvironmentCommand),
    /// API keys.
    #[command(subcommand, name = "api-keys")]
    ApiKeys(KeyCommand),
    /// Write a consistent copy of a SQLite database to FILE, safe while the server runs.
    /// Keep the master key file (the database file + ".key" by default) apart from it: the
    /// copy's secrets open only with that key. PostgreSQL: use pg_dump.
    ///
    /// Example: vestibule admin --database sqlite://./vestibule.db backup /backups/vestibule-2026-12-07.db
    Backup {
        /// Where to write the copy; must not exist yet.
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum EnvironmentCommand {
    /// Create an environment and its first API key.
    ///
    /// Example: vestibule admin environments create --name Staging
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// A production environment (keys start with sk_live_).
        #[arg(long)]
        live: bool,
    },
    /// List environments.
    ///
    /// Example: vestibule admin environments list
    List,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Issue a new API key; it is printed once.
    ///
    /// Example: vestibule admin api-keys create --environment environment_01H…
    Create {
        /// Environment id.
        #[arg(long)]
        environment: String,
        /// Display name.
        #[arg(long, default_value = "API key")]
        name: String,
    },
    /// List API keys (obfuscated).
    ///
    /// Example: vestibule admin api-keys list
    List {
        /// Only this environment's keys.
        #[arg(long)]
        environment: Option<String>,
    },
    /// Revoke an API key by id.
    ///
    /// Example: vestibule admin api-keys revoke api_key_01H…
    Revoke {
        /// The key's id (api_key_…).
        id: String,
    },
}

fn env_json(e: &Environment) -> serde_json::Value {
    json!({"id": e.id, "name": e.name, "kind": e.kind.as_str(), "client_id": e.client_id, "created_at": e.created_at})
}

/// Runs an admin command and prints its result as JSON.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    // Admin commands work on an existing database; a mistyped path is an error, not a new file.
    if let Some((path, _)) = vestibule_store::sqlite_parts(&args.database)
        && !path.is_empty()
        && path != ":memory:"
        && !std::path::Path::new(path).exists()
    {
        anyhow::bail!("no database at {path} (admin commands never create one; start the server once to create it)");
    }
    let store = vestibule_store::open(&args.database)
        .await
        .with_context(|| format!("cannot open database {}", vestibule_server::config::redact_url(&args.database)))?;
    let app = vestibule_core::Vestibule::new(store, std::sync::Arc::new(NoDns));
    let out =
        match args.command {
            AdminCommand::Environments(EnvironmentCommand::Create { name, live }) => {
                let kind = if live { EnvironmentKind::Live } else { EnvironmentKind::Test };
                let env = app.create_environment(&name, kind, None).await?;
                let key = app.create_api_key(&env, "Initial key", None).await?;
                json!({"environment": env_json(&env), "api_key": key.secret})
            }
            AdminCommand::Backup { file } => {
                if file.exists() {
                    anyhow::bail!("{} already exists; a backup never overwrites a file", file.display());
                }
                let path = file.to_str().ok_or_else(|| anyhow::anyhow!("the backup path is not UTF-8"))?;
                app.store.backup_to(path).await?;
                json!({"backup": path})
            }
            AdminCommand::Environments(EnvironmentCommand::List) => {
                let envs = app.store.list_environments().await?;
                json!(envs.iter().map(env_json).collect::<Vec<_>>())
            }
            AdminCommand::ApiKeys(KeyCommand::Create { environment, name }) => {
                let Some(env) = app.store.get_environment(&environment).await? else {
                    bail!("no environment {environment}");
                };
                let key = app.create_api_key(&env, &name, None).await?;
                json!({"id": key.record.id, "environment_id": env.id, "name": key.record.name, "api_key": key.secret})
            }
            AdminCommand::ApiKeys(KeyCommand::List { environment }) => {
                let keys = app.store.list_api_keys(environment.as_deref()).await?;
                json!(keys
                .iter()
                .map(|k| json!({"id": k.id, "environment_id": k.environment_id, "name": k.name, "key": k.obfuscated,
                    "created_at": k.created_at, "revoked_at": k.revoked_at}))
                .collect::<Vec<_>>())
            }
            AdminCommand::ApiKeys(KeyCommand::Revoke { id }) => {
                if !app.store.revoke_api_key(&id, vestibule_core::Timestamp::now()).await? {
                    bail!("no active API key {id}");
                }
                json!({"id": id, "revoked": true})
            }
        };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Admin commands never verify domains.
struct NoDns;

#[async_trait::async_trait]
impl vestibule_core::organizations::dns::TxtResolver for NoDns {
    async fn txt(&self, _: &str) -> Result<Vec<String>, String> {
        Err("DNS is not available in admin commands".into())
    }
}
