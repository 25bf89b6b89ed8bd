-- The state of `shipgate serve`, the same on SQLite and PostgreSQL (portable SQL only: times
-- are Unix milliseconds in BIGINT, states are TEXT).

-- Every deployment_protection_rule delivery admitted: a redelivery (same X-GitHub-Delivery) finds
-- its id here and does no second evaluation.
CREATE TABLE deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);

-- One protection-rule request per delivery. state: evaluating (claimed by `claimed_by` until
-- `lease_until`), held (waits in `holds`), answered (once: the answer is claimed before it is
-- sent).
CREATE TABLE requests (
    delivery_id TEXT PRIMARY KEY REFERENCES deliveries (delivery_id),
    installation_id BIGINT NOT NULL,
    repo TEXT NOT NULL,
    environment TEXT NOT NULL,
    sha TEXT NOT NULL,
    git_ref TEXT,
    run_id BIGINT NOT NULL,
    callback_url TEXT NOT NULL,
    state TEXT NOT NULL,
    claimed_by TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    answer TEXT,
    answered_at BIGINT
);

CREATE INDEX requests_state ON requests (state, lease_until);

-- A held request is evaluated again at `until_at` (the next opening of its window).
CREATE TABLE holds (
    delivery_id TEXT PRIMARY KEY REFERENCES requests (delivery_id),
    until_at BIGINT NOT NULL,
    comment TEXT NOT NULL,
    held_at BIGINT NOT NULL
);

CREATE INDEX holds_until ON holds (until_at);

-- The audit trail: every verdict reached, by which replica, how long the evaluation took, and
-- the error of an evaluation or an answer that failed.
CREATE TABLE decisions (
    delivery_id TEXT NOT NULL REFERENCES requests (delivery_id),
    verdict TEXT NOT NULL,
    comment TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    replica TEXT NOT NULL,
    error TEXT
);

CREATE INDEX decisions_delivery ON decisions (delivery_id);
