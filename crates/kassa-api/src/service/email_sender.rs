//! Sending the outbox over SMTP: due emails are claimed (any number of workers may share one
//! PostgreSQL), sent one connection each, and recorded — sent; queued again on the schedule of
//! `kassa_domain::email::RETRY_SCHEDULE_SECS` after a connection failure or a 4xx; failed after a
//! 5xx, when the schedule is used up, or when the email expired unsent.

use kassa_domain::email;

use crate::smtp::{self, Message, SmtpConfig};
use crate::{ApiError, AppState};

/// An email claimed but neither sent nor recorded for this long (its worker died) is taken again.
const STALE_AFTER_MS: i64 = 5 * 60_000;
const BATCH: i64 = 20;

/// One pass over the emails due at `now` (tests pass a later time to see a retry); returns how
/// many were taken, sent or not.
pub async fn deliver_due(state: &AppState, cfg: &SmtpConfig, now: i64) -> Result<usize, ApiError> {
    let due = state
        .store
        .claim_due_emails(now, now - STALE_AFTER_MS, BATCH)
        .await?;
    let n = due.len();
    for e in due {
        if e.expires_at <= now {
            let why = format!(
                "expired: not sent within {} hours of being queued",
                email::EXPIRES_AFTER_SECS / 3600
            );
            state
                .store
                .record_email_attempt(e.id, false, None, Some(&why), false)
                .await?;
            continue;
        }
        let message_id = format!("kassa.{}.{}.{}", e.client_no, e.id, e.created_at);
        // A message that cannot be formed will not be formed later either.
        let mut permanent = false;
        let sent = match smtp::format_message(&Message {
            from_header: &cfg.from_header,
            to: &e.to_address,
            reply_to: e.reply_to.as_deref(),
            subject: &e.subject,
            body: &e.body,
            message_id: &message_id,
            date_ms: now,
        }) {
            Ok(text) => smtp::send(cfg, &e.to_address, &text).await,
            Err(err) => {
                permanent = true;
                Err(err)
            }
        };
        let attempts = usize::try_from(e.attempts + 1).unwrap_or(usize::MAX);
        match sent {
            Ok(()) => {
                state
                    .store
                    .record_email_attempt(e.id, true, None, None, true)
                    .await?
            }
            Err(err) => {
                let next = if permanent || err.is_permanent() {
                    None
                } else {
                    email::next_attempt(now, attempts)
                };
                tracing::warn!(outbox_id = e.id, kind = %e.kind, error = %err, retry = next.is_some(), "an email was not sent");
                state
                    .store
                    .record_email_attempt(e.id, false, next, Some(&err.to_string()), true)
                    .await?
            }
        }
    }
    Ok(n)
}

/// The sending loop of `kassa serve` and `kassa worker`. Without SMTP configured it says so once
/// and returns: emails stay queued, visible in the outbox.
pub async fn run_forever(state: AppState, every: std::time::Duration) {
    let Some(cfg) = state.config.smtp.clone() else {
        tracing::warn!("KASSA_SMTP_URL is not set: autoresponder emails are queued in the outbox (GET /v1/email_outbox) and not sent");
        return;
    };
    tracing::info!(smtp = %cfg.redacted_url(), from = %cfg.from_header, "sending autoresponder emails");
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = deliver_due(&state, &cfg, kassa_storage::now_millis()).await {
            tracing::warn!(error = %e, "email delivery pass failed");
        }
    }
}
