-- fptfarm results database, schema version 1 (PRAGMA user_version = 1).
--
-- The library (common/store.c) holds a byte-for-byte copy of this file and
-- runs it on an empty database; tests/test_store.c fails if the two differ.
-- Change both together and bump user_version.
--
-- Idempotence: every table has a natural unique key.  Re-storing an epoch
-- record or a first passage is an upsert on (job_id, epoch) or
-- (job_id, target): the same values leave the table unchanged, new values
-- for the same key replace the old ones (last write wins).  Experiments and
-- jobs are insert-or-get on name and on
-- (experiment_id, protocol, timing, frequency, seed).

CREATE TABLE experiments (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    spec_text  TEXT NOT NULL,
    spec_hash  TEXT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('farm', 'import')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (id),
    protocol      TEXT NOT NULL,
    timing        TEXT NOT NULL CHECK (timing IN ('none', 'periodic', 'geometric')),
    frequency     REAL NOT NULL,   -- period tau (epochs) if periodic, probability p if geometric, 0 if none
    seed          INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'done', 'failed', 'diverged')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    crashes       INTEGER NOT NULL DEFAULT 0,
    worker        INTEGER,
    host          TEXT,
    started_at    TEXT,
    finished_at   TEXT,
    UNIQUE (experiment_id, protocol, timing, frequency, seed)
);

CREATE INDEX jobs_experiment_state ON jobs (experiment_id, state);

-- One row per evaluated epoch.  Only test_acc is required: imported traces
-- have nothing else.
CREATE TABLE epochs (
    job_id     INTEGER NOT NULL REFERENCES jobs (id),
    epoch      INTEGER NOT NULL CHECK (epoch >= 1),
    train_loss REAL,
    test_loss  REAL,
    test_acc   REAL NOT NULL,
    lr         REAL,
    perturbed  INTEGER NOT NULL DEFAULT 0,
    seconds    REAL,
    PRIMARY KEY (job_id, epoch)
) WITHOUT ROWID;

-- The first-passage time of a job to a target accuracy (percent).  Exactly
-- one of epoch (reached) and censored_at (last epoch observed, not reached)
-- is set.
CREATE TABLE first_passages (
    job_id      INTEGER NOT NULL REFERENCES jobs (id),
    target      REAL NOT NULL,
    epoch       INTEGER,   -- first epoch with test_acc >= target; NULL when censored
    censored_at INTEGER,   -- last epoch observed when censored, else NULL
    PRIMARY KEY (job_id, target),
    CHECK ((epoch IS NULL) <> (censored_at IS NULL)),
    CHECK (epoch IS NULL OR epoch >= 1),
    CHECK (censored_at IS NULL OR censored_at >= 1)
);

-- Progress of each experiment: jobs by state and epochs stored.
CREATE VIEW v_progress AS
SELECT e.id AS experiment_id,
       e.name AS experiment,
       (SELECT count(*) FROM jobs j WHERE j.experiment_id = e.id) AS jobs,
       (SELECT count(*) FROM jobs j WHERE j.experiment_id = e.id AND j.state = 'pending') AS pending,
       (SELECT count(*) FROM jobs j WHERE j.experiment_id = e.id AND j.state = 'running') AS running,
       (SELECT count(*) FROM jobs j WHERE j.experiment_id = e.id AND j.state = 'done') AS done,
       (SELECT count(*) FROM jobs j WHERE j.experiment_id = e.id AND j.state = 'failed') AS failed,
       (SELECT count(*) FROM jobs j WHERE j.experiment_id = e.id AND j.state = 'diverged') AS diverged,
       (SELECT count(*) FROM epochs p JOIN jobs j ON j.id = p.job_id
         WHERE j.experiment_id = e.id) AS epochs_stored
FROM experiments e;

-- Runs, reached and censored per condition and target.  mean_fpt_reached_only
-- is the naive mean over the runs that reached the target: it is biased low
-- when runs are censored.  Use the survival analysis (v_survival, fptfarm's
-- analysis) for the real mean first-passage time.
CREATE VIEW v_mfpt AS
SELECT j.experiment_id,
       j.protocol,
       j.timing,
       j.frequency,
       fp.target,
       count(*) AS runs,
       count(fp.epoch) AS reached,
       count(*) - count(fp.epoch) AS censored,
       avg(fp.epoch) AS mean_fpt_reached_only
FROM first_passages fp
JOIN jobs j ON j.id = fp.job_id
GROUP BY j.experiment_id, j.protocol, j.timing, j.frequency, fp.target;

-- Kaplan-Meier inputs per condition and target, one row per epoch t at which
-- some run reached the target or was censored: at_risk = runs with
-- first-passage or censoring time >= t, events = runs reaching the target at
-- t, censored = runs censored at t.  km_survival = S(t) = product over
-- t' <= t of (1 - events/at_risk) (0 once every run at risk has an event).
-- km_survival needs SQLite's math functions (exp, ln; SQLite >= 3.35).
CREATE VIEW v_survival AS
WITH times AS (
    SELECT j.experiment_id, j.protocol, j.timing, j.frequency, fp.target,
           coalesce(fp.epoch, fp.censored_at) AS t,
           (fp.epoch IS NOT NULL) AS event
    FROM first_passages fp
    JOIN jobs j ON j.id = fp.job_id
),
per_t AS (
    SELECT experiment_id, protocol, timing, frequency, target, t,
           sum(event) AS events,
           count(*) - sum(event) AS censored
    FROM times
    GROUP BY experiment_id, protocol, timing, frequency, target, t
),
risk AS (
    SELECT per_t.*,
           sum(events + censored) OVER (
               PARTITION BY experiment_id, protocol, timing, frequency, target
               ORDER BY t DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS at_risk
    FROM per_t
)
SELECT experiment_id, protocol, timing, frequency, target,
       t AS epoch, at_risk, events, censored,
       CASE WHEN max(events = at_risk) OVER w THEN 0.0
            ELSE exp(sum(ln(1.0 - CAST(events AS REAL) / at_risk)) OVER w)
       END AS km_survival
FROM risk
WINDOW w AS (PARTITION BY experiment_id, protocol, timing, frequency, target
             ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);
