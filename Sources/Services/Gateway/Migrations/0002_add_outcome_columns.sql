-- How each invocation ended: the Connect code returned, custom-lang's HTTP status (if it
-- answered), attempts made (a retry counts) and the time it took.
ALTER TABLE invocations
    ADD COLUMN code        text     NOT NULL DEFAULT 'ok',
    ADD COLUMN http_status integer,
    ADD COLUMN attempts    smallint NOT NULL DEFAULT 1,
    ADD COLUMN duration_ms integer;
