-- Sessions of the operator console: signed in with an API key, kept by a cookie whose SHA-256 is
-- stored here (never the cookie itself), with the CSRF token the session's forms carry.

CREATE TABLE console_sessions (
    id_hash TEXT PRIMARY KEY,
    client_no BIGINT NOT NULL REFERENCES clients (client_no),
    api_key_id BIGINT NOT NULL,
    key_label TEXT NOT NULL,
    csrf TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
