-- OAuth 1.0a for the REST API (web and mobile clients).
--
-- Signatures are HMAC-SHA1 keyed with the consumer's and the token's secret,
-- so secrets are kept usable (they never leave the metadata servers; the
-- proxy sends them the signed request to verify). An access token is bound to
-- a device row whose bearer token is derived from the access token's secret,
-- so RPC calls made for an OAuth client carry a device token like any other
-- device, and revoking the access token revokes the device.

CREATE TABLE oauth_consumers (
    consumer_key    text PRIMARY KEY,
    consumer_secret text NOT NULL,
    name            text NOT NULL,
    -- Where to send the user after authorizing; NULL: out of band only.
    callback_url    text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_request_tokens (
    token        text PRIMARY KEY,
    secret       text NOT NULL,
    consumer_key text NOT NULL REFERENCES oauth_consumers (consumer_key) ON DELETE CASCADE,
    callback     text NOT NULL,                       -- a URL or 'oob'
    verifier     text,                                -- set when the user allows access
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL
);

CREATE TABLE oauth_access_tokens (
    token        text PRIMARY KEY,
    secret       text NOT NULL,
    consumer_key text NOT NULL REFERENCES oauth_consumers (consumer_key) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id    uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_access_tokens_by_user ON oauth_access_tokens (user_id);

-- Nonces seen within the timestamp window, against replay.
CREATE TABLE oauth_nonces (
    consumer_key text NOT NULL,
    token        text NOT NULL,                       -- '' for requests without a token
    nonce        text NOT NULL,
    seen_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_key, token, nonce)
);
CREATE INDEX oauth_nonces_by_age ON oauth_nonces (seen_at);
