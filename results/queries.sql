-- Example queries on an fptfarm results database (schema: results/schema.sql).
--
--     sqlite3 -header -column results.db < results/queries.sql
--
-- Parameters are written as :name; in the sqlite3 shell set them with
--     .parameter set :experiment "'meir2025'"
--     .parameter set :target 72
--     .parameter set :job 1

-- Progress: jobs by state and epochs stored, per experiment.
SELECT * FROM v_progress;

-- The same for one experiment, state by state (what `fptfarm status` shows).
SELECT j.state, count(*) AS jobs, sum(j.attempts) AS attempts, sum(j.crashes) AS crashes
FROM jobs j JOIN experiments e ON e.id = j.experiment_id
WHERE e.name = :experiment
GROUP BY j.state
ORDER BY j.state;

-- Mean first-passage time per protocol and frequency at one target.
-- mean_fpt_reached_only ignores censored runs (biased low when censored > 0);
-- the survival analysis below accounts for them.
SELECT m.protocol, m.timing, m.frequency, m.runs, m.reached, m.censored,
       round(m.mean_fpt_reached_only, 2) AS mean_fpt_reached_only
FROM v_mfpt m JOIN experiments e ON e.id = m.experiment_id
WHERE e.name = :experiment AND m.target = :target
ORDER BY m.protocol, m.timing, m.frequency;

-- Kaplan-Meier inputs (at risk, events, censored) and S(t) for the
-- unperturbed runs at one target.
SELECT s.epoch, s.at_risk, s.events, s.censored, round(s.km_survival, 4) AS km_survival
FROM v_survival s JOIN experiments e ON e.id = s.experiment_id
WHERE e.name = :experiment AND s.target = :target AND s.timing = 'none'
ORDER BY s.epoch;

-- Restricted mean first-passage time up to the last observed epoch: the area
-- under the Kaplan-Meier curve, per condition (sum of S over the gaps between
-- event/censoring epochs, S = 1 before the first one).
SELECT protocol, timing, frequency,
       round(sum(s_before * (epoch - prev_epoch)), 2) AS rmst_epochs
FROM (
    SELECT s.protocol, s.timing, s.frequency, s.epoch,
           coalesce(lag(s.epoch) OVER w, 0) AS prev_epoch,
           coalesce(lag(s.km_survival) OVER w, 1.0) AS s_before
    FROM v_survival s JOIN experiments e ON e.id = s.experiment_id
    WHERE e.name = :experiment AND s.target = :target
    WINDOW w AS (PARTITION BY s.protocol, s.timing, s.frequency ORDER BY s.epoch)
)
GROUP BY protocol, timing, frequency
ORDER BY protocol, timing, frequency;

-- One job's trace, with its first passages.
SELECT p.epoch, p.train_loss, p.test_loss, p.test_acc, p.lr, p.perturbed, p.seconds
FROM epochs p
WHERE p.job_id = :job
ORDER BY p.epoch;

SELECT target, epoch AS first_passage, censored_at
FROM first_passages
WHERE job_id = :job
ORDER BY target;

-- Jobs that crashed at least once or failed, for the operator.
SELECT j.id, e.name AS experiment, j.protocol, j.timing, j.frequency, j.seed,
       j.state, j.attempts, j.crashes, j.worker, j.host, j.started_at, j.finished_at
FROM jobs j JOIN experiments e ON e.id = j.experiment_id
WHERE j.crashes > 0 OR j.state = 'failed'
ORDER BY j.id;

-- ---- the analysis (fptfarm fit; schema version 2) -----------------------------

-- Measured against predicted mean FPT, per protocol and period, with the
-- relative error; valid = 0 marks periods below t_rel (outside the model).
SELECT protocol, frequency AS tau, model, round(measured, 2) AS measured,
       round(predicted, 2) AS predicted, round(lo, 2) AS lo, round(hi, 2) AS hi,
       round(100 * rel_error, 1) AS err_pct, valid
FROM v_fit_check
WHERE experiment = :experiment AND target = :target
ORDER BY protocol, model, frequency;

-- Each condition's summary: restricted mean with its interval, median,
-- extrapolated mean (a model), final accuracy.
SELECT c.protocol, c.timing, c.frequency, c.runs, c.censored, c.diverged,
       round(c.restricted_mean, 2) AS mean_fpt, round(c.restricted_mean_lo, 2) AS lo,
       round(c.restricted_mean_hi, 2) AS hi, c.median, round(c.extrapolated_mean, 1) AS extrapolated,
       round(c.final_acc, 2) AS final_acc
FROM fit_conditions c JOIN fits f ON f.id = c.fit_id JOIN experiments e ON e.id = f.experiment_id
WHERE e.name = :experiment AND f.target = :target
ORDER BY c.protocol <> 'none', c.protocol, c.frequency;

-- The best predicted period within the model's domain, per protocol.
SELECT p.protocol, p.frequency AS tau, round(min(p.predicted), 2) AS predicted
FROM fit_predictions p JOIN fits f ON f.id = p.fit_id JOIN experiments e ON e.id = f.experiment_id
WHERE e.name = :experiment AND f.target = :target AND p.model = 'qss' AND p.valid = 1
GROUP BY p.protocol;

-- ---- adaptive campaigns ([campaign] mode = adaptive; schema version 3) ------------

-- Every decision, in order: what was run, dropped or chosen, on what estimate.
SELECT d.seq, d.phase, d.action, d.protocol, d.frequency, d.runs, d.basis,
       round(d.estimate, 2) AS mean_fpt, round(d.lo, 2) AS lo, round(d.hi, 2) AS hi,
       d.runs_used, d.reason
FROM campaign_decisions d JOIN experiments e ON e.id = d.experiment_id
WHERE e.name = :experiment
ORDER BY d.seq;

-- Where each campaign stands, what it recommends, and its cost against a sweep.
SELECT e.name, s.phase, s.stopped, s.protocol, s.frequency, round(s.estimate, 2) AS mean_fpt,
       s.runs_used, s.sweep_runs, round(100.0 * s.runs_used / s.sweep_runs, 1) AS pct_of_sweep,
       s.reason
FROM campaign_summary s JOIN experiments e ON e.id = s.experiment_id;

-- Runs per condition and phase.
SELECT protocol, frequency, phase, sum(runs) AS runs
FROM campaign_decisions d JOIN experiments e ON e.id = d.experiment_id
WHERE e.name = :experiment AND action = 'run'
GROUP BY protocol, frequency, phase
ORDER BY phase, protocol, frequency;
