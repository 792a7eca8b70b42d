-- The hub's schema, version 1. See docs/hub.md for why sequence numbers
-- are handed out under the programme_seq row lock.
CREATE TABLE devices (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    programme   text NOT NULL,
    role        text NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE forms (
    programme    text NOT NULL,
    form_id      text NOT NULL,
    version      integer NOT NULL,
    definition   text NOT NULL,
    published_at timestamptz NOT NULL,
    PRIMARY KEY (programme, form_id, version)
);

-- One row per programme: the last sequence number handed out. A push
-- locks its programme's row for the length of its transaction.
CREATE TABLE programme_seq (
    programme text PRIMARY KEY,
    last      bigint NOT NULL
);

CREATE TABLE records (
    record_id text PRIMARY KEY,
    programme text NOT NULL,
    form_id   text NOT NULL,
    leaves    jsonb NOT NULL
);

-- doc is the revision's JSON exactly as pull serves it (text, not jsonb,
-- which would reorder keys and renormalise numbers).
CREATE TABLE revisions (
    programme text NOT NULL,
    seq       bigint NOT NULL,
    record_id text NOT NULL,
    rev       text NOT NULL,
    doc       text NOT NULL,
    PRIMARY KEY (programme, seq),
    UNIQUE (record_id, rev)
);
