-- Who asked: the edge's X-User-Id (the token's subject); NULL when called directly.
ALTER TABLE greetings ADD COLUMN user_id text;
