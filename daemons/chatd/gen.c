/*
 * gen.c - one generation: the aid stream, batching, stop, title.
 * (Being written.)
 */
#include "live.h"
#include "banned.h"
