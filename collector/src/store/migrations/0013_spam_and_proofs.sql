-- Abuse resistance (issue 9).
--
-- Proof-of-work solutions already used. A proof is spent in the transaction
-- of the complaint it came with, so a complaint that was not stored does not
-- use up its proof; a replay fails on the primary key. Rows are kept until
-- the challenge expires (after that the proof is refused as expired anyway)
-- and then removed by the janitor.
CREATE TABLE spent_proofs (
    salt TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX spent_proofs_expiry ON spent_proofs(expires_at);

-- Suspected spam: why intake thought so, NULL for everything else. Such a
-- complaint is stored and acknowledged like any other (nothing is silently
-- dropped), but stays in the inbox's spam folder, out of routing,
-- notifications and the figures, until staff restore it.
ALTER TABLE complaints ADD COLUMN spam TEXT CHECK (spam IN ('honeypot', 'too_fast'));
