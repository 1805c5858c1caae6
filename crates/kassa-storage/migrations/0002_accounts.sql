-- Billing accounts and the history of their statuses.

CREATE TABLE accounts (
    acct_no {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    client_acct_id TEXT NOT NULL,
    status TEXT NOT NULL,
    collection_group_no BIGINT,
    email TEXT,
    profile TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (client_no, client_acct_id)
);

CREATE INDEX accounts_by_email ON accounts (client_no, email);

CREATE TABLE account_status_history (
    id {{ID}},
    acct_no BIGINT NOT NULL REFERENCES accounts (acct_no),
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT NOT NULL,
    payment_id TEXT,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX account_status_history_by_account ON account_status_history (acct_no, id);
