/*
 * sketch.h - a mergeable latency histogram with relative accuracy, in the
 * manner of DDSketch: a value x > 0 goes to bucket i = ceil(log(x) /
 * log(gamma)), which covers (gamma^(i-1), gamma^i]; a quantile answers
 * the bucket's midpoint 2 gamma^i / (gamma + 1), within (gamma - 1) /
 * (gamma + 1) of every value in it.  gamma = 1.02 gives 0.99 %.
 *
 * Buckets are plain (index, count) pairs, so the store keeps them as rows
 * and merging days or users is a SUM ... GROUP BY index; this struct is
 * the in-memory form the quantiles are read from.  Values are whole
 * milliseconds; 0 has its own bucket, SKETCH_ZERO.
 */
#ifndef CHAT_SKETCH_H
#define CHAT_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define SKETCH_GAMMA 1.02
#define SKETCH_ZERO (-1)		/* the bucket of the value 0 */
#define SKETCH_MAX_BUCKETS 4096		/* ceiling of one sketch */

struct sketch_bucket {
	int32_t index;
	int64_t count;
};

/* Buckets sorted by index, each once. */
struct sketch {
	struct sketch_bucket *b;	/* owned */
	size_t n;
	size_t cap;
	int64_t total;			/* sum of the counts */
};

void sketch_init(struct sketch *s);
void sketch_release(struct sketch *s);

/* The bucket of a value (>= 0; a negative one counts as 0). */
int32_t sketch_index(int64_t value);
/* The value a bucket stands for. */
double sketch_value(int32_t index);

/* Adds count to bucket index.  CHAT_ENOMEM, CHAT_ETOOBIG past
 * SKETCH_MAX_BUCKETS, CHAT_EINVAL for a count below 1. */
int sketch_add_bucket(struct sketch *s, int32_t index, int64_t count);
/* Adds one value. */
int sketch_add(struct sketch *s, int64_t value);
/* Adds every bucket of from into s. */
int sketch_merge(struct sketch *s, const struct sketch *from);

/* The q-quantile (0 <= q <= 1) into *out: the value of the bucket that
 * holds the item of rank floor(q * (total - 1)).  CHAT_ENOTFOUND when
 * the sketch is empty, CHAT_EINVAL for q outside [0, 1]. */
int sketch_quantile(const struct sketch *s, double q, double *out);

#endif
