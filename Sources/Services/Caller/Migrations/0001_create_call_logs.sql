-- One row per outbound call the caller service made (or tried to make).
CREATE TABLE call_logs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         text        NOT NULL,
    status_code integer,
    body_length bigint,
    duration_ms integer,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX call_logs_created_at_idx ON call_logs (created_at DESC);
