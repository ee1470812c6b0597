//! The columns that hold secrets the server must read back, sealed on the way in and opened
//! on the way out (see `vestibule_core::kernel::sealing`). Each value's context names its column and
//! row, so a sealed value copied elsewhere does not open.

use vestibule_core::StoreError;
use vestibule_core::kernel::sealing::Sealer;
use vestibule_core::sso::Connection;

/// Context of a webhook endpoint's signing secret.
pub(crate) fn webhook_secret(id: &str) -> String {
    format!("webhook_endpoints.secret/{id}")
}

/// Context of an environment's token signing key.
pub(crate) fn signing_key(env: &str, id: &str) -> String {
    format!("signing_keys.private_key/{env}/{id}")
}

fn sp_encryption_key(connection_id: &str) -> String {
    format!("connections.saml.sp_encryption_key/{connection_id}")
}

fn client_secret(connection_id: &str) -> String {
    format!("connections.oidc.client_secret/{connection_id}")
}

/// Opens `stored`, or says which column would not open.
pub(crate) fn open(sealer: &Sealer, context: &str, stored: &str) -> Result<String, StoreError> {
    sealer
        .open(context, stored)
        .map_err(|e| StoreError::Backend(format!("{}: {e}", context.split('/').next().unwrap_or(context)).into()))
}

/// The `saml` and `oidc` JSON columns of `c`, with their secrets sealed.
pub(crate) fn connection_columns(sealer: &Sealer, c: &Connection) -> (Option<String>, Option<String>) {
    let saml = c.saml.as_ref().map(|s| {
        let mut s = s.clone();
        s.sp_encryption_key = s.sp_encryption_key.map(|k| sealer.seal(&sp_encryption_key(&c.id), &k));
        serde_json::to_string(&s).unwrap_or_default()
    });
    let oidc = c.oidc.as_ref().map(|o| {
        let mut o = o.clone();
        o.client_secret = o.client_secret.map(|k| sealer.seal(&client_secret(&c.id), &k));
        serde_json::to_string(&o).unwrap_or_default()
    });
    (saml, oidc)
}

/// `c` as read from its row, with its secrets opened.
pub(crate) fn opened_connection(sealer: &Sealer, mut c: Connection) -> Result<Connection, StoreError> {
    if let Some(s) = c.saml.as_mut()
        && let Some(k) = s.sp_encryption_key.as_mut()
    {
        *k = open(sealer, &sp_encryption_key(&c.id), k)?;
    }
    if let Some(o) = c.oidc.as_mut()
        && let Some(k) = o.client_secret.as_mut()
    {
        *k = open(sealer, &client_secret(&c.id), k)?;
    }
    Ok(c)
}
