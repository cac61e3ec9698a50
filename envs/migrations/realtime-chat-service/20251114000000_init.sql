-- Real-time chat: first schema of realtime-chat-service.
CREATE TABLE IF NOT EXISTS realtime_chat_records (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id UUID NOT NULL,
    payload JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS realtime_chat_records_owner_idx ON realtime_chat_records (owner_id);
