//! The worker that drains the mail outbox with retries.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use vestibule_core::user_management::mail::{MAX_ATTEMPTS, Mailer};
use vestibule_core::{Timestamp, Vestibule};

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
                            let retry =
                                (mail.attempts < MAX_ATTEMPTS).then(|| now.plus_millis(backoff_ms(mail.attempts)));
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
