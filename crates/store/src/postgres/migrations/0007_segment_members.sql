-- A segment's members in user-id order (GET /v1/segments/{name}/members): each page is a
-- range of this index, never a scan of every user's segment.
CREATE INDEX user_segments_by_segment ON user_segments (segment, user_id);
