-- 0007: webhooks an admin registers, and their outbox. A change writes its
-- deliveries in its own transaction (a rolled-back change sends nothing, a
-- crash loses nothing); the delivery worker sends and retries them.
-- docs/webhooks.md describes the feature.

CREATE TABLE webhooks (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    url VARCHAR(2048) NOT NULL,
    -- Event types, or '*' for every one.
    events TEXT[] NOT NULL,
    description VARCHAR(1000),
    -- The signing secret, encrypted (AES-256-GCM) with a key derived from the server secret.
    secret_encrypted TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    -- Why the server turned it off (the receiver answered 410 Gone); NULL when an admin did, or it is on.
    disabled_reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

-- The outbox: one row per (webhook, event), sent until a 2xx or the retries run out.
CREATE TABLE webhook_deliveries (
    -- The webhook-id header: the same on every attempt of this delivery.
    id VARCHAR(64) PRIMARY KEY,
    webhook_id UUID NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_type VARCHAR(64) NOT NULL,
    -- The exact body sent (and signed) on every attempt.
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Attempts started; a worker claiming a row counts its attempt first.
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When a pending delivery is next due; while an attempt is in flight, when its lease ends
    -- (a worker that died mid-delivery leaves it due again then). NULL once finished.
    next_attempt_at TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    last_status_code INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at, id);

-- The delivery log: every finished attempt, with what the receiver answered.
CREATE TABLE webhook_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id VARCHAR(64) NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    attempted_at TIMESTAMPTZ NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error TEXT,
    -- The retry this attempt scheduled; NULL when it succeeded or was the last.
    next_attempt_at TIMESTAMPTZ
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
