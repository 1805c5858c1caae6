//! Gateway volume per month, and the monthly cap kept under concurrent load: volume is reserved
//! by one conditional UPDATE (atomic on both backends) before Stripe is called.

use crate::sql;
use crate::{StorageError, Store};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volume {
    pub gross: i64,
    pub refunded: i64,
    pub reserved: i64,
    pub transactions: i64,
}

/// A reservation turned into volume: `released` leaves the month's reservation and `gross`
/// (possibly 0, for a decline) is added to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSettle {
    pub gateway_id: i64,
    pub month: String,
    pub released: i64,
    pub gross: i64,
}

/// A reservation of a month's volume under a gateway's cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeReserve {
    pub gateway_id: i64,
    pub month: String,
    pub amount: i64,
    /// The monthly cap, if any.
    pub cap: Option<i64>,
    /// Refunds free room under the cap.
    pub net: bool,
}

const RESERVE: &str = "UPDATE gateway_volume SET reserved = reserved + $3
     WHERE gateway_id = $1 AND month = $2
       AND ($4 < 0 OR gross + reserved + $3 - (CASE WHEN $5 = 1 THEN refunded ELSE 0 END) <= $4)";

/// The reservation made for a new payment, in the flight that inserts it: the month's row is
/// made if it is missing (with the amount reserved, if the cap allows it on an empty month), and
/// the row carries the payment's id in `last_reservation` when the reservation was made — the
/// payment's insert checks for it ([`reserved_for`]).
pub(crate) fn reserve_for_query<'q>(r: &'q VolumeReserve, payment_id: &'q str) -> sql::Query<'q> {
    sql::query(
        "INSERT INTO gateway_volume (gateway_id, month, gross, refunded, reserved, transactions, last_reservation)
         SELECT $1, $2, 0, 0, $3, 0, $6
          WHERE $4 < 0 OR $3 <= $4 OR EXISTS (SELECT 1 FROM gateway_volume WHERE gateway_id = $1 AND month = $2)
         ON CONFLICT (gateway_id, month) DO UPDATE
            SET reserved = gateway_volume.reserved + excluded.reserved, last_reservation = excluded.last_reservation
          WHERE $4 < 0
             OR gateway_volume.gross + gateway_volume.reserved + excluded.reserved
                - (CASE WHEN $5 = 1 THEN gateway_volume.refunded ELSE 0 END) <= $4",
    )
    .bind(r.gateway_id)
    .bind(&r.month)
    .bind(r.amount)
    .bind(r.cap.unwrap_or(-1))
    .bind(i64::from(r.net))
    .bind(payment_id)
}

/// The condition that [`reserve_for_query`] made the reservation of the payment whose id is `$1`
/// (`gateway` and `month` name the parameters that hold them).
pub(crate) fn reserved_for(gateway: &str, month: &str) -> String {
    format!("EXISTS (SELECT 1 FROM gateway_volume WHERE gateway_id = {gateway} AND month = {month} AND last_reservation = $1)")
}

/// The settlement's statement ([`settle_sql`]); the caller binds its condition's arguments
/// (`$5` onwards) after these four.
pub(crate) fn settle_query<'q>(s: &'q VolumeSettle, text: &'q str) -> sql::Query<'q> {
    sql::query(text)
        .bind(s.gateway_id)
        .bind(&s.month)
        .bind(s.released)
        .bind(s.gross)
}

/// A settlement that makes the month's row if it is missing, when `condition` holds.
pub(crate) fn settle_sql(condition: &str) -> String {
    format!(
        "INSERT INTO gateway_volume (gateway_id, month, gross, refunded, reserved, transactions)
         SELECT $1, $2, $4, 0, 0 - $3, CASE WHEN $4 > 0 THEN 1 ELSE 0 END WHERE {condition}
         ON CONFLICT (gateway_id, month) DO UPDATE
            SET reserved = gateway_volume.reserved - $3, gross = gateway_volume.gross + $4,
                transactions = gateway_volume.transactions + (CASE WHEN $4 > 0 THEN 1 ELSE 0 END)"
    )
}

const SETTLE: &str = "UPDATE gateway_volume SET reserved = reserved - $3, gross = gross + $4, transactions = transactions + (CASE WHEN $4 > 0 THEN 1 ELSE 0 END)
     WHERE gateway_id = $1 AND month = $2";

impl Store {
    /// Runs `sql` (`$1` the gateway, `$2` the month, then `args`) on the month's volume row,
    /// making the row first when the statement found none; the rows it changed (0: the row's
    /// condition refused). One statement when the row exists, as it does after the month's first
    /// payment.
    async fn on_volume_row(
        &self,
        gateway_id: i64,
        month: &str,
        sql: &str,
        args: &[i64],
    ) -> Result<u64, StorageError> {
        let mut made = false;
        loop {
            let mut q = sql::query(sql).bind(gateway_id).bind(month);
            for a in args {
                q = q.bind(*a);
            }
            let changed = q.execute(&self.writer).await?.rows_affected();
            if changed > 0 || made {
                return Ok(changed);
            }
            sql::query(
                "INSERT INTO gateway_volume (gateway_id, month, gross, refunded, reserved, transactions) VALUES ($1, $2, 0, 0, 0, 0)
                 ON CONFLICT (gateway_id, month) DO NOTHING",
            )
            .bind(gateway_id)
            .bind(month)
            .execute(&self.writer)
            .await?;
            made = true;
        }
    }

    /// Reserves `amount` of the month's volume unless that would pass `cap` (none: no cap). With
    /// `net`, refunds free room under the cap. False when the cap does not allow it.
    pub async fn reserve_volume(
        &self,
        gateway_id: i64,
        month: &str,
        amount: i64,
        cap: Option<i64>,
        net: bool,
    ) -> Result<bool, StorageError> {
        let changed = self
            .on_volume_row(
                gateway_id,
                month,
                RESERVE,
                &[amount, cap.unwrap_or(-1), i64::from(net)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Turns a reservation into volume: `released` leaves the reservation, `gross` (possibly 0,
    /// for a decline) is added to the month, as one transaction when it is more than 0.
    pub async fn settle_volume(
        &self,
        gateway_id: i64,
        month: &str,
        released: i64,
        gross: i64,
    ) -> Result<(), StorageError> {
        self.on_volume_row(gateway_id, month, SETTLE, &[released, gross])
            .await?;
        Ok(())
    }

    /// [`Store::settle_volume`] for a payment, together with its details document (which records
    /// that the reservation was settled) in one transaction: a crash between the two can neither
    /// release a reservation twice (the cap then exceeded) nor lose it.
    pub async fn settle_payment_volume(
        &self,
        payment_id: &str,
        details: &str,
        gateway_id: i64,
        month: &str,
        released: i64,
        gross: i64,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await?;
        sql::query("UPDATE payments SET details = $1, updated_at = $2 WHERE id = $3")
            .bind(details)
            .bind(crate::now_millis())
            .bind(payment_id)
            .execute(&mut tx)
            .await?;
        let s = VolumeSettle {
            gateway_id,
            month: month.to_string(),
            released,
            gross,
        };
        settle_query(&s, &settle_sql("1 = 1"))
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Volume that no longer stands (a void, the released part of a partial capture).
    pub async fn reduce_volume(
        &self,
        gateway_id: i64,
        month: &str,
        amount: i64,
    ) -> Result<(), StorageError> {
        self.on_volume_row(
            gateway_id,
            month,
            "UPDATE gateway_volume SET gross = gross - $3 WHERE gateway_id = $1 AND month = $2",
            &[amount],
        )
        .await?;
        Ok(())
    }

    /// A refund, counted in the month it is made.
    pub async fn add_refund_volume(
        &self,
        gateway_id: i64,
        month: &str,
        amount: i64,
    ) -> Result<(), StorageError> {
        self.on_volume_row(
            gateway_id,
            month,
            "UPDATE gateway_volume SET refunded = refunded + $3 WHERE gateway_id = $1 AND month = $2",
            &[amount],
        )
        .await?;
        Ok(())
    }

    pub async fn volume(&self, gateway_id: i64, month: &str) -> Result<Volume, StorageError> {
        let row = sql::query("SELECT gross, refunded, reserved, transactions FROM gateway_volume WHERE gateway_id = $1 AND month = $2")
            .bind(gateway_id)
            .bind(month)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Volume {
                gross: r.try_get("gross")?,
                refunded: r.try_get("refunded")?,
                reserved: r.try_get("reserved")?,
                transactions: r.try_get("transactions")?,
            },
            None => Volume::default(),
        })
    }
}
