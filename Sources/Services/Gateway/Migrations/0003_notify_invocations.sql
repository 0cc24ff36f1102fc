-- WatchInvocations: every stored invocation is announced on the "invocations" channel, so
-- every gateway process sharing this database can stream it. NOTIFY payloads are limited to
-- 8,000 bytes: name and message are cut to 2,000 characters in the announcement only.
CREATE FUNCTION notify_invocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('invocations', json_build_object(
        'id', NEW.id,
        'name', left(NEW.name, 2000),
        'success', NEW.success,
        'code', NEW.code,
        'message', left(coalesce(NEW.result_message, ''), 2000),
        'http_status', coalesce(NEW.http_status, 0),
        'attempts', NEW.attempts,
        'duration_ms', coalesce(NEW.duration_ms, 0),
        'created_at', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    )::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER invocations_notify AFTER INSERT ON invocations
    FOR EACH ROW EXECUTE FUNCTION notify_invocation();
