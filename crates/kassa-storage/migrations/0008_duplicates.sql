-- Duplicate-transaction protection: the card a payment used (its Stripe fingerprint, or its
-- PaymentMethod id), so the same card, amount and gateway within a window can be refused.

ALTER TABLE payments ADD COLUMN card_key TEXT;

CREATE INDEX payments_duplicates ON payments (gateway_id, card_key, amount, created_at);
