-- Object index of nimbus-proxy: which accounts, containers and objects exist,
-- with their metadata. The bytes live in the blob store under `blob_key`.
-- Names use the "C" collation so that listings come out in UTF-8 byte order,
-- as Swift's do. Timestamps are microseconds since the Unix epoch.

CREATE TABLE accounts (
    name        TEXT COLLATE "C" PRIMARY KEY,
    created_us  BIGINT NOT NULL,
    meta        JSONB  NOT NULL DEFAULT '{}'
);

CREATE TABLE containers (
    account     TEXT COLLATE "C" NOT NULL REFERENCES accounts (name),
    name        TEXT COLLATE "C" NOT NULL,
    created_us  BIGINT NOT NULL,
    modified_us BIGINT NOT NULL,
    meta        JSONB  NOT NULL DEFAULT '{}',
    read_acl    TEXT,
    write_acl   TEXT,
    PRIMARY KEY (account, name)
);

CREATE TABLE objects (
    account      TEXT COLLATE "C" NOT NULL,
    container    TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    blob_key     TEXT   NOT NULL UNIQUE,
    size         BIGINT NOT NULL,
    etag         TEXT   NOT NULL,
    content_type TEXT   NOT NULL,
    meta         JSONB  NOT NULL DEFAULT '{}',
    modified_us  BIGINT NOT NULL,
    -- `X-Object-Manifest` of a dynamic large object: `<container>/<prefix>`.
    dlo_manifest TEXT,
    -- For a static large object: the size of its manifest, which is what the
    -- blob holds; `size` and `etag` are then those of the whole object.
    slo_manifest_size BIGINT,
    PRIMARY KEY (account, container, name),
    FOREIGN KEY (account, container) REFERENCES containers (account, name)
);
