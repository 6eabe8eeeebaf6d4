/*
 * progress.c: "n/N" lines on stderr for long work (keystores decrypted at
 * start-up, nitro-keys' opening, encrypting and uploading), with the rate
 * so far and the time left at that rate. At most one line every 200 ms,
 * and always the last one; safe to call from parallel_for's threads (a line
 * may lag by one).
 */
#include "core.h"

#include <stdio.h>

void progress_start(struct progress *p, const char *prefix, const char *what,
		    size_t total, bool on)
{
	p->prefix = prefix;
	p->what = what;
	p->total = total;
	p->on = on;
	p->start_us = clock_mono_us();
	atomic_store(&p->done, 0);
	atomic_store(&p->last_us, 0);
}

void progress_step(struct progress *p)
{
	if (!p->on)
		return;
	size_t n = atomic_fetch_add(&p->done, 1) + 1;
	uint64_t now = clock_mono_us();
	uint_fast64_t last = atomic_load(&p->last_us);
	if (n < p->total && (now - last < 200000 ||
			     !atomic_compare_exchange_strong(&p->last_us, &last, now)))
		return;
	double s = (double)(now - p->start_us) / 1e6;
	double rate = s > 0 ? (double)n / s : 0;
	fprintf(stderr, "%s%s %zu/%zu (%.1f/s, about %.0f s left)\n", p->prefix,
		p->what, n, p->total, rate,
		rate > 0 && p->total > n ? (double)(p->total - n) / rate : 0.0);
}
