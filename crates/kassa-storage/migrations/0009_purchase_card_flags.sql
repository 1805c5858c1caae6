-- A purchase whose card was detached needs a new card before it can be billed again.

ALTER TABLE purchases ADD COLUMN needs_new_card BIGINT NOT NULL DEFAULT 0;
