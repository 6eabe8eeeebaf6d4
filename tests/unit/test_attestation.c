/*
 * test_attestation.c: attestation documents against real AWS artefacts and
 * the simulator.
 *
 * Real: the five documents of reference/nitro-attestation verify against the
 * embedded AWS root at their own timestamps with the module id, timestamp,
 * digest, PCRs and optional fields EXPECTED.json lists (written by the
 * collector with its own decoder); an expected PCR8 (a signed image's
 * certificate) matches the documents that report it, never one reporting
 * zeros (unsigned images) or no PCR8 at all; they fail at today's date (expired), with
 * another root, with any flipped byte, tagged wrong, truncated or oversized.
 * Simulator: documents re-signed by the simulator's leaf key isolate one
 * fault each (signature over another payload, chain out of order, expired
 * at the timestamp, field rules, indefinite-length payload map).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nitro/nitro.h"
#include "nitro/nitro_internal.h"

#define NDOCS 5

static uint8_t *read_ref(const char *name, size_t *len)
{
	const char *dir = getenv("NS_REFERENCE_DIR");
	char path[1024];
	char *buf = NULL;
	snprintf(path, sizeof(path), "%s/nitro-attestation/%s",
		 dir ? dir : "tests/vectors/reference", name);
	assert_int_equal(file_read_all(path, 1 << 20, &buf, len, NULL), 0);
	return (uint8_t *)buf;
}

static json_t *expected_docs(void)
{
	size_t len;
	char *s = (char *)read_ref("EXPECTED.json", &len);
	json_t *j = json_loadb(s, len, 0, NULL);
	free(s);
	assert_non_null(j);
	json_t *docs = json_incref(json_object_get(j, "documents"));
	json_decref(j);
	assert_int_equal(json_array_size(docs), NDOCS);
	return docs;
}

static void assert_hex(const uint8_t *p, size_t len, const char *want)
{
	char *got = malloc(2 * len + 3);
	assert_non_null(got);
	hex_encode(p, len, got);
	assert_string_equal(got + 2, want);
	free(got);
}

static void assert_opt(const struct nitro_bytes *b, json_t *want)
{
	if (json_is_null(want)) {
		assert_false(b->present);
		return;
	}
	assert_true(b->present);
	assert_hex(b->p, b->len, json_string_value(want));
}

static uint8_t *load_doc(json_t *entry, size_t *len)
{
	return read_ref(json_string_value(json_object_get(entry, "file")), len);
}

static void test_real_documents_verify_at_their_timestamps(void **state)
{
	(void)state;
	json_t *docs = expected_docs();
	size_t i;
	json_t *x;
	json_array_foreach(docs, i, x) {
		size_t len;
		uint8_t *doc = load_doc(x, &len);
		struct attestation_doc *d = NULL;
		struct err e = {0};
		int rc = attestation_verify(doc, len, NULL, &d, &e);
		if (rc != 0)
			fail_msg("%s: %s", json_string_value(json_object_get(x, "file")),
				 e.msg);
		assert_string_equal(d->module_id,
				    json_string_value(json_object_get(x, "module_id")));
		assert_int_equal(d->timestamp_ms,
				 json_integer_value(json_object_get(x, "timestamp")));
		assert_string_equal(d->digest,
				    json_string_value(json_object_get(x, "digest")));
		assert_int_equal(d->pcr_len, 48);
		assert_int_equal(__builtin_popcount(d->pcr_mask),
				 json_integer_value(json_object_get(x, "pcr_count")));
		const int idx[] = {0, 1, 2, 8};
		for (int k = 0; k < 4; k++) {
			char key[8];
			snprintf(key, sizeof(key), "pcr%d", idx[k]);
			assert_true(d->pcr_mask & (1u << idx[k]));
			assert_hex(d->pcrs[idx[k]], 48,
				   json_string_value(json_object_get(x, key)));
		}
		assert_opt(&d->public_key, json_object_get(x, "public_key"));
		assert_opt(&d->user_data, json_object_get(x, "user_data"));
		assert_opt(&d->nonce, json_object_get(x, "nonce"));
		assert_int_equal(d->n_cabundle,
				 json_integer_value(json_object_get(x, "cabundle_len")));
		attestation_doc_free(d);
		free(doc);
	}
	json_decref(docs);
}

static void pcr_of(json_t *entry, const char *key, uint8_t out[NITRO_PCR0_LEN])
{
	char hex[2 + 2 * NITRO_PCR0_LEN + 1];
	snprintf(hex, sizeof(hex), "0x%s",
		 json_string_value(json_object_get(entry, key)));
	assert_int_equal(hex_decode_exact(hex, out, NITRO_PCR0_LEN, NULL, key), 0);
}

static void test_expect_pcr8_matches_signed_documents_only(void **state)
{
	(void)state;
	static const uint8_t zero[NITRO_PCR0_LEN];
	json_t *docs = expected_docs();
	size_t i, n_signed = 0, n_unsigned = 0;
	json_t *x;
	uint8_t signed_pcr8[NITRO_PCR0_LEN] = {0};
	json_array_foreach(docs, i, x) {
		uint8_t pcr8[NITRO_PCR0_LEN];
		pcr_of(x, "pcr8", pcr8);
		if (memcmp(pcr8, zero, sizeof(zero)) != 0)
			memcpy(signed_pcr8, pcr8, sizeof(pcr8));
	}
	json_array_foreach(docs, i, x) {
		size_t len;
		uint8_t *doc = load_doc(x, &len);
		struct attestation_doc *d = NULL;
		assert_int_equal(attestation_verify(doc, len, NULL, &d, NULL), 0);
		uint8_t pcr0[NITRO_PCR0_LEN], pcr8[NITRO_PCR0_LEN];
		pcr_of(x, "pcr0", pcr0);
		pcr_of(x, "pcr8", pcr8);
		struct attestation_expect both = {.pcr0 = pcr0, .pcr8 = pcr8};
		struct attestation_expect only0 = {.pcr0 = pcr0};
		assert_int_equal(attestation_check_expect(d, &only0),
				 ATTESTATION_MATCH);
		if (memcmp(pcr8, zero, sizeof(zero)) != 0) {
			n_signed++;
			assert_int_equal(attestation_check_expect(d, &both),
					 ATTESTATION_MATCH);
			pcr8[47] ^= 1;
			assert_int_equal(attestation_check_expect(d, &both),
					 ATTESTATION_MISMATCH_PCR8);
			pcr8[47] ^= 1;
			/* the same document without PCR8 */
			d->pcr_mask &= ~(1u << 8);
			assert_int_equal(attestation_check_expect(d, &both),
					 ATTESTATION_MISMATCH_PCR8);
			d->pcr_mask |= 1u << 8;
			/* a wrong PCR0 is reported first */
			pcr0[0] ^= 1;
			pcr8[0] ^= 1;
			assert_int_equal(attestation_check_expect(d, &both),
					 ATTESTATION_MISMATCH_PCR0);
		} else {
			n_unsigned++;
			/* zeros equal the document's PCR8, and still do not match */
			assert_int_equal(attestation_check_expect(d, &both),
					 ATTESTATION_MISMATCH_PCR8);
			both.pcr8 = signed_pcr8;
			assert_int_equal(attestation_check_expect(d, &both),
					 ATTESTATION_MISMATCH_PCR8);
		}
		attestation_doc_free(d);
		free(doc);
	}
	assert_true(n_signed > 0);
	assert_true(n_unsigned > 0);
	json_decref(docs);
}

static void test_embedded_root_is_the_reference_root(void **state)
{
	(void)state;
	size_t len, ref_len;
	const uint8_t *der = attestation_aws_root_der(&len);
	uint8_t *ref = read_ref("aws-nitro-enclaves-root-G1.der", &ref_len);
	assert_int_equal(len, ref_len);
	assert_memory_equal(der, ref, len);
	free(ref);
}

static void test_real_documents_expired_today(void **state)
{
	(void)state;
	size_t len;
	uint8_t *doc = read_ref("doc2-evervault-ga-2023.cbor", &len);
	struct attestation_verify_opts o = {.at_unix = time(NULL)};
	struct attestation_doc *d = NULL;
	struct err e = {0};
	assert_true(attestation_verify(doc, len, &o, &d, &e) < 0);
	assert_null(d);
	assert_non_null(strstr(e.msg, "certificate has expired"));
	free(doc);
}

/* Every byte position flipped (xor 0xff), then a sample with xor 0x01. */
static void test_every_flipped_byte_fails(void **state)
{
	(void)state;
	json_t *docs = expected_docs();
	size_t i;
	json_t *x;
	json_array_foreach(docs, i, x) {
		size_t len;
		uint8_t *doc = load_doc(x, &len);
		size_t step = i == 0 ? 1 : 13;
		for (size_t pos = i % step; pos < len; pos += step) {
			const uint8_t masks[] = {0xff, 0x01};
			for (int m = 0; m < 2; m++) {
				if (m == 1 && pos % 7 != 0)
					continue;
				struct attestation_doc *d = NULL;
				doc[pos] ^= masks[m];
				int rc = attestation_verify(doc, len, NULL, &d, NULL);
				doc[pos] ^= masks[m];
				if (rc == 0)
					fail_msg("doc %zu: flip at %zu (mask %02x) "
						 "verified", i, pos, masks[m]);
			}
		}
		free(doc);
	}
	json_decref(docs);
}

static void test_tag_18_accepted_other_tags_refused(void **state)
{
	(void)state;
	size_t len;
	uint8_t *doc = read_ref("doc1-uid2-core-2021.cbor", &len);
	uint8_t *tagged = malloc(len + 1);
	struct attestation_doc *d = NULL;
	struct err e = {0};
	memcpy(tagged + 1, doc, len);
	tagged[0] = 0xd2;
	assert_int_equal(attestation_verify(tagged, len + 1, NULL, &d, &e), 0);
	attestation_doc_free(d);
	d = NULL;
	tagged[0] = 0xd1;
	assert_int_equal(attestation_verify(tagged, len + 1, NULL, &d, &e),
			 -ERR_INVALID);
	/* tag 18 in its two-byte form is a tag to the decoder: also accepted */
	uint8_t *tagged2 = malloc(len + 2);
	memcpy(tagged2 + 2, doc, len);
	tagged2[0] = 0xd8;
	tagged2[1] = 18;
	assert_int_equal(attestation_verify(tagged2, len + 2, NULL, &d, &e), 0);
	attestation_doc_free(d);
	tagged2[1] = 19;
	assert_true(attestation_verify(tagged2, len + 2, NULL, &d, &e) < 0);
	assert_string_equal(e.msg, "COSE: tag 19 is not COSE_Sign1 (18)");
	free(tagged2);
	free(tagged);
	free(doc);
}

static void test_wrong_cose_alg_refused(void **state)
{
	(void)state;
	size_t len;
	uint8_t *doc = read_ref("doc3-evervault-beta-nondebug-2022.cbor", &len);
	struct attestation_doc *d = NULL;
	struct err e = {0};
	/* 84 44 a1 01 38 22: alg -35 -> -36 (ES512) */
	assert_int_equal(doc[5], 0x22);
	doc[5] = 0x23;
	assert_true(attestation_verify(doc, len, NULL, &d, &e) < 0);
	assert_string_equal(e.msg, "COSE alg -36 is not ES384 (-35)");
	free(doc);
}

static void test_truncated_and_oversized_refused(void **state)
{
	(void)state;
	size_t len;
	uint8_t *doc = read_ref("doc5-cape-js-2022.cbor", &len);
	struct attestation_doc *d = NULL;
	struct err e = {0};
	const size_t cuts[] = {0, 1, 2, 5, len / 2, len - 97, len - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		int rc = attestation_verify(doc, cuts[i], NULL, &d, &e);
		assert_true(rc < 0);
		assert_true(rc == -ERR_TRUNCATED);
	}
	uint8_t *big = calloc(1, NITRO_DOC_MAX + 1);
	memcpy(big, doc, len);
	assert_int_equal(attestation_verify(big, NITRO_DOC_MAX + 1, NULL, &d, &e),
			 -ERR_TOO_LARGE);
	/* Trailing bytes after a valid document. */
	assert_int_equal(attestation_verify(big, len + 1, NULL, &d, &e),
			 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "trailing"));
	free(big);
	free(doc);
}

/* Headers declaring more items or bytes than exist fail before allocation. */
static void test_lying_lengths_refused(void **state)
{
	(void)state;
	const uint8_t huge_array[] = {0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x01};
	const uint8_t huge_map[] = {0xba, 0x7f, 0xff, 0xff, 0xff, 0xa0};
	const uint8_t huge_bstr[] = {0x84, 0x5a, 0x7f, 0xff, 0xff, 0xff, 0x00};
	uint8_t deep[40];
	memset(deep, 0x81, sizeof(deep));
	deep[sizeof(deep) - 1] = 0x00;
	struct attestation_doc *d = NULL;
	struct err e = {0};
	assert_true(attestation_parse(huge_array, sizeof(huge_array), &d, &e) < 0);
	assert_true(attestation_parse(huge_map, sizeof(huge_map), &d, &e) < 0);
	assert_true(attestation_parse(huge_bstr, sizeof(huge_bstr), &d, &e) < 0);
	assert_true(attestation_parse(deep, sizeof(deep), &d, &e) < 0);
	assert_non_null(strstr(e.msg, "nesting"));
}

#ifdef NS_NSM_SIMULATOR
/* ---- with the simulator -------------------------------------------------------- */

struct sim_fixture {
	struct nsm *nsm;
	uint8_t *root;
	size_t root_len;
};

static int sim_setup(void **state)
{
	struct sim_fixture *f = calloc(1, sizeof(*f));
	assert_int_equal(nsm_open("sim:", &f->nsm, NULL), 0);
	assert_int_equal(nsm_sim_root_der(f->nsm, &f->root, &f->root_len, NULL), 0);
	*state = f;
	return 0;
}

static int sim_teardown(void **state)
{
	struct sim_fixture *f = *state;
	nsm_close(f->nsm);
	free(f->root);
	free(f);
	return 0;
}

static void sim_doc(struct sim_fixture *f, const char *nonce, uint8_t **doc,
		    size_t *len)
{
	struct nsm_attest_req req = {
		.nonce = (const uint8_t *)nonce,
		.nonce_len = nonce ? strlen(nonce) : 0,
	};
	struct err e = {0};
	if (nsm_attest(f->nsm, &req, doc, len, &e) < 0)
		fail_msg("%s", e.msg);
}

static int verify_sim(struct sim_fixture *f, const uint8_t *doc, size_t len,
		      struct err *e)
{
	struct attestation_verify_opts o = {f->root, f->root_len, 0, 0};
	struct attestation_doc *d = NULL;
	int rc = attestation_verify(doc, len, &o, &d, e);
	attestation_doc_free(d);
	return rc;
}

/* Parse, let `edit` change the payload, re-encode, sign with the sim leaf. */
static void resign(struct sim_fixture *f, const uint8_t *doc, size_t len,
		   void (*edit)(struct attestation_doc *, void *), void *arg,
		   uint8_t **out, size_t *out_len)
{
	struct attestation_doc *d = NULL;
	uint8_t *payload;
	size_t plen;
	assert_int_equal(attestation_parse(doc, len, &d, NULL), 0);
	edit(d, arg);
	assert_int_equal(attestation_payload_encode(d, &payload, &plen, NULL), 0);
	assert_int_equal(nsm_sim_sign_payload(f->nsm, payload, plen, out,
					      out_len, NULL), 0);
	free(payload);
	attestation_doc_free(d);
}

static void test_sim_document_chains_to_sim_root_only(void **state)
{
	struct sim_fixture *f = *state;
	uint8_t *doc;
	size_t len;
	struct err e = {0};
	struct attestation_doc *d = NULL;
	sim_doc(f, "n1", &doc, &len);
	assert_int_equal(verify_sim(f, doc, len, &e), 0);
	assert_true(attestation_verify(doc, len, NULL, &d, &e) < 0);
	assert_string_equal(e.msg, "cabundle[0] is not the trusted root certificate");
	free(doc);
}

static void test_real_document_refused_with_sim_root(void **state)
{
	struct sim_fixture *f = *state;
	size_t len;
	uint8_t *doc = read_ref("doc4-evervault-beta-debug-2022.cbor", &len);
	struct err e = {0};
	assert_true(verify_sim(f, doc, len, &e) < 0);
	assert_string_equal(e.msg, "cabundle[0] is not the trusted root certificate");
	free(doc);
}

static void test_signature_over_other_payload_refused(void **state)
{
	struct sim_fixture *f = *state;
	uint8_t *a, *b, *mixed;
	size_t alen, blen, mlen;
	struct cose_sign1 ca, cb;
	struct err e = {0};
	sim_doc(f, "first", &a, &alen);
	sim_doc(f, "second", &b, &blen);
	assert_int_equal(cose_sign1_decode(a, alen, &ca, NULL), 0);
	assert_int_equal(cose_sign1_decode(b, blen, &cb, NULL), 0);
	assert_int_equal(cose_sign1_encode(ca.protected_hdr, ca.protected_len,
					   ca.payload, ca.payload_len,
					   cb.signature, &mixed, &mlen, NULL), 0);
	assert_true(verify_sim(f, mixed, mlen, &e) < 0);
	assert_non_null(strstr(e.msg, "signature does not verify"));
	cose_sign1_clear(&ca);
	cose_sign1_clear(&cb);
	free(a);
	free(b);
	free(mixed);
}

static void swap_intermediates(struct attestation_doc *d, void *arg)
{
	(void)arg;
	struct nitro_bytes t = d->cabundle[1];
	d->cabundle[1] = d->cabundle[2];
	d->cabundle[2] = t;
}

static void test_chain_out_of_order_refused(void **state)
{
	struct sim_fixture *f = *state;
	uint8_t *doc, *bad;
	size_t len, blen;
	struct err e = {0};
	sim_doc(f, NULL, &doc, &len);
	resign(f, doc, len, swap_intermediates, NULL, &bad, &blen);
	assert_true(verify_sim(f, bad, blen, &e) < 0);
	assert_string_equal(e.msg, "certificate chain out of order: cabundle[1] "
				   "was not issued by cabundle[0]");
	free(doc);
	free(bad);
}

static void drop_intermediate(struct attestation_doc *d, void *arg)
{
	(void)arg;
	free(d->cabundle[2].p);
	d->cabundle[2] = d->cabundle[3];
	d->n_cabundle = 3;
}

static void test_chain_missing_link_refused(void **state)
{
	struct sim_fixture *f = *state;
	uint8_t *doc, *bad;
	size_t len, blen;
	struct err e = {0};
	sim_doc(f, NULL, &doc, &len);
	resign(f, doc, len, drop_intermediate, NULL, &bad, &blen);
	assert_true(verify_sim(f, bad, blen, &e) < 0);
	assert_non_null(strstr(e.msg, "out of order"));
	free(doc);
	free(bad);
}

static void set_timestamp(struct attestation_doc *d, void *arg)
{
	d->timestamp_ms = *(uint64_t *)arg;
}

static void test_expired_at_document_timestamp_refused(void **state)
{
	struct sim_fixture *f = *state;
	uint8_t *doc, *bad;
	size_t len, blen;
	struct err e = {0};
	sim_doc(f, NULL, &doc, &len);
	uint64_t after = (uint64_t)(nsm_sim_leaf_not_after(f->nsm) + 3600) * 1000;
	resign(f, doc, len, set_timestamp, &after, &bad, &blen);
	assert_true(verify_sim(f, bad, blen, &e) < 0);
	assert_non_null(strstr(e.msg, "certificate has expired"));
	free(bad);
	uint64_t before = (uint64_t)(time(NULL) - 10 * 86400) * 1000;
	resign(f, doc, len, set_timestamp, &before, &bad, &blen);
	assert_true(verify_sim(f, bad, blen, &e) < 0);
	assert_non_null(strstr(e.msg, "not yet valid"));
	free(bad);
	free(doc);
}

static void test_live_document_freshness(void **state)
{
	struct sim_fixture *f = *state;
	uint8_t *doc;
	size_t len;
	struct err e = {0};
	struct attestation_doc *d = NULL;
	sim_doc(f, NULL, &doc, &len);
	struct attestation_verify_opts o = {f->root, f->root_len, time(NULL), 60};
	assert_int_equal(attestation_verify(doc, len, &o, &d, &e), 0);
	attestation_doc_free(d);
	o.at_unix += 3600; /* an hour later: still in the leaf's life, too old */
	assert_true(attestation_verify(doc, len, &o, &d, &e) < 0);
	assert_non_null(strstr(e.msg, "older than"));
	free(doc);
}

/* Re-encode the payload map with an indefinite-length header, as AWS's
 * encoder has done since 2025: still valid. */
static void test_indefinite_payload_map_accepted(void **state)
{
	struct sim_fixture *f = *state;
	uint8_t *doc, *signed_doc;
	size_t len, slen;
	struct cose_sign1 c;
	sim_doc(f, "x", &doc, &len);
	assert_int_equal(cose_sign1_decode(doc, len, &c, NULL), 0);
	assert_int_equal(c.payload[0], 0xa9);
	uint8_t *p = malloc(c.payload_len + 1);
	p[0] = 0xbf;
	memcpy(p + 1, c.payload + 1, c.payload_len - 1);
	p[c.payload_len] = 0xff;
	assert_int_equal(nsm_sim_sign_payload(f->nsm, p, c.payload_len + 1,
					      &signed_doc, &slen, NULL), 0);
	struct err e = {0};
	assert_int_equal(verify_sim(f, signed_doc, slen, &e), 0);
	free(p);
	free(signed_doc);
	cose_sign1_clear(&c);
	free(doc);
}

/* A payload built by hand with one rule broken at a time. */
static int payload_with(struct sim_fixture *f, const char *broken,
			struct err *e)
{
	uint8_t *doc;
	size_t len;
	struct attestation_doc *d = NULL;
	sim_doc(f, NULL, &doc, &len);
	assert_int_equal(attestation_parse(doc, len, &d, NULL), 0);
	free(doc);
	struct ncbor_out o;
	bool extra = !strcmp(broken, "extra"), dup = !strcmp(broken, "dup");
	ncbor_out_init(&o, NITRO_DOC_MAX);
	ncbor_put_map(&o, 9 + extra + dup);
	ncbor_put_text(&o, "module_id");
	ncbor_put_text(&o, !strcmp(broken, "module_id") ? "" : d->module_id);
	ncbor_put_text(&o, "digest");
	ncbor_put_text(&o, !strcmp(broken, "digest") ? "SHA256" : "SHA384");
	ncbor_put_text(&o, "timestamp");
	if (!strcmp(broken, "timestamp"))
		ncbor_put_negint(&o, 5);
	else
		ncbor_put_uint(&o, d->timestamp_ms);
	ncbor_put_text(&o, "pcrs");
	ncbor_put_map(&o, 2);
	ncbor_put_uint(&o, !strcmp(broken, "pcr_index") ? 32 : 0);
	ncbor_put_bytes(&o, d->pcrs[0], !strcmp(broken, "pcr_len") ? 47 : 48);
	ncbor_put_uint(&o, !strcmp(broken, "pcr_dup") ? 0 : 1);
	ncbor_put_bytes(&o, d->pcrs[1], 48);
	ncbor_put_text(&o, "certificate");
	ncbor_put_bytes(&o, d->certificate.p, d->certificate.len);
	ncbor_put_text(&o, "cabundle");
	ncbor_put_array(&o, d->n_cabundle);
	for (size_t i = 0; i < d->n_cabundle; i++)
		ncbor_put_bytes(&o, d->cabundle[i].p, d->cabundle[i].len);
	ncbor_put_text(&o, "public_key");
	if (!strcmp(broken, "public_key"))
		ncbor_put_bytes(&o, NULL, 0);
	else
		ncbor_put_null(&o);
	ncbor_put_text(&o, "user_data");
	if (!strcmp(broken, "user_data"))
		ncbor_put_text(&o, "text, not bytes");
	else
		ncbor_put_null(&o);
	ncbor_put_text(&o, "nonce");
	ncbor_put_null(&o);
	if (extra) {
		ncbor_put_text(&o, "debug");
		ncbor_put_bool(&o, true);
	}
	if (dup) {
		ncbor_put_text(&o, "nonce");
		ncbor_put_null(&o);
	}
	uint8_t *payload, *signed_doc;
	size_t plen, slen;
	assert_int_equal(ncbor_out_finish(&o, &payload, &plen, NULL), 0);
	assert_int_equal(nsm_sim_sign_payload(f->nsm, payload, plen, &signed_doc,
					      &slen, NULL), 0);
	int rc = verify_sim(f, signed_doc, slen, e);
	free(payload);
	free(signed_doc);
	attestation_doc_free(d);
	return rc;
}

static void test_payload_field_rules(void **state)
{
	struct sim_fixture *f = *state;
	struct err e = {0};
	assert_int_equal(payload_with(f, "none", &e), 0);
	const struct { const char *broken, *msg; } cases[] = {
		{"module_id", "module_id: 0 bytes, want 1..256"},
		{"digest", "digest: not \"SHA384\""},
		{"timestamp", "timestamp: not an unsigned integer"},
		{"pcr_index", "pcrs index: 32 over 31"},
		{"pcr_len", "pcrs: PCR0 is 47 bytes, want 32/48/64"},
		{"pcr_dup", "pcrs: index 0 twice"},
		{"public_key", "public_key: 0 bytes, want 1..1024"},
		{"user_data", "user_data: not a byte string"},
		{"extra", "attestation payload: unexpected key #9"},
		{"dup", "attestation payload: duplicate key nonce"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&e, 0, sizeof(e));
		assert_true(payload_with(f, cases[i].broken, &e) < 0);
		if (strcmp(e.msg, cases[i].msg) != 0)
			fail_msg("%s: got \"%s\"", cases[i].broken, e.msg);
	}
}
#endif /* NS_NSM_SIMULATOR */

int main(void)
{
	secret_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_documents_verify_at_their_timestamps),
		cmocka_unit_test(test_expect_pcr8_matches_signed_documents_only),
		cmocka_unit_test(test_embedded_root_is_the_reference_root),
		cmocka_unit_test(test_real_documents_expired_today),
		cmocka_unit_test(test_every_flipped_byte_fails),
		cmocka_unit_test(test_tag_18_accepted_other_tags_refused),
		cmocka_unit_test(test_wrong_cose_alg_refused),
		cmocka_unit_test(test_truncated_and_oversized_refused),
		cmocka_unit_test(test_lying_lengths_refused),
#ifdef NS_NSM_SIMULATOR
		cmocka_unit_test_setup_teardown(test_sim_document_chains_to_sim_root_only,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_real_document_refused_with_sim_root,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_signature_over_other_payload_refused,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_chain_out_of_order_refused,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_chain_missing_link_refused,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_expired_at_document_timestamp_refused,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_live_document_freshness,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_indefinite_payload_map_accepted,
						sim_setup, sim_teardown),
		cmocka_unit_test_setup_teardown(test_payload_field_rules, sim_setup,
						sim_teardown),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
