-- Settling an unclear charge (issue 12): when no charge was recorded under a
-- key, the key is voided with a row of its own, so that a charge still on its
-- way with that key loses the insert and is refused. A void row charges
-- nothing: zero amount, no card ('0000'), transaction id 'void:' || key.
ALTER TABLE payment_charges ADD COLUMN voided INTEGER NOT NULL DEFAULT 0;
