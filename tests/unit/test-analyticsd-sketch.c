/* test-analyticsd-sketch.c - analyticsd's latency histogram (sketch.h):
 * every quantile within 1 % of the exact one over several
 * distributions, merging two sketches equals one sketch of both inputs,
 * bucket bounds, the zero bucket and the errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "../../daemons/analyticsd/sketch.h"

#define N_VALUES 20000

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* A small deterministic generator (xorshift), no libc state. */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

typedef int64_t (*gen_fn)(void);

static int64_t gen_uniform(void)
{
	return 1 + (int64_t)(rng() % 5000);
}

/* Long-tailed, like latencies: most small, a few in the minutes. */
static int64_t gen_lognormal(void)
{
	double u1 = ((double)(rng() % 1000000) + 1) / 1000001.0;
	double u2 = ((double)(rng() % 1000000) + 1) / 1000001.0;
	double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);

	return 1 + (int64_t)exp(5 + 1.5 * z);
}

static int64_t gen_constant(void)
{
	return 250;
}

static const struct {
	const char *name;
	gen_fn gen;
} dists[] = {
	{ "uniform", gen_uniform },
	{ "lognormal", gen_lognormal },
	{ "constant", gen_constant },
};

static const double quantiles[] = { 0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99,
				    0.999, 1 };

/* Every quantile of s within 1 % of the exact one of v (sorted). */
static void check_quantiles(const struct sketch *s, const int64_t *v,
			    size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++) {
		double q = quantiles[i], got = 0;
		double exact = (double)v[(size_t)floor(q * (double)(n - 1))];

		assert_int_equal(sketch_quantile(s, q, &got), 0);
		if (fabs(got - exact) > 0.01 * exact) {
			print_error("%s q=%g: got %g, exact %g\n", name, q,
				    got, exact);
			fail();
		}
	}
}

static void test_sketch__quantiles_within_one_percent(void **state)
{
	static int64_t v[N_VALUES];
	struct sketch s;
	size_t d, i;

	(void)state;
	for (d = 0; d < sizeof(dists) / sizeof(dists[0]); d++) {
		sketch_init(&s);
		for (i = 0; i < N_VALUES; i++) {
			v[i] = dists[d].gen();
			assert_int_equal(sketch_add(&s, v[i]), 0);
		}
		qsort(v, N_VALUES, sizeof(v[0]), cmp_i64);
		assert_int_equal(s.total, N_VALUES);
		check_quantiles(&s, v, N_VALUES, dists[d].name);
		sketch_release(&s);
	}
}

static void test_sketch__merge_equals_one_sketch(void **state)
{
	static int64_t v[N_VALUES];
	struct sketch a, b, all;
	size_t i;

	(void)state;
	sketch_init(&a);
	sketch_init(&b);
	sketch_init(&all);
	for (i = 0; i < N_VALUES; i++) {
		/* two days of different shapes */
		v[i] = i % 2 ? gen_lognormal() : gen_uniform();
		assert_int_equal(sketch_add(i % 2 ? &a : &b, v[i]), 0);
		assert_int_equal(sketch_add(&all, v[i]), 0);
	}
	assert_int_equal(sketch_merge(&a, &b), 0);
	assert_int_equal(a.total, all.total);
	assert_int_equal(a.n, all.n);
	for (i = 0; i < a.n; i++) {
		assert_int_equal(a.b[i].index, all.b[i].index);
		assert_int_equal(a.b[i].count, all.b[i].count);
	}
	qsort(v, N_VALUES, sizeof(v[0]), cmp_i64);
	check_quantiles(&a, v, N_VALUES, "merged");
	sketch_release(&a);
	sketch_release(&b);
	sketch_release(&all);
}

/* Each value lands in the bucket (gamma^(i-1), gamma^i] and the bucket's
 * value is within 1 % of it. */
static void test_sketch__buckets(void **state)
{
	int64_t x;
	int32_t i;

	(void)state;
	assert_int_equal(sketch_index(0), SKETCH_ZERO);
	assert_int_equal(sketch_index(-5), SKETCH_ZERO);
	assert_true(sketch_value(SKETCH_ZERO) == 0);
	assert_int_equal(sketch_index(1), 0);
	for (x = 1; x < 3000000; x = x * 3 / 2 + 1) {
		i = sketch_index(x);
		assert_true((double)x <= pow(SKETCH_GAMMA, i) * (1 + 1e-9));
		assert_true((double)x > pow(SKETCH_GAMMA, i - 1) * (1 - 1e-9));
		assert_true(fabs(sketch_value(i) - (double)x) <=
			    0.01 * (double)x);
	}
}

static void test_sketch__errors(void **state)
{
	struct sketch s;
	double v;

	(void)state;
	sketch_init(&s);
	assert_int_equal(sketch_quantile(&s, 0.5, &v), CHAT_ENOTFOUND);
	assert_int_equal(sketch_add_bucket(&s, 3, 0), CHAT_EINVAL);
	assert_int_equal(sketch_add(&s, 0), 0);
	assert_int_equal(sketch_quantile(&s, 1.5, &v), CHAT_EINVAL);
	assert_int_equal(sketch_quantile(&s, -0.1, &v), CHAT_EINVAL);
	assert_int_equal(sketch_quantile(&s, 0.5, &v), 0);
	assert_true(v == 0);
	sketch_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sketch__quantiles_within_one_percent),
		cmocka_unit_test(test_sketch__merge_equals_one_sketch),
		cmocka_unit_test(test_sketch__buckets),
		cmocka_unit_test(test_sketch__errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
