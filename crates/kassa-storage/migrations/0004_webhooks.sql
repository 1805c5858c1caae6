-- Stripe webhook events as received, what they changed, card-update history, chargebacks.

CREATE TABLE webhook_events (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    group_no BIGINT,
    gateway_id BIGINT,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    account TEXT,
    event_created BIGINT NOT NULL,
    payload TEXT NOT NULL,
    verification TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    result TEXT,
    error TEXT,
    received_at BIGINT NOT NULL,
    applied_at BIGINT,
    UNIQUE (client_no, event_id)
);

CREATE INDEX webhook_events_by_status ON webhook_events (status, received_at);

CREATE TABLE payment_method_history (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    pm_no BIGINT NOT NULL REFERENCES payment_methods (pm_no),
    changes TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX payment_method_history_by_pm ON payment_method_history (pm_no, id);

CREATE TABLE chargebacks (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    payment_id TEXT NOT NULL REFERENCES payments (id),
    gateway_id BIGINT NOT NULL REFERENCES gateways (id),
    dispute_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    evidence_due_by BIGINT,
    fee BIGINT NOT NULL,
    outcome TEXT,
    event_created BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (client_no, dispute_id)
);

CREATE INDEX chargebacks_by_payment ON chargebacks (payment_id);

ALTER TABLE payment_methods ADD COLUMN last_event_at BIGINT;
ALTER TABLE payments ADD COLUMN last_event_at BIGINT;
