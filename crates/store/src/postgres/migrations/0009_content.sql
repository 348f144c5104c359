-- The staged content catalog and the rewards users hold (content unlocks).
-- 0008 is left to the partners' migration, developed on another branch.

-- The current version of each item. DELETE retires an item; its row and history stay.
CREATE TABLE content_items (
    content_id    TEXT PRIMARY KEY,
    series        TEXT NOT NULL,
    stage         INTEGER NOT NULL CHECK (stage BETWEEN 1 AND 1000),
    adult         BOOLEAN NOT NULL,
    cost          BIGINT NOT NULL CHECK (cost >= 0),
    -- The whole item as JSON (core::content::ContentItem).
    body          TEXT NOT NULL,
    version       BIGINT NOT NULL CHECK (version >= 1),
    retired       BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at_ms BIGINT NOT NULL
);
-- One live item per stage of a series.
CREATE UNIQUE INDEX content_items_live_stage ON content_items (series, stage) WHERE retired = FALSE;

-- Every version of every item, as it was saved.
CREATE TABLE content_versions (
    content_id    TEXT NOT NULL,
    version       BIGINT NOT NULL,
    body          TEXT NOT NULL,
    retired       BOOLEAN NOT NULL,
    changed_at_ms BIGINT NOT NULL,
    PRIMARY KEY (content_id, version)
);

-- Rewards a user received: for an unlock, the item's id as value and the tokens it cost.
CREATE TABLE user_rewards (
    reward_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (user_id),
    reward_type   TEXT NOT NULL,
    value         TEXT NOT NULL,
    tokens        BIGINT NOT NULL CHECK (tokens >= 0),
    awarded_at_ms BIGINT NOT NULL,
    -- The action that caused it, e.g. `unlock_request:<request id>`.
    triggered_by  TEXT NOT NULL,
    -- The event that records it in the lake (CONTENT_UNLOCK).
    event_id      UUID NOT NULL UNIQUE
);
-- A user unlocks an item once.
CREATE UNIQUE INDEX user_rewards_one_unlock ON user_rewards (user_id, value)
    WHERE reward_type = 'content_unlock';
