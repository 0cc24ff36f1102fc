-- Each /invoke request and what it answered.
CREATE TABLE executions (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text        NOT NULL,
    result_message text,
    status_code    integer     NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX executions_created_at_idx ON executions (created_at DESC);
