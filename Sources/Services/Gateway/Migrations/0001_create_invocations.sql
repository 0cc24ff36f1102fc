-- Each InvokeCustom call and how custom-lang answered it.
CREATE TABLE invocations (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text        NOT NULL,
    result_message text,
    success        boolean     NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX invocations_created_at_idx ON invocations (created_at DESC);
