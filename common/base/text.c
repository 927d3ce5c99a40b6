// text.c — numbers as canonical text (text.h).
#include "base/text.h"

#include <stdio.h>
#include <stdlib.h>

int fpt_format_double(char *buf, size_t len, double d) {
    char tmp[40];
    for (int prec = 15; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) return snprintf(buf, len, "%s", tmp);
    }
    return snprintf(buf, len, "%.17g", d);
}
