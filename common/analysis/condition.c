// condition.c — conditions and their keys (condition.h).
#include "analysis/condition.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int64_t fpt_frequency_key(const char *timing, double frequency) {
    if (!isfinite(frequency)) return 0;
    if (!strcmp(timing, "periodic")) return (int64_t)llround(frequency);
    if (!strcmp(timing, "geometric")) return (int64_t)llround(frequency * 4294967296.0);
    return 0;
}

int fpt_condition_same(const char *protocol_a, const char *timing_a, double frequency_a,
                       const char *protocol_b, const char *timing_b, double frequency_b) {
    return !strcmp(protocol_a, protocol_b) && !strcmp(timing_a, timing_b) &&
           fpt_frequency_key(timing_a, frequency_a) == fpt_frequency_key(timing_b, frequency_b);
}

int fpt_condition_is_baseline(const char *protocol, const char *timing) {
    return !strcmp(protocol, "none") || !strcmp(timing, "none");
}

const char *fpt_condition_label(const char *protocol, const char *timing, double frequency,
                                char *buf, size_t cap) {
    if (!strcmp(timing, "none")) snprintf(buf, cap, "%s (unperturbed)", protocol);
    else if (!strcmp(timing, "geometric")) snprintf(buf, cap, "%s p=%g", protocol, frequency);
    else snprintf(buf, cap, "%s tau=%g", protocol, frequency);
    return buf;
}
