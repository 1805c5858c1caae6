-- Each gateway's volume per calendar month (UTC), for monthly caps, fees and reports. `reserved`
-- is volume of payments under way: reserved before the call to Stripe, settled after.

CREATE TABLE gateway_volume (
    gateway_id BIGINT NOT NULL REFERENCES gateways (id),
    month TEXT NOT NULL,
    gross BIGINT NOT NULL,
    refunded BIGINT NOT NULL,
    reserved BIGINT NOT NULL,
    transactions BIGINT NOT NULL,
    PRIMARY KEY (gateway_id, month)
);
