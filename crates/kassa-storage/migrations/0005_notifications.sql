-- Kassa's own events, delivered to the clients' endpoints from a durable queue.

CREATE TABLE notification_endpoints (
    id {{ID}},
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    url TEXT NOT NULL,
    enabled_events TEXT NOT NULL,
    description TEXT,
    secret_sealed TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX notification_endpoints_by_client ON notification_endpoints (client_no, id);

CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    endpoint_id BIGINT NOT NULL REFERENCES notification_endpoints (id),
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);

CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_by_endpoint ON notifications (endpoint_id, created_at);
