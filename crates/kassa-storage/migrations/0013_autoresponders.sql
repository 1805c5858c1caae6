-- Autoresponder emails: each client's templates, and the outbox they are sent from.

CREATE TABLE email_templates (
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (client_no, kind)
);

-- One row per email; (client_no, kind, source_ref) is the event it is for (a payment's id, a
-- refund's transaction id), so one event is never queued twice.
CREATE TABLE email_outbox (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    kind TEXT NOT NULL,
    source_ref TEXT NOT NULL,
    payment_id TEXT,
    acct_no BIGINT,
    to_address TEXT NOT NULL,
    reply_to TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    sent_at BIGINT
);

CREATE UNIQUE INDEX email_outbox_source ON email_outbox (client_no, kind, source_ref);
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
CREATE INDEX email_outbox_by_client ON email_outbox (client_no, id);

-- The order a payment was the first charge of (3-D Secure completions look it up).
CREATE INDEX orders_by_payment ON orders (payment_id);
