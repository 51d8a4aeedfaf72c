-- 0003: faster execution statistics. docs/schema.md explains the change.
--
-- Latency percentiles are exact (nearest rank), so they read each latency: per
-- version and time range, from this index alone, without the table. (SQLite's
-- 0003 also adds hourly totals, prompt_execution_hours: Postgres adds up a
-- week's rows fast enough without them, and would serialise concurrent
-- ingestion on their hot rows.)
DROP INDEX prompt_executions_version_time_idx;
CREATE INDEX prompt_executions_version_time_idx ON prompt_executions (prompt_version_id, executed_at) INCLUDE (environment, latency_ms);
