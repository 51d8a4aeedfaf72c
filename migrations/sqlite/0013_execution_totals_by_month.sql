-- 0013: daily execution totals. docs/schema.md explains it.
-- (Postgres's 0013 also partitions its hourly totals by month; SQLite keeps
-- one table and deletes row by row.)
--
-- prompt_execution_days: prompt_execution_hours added up per UTC day, kept by
-- triggers in the same transaction as the rows they count. Statistics by day
-- read whole days from it (~30 rows per series for 30 days instead of ~720
-- hours), whole hours from the hourly totals and part-hours from the rows.
CREATE TABLE prompt_execution_days (
    prompt_id TEXT NOT NULL,
    -- The day, as the first 10 characters of executed_at: '2026-01-31'.
    day TEXT NOT NULL,
    prompt_version_id TEXT NOT NULL,
    -- '' for executions that don't say.
    environment TEXT NOT NULL,
    n INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    latency_n INTEGER NOT NULL,
    latency_sum INTEGER NOT NULL,
    input_n INTEGER NOT NULL,
    input_sum INTEGER NOT NULL,
    output_n INTEGER NOT NULL,
    output_sum INTEGER NOT NULL,
    cost_n INTEGER NOT NULL,
    cost_sum REAL NOT NULL,
    quality_n INTEGER NOT NULL,
    quality_sum REAL NOT NULL,
    PRIMARY KEY (prompt_id, day, prompt_version_id, environment)
) WITHOUT ROWID;

INSERT INTO prompt_execution_days
SELECT prompt_id, substr(hour, 1, 10), prompt_version_id, environment,
       SUM(n), SUM(errors), SUM(latency_n), SUM(latency_sum), SUM(input_n), SUM(input_sum), SUM(output_n), SUM(output_sum),
       SUM(cost_n), SUM(cost_sum), SUM(quality_n), SUM(quality_sum)
  FROM prompt_execution_hours
 GROUP BY 1, 2, 3, 4;

-- As prompt_execution_hours_add and _remove (0011): only inserted rows count, draft runs don't.
CREATE TRIGGER prompt_execution_days_add AFTER INSERT ON prompt_executions WHEN NEW.prompt_id IS NOT NULL AND NOT NEW.draft
BEGIN
    INSERT INTO prompt_execution_days
    VALUES (NEW.prompt_id, substr(NEW.executed_at, 1, 10), NEW.prompt_version_id, COALESCE(NEW.environment, ''),
            1, NEW.status = 'error', NEW.latency_ms IS NOT NULL, COALESCE(NEW.latency_ms, 0), NEW.input_tokens IS NOT NULL, COALESCE(NEW.input_tokens, 0),
            NEW.output_tokens IS NOT NULL, COALESCE(NEW.output_tokens, 0), NEW.cost_usd IS NOT NULL, COALESCE(NEW.cost_usd, 0.0),
            NEW.quality_score IS NOT NULL, COALESCE(NEW.quality_score, 0.0))
    ON CONFLICT (prompt_id, day, prompt_version_id, environment) DO UPDATE SET
        n = n + 1, errors = errors + excluded.errors,
        latency_n = latency_n + excluded.latency_n, latency_sum = latency_sum + excluded.latency_sum,
        input_n = input_n + excluded.input_n, input_sum = input_sum + excluded.input_sum,
        output_n = output_n + excluded.output_n, output_sum = output_sum + excluded.output_sum,
        cost_n = cost_n + excluded.cost_n, cost_sum = cost_sum + excluded.cost_sum,
        quality_n = quality_n + excluded.quality_n, quality_sum = quality_sum + excluded.quality_sum;
END;

CREATE TRIGGER prompt_execution_days_remove AFTER DELETE ON prompt_executions WHEN OLD.prompt_id IS NOT NULL AND NOT OLD.draft
BEGIN
    UPDATE prompt_execution_days SET
        n = n - 1, errors = errors - (OLD.status = 'error'),
        latency_n = latency_n - (OLD.latency_ms IS NOT NULL), latency_sum = latency_sum - COALESCE(OLD.latency_ms, 0),
        input_n = input_n - (OLD.input_tokens IS NOT NULL), input_sum = input_sum - COALESCE(OLD.input_tokens, 0),
        output_n = output_n - (OLD.output_tokens IS NOT NULL), output_sum = output_sum - COALESCE(OLD.output_tokens, 0),
        cost_n = cost_n - (OLD.cost_usd IS NOT NULL), cost_sum = cost_sum - COALESCE(OLD.cost_usd, 0.0),
        quality_n = quality_n - (OLD.quality_score IS NOT NULL), quality_sum = quality_sum - COALESCE(OLD.quality_score, 0.0)
     WHERE prompt_id = OLD.prompt_id AND day = substr(OLD.executed_at, 1, 10)
       AND prompt_version_id = OLD.prompt_version_id AND environment = COALESCE(OLD.environment, '');
    DELETE FROM prompt_execution_days
     WHERE prompt_id = OLD.prompt_id AND day = substr(OLD.executed_at, 1, 10)
       AND prompt_version_id = OLD.prompt_version_id AND environment = COALESCE(OLD.environment, '') AND n = 0;
END;
