/*
 * clock.c: the watchdog's clocks: a monotonic millisecond clock for its
 * deadlines and timers, and UTC timestamps for /health and the pushed
 * credentials' Expiration.
 */
#include <stdio.h>
#include <time.h>

#include "host/watchdog.h"

int64_t host_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void host_iso8601(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}
