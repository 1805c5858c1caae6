//! Campaigns, products, orders, purchases and their billing attempts; the lease that lets any
//! number of workers bill due purchases without billing one twice.

use crate::sql;

use crate::{now_millis, StorageError, Store};

#[derive(Debug, Clone, Default)]
pub struct CampaignRecord {
    pub id: i64,
    pub client_no: i64,
    pub name: String,
    pub currency: String,
    pub is_test: bool,
    pub deleted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct ProductRecord {
    pub id: i64,
    pub client_no: i64,
    pub campaign_id: i64,
    pub name: String,
    pub sku: Option<String>,
    pub shippable: bool,
    /// One-time price, or cycle 1's when there is a schedule.
    pub price: i64,
    /// The recurring schedule (JSON), none for a one-time product.
    pub schedule: Option<String>,
    /// The gateway the product's sales go through, or:
    pub gateway_id: Option<i64>,
    /// the routing profile that chooses it for each sale.
    pub routing_profile_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct RoutingProfileRecord {
    pub id: i64,
    pub client_no: i64,
    pub name: String,
    pub algorithm: String,
    /// JSON list of `{gateway_id, weight}`.
    pub gateways: String,
    pub cascade_on_soft_decline: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct OrderRecord {
    pub id: String,
    pub client_no: i64,
    pub acct_no: i64,
    pub campaign_id: i64,
    pub status: String,
    pub payment_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub items: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct PurchaseRecord {
    pub id: String,
    pub client_no: i64,
    pub acct_no: i64,
    pub order_id: String,
    pub product_id: i64,
    pub gateway_id: i64,
    pub pm_no: Option<i64>,
    /// `active`, `trial`, `recycle_billing`, `recycle_failed`, `paused`, `cancelled`, `completed`.
    pub status: String,
    /// Cycles billed so far.
    pub cycle: i64,
    /// Failed attempts at the current cycle (decline salvage).
    pub attempt: i64,
    pub next_bill_at: Option<i64>,
    pub price_override: Option<i64>,
    pub currency: String,
    pub cancel_at_end: bool,
    /// The card was detached: billing waits for a new one.
    pub needs_new_card: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct AttemptRecord {
    pub cycle: i64,
    pub attempt: i64,
    pub payment_id: String,
    pub amount: i64,
    pub status: String,
    pub decline_code: Option<String>,
    pub created_at: i64,
}

const C: &str = "id, client_no, name, currency, is_test, deleted_at, created_at, updated_at";
const P: &str = "id, client_no, campaign_id, name, sku, shippable, price, schedule, gateway_id, routing_profile_id, created_at, updated_at";
const R: &str =
    "id, client_no, name, algorithm, gateways, cascade_on_soft_decline, created_at, updated_at";
const U: &str = "id, client_no, acct_no, order_id, product_id, gateway_id, pm_no, status, cycle, attempt, next_bill_at, price_override, currency, cancel_at_end, needs_new_card, created_at, updated_at";

fn campaign(r: &sql::Row) -> Result<CampaignRecord, StorageError> {
    Ok(CampaignRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        name: r.try_get("name")?,
        currency: r.try_get("currency")?,
        is_test: r.try_get::<i64, _>("is_test")? != 0,
        deleted_at: r.try_get("deleted_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn product(r: &sql::Row) -> Result<ProductRecord, StorageError> {
    Ok(ProductRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        campaign_id: r.try_get("campaign_id")?,
        name: r.try_get("name")?,
        sku: r.try_get("sku")?,
        shippable: r.try_get::<i64, _>("shippable")? != 0,
        price: r.try_get("price")?,
        schedule: r.try_get("schedule")?,
        gateway_id: r.try_get("gateway_id")?,
        routing_profile_id: r.try_get("routing_profile_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn routing_profile(r: &sql::Row) -> Result<RoutingProfileRecord, StorageError> {
    Ok(RoutingProfileRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        name: r.try_get("name")?,
        algorithm: r.try_get("algorithm")?,
        gateways: r.try_get("gateways")?,
        cascade_on_soft_decline: r.try_get::<i64, _>("cascade_on_soft_decline")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn purchase(r: &sql::Row) -> Result<PurchaseRecord, StorageError> {
    Ok(PurchaseRecord {
        id: r.try_get("id")?,
        client_no: r.try_get("client_no")?,
        acct_no: r.try_get("acct_no")?,
        order_id: r.try_get("order_id")?,
        product_id: r.try_get("product_id")?,
        gateway_id: r.try_get("gateway_id")?,
        pm_no: r.try_get("pm_no")?,
        status: r.try_get("status")?,
        cycle: r.try_get("cycle")?,
        attempt: r.try_get("attempt")?,
        next_bill_at: r.try_get("next_bill_at")?,
        price_override: r.try_get("price_override")?,
        currency: r.try_get("currency")?,
        cancel_at_end: r.try_get::<i64, _>("cancel_at_end")? != 0,
        needs_new_card: r.try_get::<i64, _>("needs_new_card")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn insert_campaign(
        &self,
        c: &CampaignRecord,
    ) -> Result<CampaignRecord, StorageError> {
        let now = now_millis();
        let row = sql::query(&format!("INSERT INTO campaigns (client_no, name, currency, is_test, deleted_at, created_at, updated_at) VALUES ($1, $2, $3, $4, NULL, $5, $5) RETURNING {C}"))
            .bind(c.client_no)
            .bind(&c.name)
            .bind(&c.currency)
            .bind(i64::from(c.is_test))
            .bind(now)
            .fetch_one(&self.writer)
            .await?;
        campaign(&row)
    }

    pub async fn get_campaign(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<CampaignRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {C} FROM campaigns WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        campaign(&row)
    }

    /// The client's campaigns; deleted ones only when asked.
    pub async fn list_campaigns(
        &self,
        client_no: i64,
        deleted: bool,
    ) -> Result<Vec<CampaignRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {C} FROM campaigns WHERE client_no = $1 AND (($2 = 1 AND deleted_at IS NOT NULL) OR ($2 = 0 AND deleted_at IS NULL)) ORDER BY id DESC"
        ))
        .bind(client_no)
        .bind(i64::from(deleted))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(campaign).collect()
    }

    pub async fn update_campaign(
        &self,
        c: &CampaignRecord,
    ) -> Result<CampaignRecord, StorageError> {
        let row = sql::query(&format!("UPDATE campaigns SET name = $1, currency = $2, is_test = $3, deleted_at = $4, updated_at = $5 WHERE client_no = $6 AND id = $7 RETURNING {C}"))
            .bind(&c.name)
            .bind(&c.currency)
            .bind(i64::from(c.is_test))
            .bind(c.deleted_at)
            .bind(now_millis())
            .bind(c.client_no)
            .bind(c.id)
            .fetch_optional(&self.writer)
            .await?
            .ok_or(StorageError::NotFound)?;
        campaign(&row)
    }

    pub async fn insert_product(&self, p: &ProductRecord) -> Result<ProductRecord, StorageError> {
        let now = now_millis();
        let row = sql::query(&format!(
            "INSERT INTO campaign_products (client_no, campaign_id, name, sku, shippable, price, schedule, gateway_id, routing_profile_id, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $10, $9, $9) RETURNING {P}"
        ))
        .bind(p.client_no)
        .bind(p.campaign_id)
        .bind(&p.name)
        .bind(p.sku.as_deref())
        .bind(i64::from(p.shippable))
        .bind(p.price)
        .bind(p.schedule.as_deref())
        .bind(p.gateway_id)
        .bind(now)
        .bind(p.routing_profile_id)
        .fetch_one(&self.writer)
        .await?;
        product(&row)
    }

    pub async fn get_product(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<ProductRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {P} FROM campaign_products WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        product(&row)
    }

    pub async fn list_products(
        &self,
        client_no: i64,
        campaign_id: i64,
    ) -> Result<Vec<ProductRecord>, StorageError> {
        let rows = sql::query(&format!("SELECT {P} FROM campaign_products WHERE client_no = $1 AND campaign_id = $2 ORDER BY id"))
            .bind(client_no)
            .bind(campaign_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(product).collect()
    }

    pub async fn update_product(&self, p: &ProductRecord) -> Result<ProductRecord, StorageError> {
        let row = sql::query(&format!(
            "UPDATE campaign_products SET name = $1, sku = $2, shippable = $3, price = $4, schedule = $5, gateway_id = $6, updated_at = $7,
                    routing_profile_id = $10
             WHERE client_no = $8 AND id = $9 RETURNING {P}"
        ))
        .bind(&p.name)
        .bind(p.sku.as_deref())
        .bind(i64::from(p.shippable))
        .bind(p.price)
        .bind(p.schedule.as_deref())
        .bind(p.gateway_id)
        .bind(now_millis())
        .bind(p.client_no)
        .bind(p.id)
        .bind(p.routing_profile_id)
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StorageError::NotFound)?;
        product(&row)
    }

    pub async fn insert_routing_profile(
        &self,
        r: &RoutingProfileRecord,
    ) -> Result<RoutingProfileRecord, StorageError> {
        let now = now_millis();
        let row = sql::query(&format!(
            "INSERT INTO routing_profiles (client_no, name, algorithm, gateways, cascade_on_soft_decline, counter, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6, $6) RETURNING {R}"
        ))
        .bind(r.client_no)
        .bind(&r.name)
        .bind(&r.algorithm)
        .bind(&r.gateways)
        .bind(i64::from(r.cascade_on_soft_decline))
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        routing_profile(&row)
    }

    pub async fn get_routing_profile(
        &self,
        client_no: i64,
        id: i64,
    ) -> Result<RoutingProfileRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {R} FROM routing_profiles WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        routing_profile(&row)
    }

    pub async fn list_routing_profiles(
        &self,
        client_no: i64,
    ) -> Result<Vec<RoutingProfileRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {R} FROM routing_profiles WHERE client_no = $1 ORDER BY id"
        ))
        .bind(client_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(routing_profile).collect()
    }

    /// The profile's sale counter, taken atomically: the `n` of this sale.
    pub async fn next_routing_count(&self, id: i64) -> Result<i64, StorageError> {
        let row = sql::query(
            "UPDATE routing_profiles SET counter = counter + 1 WHERE id = $1 RETURNING counter",
        )
        .bind(id)
        .fetch_optional(&self.writer)
        .await?
        .ok_or(StorageError::NotFound)?;
        Ok(row.try_get::<i64, _>("counter")? - 1)
    }

    /// Writes an order and its purchases together (each created at its `created_at`, the time
    /// its first cycle was charged, which the caller also answers with).
    pub async fn insert_order(
        &self,
        o: &OrderRecord,
        purchases: &[PurchaseRecord],
    ) -> Result<(), StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        sql::query("INSERT INTO orders (id, client_no, acct_no, campaign_id, status, payment_id, amount, currency, items, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(&o.id)
            .bind(o.client_no)
            .bind(o.acct_no)
            .bind(o.campaign_id)
            .bind(&o.status)
            .bind(o.payment_id.as_deref())
            .bind(o.amount)
            .bind(&o.currency)
            .bind(&o.items)
            .bind(now)
            .execute(&mut tx)
            .await?;
        for p in purchases {
            sql::query(
                "INSERT INTO purchases (id, client_no, acct_no, order_id, product_id, gateway_id, pm_no, status, cycle, attempt, next_bill_at, price_override, currency, cancel_at_end, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, NULL, $11, 0, $12, $12)",
            )
            .bind(&p.id)
            .bind(p.client_no)
            .bind(p.acct_no)
            .bind(&o.id)
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

    pub async fn get_order(&self, client_no: i64, id: &str) -> Result<OrderRecord, StorageError> {
        let r = sql::query("SELECT id, client_no, acct_no, campaign_id, status, payment_id, amount, currency, items, created_at FROM orders WHERE client_no = $1 AND id = $2")
            .bind(client_no)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        Ok(OrderRecord {
            id: r.try_get("id")?,
            client_no: r.try_get("client_no")?,
            acct_no: r.try_get("acct_no")?,
            campaign_id: r.try_get("campaign_id")?,
            status: r.try_get("status")?,
            payment_id: r.try_get("payment_id")?,
            amount: r.try_get("amount")?,
            currency: r.try_get("currency")?,
            items: r.try_get("items")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn get_purchase(
        &self,
        client_no: i64,
        id: &str,
    ) -> Result<PurchaseRecord, StorageError> {
        let row = sql::query(&format!(
            "SELECT {U} FROM purchases WHERE client_no = $1 AND id = $2"
        ))
        .bind(client_no)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StorageError::NotFound)?;
        purchase(&row)
    }

    pub async fn list_purchases(
        &self,
        client_no: i64,
        acct_no: Option<i64>,
        order_id: Option<&str>,
    ) -> Result<Vec<PurchaseRecord>, StorageError> {
        let rows = sql::query(&format!("SELECT {U} FROM purchases WHERE client_no = $1 AND ($2 = 0 OR acct_no = $2) AND ($3 = '' OR order_id = $3) ORDER BY id DESC LIMIT 500"))
            .bind(client_no)
            .bind(acct_no.unwrap_or(0))
            .bind(order_id.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(purchase).collect()
    }

    pub async fn purchase_client(&self, id: &str) -> Result<i64, StorageError> {
        let row = sql::query("SELECT client_no FROM purchases WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StorageError::NotFound)?;
        row.try_get("client_no")
    }

    /// Leases up to `limit` purchases due at `now` to `owner` until `until`; a purchase leased to
    /// a live worker is skipped, one whose lease ran out is taken over. On PostgreSQL the
    /// UPDATE re-checks the lease on each row it locks, so two workers never take the same one.
    /// Returns each purchase with its gateway.
    pub async fn lease_due_purchases(
        &self,
        owner: &str,
        now: i64,
        until: i64,
        limit: i64,
    ) -> Result<Vec<(String, Option<i64>)>, StorageError> {
        let rows = sql::query(
            "UPDATE purchases SET lease_owner = $1, lease_until = $2
             WHERE id IN (SELECT id FROM purchases WHERE status IN ('active', 'trial', 'recycle_billing') AND needs_new_card = 0 AND next_bill_at <= $3
                            AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_bill_at LIMIT $4)
               AND (lease_until IS NULL OR lease_until < $3)
             RETURNING id, gateway_id",
        )
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("gateway_id")?)))
            .collect()
    }

    /// How many purchases are due at `now` (what a rebill run will try to bill).
    pub async fn count_due_purchases(&self, now: i64) -> Result<i64, StorageError> {
        let row = sql::query(
            "SELECT COUNT(*) AS n FROM purchases WHERE status IN ('active', 'trial', 'recycle_billing') AND needs_new_card = 0 AND next_bill_at <= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        row.try_get("n")
    }

    /// Leases one purchase (Force Bill Now), whatever its date; false when another worker has it.
    pub async fn lease_purchase(
        &self,
        client_no: i64,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StorageError> {
        let r = sql::query("UPDATE purchases SET lease_owner = $1, lease_until = $2 WHERE client_no = $3 AND id = $4 AND (lease_until IS NULL OR lease_until < $5 OR lease_owner = 'deferred')")
            .bind(owner)
            .bind(until)
            .bind(client_no)
            .bind(id)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Records the start of a billing attempt (before the payment is made). False when this
    /// cycle's attempt was started before (a crashed or concurrent run).
    /// Forgets a started attempt whose payment never reached the gateway (its process died
    /// first), so that the same attempt is made again under a new payment. The payment stays.
    pub async fn discard_attempt(
        &self,
        purchase_id: &str,
        cycle: i64,
        attempt: i64,
        payment_id: &str,
    ) -> Result<(), StorageError> {
        sql::query(
            "DELETE FROM purchase_attempts WHERE purchase_id = $1 AND cycle = $2 AND attempt = $3 AND payment_id = $4 AND status = 'started'",
        )
        .bind(purchase_id)
        .bind(cycle)
        .bind(attempt)
        .bind(payment_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn start_attempt(
        &self,
        purchase_id: &str,
        a: &AttemptRecord,
    ) -> Result<bool, StorageError> {
        let r = sql::query(
            "INSERT INTO purchase_attempts (purchase_id, cycle, attempt, payment_id, amount, status, decline_code, created_at)
             VALUES ($1, $2, $3, $4, $5, 'started', NULL, $6) ON CONFLICT (purchase_id, cycle, attempt) DO NOTHING",
        )
        .bind(purchase_id)
        .bind(a.cycle)
        .bind(a.attempt)
        .bind(&a.payment_id)
        .bind(a.amount)
        .bind(now_millis())
        .execute(&self.writer)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn get_attempt(
        &self,
        purchase_id: &str,
        cycle: i64,
        attempt: i64,
    ) -> Result<Option<AttemptRecord>, StorageError> {
        let row = sql::query("SELECT cycle, attempt, payment_id, amount, status, decline_code, created_at FROM purchase_attempts WHERE purchase_id = $1 AND cycle = $2 AND attempt = $3")
            .bind(purchase_id)
            .bind(cycle)
            .bind(attempt)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(AttemptRecord {
                cycle: r.try_get("cycle")?,
                attempt: r.try_get("attempt")?,
                payment_id: r.try_get("payment_id")?,
                amount: r.try_get("amount")?,
                status: r.try_get("status")?,
                decline_code: r.try_get("decline_code")?,
                created_at: r.try_get("created_at")?,
            })),
            None => Ok(None),
        }
    }

    pub async fn list_attempts(
        &self,
        purchase_id: &str,
    ) -> Result<Vec<AttemptRecord>, StorageError> {
        let rows = sql::query("SELECT cycle, attempt, payment_id, amount, status, decline_code, created_at FROM purchase_attempts WHERE purchase_id = $1 ORDER BY cycle, attempt")
            .bind(purchase_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRecord {
                    cycle: r.try_get("cycle")?,
                    attempt: r.try_get("attempt")?,
                    payment_id: r.try_get("payment_id")?,
                    amount: r.try_get("amount")?,
                    status: r.try_get("status")?,
                    decline_code: r.try_get("decline_code")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Writes the attempt's result and the purchase's new state, and releases the lease.
    pub async fn finish_attempt(
        &self,
        p: &PurchaseRecord,
        a: &AttemptRecord,
    ) -> Result<(), StorageError> {
        let now = now_millis();
        let mut tx = self.writer.begin().await?;
        sql::query("UPDATE purchase_attempts SET status = $1, decline_code = $2 WHERE purchase_id = $3 AND cycle = $4 AND attempt = $5")
            .bind(&a.status)
            .bind(a.decline_code.as_deref())
            .bind(&p.id)
            .bind(a.cycle)
            .bind(a.attempt)
            .execute(&mut tx)
            .await?;
        sql::query(
            "UPDATE purchases SET status = $1, cycle = $2, attempt = $3, next_bill_at = $4, lease_owner = NULL, lease_until = NULL, updated_at = $5
             WHERE id = $6",
        )
        .bind(&p.status)
        .bind(p.cycle)
        .bind(p.attempt)
        .bind(p.next_bill_at)
        .bind(now)
        .bind(&p.id)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a purchase to its recorded cycle, attempt, next date and status (no billing attempt).
    pub async fn advance_purchase(&self, p: &PurchaseRecord, now: i64) -> Result<(), StorageError> {
        sql::query(
            "UPDATE purchases SET status = $1, cycle = $2, attempt = $3, next_bill_at = $4, lease_owner = NULL, lease_until = NULL, updated_at = $5
             WHERE id = $6",
        )
        .bind(&p.status)
        .bind(p.cycle)
        .bind(p.attempt)
        .bind(p.next_bill_at)
        .bind(now)
        .bind(&p.id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Sets a purchase's price for later cycles (Hold Recycle Price after a recovery).
    pub async fn set_purchase_price(&self, id: &str, price: i64) -> Result<(), StorageError> {
        sql::query("UPDATE purchases SET price_override = $1, updated_at = $2 WHERE id = $3")
            .bind(price)
            .bind(now_millis())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Releases a lease without a change (the outcome is still unknown; the reconciler decides).
    pub async fn release_purchase(&self, id: &str) -> Result<(), StorageError> {
        sql::query("UPDATE purchases SET lease_owner = NULL, lease_until = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Sets a purchase aside until `until`: no worker leases it before then.
    pub async fn defer_purchase(&self, id: &str, until: i64) -> Result<(), StorageError> {
        sql::query("UPDATE purchases SET lease_owner = 'deferred', lease_until = $1 WHERE id = $2")
            .bind(until)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Changes a purchase's terms (operator edits, cancel, pause).
    pub async fn update_purchase_terms(&self, p: &PurchaseRecord) -> Result<(), StorageError> {
        sql::query(
            "UPDATE purchases SET status = $1, next_bill_at = $2, price_override = $3, gateway_id = $4, pm_no = $5, cancel_at_end = $6, updated_at = $7,
                    needs_new_card = $10
             WHERE client_no = $8 AND id = $9",
        )
        .bind(&p.status)
        .bind(p.next_bill_at)
        .bind(p.price_override)
        .bind(p.gateway_id)
        .bind(p.pm_no)
        .bind(i64::from(p.cancel_at_end))
        .bind(now_millis())
        .bind(p.client_no)
        .bind(&p.id)
        .bind(i64::from(p.needs_new_card))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Purchases billed with a stored card (to act on the card's updates and detaches).
    pub async fn purchases_with_card(
        &self,
        client_no: i64,
        pm_no: i64,
    ) -> Result<Vec<PurchaseRecord>, StorageError> {
        let rows = sql::query(&format!(
            "SELECT {U} FROM purchases WHERE client_no = $1 AND pm_no = $2"
        ))
        .bind(client_no)
        .bind(pm_no)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(purchase).collect()
    }

    /// The decline code of a purchase's last attempt, if it was declined.
    pub async fn last_decline(&self, purchase_id: &str) -> Result<Option<String>, StorageError> {
        let row = sql::query("SELECT decline_code FROM purchase_attempts WHERE purchase_id = $1 AND status = 'declined' ORDER BY id DESC LIMIT 1")
            .bind(purchase_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("decline_code")?,
            None => None,
        })
    }
}
