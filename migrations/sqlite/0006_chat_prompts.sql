-- 0006: chat prompts, full model configuration, typed inputs and partials,
-- as in migrations/postgres/0006_chat_prompts.sql (JSON as checked TEXT).

ALTER TABLE prompt_versions ADD COLUMN type TEXT NOT NULL DEFAULT 'text' CHECK (type IN ('text', 'chat'));
ALTER TABLE prompt_versions ADD COLUMN messages TEXT CHECK (messages IS NULL OR (json_valid(messages) AND json_type(messages) = 'array'));
ALTER TABLE prompt_versions ADD COLUMN config TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config) AND json_type(config) = 'object');
ALTER TABLE prompt_versions ADD COLUMN input_schema TEXT CHECK (input_schema IS NULL OR (json_valid(input_schema) AND json_type(input_schema) = 'object'));
ALTER TABLE prompt_versions ADD COLUMN includes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(includes) AND json_type(includes) = 'array');

CREATE TABLE prompt_version_includes (
    prompt_version_id TEXT NOT NULL REFERENCES prompt_versions(id),
    ref TEXT NOT NULL CHECK (length(ref) <= 320),
    included_prompt TEXT NOT NULL CHECK (length(included_prompt) <= 255),
    pinned_version INTEGER,
    pinned_environment TEXT CHECK (pinned_environment IS NULL OR length(pinned_environment) <= 50),
    PRIMARY KEY (prompt_version_id, ref)
);
CREATE INDEX prompt_version_includes_prompt_idx ON prompt_version_includes (included_prompt);

ALTER TABLE prompt_executions ADD COLUMN messages TEXT CHECK (messages IS NULL OR json_valid(messages));
ALTER TABLE prompt_executions ADD COLUMN response_messages TEXT CHECK (response_messages IS NULL OR json_valid(response_messages));
ALTER TABLE prompt_executions ADD COLUMN tool_calls TEXT CHECK (tool_calls IS NULL OR json_valid(tool_calls));
ALTER TABLE prompt_executions ADD COLUMN partials_used TEXT CHECK (partials_used IS NULL OR json_valid(partials_used));
