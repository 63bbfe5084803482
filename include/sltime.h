/*
 * sltime.h: the time as seconds in a double, for every module (timeouts,
 * rates, journal times shown to people).  Wall time for what is recorded
 * or compared with times in the config; monotonic for deadlines.
 */
#ifndef SLTIME_H
#define SLTIME_H

#include <time.h>

static inline double
sl_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CLOCK_REALTIME seconds: for what is journaled or compared with dates. */
static inline double
sl_time_wall(void)
{
	return sl_clock(CLOCK_REALTIME);
}

/* CLOCK_MONOTONIC seconds: for deadlines and elapsed times. */
static inline double
sl_time_mono(void)
{
	return sl_clock(CLOCK_MONOTONIC);
}

#endif
