-- 0011: execution logs at scale. docs/operations.md ("Execution logs at scale")
-- and docs/schema.md explain each change.
--
-- 1. prompt_executions is partitioned by month of executed_at (UTC), so
--    retention drops a month whole instead of deleting it row by row. A
--    partitioned table's primary key must hold the partition key: it becomes
--    (id, executed_at), and ingest keeps an id stored once by looking for it
--    in the months around the row (server/executions/store/postgres.ts).
-- 2. draft: whether an execution is a draft run (metadata.draft = true, from
--    POST /prompts/{name}/run). Draft runs are left out of version statistics.
-- 3. prompt_execution_hours: per prompt, hour, version, environment and
--    draft, the counts and sums the statistics answer with, kept by statement
--    triggers in the same statement as the rows they count (only rows really
--    inserted: a replayed batch counts nothing twice).

CREATE TABLE prompt_executions_partitioned (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    prompt_version_id UUID,
    executed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    input_variables JSONB,
    rendered_prompt TEXT,
    response TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    latency_ms INTEGER,
    cost_usd FLOAT,
    quality_score FLOAT,
    prompt_id UUID,
    environment VARCHAR(50),
    status VARCHAR(5) NOT NULL DEFAULT 'ok',
    error TEXT,
    metadata JSONB NOT NULL DEFAULT '{}',
    redacted_at TIMESTAMPTZ,
    messages JSONB,
    response_messages JSONB,
    tool_calls JSONB,
    partials_used JSONB,
    draft BOOLEAN GENERATED ALWAYS AS (COALESCE(metadata -> 'draft' = 'true'::jsonb, FALSE)) STORED,
    CONSTRAINT prompt_executions_part_pkey PRIMARY KEY (id, executed_at),
    CONSTRAINT prompt_executions_part_status_check CHECK (status IN ('ok', 'error')),
    CONSTRAINT prompt_executions_part_prompt_with_version CHECK ((prompt_id IS NULL) = (prompt_version_id IS NULL)),
    CONSTRAINT prompt_executions_part_version_of_prompt
        FOREIGN KEY (prompt_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id)
) PARTITION BY RANGE (executed_at);

-- The month partition holding `at`, created if missing. Replicas and the
-- retention sweep call it; the advisory lock makes concurrent creators take turns.
CREATE FUNCTION prompt_executions_ensure_month(at TIMESTAMPTZ) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    month TIMESTAMP := date_trunc('month', at AT TIME ZONE 'UTC');
    part TEXT := 'prompt_executions_p' || to_char(month, 'YYYY_MM');
BEGIN
    IF to_regclass(part) IS NULL THEN
        PERFORM pg_advisory_xact_lock(7340122);
        EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF prompt_executions FOR VALUES FROM (%L) TO (%L)',
                       part, month AT TIME ZONE 'UTC', (month + INTERVAL '1 month') AT TIME ZONE 'UTC');
    END IF;
    RETURN part;
END
$$;

-- The old rows move over: one partition per month that has any, and the months around now.
ALTER TABLE prompt_executions RENAME TO prompt_executions_unpartitioned;
ALTER TABLE prompt_executions_partitioned RENAME TO prompt_executions;
SELECT prompt_executions_ensure_month(m)
  FROM (SELECT DISTINCT date_trunc('month', executed_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m FROM prompt_executions_unpartitioned WHERE executed_at IS NOT NULL
        UNION SELECT NOW() + make_interval(months => k) FROM generate_series(-1, 3) AS k) months;
INSERT INTO prompt_executions (id, prompt_version_id, executed_at, input_variables, rendered_prompt, response, input_tokens, output_tokens,
                               latency_ms, cost_usd, quality_score, prompt_id, environment, status, error, metadata, redacted_at,
                               messages, response_messages, tool_calls, partials_used)
SELECT id, prompt_version_id, COALESCE(executed_at, NOW()), input_variables, rendered_prompt, response, input_tokens, output_tokens,
       latency_ms, cost_usd, quality_score, prompt_id, environment, status, error, metadata, redacted_at,
       messages, response_messages, tool_calls, partials_used
  FROM prompt_executions_unpartitioned;

-- Scores can't reference (id) of a partitioned table; the delete trigger below takes an
-- execution's scores along with it, as ON DELETE CASCADE did, and retention drops a month's
-- scores with its partition.
ALTER TABLE execution_scores DROP CONSTRAINT execution_scores_execution_id_fkey;
DROP TABLE prompt_executions_unpartitioned;

ALTER TABLE prompt_executions RENAME CONSTRAINT prompt_executions_part_pkey TO prompt_executions_pkey;
ALTER TABLE prompt_executions RENAME CONSTRAINT prompt_executions_part_status_check TO prompt_executions_status_check;
ALTER TABLE prompt_executions RENAME CONSTRAINT prompt_executions_part_prompt_with_version TO prompt_executions_prompt_with_version;
ALTER TABLE prompt_executions RENAME CONSTRAINT prompt_executions_part_version_of_prompt TO prompt_executions_version_of_prompt;

-- The indexes of 0002 and 0003, on every partition; the version-time index also carries
-- draft, so percentiles read it alone.
CREATE INDEX prompt_executions_stats_idx ON prompt_executions (prompt_id, executed_at)
    INCLUDE (prompt_version_id, environment, status, latency_ms, input_tokens, output_tokens, cost_usd, quality_score, draft);
CREATE INDEX prompt_executions_version_time_idx ON prompt_executions (prompt_version_id, executed_at) INCLUDE (environment, latency_ms, draft);
CREATE INDEX prompt_executions_time_idx ON prompt_executions (executed_at);

CREATE TRIGGER prompt_executions_facts_fixed
    BEFORE UPDATE OF id, prompt_version_id, executed_at, input_tokens, output_tokens, latency_ms, cost_usd, quality_score,
        prompt_id, environment, status, error, metadata ON prompt_executions
    FOR EACH ROW EXECUTE FUNCTION prompt_registry_forbid_change();

CREATE TABLE prompt_execution_hours (
    prompt_id UUID NOT NULL,
    hour TIMESTAMPTZ NOT NULL,
    prompt_version_id UUID NOT NULL,
    -- '' for executions that don't say.
    environment VARCHAR(50) NOT NULL,
    draft BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    latency_n BIGINT NOT NULL,
    latency_sum BIGINT NOT NULL,
    input_n BIGINT NOT NULL,
    input_sum BIGINT NOT NULL,
    output_n BIGINT NOT NULL,
    output_sum BIGINT NOT NULL,
    cost_n BIGINT NOT NULL,
    cost_sum FLOAT NOT NULL,
    quality_n BIGINT NOT NULL,
    quality_sum FLOAT NOT NULL,
    PRIMARY KEY (prompt_id, hour, prompt_version_id, environment, draft)
);

INSERT INTO prompt_execution_hours
SELECT prompt_id, date_bin('1 hour', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), prompt_version_id, COALESCE(environment, ''), draft,
       COUNT(*), COUNT(*) FILTER (WHERE status = 'error'), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0), COUNT(input_tokens), COALESCE(SUM(input_tokens), 0),
       COUNT(output_tokens), COALESCE(SUM(output_tokens), 0), COUNT(cost_usd), COALESCE(SUM(cost_usd), 0), COUNT(quality_score), COALESCE(SUM(quality_score), 0)
  FROM prompt_executions
 WHERE prompt_id IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5;

-- In key order, so two batches touching the same hours lock them in the same order.
CREATE FUNCTION prompt_execution_hours_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO prompt_execution_hours AS h
    SELECT prompt_id, date_bin('1 hour', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), prompt_version_id, COALESCE(environment, ''), draft,
           COUNT(*), COUNT(*) FILTER (WHERE status = 'error'), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0), COUNT(input_tokens), COALESCE(SUM(input_tokens), 0),
           COUNT(output_tokens), COALESCE(SUM(output_tokens), 0), COUNT(cost_usd), COALESCE(SUM(cost_usd), 0), COUNT(quality_score), COALESCE(SUM(quality_score), 0)
      FROM added
     WHERE prompt_id IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (prompt_id, hour, prompt_version_id, environment, draft) DO UPDATE SET
        n = h.n + excluded.n, errors = h.errors + excluded.errors,
        latency_n = h.latency_n + excluded.latency_n, latency_sum = h.latency_sum + excluded.latency_sum,
        input_n = h.input_n + excluded.input_n, input_sum = h.input_sum + excluded.input_sum,
        output_n = h.output_n + excluded.output_n, output_sum = h.output_sum + excluded.output_sum,
        cost_n = h.cost_n + excluded.cost_n, cost_sum = h.cost_sum + excluded.cost_sum,
        quality_n = h.quality_n + excluded.quality_n, quality_sum = h.quality_sum + excluded.quality_sum;
    RETURN NULL;
END
$$;
CREATE TRIGGER prompt_execution_hours_add AFTER INSERT ON prompt_executions
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION prompt_execution_hours_add();

-- Rows deleted one by one (retention's boundary month) leave the totals, and take their scores along.
CREATE FUNCTION prompt_execution_hours_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE prompt_execution_hours h SET
        n = h.n - r.n, errors = h.errors - r.errors, latency_n = h.latency_n - r.latency_n, latency_sum = h.latency_sum - r.latency_sum,
        input_n = h.input_n - r.input_n, input_sum = h.input_sum - r.input_sum, output_n = h.output_n - r.output_n, output_sum = h.output_sum - r.output_sum,
        cost_n = h.cost_n - r.cost_n, cost_sum = h.cost_sum - r.cost_sum, quality_n = h.quality_n - r.quality_n, quality_sum = h.quality_sum - r.quality_sum
      FROM (SELECT prompt_id, date_bin('1 hour', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour, prompt_version_id, COALESCE(environment, '') AS environment, draft,
                   COUNT(*) AS n, COUNT(*) FILTER (WHERE status = 'error') AS errors, COUNT(latency_ms) AS latency_n, COALESCE(SUM(latency_ms), 0) AS latency_sum,
                   COUNT(input_tokens) AS input_n, COALESCE(SUM(input_tokens), 0) AS input_sum, COUNT(output_tokens) AS output_n, COALESCE(SUM(output_tokens), 0) AS output_sum,
                   COUNT(cost_usd) AS cost_n, COALESCE(SUM(cost_usd), 0) AS cost_sum, COUNT(quality_score) AS quality_n, COALESCE(SUM(quality_score), 0) AS quality_sum
              FROM removed WHERE prompt_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5) r
     WHERE h.prompt_id = r.prompt_id AND h.hour = r.hour AND h.prompt_version_id = r.prompt_version_id AND h.environment = r.environment AND h.draft = r.draft;
    DELETE FROM prompt_execution_hours h USING (SELECT DISTINCT prompt_id, date_bin('1 hour', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS hour FROM removed) r
     WHERE h.prompt_id = r.prompt_id AND h.hour = r.hour AND h.n = 0;
    DELETE FROM execution_scores s USING removed r WHERE s.execution_id = r.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER prompt_execution_hours_remove AFTER DELETE ON prompt_executions
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION prompt_execution_hours_remove();
