/*
 * nsm.c: the Nitro Secure Module client and its real-device backend.
 *
 * Every call is one CBOR request and one CBOR response in the shape of the
 * Rust enums of aws-nitro-enclaves-nsm-api (serde externally tagged: a bare
 * text for a variant without fields, else {"Variant": {fields}}; errors are
 * {"Error": "Name"}). The bytes go through a backend: /dev/nsm with the raw
 * ioctl here, or the simulator (nsm_sim.c) in test builds, so the encoding
 * and decoding below are exercised in tests exactly as on the device.
 * Responses are untrusted (the ioctl truncates silently; the simulator is
 * ours but the decoder does not care) and are decoded through ncbor_decode.
 * Calls on one struct nsm are serialised by its mutex.
 */
#include "nitro_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- the device: one ioctl per exchange ------------------------------------ */

struct nsm_iovec {
	uint64_t addr;
	uint64_t len;
};
struct nsm_raw {
	struct nsm_iovec request;
	struct nsm_iovec response;
};
#define NSM_IOCTL_RAW _IOWR(0x0A, 0, struct nsm_raw)
_Static_assert(sizeof(struct nsm_raw) == 32, "nsm_raw layout");

struct nsm_device {
	int fd;
};

static int device_roundtrip(void *ctx, const uint8_t *req, size_t req_len,
			    uint8_t *resp, size_t *resp_len, struct err *e)
{
	struct nsm_device *d = ctx;
	struct nsm_raw raw = {
		.request = {(uint64_t)(uintptr_t)req, req_len},
		.response = {(uint64_t)(uintptr_t)resp, *resp_len},
	};
	if (ioctl(d->fd, NSM_IOCTL_RAW, &raw) != 0)
		return err_set(e, errno == EMSGSIZE ? ERR_TOO_LARGE : ERR_IO,
			       "NSM ioctl: %s", strerror(errno));
	if (raw.response.len > *resp_len)
		return err_set(e, ERR_IO, "NSM ioctl: bad response length");
	*resp_len = (size_t)raw.response.len;
	return 0;
}

static void device_close(void *ctx)
{
	struct nsm_device *d = ctx;
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}

static const struct nsm_backend device_backend = {
	device_roundtrip,
	device_close,
};

static int device_open(const char *path, struct nsm *n, struct err *e)
{
	struct nsm_device *d = malloc(sizeof(*d));
	if (!d)
		return err_set(e, ERR_NOMEM, "NSM: out of memory");
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		int saved = errno;
		free(d);
		return err_set(e, saved == ENOENT ? ERR_UNAVAILABLE : ERR_IO,
			       "NSM device %s: %s (not inside a Nitro "
			       "Enclave?)", path, strerror(saved));
	}
	n->backend = &device_backend;
	n->ctx = d;
	return 0;
}

/* ---- open/close ---------------------------------------------------------------- */

int nsm_open(const char *spec, struct nsm **out, struct err *e)
{
	*out = NULL;
	if (!spec || (strncmp(spec, "sim:", 4) != 0 && spec[0] != '/'))
		return err_set(e, ERR_USAGE, "--nsm: want /dev/nsm or sim:DIR");
	struct nsm *n = calloc(1, sizeof(*n));
	if (!n)
		return err_set(e, ERR_NOMEM, "NSM: out of memory");
	int rc;
	if (strncmp(spec, "sim:", 4) == 0) {
#ifdef NS_NSM_SIMULATOR
		n->simulator = true;
		rc = nsm_sim_open(spec[4] ? spec + 4 : NULL, n, e);
#else
		rc = err_set(e, ERR_USAGE, "--nsm=sim: this build has no NSM "
			     "simulator (NS_NSM_SIMULATOR=OFF)");
#endif
	} else {
		rc = device_open(spec, n, e);
	}
	if (rc < 0) {
		free(n);
		return rc;
	}
	pthread_mutex_init(&n->lock, NULL);
	*out = n;
	return 0;
}

void nsm_close(struct nsm *n)
{
	if (!n)
		return;
	n->backend->close(n->ctx);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

bool nsm_is_simulator(const struct nsm *n)
{
	return n->simulator;
}

/* ---- one call ------------------------------------------------------------------ */

/*
 * Sends the encoded request and decodes {"variant": body} (*body points
 * into *doc, which the caller frees with ncbor_free) or the bare text
 * "variant" (*body = NULL).
 */
static int nsm_call(struct nsm *n, struct ncbor_out *req, const char *variant,
		    struct ncbor **doc, const struct ncbor **body,
		    struct err *e)
{
	uint8_t *rq = NULL, *resp = NULL;
	size_t rq_len, resp_len = NSM_RESPONSE_MAX;
	struct ncbor *top = NULL;
	int rc;
	*doc = NULL;
	*body = NULL;
	if (req->failed || req->b.len > NSM_REQUEST_MAX) {
		ncbor_out_free(req);
		return err_set(e, ERR_TOO_LARGE, "NSM %s: request over %d bytes",
			       variant, NSM_REQUEST_MAX);
	}
	TRY(ncbor_out_finish(req, &rq, &rq_len, e));
	if (!(resp = malloc(NSM_RESPONSE_MAX))) {
		rc = err_set(e, ERR_NOMEM, "NSM: out of memory");
		goto out;
	}
	pthread_mutex_lock(&n->lock);
	rc = n->backend->roundtrip(n->ctx, rq, rq_len, resp, &resp_len, e);
	pthread_mutex_unlock(&n->lock);
	if (rc < 0)
		goto out;
	TRY_OUT(ncbor_decode(resp, resp_len, NSM_RESPONSE_MAX, &top, e,
			     "NSM response"));
	if (ncbor_text_is(top, variant)) {
		rc = 0;
		goto out;
	}
	if (!ncbor_is(top, NCBOR_MAP) || top->n != 1) {
		rc = err_set(e, ERR_IO, "NSM %s: unexpected response shape",
			     variant);
		goto out;
	}
	const struct ncbor *key = ncbor_map_key(top, 0);
	const struct ncbor *val = ncbor_map_value(top, 0);
	if (ncbor_text_is(key, "Error")) {
		char *name = NULL;
		if (ncbor_text_dup(val, 32, &name, NULL, "") < 0)
			rc = err_set(e, ERR_IO, "NSM %s: error", variant);
		else
			rc = err_set(e, ERR_IO, "NSM %s: %s", variant, name);
		free(name);
		goto out;
	}
	if (!ncbor_text_is(key, variant) || !ncbor_is(val, NCBOR_MAP)) {
		rc = err_set(e, ERR_IO, "NSM %s: response for another request",
			     variant);
		goto out;
	}
	*body = val;
	rc = 0;
out:
	if (rc < 0 || !*body)
		ncbor_free(top);
	else
		*doc = top;
	free(rq);
	free(resp);
	return rc;
}

/* {"Variant": {"index": i}} and friends. */
static void put_variant(struct ncbor_out *o, const char *variant, size_t fields)
{
	ncbor_put_map(o, 1);
	ncbor_put_text(o, variant);
	ncbor_put_map(o, fields);
}

static int need_body(const struct ncbor *body, const char *variant, struct err *e)
{
	if (!body)
		return err_set(e, ERR_IO, "NSM %s: empty response", variant);
	return 0;
}

int nsm_describe(struct nsm *n, struct nsm_description *out, struct err *e)
{
	static const char *const keys[] = {
		"version_major", "version_minor", "version_patch", "module_id",
		"max_pcrs", "locked_pcrs", "digest",
	};
	struct ncbor_out o;
	struct ncbor *doc = NULL;
	const struct ncbor *b = NULL;
	uint64_t v[3], max_pcrs;
	char *id = NULL, *digest = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	ncbor_out_init(&o, NSM_REQUEST_MAX);
	ncbor_put_text(&o, "DescribeNSM");
	TRY(nsm_call(n, &o, "DescribeNSM", &doc, &b, e));
	TRY_OUT(need_body(b, "DescribeNSM", e));
	TRY_OUT(ncbor_map_check_keys(b, keys, 7, e, "DescribeNSM"));
	for (int i = 0; i < 3; i++)
		TRY_OUT(ncbor_uint(ncbor_map_get(b, keys[i]), UINT16_MAX, &v[i],
				   e, keys[i]));
	TRY_OUT(ncbor_text_dup(ncbor_map_get(b, "module_id"),
			       NITRO_MODULE_ID_MAX, &id, e, "module_id"));
	TRY_OUT(ncbor_uint(ncbor_map_get(b, "max_pcrs"), NITRO_PCR_COUNT,
			   &max_pcrs, e, "max_pcrs"));
	TRY_OUT(ncbor_text_dup(ncbor_map_get(b, "digest"), 7, &digest, e,
			       "digest"));
	const struct ncbor *locked = ncbor_map_get(b, "locked_pcrs");
	if (!ncbor_is(locked, NCBOR_ARRAY) || locked->n > NITRO_PCR_COUNT) {
		rc = err_set(e, ERR_IO, "DescribeNSM: locked_pcrs");
		goto out;
	}
	for (size_t i = 0; i < locked->n; i++) {
		uint64_t idx;
		TRY_OUT(ncbor_uint(&locked->items[i],
				   NITRO_PCR_COUNT - 1, &idx, e, "locked_pcrs"));
		out->locked_pcrs[i] = (uint16_t)idx;
		out->n_locked_pcrs = i + 1;
	}
	out->version_major = (uint16_t)v[0];
	out->version_minor = (uint16_t)v[1];
	out->version_patch = (uint16_t)v[2];
	out->max_pcrs = (uint16_t)max_pcrs;
	memcpy(out->module_id, id, strlen(id) + 1);
	memcpy(out->digest, digest, strlen(digest) + 1);
	rc = 0;
out:
	free(id);
	free(digest);
	ncbor_free(doc);
	return rc;
}

int nsm_describe_pcr(struct nsm *n, uint16_t index, bool *locked,
		     uint8_t *out, size_t *len, struct err *e)
{
	static const char *const keys[] = {"lock", "data"};
	struct ncbor_out o;
	struct ncbor *doc = NULL;
	const struct ncbor *b = NULL;
	int rc;
	ncbor_out_init(&o, NSM_REQUEST_MAX);
	put_variant(&o, "DescribePCR", 1);
	ncbor_put_text(&o, "index");
	ncbor_put_uint(&o, index);
	TRY(nsm_call(n, &o, "DescribePCR", &doc, &b, e));
	TRY_OUT(need_body(b, "DescribePCR", e));
	TRY_OUT(ncbor_map_check_keys(b, keys, 2, e, "DescribePCR"));
	const struct ncbor *lock = ncbor_map_get(b, "lock");
	if (!ncbor_is_bool(lock)) {
		rc = err_set(e, ERR_IO, "DescribePCR: lock is not a bool");
		goto out;
	}
	*locked = lock->v == NCBOR_TRUE;
	TRY_OUT(ncbor_bytes_copy(ncbor_map_get(b, "data"), 32,
				 NITRO_PCR_LEN_MAX, out, len, e, "PCR data"));
	rc = 0;
out:
	ncbor_free(doc);
	return rc;
}

int nsm_extend_pcr(struct nsm *n, uint16_t index, const uint8_t *data,
		   size_t data_len, uint8_t *out, size_t *out_len,
		   struct err *e)
{
	static const char *const keys[] = {"data"};
	struct ncbor_out o;
	struct ncbor *doc = NULL;
	const struct ncbor *b = NULL;
	uint8_t tmp[NITRO_PCR_LEN_MAX];
	size_t tmp_len;
	int rc;
	ncbor_out_init(&o, NSM_REQUEST_MAX);
	put_variant(&o, "ExtendPCR", 2);
	ncbor_put_text(&o, "index");
	ncbor_put_uint(&o, index);
	ncbor_put_text(&o, "data");
	ncbor_put_bytes(&o, data, data_len);
	TRY(nsm_call(n, &o, "ExtendPCR", &doc, &b, e));
	TRY_OUT(need_body(b, "ExtendPCR", e));
	TRY_OUT(ncbor_map_check_keys(b, keys, 1, e, "ExtendPCR"));
	TRY_OUT(ncbor_bytes_copy(ncbor_map_get(b, "data"), 32,
				 NITRO_PCR_LEN_MAX, tmp, &tmp_len, e,
				 "PCR data"));
	if (out) {
		memcpy(out, tmp, tmp_len);
		*out_len = tmp_len;
	}
	rc = 0;
out:
	ncbor_free(doc);
	return rc;
}

static int lock_call(struct nsm *n, const char *variant, const char *field,
		     uint16_t v, struct err *e)
{
	struct ncbor_out o;
	struct ncbor *doc = NULL;
	const struct ncbor *b = NULL;
	ncbor_out_init(&o, NSM_REQUEST_MAX);
	put_variant(&o, variant, 1);
	ncbor_put_text(&o, field);
	ncbor_put_uint(&o, v);
	TRY(nsm_call(n, &o, variant, &doc, &b, e));
	if (b) {
		ncbor_free(doc);
		return err_set(e, ERR_IO, "NSM %s: unexpected body", variant);
	}
	return 0;
}

int nsm_lock_pcr(struct nsm *n, uint16_t index, struct err *e)
{
	return lock_call(n, "LockPCR", "index", index, e);
}

int nsm_lock_pcrs(struct nsm *n, uint16_t range, struct err *e)
{
	return lock_call(n, "LockPCRs", "range", range, e);
}

int nsm_get_random(struct nsm *n, uint8_t *buf, size_t len, struct err *e)
{
	static const char *const keys[] = {"random"};
	while (len > 0) {
		struct ncbor_out o;
		struct ncbor *doc = NULL;
	const struct ncbor *b = NULL;
		uint8_t chunk[256];
		size_t got;
		int rc;
		ncbor_out_init(&o, NSM_REQUEST_MAX);
		ncbor_put_text(&o, "GetRandom");
		TRY(nsm_call(n, &o, "GetRandom", &doc, &b, e));
		rc = need_body(b, "GetRandom", e);
		if (rc == 0)
			rc = ncbor_map_check_keys(b, keys, 1, e, "GetRandom");
		if (rc == 0)
			rc = ncbor_bytes_copy(ncbor_map_get(b, "random"), 1,
					      sizeof(chunk), chunk, &got, e,
					      "GetRandom random");
		ncbor_free(doc);
		if (rc < 0)
			return rc;
		if (got > len)
			got = len;
		memcpy(buf, chunk, got);
		OPENSSL_cleanse(chunk, sizeof(chunk));
		buf += got;
		len -= got;
	}
	return 0;
}

int nsm_attest(struct nsm *n, const struct nsm_attest_req *req,
	       uint8_t **doc, size_t *doc_len, struct err *e)
{
	static const char *const keys[] = {"document"};
	struct ncbor_out o;
	struct ncbor *tree = NULL;
	const struct ncbor *b = NULL;
	int rc;
	*doc = NULL;
	if ((req->user_data && req->user_data_len > NITRO_NSM_FIELD_MAX) ||
	    (req->nonce && req->nonce_len > NITRO_NSM_FIELD_MAX) ||
	    (req->public_key && (req->public_key_len == 0 ||
				 req->public_key_len > NITRO_PUBLIC_KEY_MAX)))
		return err_set(e, ERR_INVALID,
			       "NSM Attestation: user_data/nonce over %d bytes "
			       "or public_key not 1..%d", NITRO_NSM_FIELD_MAX,
			       NITRO_PUBLIC_KEY_MAX);
	ncbor_out_init(&o, NSM_REQUEST_MAX);
	put_variant(&o, "Attestation", 3);
	ncbor_put_text(&o, "user_data");
	ncbor_put_opt_bytes(&o, req->user_data, req->user_data_len);
	ncbor_put_text(&o, "nonce");
	ncbor_put_opt_bytes(&o, req->nonce, req->nonce_len);
	ncbor_put_text(&o, "public_key");
	ncbor_put_opt_bytes(&o, req->public_key, req->public_key_len);
	TRY(nsm_call(n, &o, "Attestation", &tree, &b, e));
	TRY_OUT(need_body(b, "Attestation", e));
	TRY_OUT(ncbor_map_check_keys(b, keys, 1, e, "Attestation"));
	TRY_OUT(ncbor_bytes_dup(ncbor_map_get(b, "document"), 1, NITRO_DOC_MAX,
				doc, doc_len, e, "Attestation document"));
	rc = 0;
out:
	ncbor_free(tree);
	return rc;
}
