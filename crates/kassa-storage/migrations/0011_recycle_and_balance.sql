-- Decline salvage as data: recycle profiles and the gateways each covers (a gateway is in at
-- most one profile: the primary key says so), and an index to count a card's declines for the
-- card networks' retry limits. Account balances: what an account owes (failed rebills, explicit
-- charges) and what settled it, one signed entry each.

CREATE TABLE recycle_profiles (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    name TEXT NOT NULL,
    rules TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE recycle_profile_gateways (
    gateway_id BIGINT PRIMARY KEY REFERENCES gateways (id),
    profile_id BIGINT NOT NULL REFERENCES recycle_profiles (id),
    client_no BIGINT NOT NULL REFERENCES clients (client_no)
);

CREATE INDEX recycle_profile_gateways_by_profile ON recycle_profile_gateways (profile_id);

-- Declines per card (the networks' retry limits): only the declined rows are read.
CREATE INDEX payments_by_card ON payments (card_key, status, created_at);

CREATE TABLE balance_entries (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    acct_no BIGINT NOT NULL REFERENCES accounts (acct_no),
    currency TEXT NOT NULL,
    amount BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    purchase_id TEXT,
    cycle BIGINT,
    payment_id TEXT,
    description TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX balance_entries_by_account ON balance_entries (client_no, acct_no);
CREATE UNIQUE INDEX balance_entries_one_per_cycle ON balance_entries (purchase_id, cycle);
CREATE UNIQUE INDEX balance_entries_one_per_payment ON balance_entries (payment_id);
