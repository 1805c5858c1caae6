-- A request that holds an idempotency key holds it until `lease_until` (Unix ms). A key still
-- `started` past its lease belongs to a request that died with its process (a crash, a kill):
-- the client's retry takes it over instead of waiting out the key's retention.
ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT;
