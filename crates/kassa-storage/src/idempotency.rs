//! Idempotency keys: the first request with a key does the work, repeats get its response.

use crate::sql;
use crate::{now_millis, StorageError, Store};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

/// A request's claim on its idempotency key, taken in the same transaction as the request's
/// first write instead of in one of its own before the request runs: a round trip and a commit
/// fewer for the request, and the claim is on the disk exactly when the work it guards is.
/// Only for a request that does nothing lasting before that write (no other write, no call to
/// Stripe): until then another request may take the key, and the write is then refused with
/// [`StorageError::IdempotencyKeyTaken`], leaving nothing written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub client_no: i64,
    pub key: String,
    pub request_hash: String,
    pub lease_ms: i64,
}

impl IdempotencyClaim {
    /// The claim as a statement of the write's transaction: an insert that fails (and so aborts
    /// the transaction) if the key is in the table already, whatever its state.
    pub(crate) fn insert(&self, now: i64) -> sql::Query<'_> {
        sql::query(
            "INSERT INTO idempotency_keys (client_no, idem_key, request_hash, state, created_at, lease_until)
             VALUES ($1, $2, $3, 'started', $4, $5)",
        )
        .bind(self.client_no)
        .bind(self.key.as_str())
        .bind(self.request_hash.as_str())
        .bind(now)
        .bind(now + self.lease_ms)
    }

    /// What a write that carried this claim failed with: [`StorageError::IdempotencyKeyTaken`]
    /// when the claim was what broke a uniqueness rule.
    pub(crate) fn refused(e: StorageError) -> StorageError {
        match e {
            StorageError::Conflict(what) if what.contains("idempotency_keys") => {
                StorageError::IdempotencyKeyTaken
            }
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new and now held by this request: do the work, then save the response.
    Started,
    /// The key was used before by a request that left nothing to replay (it was released after
    /// an error, or its process died holding it) and is now held by this one: do the work, but
    /// look first for what the earlier attempt did (by the ids derived from the key).
    Resumed,
    /// The key was used before for the same request: here is what it answered.
    Replay(StoredResponse),
    /// The key was used before for a different request.
    Mismatch,
    /// The first request with this key is still being worked on.
    InProgress,
}

impl Store {
    /// Claims `key` for a request whose fingerprint is `request_hash`.
    /// Claims `key` for this request for `lease_ms`. A key still `started` by a request whose
    /// lease ran out (its process died) is taken over: the request runs again, and what the dead
    /// one did is found again by the ids derived from the key (`derived_id`).
    pub async fn idempotency_begin(
        &self,
        client_no: i64,
        key: &str,
        request_hash: &str,
        lease_ms: i64,
    ) -> Result<IdempotencyBegin, StorageError> {
        let now = now_millis();
        // Without waiting for the disk ([`sql::Writer::begin_async_commit`]): the request's own
        // first ordinary commit makes the claim durable, and if the database server crashes
        // before that, nothing the request wrote survives for a retry to find either.
        let mut claim = sql::Batch::new();
        let i = claim.execute(
            sql::query(
                "INSERT INTO idempotency_keys (client_no, idem_key, request_hash, state, created_at, lease_until)
                 VALUES ($1, $2, $3, 'started', $4, $5) ON CONFLICT (client_no, idem_key) DO NOTHING",
            )
            .bind(client_no)
            .bind(key)
            .bind(request_hash)
            .bind(now)
            .bind(now + lease_ms),
        );
        let inserted = claim
            .commit(self.writer.begin_async_commit().await?)
            .await?;
        if inserted.rows_affected(i) == 1 {
            return Ok(IdempotencyBegin::Started);
        }
        // A released key goes to whichever request comes next (as a deleted one would); a key
        // whose holder died, only to the same request.
        let taken = sql::query(
            "UPDATE idempotency_keys SET lease_until = $1, request_hash = $4, state = 'started'
             WHERE client_no = $2 AND idem_key = $3
               AND (state = 'released'
                    OR (request_hash = $4 AND state = 'started' AND lease_until IS NOT NULL AND lease_until < $5))",
        )
        .bind(now + lease_ms)
        .bind(client_no)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(IdempotencyBegin::Resumed);
        }
        let row = sql::query(
            "SELECT request_hash, state, response_status, response_body FROM idempotency_keys WHERE client_no = $1 AND idem_key = $2",
        )
        .bind(client_no)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        // Purged between the two statements: claim it again.
        let Some(row) = row else {
            return Box::pin(self.idempotency_begin(client_no, key, request_hash, lease_ms)).await;
        };
        let stored_hash: String = row.try_get("request_hash")?;
        if stored_hash != request_hash {
            return Ok(IdempotencyBegin::Mismatch);
        }
        let state: String = row.try_get("state")?;
        if state != "completed" {
            return Ok(IdempotencyBegin::InProgress);
        }
        let status: Option<i64> = row.try_get("response_status")?;
        let body: Option<String> = row.try_get("response_body")?;
        Ok(IdempotencyBegin::Replay(StoredResponse {
            status: status.and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
            body: body.unwrap_or_default(),
        }))
    }

    /// Saves the response of the request that holds `key`, without waiting for the disk
    /// ([`sql::Writer::begin_async_commit`]): if a crash of the database server loses it, the
    /// key stays `started` until its lease runs out, and then a retry runs as
    /// [`IdempotencyBegin::Resumed`] — as after a crash of Kassa between the request's work and
    /// this save; a payment finds its earlier work by the ids derived from the key.
    pub async fn idempotency_complete(
        &self,
        client_no: i64,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StorageError> {
        let mut save = sql::Batch::new();
        save.execute(
            sql::query(
                "UPDATE idempotency_keys SET state = 'completed', response_status = $1, response_body = $2
                 WHERE client_no = $3 AND idem_key = $4",
            )
            .bind(i64::from(response.status))
            .bind(&response.body)
            .bind(client_no)
            .bind(key),
        );
        save.commit(self.writer.begin_async_commit().await?).await?;
        Ok(())
    }

    /// Releases `key` without a response (the request ended without an answer worth replaying),
    /// so the client may retry with it. The row stays, marked `released`, so that the retry
    /// knows it is one ([`IdempotencyBegin::Resumed`]).
    pub async fn idempotency_release(&self, client_no: i64, key: &str) -> Result<(), StorageError> {
        sql::query("UPDATE idempotency_keys SET state = 'released', lease_until = NULL WHERE client_no = $1 AND idem_key = $2 AND state = 'started'")
            .bind(client_no)
            .bind(key)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Forgets keys created before `cutoff_millis`. Returns how many.
    pub async fn idempotency_purge(&self, cutoff_millis: i64) -> Result<u64, StorageError> {
        let r = sql::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(cutoff_millis)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
    }
}
