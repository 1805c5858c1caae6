//! Upsells added to an order after its sale: the item joins the order's items, and a recurring
//! product's purchase is started, in one transaction.

use crate::sql;
use crate::{PurchaseRecord, StorageError, Store};

impl Store {
    /// Replaces the order's `items` document (read, appended to, written back if unchanged) and
    /// inserts the purchase, if any (created at its `created_at`). `StorageError::Stale` when the items changed meanwhile.
    pub async fn add_order_upsell(
        &self,
        client_no: i64,
        order_id: &str,
        items_before: &str,
        items_after: &str,
        purchase: Option<&PurchaseRecord>,
    ) -> Result<(), StorageError> {
        let mut tx = self.writer.begin().await?;
        let r = sql::query(
            "UPDATE orders SET items = $1 WHERE client_no = $2 AND id = $3 AND items = $4",
        )
        .bind(items_after)
        .bind(client_no)
        .bind(order_id)
        .bind(items_before)
        .execute(&mut tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StorageError::Stale);
        }
        if let Some(p) = purchase {
            sql::query(
                "INSERT INTO purchases (id, client_no, acct_no, order_id, product_id, gateway_id, pm_no, status, cycle, attempt, next_bill_at, price_override, currency, cancel_at_end, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, NULL, $11, 0, $12, $12)",
            )
            .bind(&p.id)
            .bind(p.client_no)
            .bind(p.acct_no)
            .bind(order_id)
            .bind(p.product_id)
            .bind(p.gateway_id)
            .bind(p.pm_no)
            .bind(&p.status)
            .bind(p.cycle)
            .bind(p.next_bill_at)
            .bind(&p.currency)
            .bind(p.created_at)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
