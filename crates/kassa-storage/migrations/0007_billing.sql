-- Recurring billing: campaigns and their products (offers), orders, purchases (subscriptions)
-- and every billing attempt of a purchase.

CREATE TABLE routing_profiles (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    name TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    gateways TEXT NOT NULL,
    cascade_on_soft_decline BIGINT NOT NULL,
    counter BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE campaigns (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    is_test BIGINT NOT NULL,
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE campaign_products (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    name TEXT NOT NULL,
    sku TEXT,
    shippable BIGINT NOT NULL,
    price BIGINT NOT NULL,
    schedule TEXT,
    gateway_id BIGINT REFERENCES gateways (id),
    routing_profile_id BIGINT REFERENCES routing_profiles (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX campaign_products_by_campaign ON campaign_products (campaign_id);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    acct_no BIGINT NOT NULL REFERENCES accounts (acct_no),
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id),
    status TEXT NOT NULL,
    payment_id TEXT,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    items TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE purchases (
    id TEXT PRIMARY KEY,
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    acct_no BIGINT NOT NULL REFERENCES accounts (acct_no),
    order_id TEXT NOT NULL REFERENCES orders (id),
    product_id BIGINT NOT NULL REFERENCES campaign_products (id),
    gateway_id BIGINT NOT NULL REFERENCES gateways (id),
    pm_no BIGINT REFERENCES payment_methods (pm_no),
    status TEXT NOT NULL,
    cycle BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    next_bill_at BIGINT,
    price_override BIGINT,
    currency TEXT NOT NULL,
    cancel_at_end BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX purchases_due ON purchases (status, next_bill_at);
CREATE INDEX purchases_by_account ON purchases (client_no, acct_no);

CREATE TABLE purchase_attempts (
    id {{ID}},
    purchase_id TEXT NOT NULL REFERENCES purchases (id),
    cycle BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    payment_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    decline_code TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (purchase_id, cycle, attempt)
);
