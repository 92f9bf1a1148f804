-- Swift's versioned_writes: the container of the same account that keeps the
-- older versions of this container's objects (`X-Versions-Location` or
-- `X-History-Location`, as the client sent it, percent-encoded), and which of
-- the two modes decides what a DELETE does ('stack' or 'history').
ALTER TABLE containers ADD COLUMN versions_location TEXT;
ALTER TABLE containers ADD COLUMN versions_mode TEXT;
ALTER TABLE containers ADD CONSTRAINT containers_versioning_complete
    CHECK ((versions_location IS NULL) = (versions_mode IS NULL)
           AND versions_mode IN ('stack', 'history'));
