-- 0011: draft runs out of version statistics. docs/operations.md explains it.
-- (Postgres's 0011 also partitions prompt_executions by month; SQLite keeps one
-- table and deletes row by row.)
--
-- draft: whether an execution is a draft run (metadata.draft = true, from
-- POST /prompts/{name}/run), computed from metadata.
ALTER TABLE prompt_executions ADD COLUMN draft INTEGER GENERATED ALWAYS AS (COALESCE(json_type(metadata, '$.draft') = 'true', 0)) VIRTUAL;

-- The hourly totals leave draft runs out.
DROP TRIGGER prompt_execution_hours_add;
DROP TRIGGER prompt_execution_hours_remove;
DELETE FROM prompt_execution_hours;
INSERT INTO prompt_execution_hours
SELECT prompt_id, substr(executed_at, 1, 13), prompt_version_id, COALESCE(environment, ''),
       COUNT(*), SUM(status = 'error'), COUNT(latency_ms), COALESCE(SUM(latency_ms), 0), COUNT(input_tokens), COALESCE(SUM(input_tokens), 0),
       COUNT(output_tokens), COALESCE(SUM(output_tokens), 0), COUNT(cost_usd), COALESCE(SUM(cost_usd), 0.0), COUNT(quality_score), COALESCE(SUM(quality_score), 0.0)
  FROM prompt_executions
 WHERE prompt_id IS NOT NULL AND NOT draft
 GROUP BY 1, 2, 3, 4;

-- Only inserted rows count: a retry that ON CONFLICT skips fires nothing.
CREATE TRIGGER prompt_execution_hours_add AFTER INSERT ON prompt_executions WHEN NEW.prompt_id IS NOT NULL AND NOT NEW.draft
BEGIN
    INSERT INTO prompt_execution_hours
    VALUES (NEW.prompt_id, substr(NEW.executed_at, 1, 13), NEW.prompt_version_id, COALESCE(NEW.environment, ''),
            1, NEW.status = 'error', NEW.latency_ms IS NOT NULL, COALESCE(NEW.latency_ms, 0), NEW.input_tokens IS NOT NULL, COALESCE(NEW.input_tokens, 0),
            NEW.output_tokens IS NOT NULL, COALESCE(NEW.output_tokens, 0), NEW.cost_usd IS NOT NULL, COALESCE(NEW.cost_usd, 0.0),
            NEW.quality_score IS NOT NULL, COALESCE(NEW.quality_score, 0.0))
    ON CONFLICT (prompt_id, hour, prompt_version_id, environment) DO UPDATE SET
        n = n + 1, errors = errors + excluded.errors,
        latency_n = latency_n + excluded.latency_n, latency_sum = latency_sum + excluded.latency_sum,
        input_n = input_n + excluded.input_n, input_sum = input_sum + excluded.input_sum,
        output_n = output_n + excluded.output_n, output_sum = output_sum + excluded.output_sum,
        cost_n = cost_n + excluded.cost_n, cost_sum = cost_sum + excluded.cost_sum,
        quality_n = quality_n + excluded.quality_n, quality_sum = quality_sum + excluded.quality_sum;
END;

CREATE TRIGGER prompt_execution_hours_remove AFTER DELETE ON prompt_executions WHEN OLD.prompt_id IS NOT NULL AND NOT OLD.draft
BEGIN
    UPDATE prompt_execution_hours SET
        n = n - 1, errors = errors - (OLD.status = 'error'),
        latency_n = latency_n - (OLD.latency_ms IS NOT NULL), latency_sum = latency_sum - COALESCE(OLD.latency_ms, 0),
        input_n = input_n - (OLD.input_tokens IS NOT NULL), input_sum = input_sum - COALESCE(OLD.input_tokens, 0),
        output_n = output_n - (OLD.output_tokens IS NOT NULL), output_sum = output_sum - COALESCE(OLD.output_tokens, 0),
        cost_n = cost_n - (OLD.cost_usd IS NOT NULL), cost_sum = cost_sum - COALESCE(OLD.cost_usd, 0.0),
        quality_n = quality_n - (OLD.quality_score IS NOT NULL), quality_sum = quality_sum - COALESCE(OLD.quality_score, 0.0)
     WHERE prompt_id = OLD.prompt_id AND hour = substr(OLD.executed_at, 1, 13)
       AND prompt_version_id = OLD.prompt_version_id AND environment = COALESCE(OLD.environment, '');
    DELETE FROM prompt_execution_hours
     WHERE prompt_id = OLD.prompt_id AND hour = substr(OLD.executed_at, 1, 13)
       AND prompt_version_id = OLD.prompt_version_id AND environment = COALESCE(OLD.environment, '') AND n = 0;
END;

-- Percentiles read each latency from this index alone, draft runs skipped.
DROP INDEX prompt_executions_version_time_idx;
CREATE INDEX prompt_executions_version_time_idx ON prompt_executions (prompt_version_id, executed_at, environment, latency_ms, draft);
