-- Cards saved with 3-D Secure (a Stripe SetupIntent): the reference the shopper's return carries,
-- the SetupIntent, and the authentication result (JSON: version, flow, result, redirect URL).
-- Payments keep the card brand Stripe reported (for reports and the console's filters).

ALTER TABLE payment_methods ADD COLUMN setup_ref TEXT;
ALTER TABLE payment_methods ADD COLUMN setup_intent_id TEXT;
ALTER TABLE payment_methods ADD COLUMN three_ds TEXT;
CREATE UNIQUE INDEX payment_methods_setup_ref ON payment_methods (setup_ref);
ALTER TABLE payments ADD COLUMN card_brand TEXT;
