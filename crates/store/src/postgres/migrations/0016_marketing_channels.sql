-- The media a user's marketing consent covers, comma-separated names (push, email, webhook);
-- NULL: every one.
ALTER TABLE users ADD COLUMN marketing_channels TEXT;
