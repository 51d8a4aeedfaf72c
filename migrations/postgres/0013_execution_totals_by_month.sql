-- 0013: the execution totals at scale. docs/operations.md ("Execution logs at
-- scale") and docs/schema.md explain each change.
--
-- 1. prompt_execution_hours is partitioned by month of hour (UTC), like
--    prompt_executions: retention drops a month's totals with the month's
--    executions instead of deleting them row by row (most of a month's purge
--    time at 10 million executions).
-- 2. prompt_execution_days: the same totals per UTC day, partitioned by
--    month, kept by the same statement triggers. A 30-day statistics window
--    reads ~30 rows per series from it instead of ~720 hours; retention counts
--    a month from it.
-- prompt_executions_ensure_month creates the three partitions of a month together.

CREATE TABLE prompt_execution_hours_partitioned (
    prompt_id UUID NOT NULL,
    hour TIMESTAMPTZ NOT NULL,
    prompt_version_id UUID NOT NULL,
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
    CONSTRAINT prompt_execution_hours_part_pkey PRIMARY KEY (prompt_id, hour, prompt_version_id, environment, draft)
) PARTITION BY RANGE (hour);

CREATE TABLE prompt_execution_days (
    prompt_id UUID NOT NULL,
    -- The UTC midnight the day starts at.
    day TIMESTAMPTZ NOT NULL,
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
    PRIMARY KEY (prompt_id, day, prompt_version_id, environment, draft)
) PARTITION BY RANGE (day);

-- The month partitions of the executions and of their hourly and daily totals
-- (…_pYYYY_MM each) holding `at`, created if missing. Replicas and the
-- retention sweep call it; the advisory lock makes concurrent creators take turns.
CREATE OR REPLACE FUNCTION prompt_executions_ensure_month(at TIMESTAMPTZ) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    month TIMESTAMP := date_trunc('month', at AT TIME ZONE 'UTC');
    suffix TEXT := '_p' || to_char(month, 'YYYY_MM');
    parent TEXT;
BEGIN
    IF to_regclass('prompt_executions' || suffix) IS NULL OR to_regclass('prompt_execution_hours' || suffix) IS NULL
       OR to_regclass('prompt_execution_days' || suffix) IS NULL THEN
        PERFORM pg_advisory_xact_lock(7340122);
        FOREACH parent IN ARRAY ARRAY['prompt_executions', 'prompt_execution_hours', 'prompt_execution_days'] LOOP
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           parent || suffix, parent, month AT TIME ZONE 'UTC', (month + INTERVAL '1 month') AT TIME ZONE 'UTC');
        END LOOP;
    END IF;
    RETURN 'prompt_executions' || suffix;
END
$$;

-- A month partition for every month with executions or totals (the latter a subset, but be sure).
ALTER TABLE prompt_execution_hours RENAME TO prompt_execution_hours_unpartitioned;
ALTER TABLE prompt_execution_hours_unpartitioned RENAME CONSTRAINT prompt_execution_hours_pkey TO prompt_execution_hours_unpartitioned_pkey;
ALTER TABLE prompt_execution_hours_partitioned RENAME TO prompt_execution_hours;
ALTER TABLE prompt_execution_hours RENAME CONSTRAINT prompt_execution_hours_part_pkey TO prompt_execution_hours_pkey;
SELECT prompt_executions_ensure_month(to_date(substr(c.relname, length('prompt_executions_p') + 1), 'YYYY_MM')::timestamp AT TIME ZONE 'UTC')
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'prompt_executions'::regclass AND c.relname ~ '^prompt_executions_p\d{4}_\d{2}$';
SELECT prompt_executions_ensure_month(m) FROM (SELECT DISTINCT date_trunc('month', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m FROM prompt_execution_hours_unpartitioned) months;

INSERT INTO prompt_execution_hours SELECT * FROM prompt_execution_hours_unpartitioned;
DROP TABLE prompt_execution_hours_unpartitioned;

INSERT INTO prompt_execution_days
SELECT prompt_id, date_bin('1 day', hour, TIMESTAMPTZ '2000-01-01 00:00:00+00'), prompt_version_id, environment, draft,
       SUM(n), SUM(errors), SUM(latency_n), SUM(latency_sum), SUM(input_n), SUM(input_sum), SUM(output_n), SUM(output_sum),
       SUM(cost_n), SUM(cost_sum), SUM(quality_n), SUM(quality_sum)
  FROM prompt_execution_hours
 GROUP BY 1, 2, 3, 4, 5;

-- Both totals in the statement that stores the executions: the hours, then the days, each in
-- key order, so two batches touching the same hours and days lock them in the same order.
CREATE OR REPLACE FUNCTION prompt_execution_hours_add() RETURNS trigger LANGUAGE plpgsql AS $$
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
    INSERT INTO prompt_execution_days AS d
    SELECT prompt_id, date_bin('1 day', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), prompt_version_id, COALESCE(environment, ''), draft,
           COUNT(*), COUNT(*) FILTER (WHERE status = 'error'), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0), COUNT(input_tokens), COALESCE(SUM(input_tokens), 0),
           COUNT(output_tokens), COALESCE(SUM(output_tokens), 0), COUNT(cost_usd), COALESCE(SUM(cost_usd), 0), COUNT(quality_score), COALESCE(SUM(quality_score), 0)
      FROM added
     WHERE prompt_id IS NOT NULL
     GROUP BY 1, 2, 3, 4, 5
     ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (prompt_id, day, prompt_version_id, environment, draft) DO UPDATE SET
        n = d.n + excluded.n, errors = d.errors + excluded.errors,
        latency_n = d.latency_n + excluded.latency_n, latency_sum = d.latency_sum + excluded.latency_sum,
        input_n = d.input_n + excluded.input_n, input_sum = d.input_sum + excluded.input_sum,
        output_n = d.output_n + excluded.output_n, output_sum = d.output_sum + excluded.output_sum,
        cost_n = d.cost_n + excluded.cost_n, cost_sum = d.cost_sum + excluded.cost_sum,
        quality_n = d.quality_n + excluded.quality_n, quality_sum = d.quality_sum + excluded.quality_sum;
    RETURN NULL;
END
$$;

-- Rows deleted one by one (retention's boundary month) leave both totals, and take their scores along.
CREATE OR REPLACE FUNCTION prompt_execution_hours_remove() RETURNS trigger LANGUAGE plpgsql AS $$
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
    UPDATE prompt_execution_days d SET
        n = d.n - r.n, errors = d.errors - r.errors, latency_n = d.latency_n - r.latency_n, latency_sum = d.latency_sum - r.latency_sum,
        input_n = d.input_n - r.input_n, input_sum = d.input_sum - r.input_sum, output_n = d.output_n - r.output_n, output_sum = d.output_sum - r.output_sum,
        cost_n = d.cost_n - r.cost_n, cost_sum = d.cost_sum - r.cost_sum, quality_n = d.quality_n - r.quality_n, quality_sum = d.quality_sum - r.quality_sum
      FROM (SELECT prompt_id, date_bin('1 day', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day, prompt_version_id, COALESCE(environment, '') AS environment, draft,
                   COUNT(*) AS n, COUNT(*) FILTER (WHERE status = 'error') AS errors, COUNT(latency_ms) AS latency_n, COALESCE(SUM(latency_ms), 0) AS latency_sum,
                   COUNT(input_tokens) AS input_n, COALESCE(SUM(input_tokens), 0) AS input_sum, COUNT(output_tokens) AS output_n, COALESCE(SUM(output_tokens), 0) AS output_sum,
                   COUNT(cost_usd) AS cost_n, COALESCE(SUM(cost_usd), 0) AS cost_sum, COUNT(quality_score) AS quality_n, COALESCE(SUM(quality_score), 0) AS quality_sum
              FROM removed WHERE prompt_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5) r
     WHERE d.prompt_id = r.prompt_id AND d.day = r.day AND d.prompt_version_id = r.prompt_version_id AND d.environment = r.environment AND d.draft = r.draft;
    DELETE FROM prompt_execution_days d USING (SELECT DISTINCT prompt_id, date_bin('1 day', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day FROM removed) r
     WHERE d.prompt_id = r.prompt_id AND d.day = r.day AND d.n = 0;
    DELETE FROM execution_scores s USING removed r WHERE s.execution_id = r.id;
    RETURN NULL;
END
$$;
