#!/usr/bin/env python3
"""The study's facts at target 72% (tests/data/README.md), computed without fptfarm.

Plain Python (no numpy), written before the C analysis as its independent
reference; bench/analysis.sh also times it beside `fptfarm fit`.

    python3 tests/ref/study_facts.py TRACES.csv

Prints the baseline counts and Kaplan-Meier restricted mean, <T_p> at tau0 = 20,
the QSS prediction against the measured restricted mean at every period, and
the KS p-values of the baseline accuracies at epochs 13..20 against epoch 100.
"""
import bisect
import collections
import csv
import math
import sys

E, TARGET, TAU0, KS_REF = 200, 72.0, 20, 100


def first_passage(trace):
    for i, a in enumerate(trace):
        if a >= TARGET:
            return i + 1, 1
    return len(trace), 0


def kaplan_meier(obs, horizon):
    """S[0..horizon] from (time, event) pairs."""
    events, leaving = collections.Counter(), collections.Counter()
    for t, ev in obs:
        leaving[t] += 1
        events[t] += ev
    s, at_risk, S = 1.0, len(obs), [1.0] * (horizon + 1)
    for t in range(1, horizon + 1):
        if at_risk > 0:
            s *= 1 - events[t] / at_risk
        S[t] = s
        at_risk -= leaving[t]
    return S


def ks_2samp(x, y):
    """D over every distinct value; p by Stephens' asymptotic formula."""
    x, y = sorted(x), sorted(y)
    d = max(abs(bisect.bisect_right(x, v) / len(x) - bisect.bisect_right(y, v) / len(y))
            for v in set(x) | set(y))
    ne = len(x) * len(y) / (len(x) + len(y))
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    p = 1.0 if lam < 0.2 else 2 * sum((-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam)
                                      for j in range(1, 101))
    return d, min(1.0, max(0.0, p))


def main(path):
    runs = collections.defaultdict(list)
    with open(path) as f:
        rows = csv.reader(f)
        next(rows)
        for protocol, period, seed, _epoch, acc in rows:
            runs[(protocol, int(period), int(seed))].append(float(acc))
    base = [first_passage(tr) for k, tr in runs.items() if k[0] == 'none']
    S = kaplan_meier(base, E)
    print(f"baseline: {len(base)} runs, {sum(1 for _, e in base if not e)} censored, "
          f"restricted mean {sum(S[:E]):.3f}")
    ref = [first_passage(tr) for k, tr in runs.items() if k[0] != 'none' and k[1] == TAU0]
    tp = [(t - TAU0, e) for t, e in ref if t > TAU0]
    Sp = kaplan_meier(tp, E - TAU0)
    mean_tp = sum(Sp[:E - TAU0])
    print(f"<T_p> at tau0 = {TAU0}: {mean_tp:.4f} ({len(tp)} of {len(ref)} runs)")
    for tau in sorted({k[1] for k in runs if k[0] != 'none'}):
        obs = [first_passage(tr) for k, tr in runs.items() if k[0] != 'none' and k[1] == tau]
        measured = sum(kaplan_meier(obs, E)[:E])
        predicted = sum(S[:tau]) + S[tau] * mean_tp
        print(f"tau {tau:3d}: measured {measured:6.2f}  QSS {predicted:6.2f}  "
              f"({100 * (predicted - measured) / measured:+.1f}%)")
    traces = [tr for k, tr in runs.items() if k[0] == 'none']
    for t in range(13, 21):
        d, p = ks_2samp([tr[t - 1] for tr in traces], [tr[KS_REF - 1] for tr in traces])
        print(f"KS epoch {t} vs {KS_REF}: D {d:.3f} p {p:.3g}")


if __name__ == '__main__':
    main(sys.argv[1])
