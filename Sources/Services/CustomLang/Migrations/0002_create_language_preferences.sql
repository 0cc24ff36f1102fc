-- The language each user (or anonymous client key) prefers for localized responses.
CREATE TABLE language_preferences (
    subject    text        PRIMARY KEY,
    language   text        NOT NULL CHECK (language ~ '^[a-z]{2,3}(-[A-Z]{2})?$'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
