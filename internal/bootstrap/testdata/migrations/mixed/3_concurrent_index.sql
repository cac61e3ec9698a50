-- no-transaction
CREATE INDEX CONCURRENTLY a_idx ON a (id);
