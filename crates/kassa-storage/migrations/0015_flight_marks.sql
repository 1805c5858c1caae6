-- Marks that let the later statements of one flight (a transaction sent with its COMMIT, all at
-- once: sql::Batch::commit) tell whether its first statement took effect, each value written
-- only by that flight:
-- the payment update that finishes a transaction writes a fresh mark in `last_write`, and the
-- transaction's and the volume's updates go ahead only where the payment carries it;
ALTER TABLE payments ADD COLUMN last_write TEXT;
-- a new payment is inserted only where its reservation under the gateway's monthly cap was
-- made: the reservation writes the payment's id in `last_reservation`.
ALTER TABLE gateway_volume ADD COLUMN last_reservation TEXT;
