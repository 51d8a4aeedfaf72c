-- Experiments of drafts (issue 13, the editor's "evaluate against dataset"): beside published
-- versions, unpublished bodies [{label, body}], stored with the experiment so that a restarted
-- server resumes them. Their results use the version column with -1, -2, ... (the draft's
-- position, negated): never a published version number, so the key stays (item, version).
ALTER TABLE experiments ADD COLUMN drafts JSONB NOT NULL DEFAULT '[]';
