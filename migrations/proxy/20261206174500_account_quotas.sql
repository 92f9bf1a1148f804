-- Account quotas (Swift's `account_quotas`), set by the installation's
-- administrators only: `quota-bytes`, `quota-count` and their per-policy
-- forms (`quota-bytes-policy-default`) as decimal strings. Kept apart from
-- `meta`, which the account's own users write.
ALTER TABLE accounts ADD COLUMN quotas JSONB NOT NULL DEFAULT '{}';
