-- Payment methods (tokenized cards, bank accounts), the Stripe customer of each account on each
-- gateway, payments, and every gateway call made for a payment.

CREATE TABLE processor_customers (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    acct_no BIGINT NOT NULL REFERENCES accounts (acct_no),
    gateway_id BIGINT NOT NULL REFERENCES gateways (id),
    customer_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (acct_no, gateway_id)
);

CREATE TABLE payment_methods (
    pm_no {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    acct_no BIGINT NOT NULL REFERENCES accounts (acct_no),
    gateway_id BIGINT REFERENCES gateways (id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    token TEXT,
    brand TEXT,
    last4 TEXT,
    exp_month BIGINT,
    exp_year BIGINT,
    fingerprint TEXT,
    funding TEXT,
    initial_txn_id TEXT,
    initial_txn_imported BIGINT NOT NULL DEFAULT 0,
    bank_sealed TEXT,
    holder_type TEXT,
    holder_name TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX payment_methods_by_account ON payment_methods (client_no, acct_no, pm_no);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    acct_no BIGINT NOT NULL REFERENCES accounts (acct_no),
    gateway_id BIGINT NOT NULL REFERENCES gateways (id),
    pm_no BIGINT REFERENCES payment_methods (pm_no),
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    amount_authorized BIGINT NOT NULL,
    amount_captured BIGINT NOT NULL,
    amount_refunded BIGINT NOT NULL,
    recurring_model BIGINT NOT NULL,
    processor_payment_id TEXT,
    auth_no TEXT,
    initial_auth_txn_id TEXT,
    descriptor TEXT,
    details TEXT NOT NULL,
    busy_txn TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX payments_by_client ON payments (client_no, created_at);
CREATE INDEX payments_by_processor_id ON payments (processor_payment_id);
CREATE INDEX payments_by_auth_no ON payments (client_no, auth_no);

CREATE TABLE payment_transactions (
    id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL REFERENCES payments (id),
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    status TEXT NOT NULL,
    processor_id TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX payment_transactions_by_payment ON payment_transactions (payment_id, created_at);
CREATE INDEX payment_transactions_pending ON payment_transactions (status, created_at);
