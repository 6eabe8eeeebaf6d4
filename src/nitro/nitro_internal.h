/*
 * nitro_internal.h: shared inside src/nitro (and by its unit tests, which
 * build malformed documents): the bounded CBOR helpers, COSE_Sign1 and the
 * NSM backend interface.
 */
#ifndef NS_NITRO_INTERNAL_H
#define NS_NITRO_INTERNAL_H

#include <openssl/evp.h>
#include <pthread.h>

#include "nitro/nitro.h"

/* ---- cbor_decode.c, cbor_util.c ----------------------------------------- */

#define NCBOR_MAX_DEPTH 16

/* A decoded CBOR item. The tree and its strings live in one block that
 * ncbor_decode() allocates and ncbor_free() releases. */
enum ncbor_type {
	NCBOR_UINT,   /* v */
	NCBOR_NEGINT, /* -1 - v */
	NCBOR_BYTES,  /* bytes/len, or chunks in items[0..n) when indefinite */
	NCBOR_TEXT,   /* same; UTF-8 checked */
	NCBOR_ARRAY,  /* items[0..n) */
	NCBOR_MAP,    /* n pairs: key items[2i], value items[2i+1] */
	NCBOR_TAG,    /* tag number v over items[0] */
	NCBOR_SIMPLE, /* v: 20 false, 21 true, 22 null, 23 undefined */
	NCBOR_FLOAT,  /* v: the IEEE 754 bits, float_size 2, 4 or 8 bytes */
};

struct ncbor {
	enum ncbor_type type;
	bool indefinite; /* chunked string, 0x9f array, 0xbf map */
	uint8_t float_size;
	uint64_t v;
	const uint8_t *bytes; /* definite strings */
	size_t len;
	struct ncbor *items;
	size_t n;
};

#define NCBOR_FALSE 20
#define NCBOR_TRUE 21
#define NCBOR_NULL 22

/*
 * Decodes exactly one CBOR item filling [p, p+len): len <= max, nesting
 * <= NCBOR_MAX_DEPTH, every declared count within the bytes left, no trailing
 * bytes. `what` names the input in errors. Free *out with ncbor_free().
 */
int ncbor_decode(const uint8_t *p, size_t len, size_t max, struct ncbor **out,
		 struct err *e, const char *what);
void ncbor_free(struct ncbor *root);

static inline bool ncbor_is(const struct ncbor *it, enum ncbor_type t)
{
	return it && it->type == t;
}
static inline bool ncbor_is_null(const struct ncbor *it)
{
	return ncbor_is(it, NCBOR_SIMPLE) && it->v == NCBOR_NULL;
}
static inline bool ncbor_is_bool(const struct ncbor *it)
{
	return ncbor_is(it, NCBOR_SIMPLE) &&
	       (it->v == NCBOR_FALSE || it->v == NCBOR_TRUE);
}
static inline const struct ncbor *ncbor_map_key(const struct ncbor *m, size_t i)
{
	return &m->items[2 * i];
}
static inline const struct ncbor *ncbor_map_value(const struct ncbor *m,
						  size_t i)
{
	return &m->items[2 * i + 1];
}

/* A copy of a byte string (definite or chunked) of min..max bytes. */
int ncbor_bytes_dup(const struct ncbor *it, size_t min, size_t max,
		    uint8_t **out, size_t *len, struct err *e, const char *what);
/* Same, into a caller buffer of exactly min..max bytes. */
int ncbor_bytes_copy(const struct ncbor *it, size_t min, size_t max,
		     uint8_t *out, size_t *len, struct err *e, const char *what);
/* A NUL-terminated copy of a text string without NULs, 1..max bytes. */
int ncbor_text_dup(const struct ncbor *it, size_t max, char **out,
		   struct err *e, const char *what);
/* True when `it` is a definite text string equal to s. */
bool ncbor_text_is(const struct ncbor *it, const char *s);
int ncbor_uint(const struct ncbor *it, uint64_t max, uint64_t *out,
	       struct err *e, const char *what);
/* The value under text key `key`; NULL when absent. */
const struct ncbor *ncbor_map_get(const struct ncbor *map, const char *key);
/* Every key a definite text string from `allowed`, none twice. */
int ncbor_map_check_keys(const struct ncbor *map, const char *const *allowed,
			 size_t n_allowed, struct err *e, const char *what);

/* A small encoder (shortest-form heads): writes into a struct buf
 * that grows up to `max`; the first failure sticks and ncbor_out_finish
 * reports it. */
struct ncbor_out {
	struct buf b;
	bool failed;
};
void ncbor_out_init(struct ncbor_out *o, size_t max);
void ncbor_put_uint(struct ncbor_out *o, uint64_t v);
void ncbor_put_negint(struct ncbor_out *o, uint64_t v); /* -1 - v */
void ncbor_put_bytes(struct ncbor_out *o, const uint8_t *p, size_t len);
void ncbor_put_text(struct ncbor_out *o, const char *s);
void ncbor_put_array(struct ncbor_out *o, size_t n);
void ncbor_put_map(struct ncbor_out *o, size_t n);
void ncbor_put_null(struct ncbor_out *o);
void ncbor_put_bool(struct ncbor_out *o, bool v);
/* bytes or null */
void ncbor_put_opt_bytes(struct ncbor_out *o, const uint8_t *p, size_t len);
/* Hands the buffer over (malloc'd) or fails (buffer freed). */
int ncbor_out_finish(struct ncbor_out *o, uint8_t **out, size_t *len,
		     struct err *e);
void ncbor_out_free(struct ncbor_out *o);

/* ---- cose.c ----------------------------------------------------------------- */

#define COSE_ALG_ES384 (-35)
#define COSE_ES384_SIG_LEN 96

/* The four parts of a COSE_Sign1, copied out of the document. */
struct cose_sign1 {
	uint8_t *protected_hdr;
	size_t protected_len;
	uint8_t *payload;
	size_t payload_len;
	uint8_t signature[COSE_ES384_SIG_LEN];
};

/* Decodes (tag 18 optional), requires protected == {1: -35}, an empty or
 * absent-alg unprotected map and a 96-byte signature. */
int cose_sign1_decode(const uint8_t *doc, size_t len, struct cose_sign1 *out,
		      struct err *e);
void cose_sign1_clear(struct cose_sign1 *c);
/* ES384 over Sig_structure ["Signature1", protected, h'', payload]. */
int cose_es384_verify(const struct cose_sign1 *c, EVP_PKEY *key,
		      struct err *e);
int cose_es384_sign(EVP_PKEY *key, const uint8_t *protected_hdr,
		    size_t protected_len, const uint8_t *payload,
		    size_t payload_len, uint8_t sig[COSE_ES384_SIG_LEN],
		    struct err *e);
/* Untagged array [protected, {}, payload, signature], as the NSM emits. */
int cose_sign1_encode(const uint8_t *protected_hdr, size_t protected_len,
		      const uint8_t *payload, size_t payload_len,
		      const uint8_t sig[COSE_ES384_SIG_LEN], uint8_t **out,
		      size_t *out_len, struct err *e);
/* The protected header every NSM document carries: {1: -35}. */
extern const uint8_t cose_es384_protected[4];

/* ---- attestation.c ------------------------------------------------------------ */

/* The payload map's rules (types, sizes, keys) on already-decoded bytes. */
int attestation_payload_parse(const uint8_t *payload, size_t len,
			      struct attestation_doc **out, struct err *e);

/* ---- NSM backends ------------------------------------------------------------ */

#define NSM_REQUEST_MAX 0x1000
#define NSM_RESPONSE_MAX 0x3000

struct nsm_backend {
	/* One raw exchange: CBOR request in, CBOR response (at most
	 * *resp_len bytes) out. */
	int (*roundtrip)(void *ctx, const uint8_t *req, size_t req_len,
			 uint8_t *resp, size_t *resp_len, struct err *e);
	void (*close)(void *ctx);
};

struct nsm {
	const struct nsm_backend *backend;
	void *ctx;
	bool simulator;
	pthread_mutex_t lock;
};

#ifdef NS_NSM_SIMULATOR
int nsm_sim_open(const char *dir, struct nsm *n, struct err *e);
#endif

#endif
