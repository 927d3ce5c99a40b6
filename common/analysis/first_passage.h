// first_passage.h — the first-passage time of a training run (docs/SCIENCE.md s1).
//
// T = min{ e : acc(e) >= target }, epochs counted from 1.  A run that never
// reaches the target within its n recorded epochs is right-censored at n:
// reported as 0 here ("not reached"), never as n.
#ifndef FPT_FIRST_PASSAGE_H
#define FPT_FIRST_PASSAGE_H

#include <stdint.h>

// Online form, used epoch by epoch: sets *fpt to `epoch` the first time
// acc >= target (acc and target in percent).
static inline void fpt_first_passage_step(int32_t *fpt, int epoch, double acc, double target) {
    if (*fpt == 0 && acc >= target) *fpt = epoch;
}

// Over a whole trace acc[0..n) (acc[e-1] = accuracy after epoch e): the first
// epoch reaching target, or 0 if censored.
int fpt_first_passage(const double *acc, int n, double target);

#endif
