// main.c — the fptfarm command line (placeholder until the subcommands land).
#include <stdio.h>
int main(void) { return 0; }
