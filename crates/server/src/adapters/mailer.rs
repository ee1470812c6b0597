//! Mail delivery: SMTP through lettre, or (in `--dev`) a mailbox kept in memory and
//! logged.

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Mutex;
use std::time::Duration;
use vestibule_core::user_management::mail::{Mailer, OutboxMail};

/// Sends through an SMTP server (`smtp://host:port`, `smtps://…`).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// Connects lazily to `url`, sending as `from`.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.timeout(Some(Duration::from_secs(10))).build();
        Ok(Self { transport, from: from.parse()? })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutboxMail) -> Result<(), String> {
        let to: Mailbox = mail.to.parse().map_err(|e| format!("invalid recipient: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .body(mail.body.clone())
            .map_err(|e| e.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Keeps messages in memory for inspection (`GET /_dev/emails`) instead of sending.
#[derive(Default)]
pub struct DevMailbox {
    messages: Mutex<Vec<OutboxMail>>,
}

impl DevMailbox {
    /// Every message kept so far.
    pub fn messages(&self) -> Vec<OutboxMail> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl Mailer for DevMailbox {
    async fn send(&self, mail: &OutboxMail) -> Result<(), String> {
        tracing::info!(mail.to = %mail.to, mail.subject = %mail.subject, "dev mailbox: message kept, not sent");
        self.messages.lock().unwrap_or_else(|e| e.into_inner()).push(mail.clone());
        Ok(())
    }
}

/// Refuses every message: production without `--smtp-url`.
pub struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send(&self, _: &OutboxMail) -> Result<(), String> {
        Err("no SMTP server is configured (--smtp-url)".into())
    }
}
