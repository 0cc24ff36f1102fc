-- Every greeting acknowledged to a caller, with what the external call returned.
CREATE TABLE greetings (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text        NOT NULL,
    message         text        NOT NULL,
    external_status integer     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX greetings_created_at_idx ON greetings (created_at DESC);
