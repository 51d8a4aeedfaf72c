-- 0006: chat prompts, full model configuration, typed inputs and partials
-- (issue 12). docs/schema.md explains each addition.

-- A version is 'text' (the documented content template) or 'chat' (messages;
-- content is then '' and answered as null). config holds the model settings
-- beyond the documented model/temperature/max_tokens (which stay, mirrored).
ALTER TABLE prompt_versions
    ADD COLUMN type VARCHAR(8) NOT NULL DEFAULT 'text' CHECK (type IN ('text', 'chat')),
    ADD COLUMN messages JSONB CHECK (messages IS NULL OR jsonb_typeof(messages) = 'array'),
    ADD COLUMN config JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    ADD COLUMN input_schema JSONB CHECK (input_schema IS NULL OR jsonb_typeof(input_schema) = 'object'),
    -- The partial references in the templates: [{ref, prompt, version, environment}].
    ADD COLUMN includes JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(includes) = 'array'),
    ADD CONSTRAINT prompt_versions_chat_has_messages CHECK ((type = 'chat') = (messages IS NOT NULL));

-- One row per partial reference, for "used by": which versions include a prompt.
CREATE TABLE prompt_version_includes (
    prompt_version_id UUID NOT NULL REFERENCES prompt_versions(id),
    ref VARCHAR(320) NOT NULL,
    included_prompt VARCHAR(255) NOT NULL,
    pinned_version INTEGER,
    pinned_environment VARCHAR(50),
    PRIMARY KEY (prompt_version_id, ref)
);
CREATE INDEX prompt_version_includes_prompt_idx ON prompt_version_includes (included_prompt);

-- Chat executions: the rendered input messages, the response message(s), the
-- tool calls, and which partial versions the render included.
ALTER TABLE prompt_executions
    ADD COLUMN messages JSONB,
    ADD COLUMN response_messages JSONB,
    ADD COLUMN tool_calls JSONB,
    ADD COLUMN partials_used JSONB;
