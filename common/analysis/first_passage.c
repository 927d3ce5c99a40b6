// first_passage.c — see first_passage.h.
#include "analysis/first_passage.h"

int fpt_first_passage(const double *acc, int n, double target) {
    int32_t t = 0;
    for (int e = 1; e <= n && t == 0; e++) fpt_first_passage_step(&t, e, acc[e - 1], target);
    return t;
}
