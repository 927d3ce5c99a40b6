// text.h — numbers as canonical text.
#ifndef FPT_TEXT_H
#define FPT_TEXT_H

#include <stddef.h>

// The shortest "%.Ng" (N = 15, 16, then 17) that reads back as exactly d:
// readable ("0.05", not "0.050000000000000003") and one text per value, so
// equal values print equally and different values differently.  Returns
// snprintf's count.
int fpt_format_double(char *buf, size_t len, double d);

#endif
