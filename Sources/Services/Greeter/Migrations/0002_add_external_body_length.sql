-- What caller reported about the external body, next to its status.
ALTER TABLE greetings ADD COLUMN external_body_length integer NOT NULL DEFAULT 0;
