// protocols.h — the entries of the protocol table (train/protocol.h), one
// file each, and the key they share.  Included by protocol.c (the table) and
// by the entries themselves; everything else goes through protocol.h.
#ifndef FPT_PROTOCOLS_H
#define FPT_PROTOCOLS_H

#include "train/protocol.h"

extern const fpt_protocol_def fpt_protocol_none;            // none.c
extern const fpt_protocol_def fpt_protocol_reset;           // reset.c
extern const fpt_protocol_def fpt_protocol_partial_reset;   // partial_reset.c
extern const fpt_protocol_def fpt_protocol_shrink_perturb;  // shrink_perturb.c
extern const fpt_protocol_def fpt_protocol_warm_restart;    // warm_restart.c

// `variant` (clean | study), a key of every protocol the study's code
// applies differently from its definition (protocol.c).
extern const fpt_protocol_key fpt_key_variant;
extern const char *const fpt_variant_names[];

#endif
