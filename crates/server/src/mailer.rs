//! Mail delivery: SMTP through lettre, or (in `--dev`) a mailbox kept in memory and
//! logged; and the worker that drains the outbox with retries.

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use vestibule_core::mail::{Mailer, OutboxMail, MAX_ATTEMPTS};
use vestibule_core::{Timestamp, Vestibule};

/// Sends through an SMTP server (`smtp://host:port`, `smtps://…`).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// Connects lazily to `url`, sending as `from`.
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.timeout(Some(Duration::from_secs(10))).build();
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

/// Delay before attempt `n + 1`: 5 s, 10 s, 20 s … capped at 30 minutes.
fn backoff_ms(attempts: i64) -> i64 {
    (5_000i64 << attempts.clamp(0, 20)).min(30 * 60 * 1000)
}

/// Drains the outbox until `stop`: woken when mail is queued, and every second for
/// retries and for mail queued by other instances.
pub async fn run_worker(app: Vestibule, mailer: Arc<dyn Mailer>, mut stop: watch::Receiver<bool>) {
    loop {
        match app.store.claim_mail(Timestamp::now(), 60_000, 20).await {
            Ok(batch) if !batch.is_empty() => {
                for mail in batch {
                    let outcome = mailer.send(&mail).await;
                    let now = Timestamp::now();
                    let recorded = match outcome {
                        Ok(()) => app.store.mark_mail_sent(&mail.id, now).await,
                        Err(e) => {
                            let retry = (mail.attempts < MAX_ATTEMPTS).then(|| now.plus_millis(backoff_ms(mail.attempts)));
                            tracing::warn!(mail.id = %mail.id, attempts = mail.attempts, error = %e, "mail delivery failed");
                            app.store.mark_mail_failed(&mail.id, &e, retry).await
                        }
                    };
                    if let Err(e) = recorded {
                        tracing::error!(error = %e, "could not record mail delivery");
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "claiming mail failed"),
        }
        tokio::select! {
            _ = app.mail_queued.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(super::backoff_ms(1), 10_000);
        assert_eq!(super::backoff_ms(2), 20_000);
        assert_eq!(super::backoff_ms(30), 30 * 60 * 1000);
    }
}
