//! Recycle profiles (decline salvage rules as data) and the gateways each covers; a card's
//! recent declines, for the card networks' retry limits.

use crate::sql;

use crate::{now_millis, StorageError, Store};

#[derive(Debug, Clone, Default)]
pub struct RecycleProfileRecord {
    pub id: i64,
    pub client_no: i64,
    pub name: String,
    /// `kassa_domain::recycle::RecycleRules` as JSON.
    pub rules: String,
    /// The gateways the profile covers, ascending.
    pub gateway_ids: Vec<i64>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const R: &str = "id, client_no, name, rules, version, created_at, updated_at";

fn profile(r: &sql::Row) -> Result<RecycleProfileRecord, StorageError> {
    Ok(RecycleProfileRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        name: r.try_get("name")?,
        rules: r.try_get("rules")?,
        gateway_ids: Vec::new(),
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A card's declines since a time (index `payments_declined_by_card`).
pub(crate) const CARD_DECLINES: &str = "FROM payments WHERE card_key = $1 AND created_at >= $2 AND client_no = $3 AND status = 'declined'
               AND processor_payment_id IS NOT NULL";

impl Store {
    async fn with_gateways(
        &self,
        mut p: RecycleProfileRecord,
    ) -> Result<RecycleProfileRecord, StorageError> {
        let rows = sql::query(
            "SELECT gateway_id FROM recycle_profile_gateways WHERE profile_id = $1 ORDER BY gateway_id",
        )
        .bind(p.id)
        .fetch_all(&self.pool)
        .await?;
        p.gateway_ids = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("gateway_id"))
            .collect::<Result<_, _>>()?;
        Ok(p)
    }

    /// Writes a profile and its gateways together. A gateway already in another profile breaks
    /// the table's primary key: `StorageError::Conflict`, and nothing is written.
    pub async fn insert_recycle_profile(
        &self,
        p: &RecycleProfileRecord,
    ) -> Result<RecycleProfileRecord, StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        let row = sql::query(&format!(
            "INSERT INTO recycle_profiles (client_no, name, rules, version, created_at, updated_at)
             VALUES ($1, $2, $3, 1, $4, $4) RETURNING {R}"
        ))
        .bind(p.client_no)
        .bind(&p.name)
        .bind(&p.rules)
        .bind(now)
        .fetch_one(&mut tx)
        .await?;
        let rec = profile(&row)?;
        for g in &p.gateway_ids {
            sql::query("INSERT INTO recycle_profile_gateways (gateway_id, profile_id, client_no) VALUES ($1, $2, $3)")
                .bind(g)
                .bind(rec.id)
                .bind(p.client_no)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        self.with_gateways(rec).await
    }

    /// Replaces a profile's name, rules and gateways if it is still at `p.version`.
    pub async fn update_recycle_profile(
        &self,
        p: &RecycleProfileRecord,
    ) -> Result<RecycleProfileRecord, StorageError> {
        let mut tx = self.writer.begin().await?;
        let row = sql::query(&format!(
            "UPDATE recycle_profiles SET name = $1, rules = $2, version = version + 1, updated_at = $3
             WHERE client_no = $4 AND id = $5 AND version = $6 RETURNING {R}"
        ))
        .bind(&p.name)
        .bind(&p.rules)
        .bind(now_millis())
        .bind(p.client_no)
        .bind(p.id)
        .bind(p.version)
        .fetch_optional(&mut tx)
        .await?
        .ok_or(StorageError::Stale)?;
        let rec = profile(&row)?;
        sql::query("DELETE FROM recycle_profile_gateways WHERE profile_id = $1")
            .bind(p.id)
            .execute(&mut tx)
            .await?;
        for g in &p.gateway_ids {
            sql::query("INSERT INTO recycle_profile_gateways (gateway_id, profile_id, client_no) VALUES ($1, $2, $3)")
                .bind(g)
                .bind(p.id)
                .bind(p.client_no)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        self.with_gateways(rec).await
    }

    pub async fn get_recycle_profile(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<RecycleProfileRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {R} FROM recycle_profiles WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        self.with_gateways(profile(&row)?).await
    }

    /// Newest first.
    pub async fn list_recycle_profiles(
        &self,
        client_no: i64,
    ) -> Result<Vec<RecycleProfileRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {R} FROM recycle_profiles WHERE client_no = $1 ORDER BY id DESC LIMIT 500"
        ))
        .bind(client_no)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.with_gateways(profile(r)?).await?);
        }
        Ok(out)
    }

    /// The profile covering a gateway, if any: its id.
    pub async fn recycle_profile_of_gateway(
        &self,
        gateway_id: i64,
    ) -> Result<Option<i64>, StorageError> {
        let row =
            sql::query("SELECT profile_id FROM recycle_profile_gateways WHERE gateway_id = $1")
                .bind(gateway_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("profile_id")?),
            None => None,
        })
    }

    /// The rules covering a gateway's rebills, if it is in a profile.
    pub async fn recycle_rules_for_gateway(
        &self,
        gateway_id: i64,
    ) -> Result<Option<String>, StorageError> {
        let row = sql::query(
            "SELECT p.rules FROM recycle_profiles p JOIN recycle_profile_gateways g ON g.profile_id = p.id WHERE g.gateway_id = $1",
        )
        .bind(gateway_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("rules")?),
            None => None,
        })
    }

    /// How many payments of this client with this card (fingerprint, else PaymentMethod id)
    /// were declined since `since` (Unix ms) — by the network: a payment that never reached
    /// Stripe (no PaymentIntent or charge, e.g. settled `not_processed` after a crash) is no
    /// retry in the networks' eyes and does not count.
    pub async fn count_card_declines(
        &self,
        client_no: i64,
        card_key: &str,
        since: i64,
    ) -> Result<i64, StorageError> {
        let row = sql::query(&format!("SELECT COUNT(*) AS n {CARD_DECLINES}"))
            .bind(card_key)
            .bind(since)
            .bind(client_no)
            .fetch_one(&self.pool)
            .await?;
        row.try_get("n")
    }
}
