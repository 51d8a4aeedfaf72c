-- Deploy gate (issue 13): an environment policy may require that a version passed an
-- experiment on a named dataset before it is deployed there.
-- {dataset, min_pass_rate, evaluators?: [names], max_age_days?}; NULL: no gate.
ALTER TABLE environment_policies ADD COLUMN evaluation TEXT CHECK (evaluation IS NULL OR json_valid(evaluation));
-- The gate looks up completed experiments of a prompt on a dataset.
CREATE INDEX experiments_gate_idx ON experiments (prompt_id, dataset_id, status);
