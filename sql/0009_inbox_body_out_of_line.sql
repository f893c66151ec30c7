-- Settling an event updates its inbox row (status, attempts, processed_at), and that update can
-- never be HOT: the status is indexed. Postgres then writes a whole new copy of the row, and a
-- webhook body of a few hundred bytes to a few KB was inline in it, so every settle copied and
-- WAL-logged the body again. Stored out of line (uncompressed: most bodies are small and the
-- inbox is read back whole), the body is written once, at ingest; later versions of the row carry
-- an 18-byte pointer to it. Measured with `npm run bench` (issue 8), interleaved runs: apply
-- 9,189-9,897 vs 8,643-9,155 events/s, Postgres 69-72 vs 73-78 µs per event; ingest unchanged.
alter table inbox alter column body set storage external;
alter table inbox set (toast_tuple_target = 128);
