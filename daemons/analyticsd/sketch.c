/*
 * sketch.c - the log-bucketed latency histogram of analyticsd (see
 * sketch.h).
 */
#include "sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "banned.h"

void sketch_init(struct sketch *s)
{
	memset(s, 0, sizeof(*s));
}

void sketch_release(struct sketch *s)
{
	free(s->b);
	sketch_init(s);
}

int32_t sketch_index(int64_t value)
{
	double i;

	if (value <= 0)
		return SKETCH_ZERO;
	/* the small epsilon keeps exact powers of gamma (and 1) in their
	 * own bucket despite the rounding of log() */
	i = ceil(log((double)value) / log(SKETCH_GAMMA) - 1e-9);
	return (int32_t)i;
}

double sketch_value(int32_t index)
{
	if (index == SKETCH_ZERO)
		return 0;
	return 2.0 * pow(SKETCH_GAMMA, index) / (SKETCH_GAMMA + 1.0);
}

int sketch_add_bucket(struct sketch *s, int32_t index, int64_t count)
{
	size_t lo = 0, hi = s->n, mid;
	struct sketch_bucket *nb;

	if (count < 1)
		return CHAT_EINVAL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->b[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->n && s->b[lo].index == index) {
		s->b[lo].count += count;
		s->total += count;
		return 0;
	}
	if (s->n == SKETCH_MAX_BUCKETS)
		return CHAT_ETOOBIG;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;

		if (cap > SKETCH_MAX_BUCKETS)
			cap = SKETCH_MAX_BUCKETS;
		nb = realloc(s->b, cap * sizeof(*nb));
		if (!nb)
			return CHAT_ENOMEM;
		s->b = nb;
		s->cap = cap;
	}
	memmove(&s->b[lo + 1], &s->b[lo], (s->n - lo) * sizeof(*s->b));
	s->b[lo].index = index;
	s->b[lo].count = count;
	s->n++;
	s->total += count;
	return 0;
}

int sketch_add(struct sketch *s, int64_t value)
{
	return sketch_add_bucket(s, sketch_index(value), 1);
}

int sketch_merge(struct sketch *s, const struct sketch *from)
{
	size_t i;
	int rc;

	for (i = 0; i < from->n; i++) {
		rc = sketch_add_bucket(s, from->b[i].index, from->b[i].count);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int sketch_quantile(const struct sketch *s, double q, double *out)
{
	int64_t rank, seen = 0;
	size_t i;

	if (!(q >= 0 && q <= 1))
		return CHAT_EINVAL;
	if (s->total == 0)
		return CHAT_ENOTFOUND;
	rank = (int64_t)floor(q * (double)(s->total - 1));
	for (i = 0; i < s->n; i++) {
		seen += s->b[i].count;
		if (seen > rank)
			break;
	}
	if (i == s->n)
		i = s->n - 1;
	*out = sketch_value(s->b[i].index);
	return 0;
}
