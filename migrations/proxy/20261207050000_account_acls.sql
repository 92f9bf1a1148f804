-- Account ACLs (TempAuth's `X-Account-Access-Control`): the JSON object of
-- `admin`, `read-write` and `read-only` lists as the header shows it, NULL
-- when the account has none. Set by the account's owners (or its ACL admins).
ALTER TABLE accounts ADD COLUMN access_control TEXT;

-- Swift's X-Container-Sync-Key, a header only a container's administrators
-- see and set (as the account ACL's admins may); nothing is synced.
ALTER TABLE containers ADD COLUMN sync_key TEXT;
