-- Kassa foundation schema. Written once for SQLite and PostgreSQL: {{ID}} is an auto-numbered
-- primary key; times are Unix milliseconds; JSON documents are TEXT; secrets are sealed TEXT.

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE clients (
    client_no {{ID}},
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    key_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE gateways (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    gateway_type TEXT NOT NULL,
    status TEXT NOT NULL,
    settings TEXT NOT NULL,
    secret_key_sealed TEXT,
    webhook_secrets_sealed TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX gateways_by_client ON gateways (client_no, id);

CREATE TABLE collection_groups (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    group_no BIGINT NOT NULL,
    gateway_id BIGINT NOT NULL REFERENCES gateways (id),
    status TEXT NOT NULL,
    settings TEXT NOT NULL,
    webhook_secrets_sealed TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (client_no, group_no)
);

CREATE INDEX collection_groups_by_gateway ON collection_groups (gateway_id);

CREATE TABLE audit_events (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    actor TEXT NOT NULL,
    api_key_id BIGINT REFERENCES api_keys (id),
    request_id TEXT,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    action TEXT NOT NULL,
    changes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX audit_events_by_client ON audit_events (client_no, id);

CREATE TABLE idempotency_keys (
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    response_status BIGINT,
    response_body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_no, idem_key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
