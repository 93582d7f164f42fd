/*
 * bench_rand.h - the fixed pseudo-random sequence (xorshift32) the
 * micro-benchmarks build their inputs from, the same on every run so that
 * runs compare.
 */
#ifndef FLOWAUDIT_BENCH_RAND_H
#define FLOWAUDIT_BENCH_RAND_H

#include <stdint.h>

static inline uint32_t next_rand(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

#endif
