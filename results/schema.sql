-- fptfarm results database, schema version 6 (PRAGMA user_version = 6);
-- from version 5 on also PRAGMA application_id = 0x46505446 ("FPTF").
--
-- The build compiles this file into fptfarm (Makefile: build/gen/schema_sql.c):
-- an empty database gets all of it.  Each "-- ==== version N" section below
-- upgrades a database of version N-1: opening an older database runs the
-- sections it lacks, in one transaction, and sets user_version.  Never edit
-- a released section; add a new one and bump FPT_STORE_SCHEMA_VERSION.
--
-- Idempotence: every table has a natural unique key.  Re-storing an epoch
-- record or a first passage is an upsert on (job_id, epoch) or
-- (job_id, target): the same values leave the table unchanged, new values
-- for the same key replace the old ones (last write wins).  Experiments and
-- jobs are insert-or-get on name and on
-- (experiment_id, protocol, timing, frequency, seed).

-- ==== version 1: experiments, jobs, traces, first passages

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

-- ==== version 2: the analysis (fptfarm fit)
--
-- One fit per experiment and target: re-fitting replaces it and everything
-- that hangs off it (ON DELETE CASCADE).  Times are in epochs, accuracies in
-- percent.  Intervals (_lo, _hi) are at fits.level: survival bands pointwise
-- with the stated transform, means and <T_p> by bootstrap over runs.
-- NULL means "not defined": an infinite mean (S never falls below 1), a
-- median not reached, a tail that cannot be estimated.

CREATE TABLE fits (
    id              INTEGER PRIMARY KEY,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (id),
    target          REAL NOT NULL,              -- percent test accuracy
    horizon         INTEGER NOT NULL,           -- epochs: the longest run; restricted means are to it
    level           REAL NOT NULL,              -- of every interval, e.g. 0.95
    survival_ci     TEXT NOT NULL CHECK (survival_ci IN ('log-log', 'log')),
    bootstrap       INTEGER NOT NULL,           -- resamples over runs (0: no mean intervals)
    seed            INTEGER NOT NULL,           -- of the bootstrap
    ks_reference    INTEGER,                    -- epoch whose accuracies the KS tests compare with
    alpha           REAL NOT NULL,              -- KS significance level
    t_rel           INTEGER,                    -- relaxation time; NULL: never stops rejecting
    unfinished_runs INTEGER NOT NULL,           -- runs left out: pending, running or failed
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (experiment_id, target)
);

-- Each condition's runs: outcome counts and Kaplan-Meier summaries.
CREATE TABLE fit_conditions (
    fit_id            INTEGER NOT NULL REFERENCES fits (id) ON DELETE CASCADE,
    protocol          TEXT NOT NULL,
    timing            TEXT NOT NULL,
    frequency         REAL NOT NULL,
    runs              INTEGER NOT NULL,          -- reached + censored (diverged kept apart)
    reached           INTEGER NOT NULL,
    censored          INTEGER NOT NULL,
    diverged          INTEGER NOT NULL,          -- diverged before reaching the target
    restricted_mean   REAL NOT NULL,             -- E[min(T, horizon)]
    restricted_mean_lo REAL,
    restricted_mean_hi REAL,
    median            INTEGER,
    median_lo         INTEGER,
    median_hi         INTEGER,
    tail_t0           INTEGER,                   -- exponential tail fitted past this epoch
    tail_rate         REAL,                      -- k, per epoch
    tail_rate_se      REAL,
    extrapolated_mean REAL,                      -- restricted mean + fitted tail (a model, not data)
    final_acc         REAL,                      -- mean over runs of the last 10 epochs' mean accuracy
    PRIMARY KEY (fit_id, protocol, timing, frequency)
);

-- S(t) = P(T > t) per condition at every epoch 0..horizon.
CREATE TABLE fit_survival (
    fit_id    INTEGER NOT NULL REFERENCES fits (id) ON DELETE CASCADE,
    protocol  TEXT NOT NULL,
    timing    TEXT NOT NULL,
    frequency REAL NOT NULL,
    epoch     INTEGER NOT NULL CHECK (epoch >= 0),
    at_risk   INTEGER NOT NULL,
    events    INTEGER NOT NULL,
    censored  INTEGER NOT NULL,
    survival  REAL NOT NULL,
    lo        REAL NOT NULL,
    hi        REAL NOT NULL,
    PRIMARY KEY (fit_id, protocol, timing, frequency, epoch)
) WITHOUT ROWID;

-- The relaxation test: KS of the baseline accuracies at epoch vs ks_reference.
CREATE TABLE fit_ks (
    fit_id    INTEGER NOT NULL REFERENCES fits (id) ON DELETE CASCADE,
    epoch     INTEGER NOT NULL CHECK (epoch >= 1),
    statistic REAL NOT NULL,
    p_value   REAL NOT NULL,
    PRIMARY KEY (fit_id, epoch)
) WITHOUT ROWID;

-- The response model's reference per perturbing protocol: <T_p>, the mean
-- time from the first perturbation to first passage, from the runs at the
-- reference period that had not reached the target by it.
CREATE TABLE fit_references (
    fit_id    INTEGER NOT NULL REFERENCES fits (id) ON DELETE CASCADE,
    protocol  TEXT NOT NULL,
    timing    TEXT NOT NULL,
    reference REAL NOT NULL,                     -- tau0 (epochs) or p0
    tp_runs   INTEGER NOT NULL,
    tp_mean   REAL NOT NULL,
    tp_lo     REAL,
    tp_hi     REAL,
    PRIMARY KEY (fit_id, protocol, timing)
);

-- Predicted mean FPT per protocol, frequency and model (qss, renewal,
-- restart, linear: docs/SCIENCE.md s4), beside the measured restricted mean where
-- runs exist.  valid = 0: the period is below t_rel, outside the model.
CREATE TABLE fit_predictions (
    fit_id      INTEGER NOT NULL REFERENCES fits (id) ON DELETE CASCADE,
    protocol    TEXT NOT NULL,
    timing      TEXT NOT NULL,
    frequency   REAL NOT NULL,
    model       TEXT NOT NULL CHECK (model IN ('qss', 'renewal', 'restart', 'linear')),
    predicted   REAL,
    lo          REAL,
    hi          REAL,
    measured    REAL,
    measured_lo REAL,
    measured_hi REAL,
    rel_error   REAL,                            -- (predicted - measured) / measured
    valid       INTEGER NOT NULL CHECK (valid IN (0, 1)),
    PRIMARY KEY (fit_id, protocol, timing, frequency, model)
);

-- Measured against predicted, by experiment name and target.
CREATE VIEW v_fit_check AS
SELECT e.name AS experiment, f.target, p.protocol, p.timing, p.frequency, p.model,
       p.measured, p.predicted, p.lo, p.hi, p.rel_error, p.valid
FROM fit_predictions p
JOIN fits f ON f.id = p.fit_id
JOIN experiments e ON e.id = f.experiment_id
WHERE p.measured IS NOT NULL;

-- ==== version 3: adaptive campaigns ([campaign] mode = adaptive)

-- Every decision of an adaptive campaign, in order, written in the same
-- transaction as the jobs it creates: the campaign's state is this table
-- plus the jobs, so a killed campaign resumes exactly where it was.
--   phase:  baseline (unperturbed runs until S(t) and t_rel are known),
--           reference (each protocol's tau0 until <T_p> is known),
--           confirm (the best predicted candidates, measured), done.
--   action: run (add `runs` jobs at the condition), estimate (what a phase
--           ended with), candidate (chosen for confirmation on its
--           prediction), drop (measured and clearly worse), stop (the end;
--           the condition is the recommendation, `reason` says why).
-- estimate, lo, hi: the mean first-passage time (epochs) the decision rests
-- on and its 95% interval: measured (restricted mean) or predicted, as
-- `basis` says.  runs_used, epochs_used: the campaign's cost so far.
CREATE TABLE campaign_decisions (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id),
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    phase         TEXT NOT NULL CHECK (phase IN ('baseline', 'reference', 'confirm', 'done')),
    action        TEXT NOT NULL
                  CHECK (action IN ('run', 'estimate', 'candidate', 'drop', 'stop')),
    protocol      TEXT,
    timing        TEXT,
    frequency     REAL,
    runs          INTEGER NOT NULL DEFAULT 0 CHECK (runs >= 0),
    basis         TEXT CHECK (basis IN ('measured', 'predicted')),
    estimate      REAL,
    lo            REAL,
    hi            REAL,
    runs_used     INTEGER NOT NULL,
    epochs_used   INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (experiment_id, seq)
);

-- One row per adaptive campaign: where it stands and, once stopped, what it
-- recommends and what it cost against a sweep of the whole grid
-- (sweep_runs, sweep_epochs: from the stop decision).
CREATE TABLE campaign_summary (
    experiment_id INTEGER PRIMARY KEY REFERENCES experiments (id),
    phase         TEXT NOT NULL,
    stopped       INTEGER NOT NULL DEFAULT 0,
    protocol      TEXT,
    timing        TEXT,
    frequency     REAL,
    estimate      REAL,
    lo            REAL,
    hi            REAL,
    runs_used     INTEGER NOT NULL,
    epochs_used   INTEGER NOT NULL,
    sweep_runs    INTEGER NOT NULL,
    sweep_epochs  INTEGER NOT NULL,
    reason        TEXT NOT NULL
);

-- ==== version 4: what computed each job

-- jobs.compute: the compute backend, its library version and instruction
-- set, and the precision the job's worker trains with, as `fptfarm train`
-- prints them ("onednn 2.6.3 (avx512_core_bf16), bf16"; backend.h).  Set
-- when a worker starts the job (a resumed job: by the last worker); NULL for
-- imported runs and for jobs started before version 4.
ALTER TABLE jobs ADD COLUMN compute TEXT;

-- ==== version 5: the database's identity, its one coordinator, its data files

-- The campaign's identity: a random id made once, when the database is
-- created (or upgraded to version 5).  Every checkpoint a worker writes names
-- it, so a checkpoint left by another database (a deleted one whose
-- checkpoint directory survived, a reused --checkpoint-dir) is never resumed.
-- PRAGMA application_id = 0x46505446 ("FPTF") marks the file as fptfarm's.
CREATE TABLE farm (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    database_id TEXT NOT NULL CHECK (length(database_id) = 32),   -- 128 random bits, hex
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO farm (id, database_id) VALUES (1, lower(hex(randomblob(16))));
PRAGMA application_id = 1179669574;

-- The process that writes the database: one `fptfarm run` coordinator for
-- the whole campaign, or `fptfarm import` / `fptfarm merge` for their one
-- transaction.  Empty when nobody holds it.  A second writer is refused with
-- this row; a holder that is gone (its pid dead on this host, or no
-- heartbeat for a while from another machine) is taken over (store.c).
--   boot_id:     /proc/sys/kernel/random/boot_id of the holder's machine:
--                equal means the same machine since the same boot, where
--                the pid can be checked;
--   start_ticks: the holder's start time (/proc/PID/stat, clock ticks since
--                boot), so a reused pid is not mistaken for the holder;
--   heartbeat:   Unix seconds, renewed with every commit of a coordinator.
CREATE TABLE lease (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    command     TEXT NOT NULL,
    host        TEXT NOT NULL,
    boot_id     TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    start_ticks INTEGER NOT NULL,
    since       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    heartbeat   INTEGER NOT NULL
);

-- The files an experiment's spec names (a replay table, a dataset's files),
-- by content: a resume whose files changed is refused, naming the file.
CREATE TABLE experiment_files (
    experiment_id INTEGER NOT NULL REFERENCES experiments (id),
    role          TEXT NOT NULL,      -- what the spec uses it for: replay, train images, ...
    path          TEXT NOT NULL,      -- as the spec names it
    bytes         INTEGER NOT NULL,
    hash          TEXT NOT NULL,      -- FNV-1a 64 of the content, hex
    PRIMARY KEY (experiment_id, role)
);

-- ==== version 6: the relaxation time by effect size (docs/SCIENCE.md s2)

-- fits.t_rel is where the unperturbed runs' accuracy distribution stops
-- drifting: the KS distance D(t) between epochs t and t + relax_window stays
-- within relax_tolerance of its late level relax_floor (the median of D over
-- the second half of the runs) for relax_window epochs running; its interval
-- is a bootstrap over runs.  Fits stored before version 6 keep the t_rel of
-- the KS tests against ks_reference, with these columns NULL.  fit_ks keeps
-- those tests as a diagnostic.
ALTER TABLE fits ADD COLUMN t_rel_lo INTEGER;           -- epochs, at `level`; NULL: no bootstrap
ALTER TABLE fits ADD COLUMN t_rel_hi INTEGER;
ALTER TABLE fits ADD COLUMN relax_window INTEGER;       -- W, epochs
ALTER TABLE fits ADD COLUMN relax_tolerance REAL;       -- on D, in [0, 1]
ALTER TABLE fits ADD COLUMN relax_floor REAL;           -- the late median of D

-- D(t) for t = 1 .. H - W: what t_rel is read from.
CREATE TABLE fit_drift (
    fit_id   INTEGER NOT NULL REFERENCES fits (id) ON DELETE CASCADE,
    epoch    INTEGER NOT NULL CHECK (epoch >= 1),   -- t
    distance REAL NOT NULL CHECK (distance BETWEEN 0 AND 1),
    PRIMARY KEY (fit_id, epoch)
) WITHOUT ROWID;

-- The QSS check (docs/SCIENCE.md s4.6): where the data confirm the response
-- model.  Per periodic protocol with a reference, every measured period's
-- restricted mean FPT against the model fed by each other period that can
-- serve as a reference (kind 'loo'), and the post-perturbation laws of
-- neighbouring reference periods (kind 'law').  rel = (predicted -
-- measured) / measured with its bootstrap interval; verdict at the fit's
-- qss_tolerance; decisive = 1 marks the comparison a period's verdict rests
-- on.  fit_references gets the confirmed range and the nearest contradicted
-- periods; fit_predictions the support at each period.  Fits stored before
-- version 6 have no rows here and 'untested' support.
ALTER TABLE fits ADD COLUMN qss_tolerance REAL;          -- on |rel|; NULL: stored before v6
ALTER TABLE fit_references ADD COLUMN confirmed_lo REAL;        -- periods, epochs; NULL: none
ALTER TABLE fit_references ADD COLUMN confirmed_hi REAL;
ALTER TABLE fit_references ADD COLUMN contradicted_below REAL;  -- fails at tau <= this
ALTER TABLE fit_references ADD COLUMN contradicted_above REAL;  -- fails at tau >= this
ALTER TABLE fit_predictions ADD COLUMN support TEXT NOT NULL DEFAULT 'untested'
    CHECK (support IN ('untested', 'confirmed', 'contradicted', 'inconclusive'));

CREATE TABLE fit_qss (
    fit_id    INTEGER NOT NULL REFERENCES fits (id) ON DELETE CASCADE,
    protocol  TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('loo', 'law')),
    tau       REAL NOT NULL,       -- loo: the measured period; law: the later period
    from_tau  REAL NOT NULL,       -- loo: the period whose runs feed the model; law: the earlier
    horizon   INTEGER NOT NULL,    -- epochs the means are restricted to
    predicted REAL,                -- loo: mean FPT from from_tau; law: <T_p> after from_tau
    measured  REAL,                -- loo: measured at tau; law: <T_p> after tau
    distance  REAL,                -- law: KS distance of the two laws; loo: NULL
    rel       REAL,
    rel_lo    REAL,
    rel_hi    REAL,
    verdict   TEXT NOT NULL CHECK (verdict IN ('confirmed', 'contradicted', 'inconclusive')),
    decisive  INTEGER NOT NULL CHECK (decisive IN (0, 1)),
    PRIMARY KEY (fit_id, protocol, kind, tau, from_tau)
) WITHOUT ROWID;
