/*
 * secret.c: the secure allocator, the only home of secret bytes.
 *
 * Secrets are carved from 64 KiB slabs that are mmap'd privately, mlock'd
 * (so they never reach swap) and marked MADV_DONTDUMP (so they never reach a
 * core file). Each slab serves one size class (32 .. 4096 bytes); larger
 * requests get their own mapping. Freed slots are wiped with OPENSSL_cleanse
 * and go back on a per-class free list. One mutex guards the lists; the hot
 * path (signing) only reads secrets and never allocates.
 *
 * If mlock fails (RLIMIT_MEMLOCK), we log once and carry on: refusing to run
 * would push operators to worse workarounds; the warning tells them to raise
 * the limit (the systemd unit and enclave do).
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define SLAB_SIZE (64 * 1024)
#define MIN_CLASS_SHIFT 5  /* 32 bytes */
#define MAX_CLASS_SHIFT 12 /* 4096 bytes */
#define NCLASSES (MAX_CLASS_SHIFT - MIN_CLASS_SHIFT + 1)

struct free_slot {
	struct free_slot *next;
};

static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;
static struct free_slot *free_lists[NCLASSES];
static bool mlock_warned;
static uint64_t live_count;
static void (*free_hook)(const uint8_t *bytes, size_t cap);

void secret_set_free_hook(void (*hook)(const uint8_t *bytes, size_t cap))
{
	pthread_mutex_lock(&secret_lock);
	free_hook = hook;
	pthread_mutex_unlock(&secret_lock);
}

static void *map_locked(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len, MADV_DONTDUMP);
	if (mlock(p, len) != 0 && !mlock_warned) {
		mlock_warned = true;
		log_warn("mlock failed for secret memory; raise RLIMIT_MEMLOCK "
			 "so keys can never be swapped out");
	}
	return p;
}

void secret_init(void)
{
	/* No core dumps, no ptrace attach by other users' processes. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int class_of(size_t len)
{
	size_t sz = (size_t)1 << MIN_CLASS_SHIFT;
	for (int c = 0; c < NCLASSES; c++, sz <<= 1)
		if (len <= sz)
			return c;
	return -1;
}

static size_t class_size(int c)
{
	return (size_t)1 << (MIN_CLASS_SHIFT + c);
}

static uint8_t *slot_alloc(int c)
{
	if (!free_lists[c]) {
		uint8_t *slab = map_locked(SLAB_SIZE);
		if (!slab)
			return NULL;
		size_t sz = class_size(c);
		for (size_t off = 0; off + sz <= SLAB_SIZE; off += sz) {
			struct free_slot *f = (struct free_slot *)(slab + off);
			f->next = free_lists[c];
			free_lists[c] = f;
		}
	}
	struct free_slot *f = free_lists[c];
	free_lists[c] = f->next;
	memset(f, 0, class_size(c));
	return (uint8_t *)f;
}

struct secret *secret_new(size_t len)
{
	struct secret *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	size_t cap = len ? len : 1;
	int c = class_of(cap);
	pthread_mutex_lock(&secret_lock);
	if (c >= 0) {
		s->bytes = slot_alloc(c);
		s->cap = class_size(c);
	} else {
		size_t pg = (size_t)sysconf(_SC_PAGESIZE);
		s->cap = (cap + pg - 1) / pg * pg;
		s->bytes = map_locked(s->cap);
	}
	if (s->bytes)
		live_count++;
	pthread_mutex_unlock(&secret_lock);
	if (!s->bytes) {
		free(s);
		return NULL;
	}
	s->len = len;
	return s;
}

struct secret *secret_from(const void *src, size_t len)
{
	struct secret *s = secret_new(len);
	if (s && len)
		memcpy(s->bytes, src, len);
	return s;
}

void secret_truncate(struct secret *s, size_t len)
{
	if (s && len < s->len) {
		OPENSSL_cleanse(s->bytes + len, s->len - len);
		s->len = len;
	}
}

void secret_free(struct secret *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s->bytes, s->cap);
	int c = class_of(s->cap);
	pthread_mutex_lock(&secret_lock);
	if (free_hook)
		free_hook(s->bytes, s->cap);
	if (c >= 0 && class_size(c) == s->cap) {
		struct free_slot *f = (struct free_slot *)s->bytes;
		f->next = free_lists[c];
		free_lists[c] = f;
	} else {
		(void)munlock(s->bytes, s->cap);
		(void)munmap(s->bytes, s->cap);
	}
	live_count--;
	pthread_mutex_unlock(&secret_lock);
	free(s);
}

uint64_t secret_stats_live(void)
{
	pthread_mutex_lock(&secret_lock);
	uint64_t n = live_count;
	pthread_mutex_unlock(&secret_lock);
	return n;
}

/* read(2) straight into secure memory: stdio would keep a copy of the
 * secret in its own (unwiped, heap) buffer. */
int secret_read_file(const char *path, struct secret **out, struct err *e)
{
	enum { MAX_SECRET_FILE = 64 * 1024 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IO, "cannot open %s", path);
	struct secret *s = secret_new(MAX_SECRET_FILE + 1);
	if (!s) {
		close(fd);
		return err_set(e, ERR_NOMEM, "out of secure memory");
	}
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, s->bytes + n, MAX_SECRET_FILE + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			secret_free(s);
			return err_set(e, ERR_IO, "cannot read %s", path);
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > MAX_SECRET_FILE) {
			close(fd);
			secret_free(s);
			return err_set(e, ERR_IO, "%s: larger than 64 KiB", path);
		}
	}
	close(fd);
	if (n > 0 && s->bytes[n - 1] == '\n')
		n--;
	if (n > 0 && s->bytes[n - 1] == '\r')
		n--;
	secret_truncate(s, n);
	*out = s;
	return 0;
}
