/*
 * parallel.c: parallel_for, the one thread pool shape the project needs
 * (keystore decryption at start-up and in the enclave's init): a fixed
 * number of jobs, each thread taking the next index from an atomic counter,
 * the caller working too.
 */
#include "core/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct pf {
	size_t n;
	atomic_size_t next;
	void (*fn)(void *arg, size_t i);
	void *arg;
};

static void *pf_worker(void *p)
{
	struct pf *pf = p;
	for (;;) {
		size_t i = atomic_fetch_add(&pf->next, 1);
		if (i >= pf->n)
			break;
		pf->fn(pf->arg, i);
	}
	return NULL;
}

static void *pf_thread(void *p)
{
	cpu_unpin_thread(); /* a pinned caller's threads would share its core */
	return pf_worker(p);
}

void parallel_for(size_t n, int threads, void (*fn)(void *arg, size_t i),
		  void *arg)
{
	struct pf pf = {.n = n, .fn = fn, .arg = arg};
	atomic_init(&pf.next, 0);
	size_t t = threads > 0 ? (size_t)threads : (size_t)cpu_count();
	if (t > n)
		t = n;
	if (t < 1)
		t = 1;
	pthread_t *tids = t > 1 ? calloc(t - 1, sizeof(*tids)) : NULL;
	size_t started = 0;
	/* The caller is worker 0; threads that cannot start leave their
	 * share to the others. */
	for (size_t i = 1; tids && i < t; i++) {
		if (pthread_create(&tids[started], NULL, pf_thread, &pf) != 0)
			break;
		started++;
	}
	pf_worker(&pf);
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
}
