/*
 * fuzz_nsm_response.c: what /dev/nsm hands back (the ioctl truncates
 * silently, so a reply can be any bytes up to 0x3000) through the NSM
 * client's decoders: DescribeNSM, DescribePCR, ExtendPCR, LockPCR,
 * GetRandom and Attestation, each fed the input as its reply by a backend
 * that replays it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nitro/nitro_internal.h"

struct replay {
	const uint8_t *data;
	size_t size;
};

static int replay_roundtrip(void *ctx, const uint8_t *req, size_t req_len,
			    uint8_t *resp, size_t *resp_len, struct err *e)
{
	struct replay *r = ctx;
	(void)req, (void)req_len, (void)e;
	size_t n = r->size < *resp_len ? r->size : *resp_len;
	memcpy(resp, r->data, n);
	*resp_len = n;
	return 0;
}

static void replay_close(void *ctx) { (void)ctx; }

static const struct nsm_backend replay_backend = {replay_roundtrip,
						  replay_close};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay r = {data, size};
	struct nsm n = {&replay_backend, &r, false, PTHREAD_MUTEX_INITIALIZER};
	struct nsm_description desc;
	uint8_t buf[64], *doc = NULL;
	size_t len;
	bool locked;
	struct nsm_attest_req req = {0};
	(void)nsm_describe(&n, &desc, NULL);
	(void)nsm_describe_pcr(&n, 0, &locked, buf, &len, NULL);
	(void)nsm_extend_pcr(&n, 16, buf, 4, buf, &len, NULL);
	(void)nsm_lock_pcr(&n, 16, NULL);
	if (nsm_get_random(&n, buf, 1, NULL) < 0)
		memset(buf, 0, sizeof(buf));
	if (nsm_attest(&n, &req, &doc, &len, NULL) == 0)
		free(doc);
	return 0;
}
