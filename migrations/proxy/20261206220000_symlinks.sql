-- Symlinks (Swift's symlink middleware): the target of a link object, as
-- JSON (`account`, `account_named`, `container`, `object`, and `pinned`
-- with `etag`, `bytes`, `slo_etag` for a static link). NULL for every other
-- object. A link's own bytes are always empty.
ALTER TABLE objects ADD COLUMN symlink JSONB;
