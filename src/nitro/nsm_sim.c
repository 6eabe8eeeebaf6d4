/*
 * nsm_sim.c: an NSM in software, for tests and local runs. Compiled only
 * when NS_NSM_SIMULATOR is ON (CMake option; OFF for the enclave image).
 *
 * It answers the same CBOR requests as /dev/nsm (nsm.c encodes them; this
 * file decodes them with the bounded decoder and encodes replies), keeps 32
 * PCRs of 48 bytes (0..15 locked at boot, 16..31 extendable and lockable,
 * extend = SHA384(old || data)) and signs attestation documents as COSE_Sign1
 * ES384 with a test CA chain shaped like AWS's: a P-384 root, three CAs
 * (regional pathlen 2, zonal pathlen 1, instance pathlen 0) and a leaf
 * (CA:FALSE, digitalSignature, 3 hours, no AKI, like AWS's). The root lives
 * in DIR (root.key.pem, root.pem; created when missing) or, with "sim:",
 * only in memory; the CAs below it are remade whenever the leaf has less
 * than 30 minutes left. PCR0..2 default to hashes of fixed labels, or PCR0
 * is DIR/pcr0.hex (96 hex digits) so a KMS stand-in policy can pin it;
 * PCR8 (a signed image's certificate) is zero as for an unsigned image, or
 * DIR/pcr8.hex.
 * Two more files in DIR play a hypervisor for tests, read at every
 * request: DIR/time_offset_s (signed seconds added to the documents'
 * timestamps) and DIR/unavailable (its presence fails every request, as a
 * device that stopped answering).
 *
 * Nothing here is a security boundary: any process with DIR can mint
 * documents. Real KMS trusts only AWS's root.
 */
#include "nitro_internal.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#define SIM_PCR_LEN 48
#define SIM_LEAF_LIFETIME (3 * 3600)
#define SIM_RENEW_BEFORE (30 * 60)

struct sim {
	uint8_t pcr[NITRO_PCR_COUNT][SIM_PCR_LEN];
	bool locked[NITRO_PCR_COUNT];
	char module_id[64];
	EVP_PKEY *root_key;
	X509 *root;
	EVP_PKEY *ca_key[3];
	X509 *ca[3];
	EVP_PKEY *leaf_key;
	X509 *leaf;
	time_t leaf_not_after;
	char *dir;          /* sim:DIR, or NULL for sim: */
};

/* ---- the test CA ------------------------------------------------------------- */

static EVP_PKEY *p384_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
}

static bool add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	bool ok = ext && X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* A certificate for key, issued by (issuer, issuer_key) or self-signed. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
		       EVP_PKEY *issuer_key, const char *basic, const char *ku,
		       bool aki, time_t not_before, time_t not_after)
{
	X509 *x = X509_new();
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	bool ok = x && RAND_bytes(serial, sizeof(serial)) == 1;
	if (ok) {
		serial[0] &= 0x7f;
		bn = BN_bin2bn(serial, sizeof(serial), NULL);
		X509_NAME *name = X509_get_subject_name(x);
		ok = bn && X509_set_version(x, 2) &&
		     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
		     X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC,
						(const uint8_t *)"US", -1, -1, 0) &&
		     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
						(const uint8_t *)"nitro-signer",
						-1, -1, 0) &&
		     X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
						(const uint8_t *)"NSM simulator",
						-1, -1, 0) &&
		     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
						(const uint8_t *)cn, -1, -1, 0) &&
		     X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
						    : name) &&
		     X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &not_before) &&
		     X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &not_after) &&
		     X509_set_pubkey(x, key);
	}
	X509 *iss = issuer ? issuer : x;
	ok = ok && add_ext(x, iss, NID_basic_constraints, basic) &&
	     add_ext(x, iss, NID_key_usage, ku) &&
	     add_ext(x, iss, NID_subject_key_identifier, "hash") &&
	     (!aki || add_ext(x, iss, NID_authority_key_identifier, "keyid")) &&
	     X509_sign(x, issuer_key ? issuer_key : key, EVP_sha384()) > 0;
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static void free_chain(struct sim *s)
{
	for (int i = 0; i < 3; i++) {
		EVP_PKEY_free(s->ca_key[i]);
		X509_free(s->ca[i]);
		s->ca_key[i] = NULL;
		s->ca[i] = NULL;
	}
	EVP_PKEY_free(s->leaf_key);
	X509_free(s->leaf);
	s->leaf_key = NULL;
	s->leaf = NULL;
}

/* root -> regional (pathlen 2) -> zonal (1) -> instance (0) -> leaf */
static int make_chain(struct sim *s, struct err *e)
{
	static const char *const cn[3] = {
		"sim.us-east-1.nitro-signer.nitro-enclaves",
		"sim.zonal.us-east-1.nitro-signer.nitro-enclaves",
		"i-00000000000000000.us-east-1.nitro-signer.nitro-enclaves",
	};
	static const char *const basic[3] = {
		"critical,CA:TRUE,pathlen:2", "critical,CA:TRUE,pathlen:1",
		"critical,CA:TRUE,pathlen:0",
	};
	static const int days[3] = {20, 6, 1};
	time_t now = time(NULL);
	free_chain(s);
	X509 *issuer = s->root;
	EVP_PKEY *issuer_key = s->root_key;
	for (int i = 0; i < 3; i++) {
		if (!(s->ca_key[i] = p384_key()) ||
		    !(s->ca[i] = make_cert(cn[i], s->ca_key[i], issuer,
					   issuer_key, basic[i],
					   "critical,digitalSignature,keyCertSign,cRLSign",
					   true, now - 3600,
					   now + days[i] * 86400L)))
			goto fail;
		issuer = s->ca[i];
		issuer_key = s->ca_key[i];
	}
	char leaf_cn[128];
	snprintf(leaf_cn, sizeof(leaf_cn), "%s.us-east-1.nitro-signer",
		 s->module_id);
	s->leaf_not_after = now + SIM_LEAF_LIFETIME;
	if (!(s->leaf_key = p384_key()) ||
	    !(s->leaf = make_cert(leaf_cn, s->leaf_key, issuer, issuer_key,
				  "critical,CA:FALSE",
				  "critical,digitalSignature", false, now - 60,
				  s->leaf_not_after)))
		goto fail;
	return 0;
fail:
	free_chain(s);
	return err_set(e, ERR_CRYPTO, "NSM simulator: cannot make the CA chain");
}

static int make_root(struct sim *s, struct err *e)
{
	time_t now = time(NULL);
	if (!(s->root_key = p384_key()) ||
	    !(s->root = make_cert("nsm-simulator.nitro-enclaves", s->root_key,
				  NULL, NULL, "critical,CA:TRUE",
				  "critical,digitalSignature,keyCertSign,cRLSign",
				  false, now - 86400, now + 30 * 365 * 86400L)))
		return err_set(e, ERR_CRYPTO, "NSM simulator: cannot make a root");
	return 0;
}

static int write_pem(const char *path, BIO *b, int mode, struct err *e)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	return file_write_atomic(path, data, (size_t)n, mode, e);
}

static int save_root(struct sim *s, const char *dir, struct err *e)
{
	char kp[4096], cp[4096];
	snprintf(kp, sizeof(kp), "%s/root.key.pem", dir);
	snprintf(cp, sizeof(cp), "%s/root.pem", dir);
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	int rc;
	if (!kb || !cb ||
	    !PEM_write_bio_PrivateKey(kb, s->root_key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, s->root)) {
		rc = err_set(e, ERR_CRYPTO, "NSM simulator: cannot encode root");
		goto out;
	}
	TRY_OUT(write_pem(kp, kb, 0600, e));
	TRY_OUT(write_pem(cp, cb, 0644, e));
	rc = 0;
out:
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

static int load_root(struct sim *s, const char *dir, struct err *e)
{
	char kp[4096], cp[4096];
	struct stat st;
	snprintf(kp, sizeof(kp), "%s/root.key.pem", dir);
	snprintf(cp, sizeof(cp), "%s/root.pem", dir);
	bool have_key = stat(kp, &st) == 0, have_cert = stat(cp, &st) == 0;
	if (!have_key && !have_cert) {
		if (mkdir(dir, 0700) != 0 && stat(dir, &st) != 0)
			return err_set(e, ERR_IO, "NSM simulator: cannot create %s",
				       dir);
		TRY(make_root(s, e));
		return save_root(s, dir, e);
	}
	if (!have_key || !have_cert)
		return err_set(e, ERR_INVALID, "NSM simulator: %s has only one of "
			       "root.key.pem and root.pem", dir);
	FILE *f = fopen(kp, "r");
	if (f) {
		s->root_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if ((f = fopen(cp, "r"))) {
		s->root = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!s->root_key || !s->root || X509_check_private_key(s->root, s->root_key) != 1)
		return err_set(e, ERR_INVALID, "NSM simulator: %s/root.key.pem "
			       "and root.pem unreadable or not a pair", dir);
	return 0;
}

/* PCR = SHA384(0^48 || SHA384(label)), the shape of an EIF measurement. */
static void measure(uint8_t out[SIM_PCR_LEN], const char *label)
{
	uint8_t buf[2 * SIM_PCR_LEN] = {0};
	unsigned int n;
	EVP_Digest(label, strlen(label), buf + SIM_PCR_LEN, &n, EVP_sha384(), NULL);
	EVP_Digest(buf, sizeof(buf), out, &n, EVP_sha384(), NULL);
}

/* PCR i from DIR/pcr<i>.hex when the file exists. */
static int load_pcr(struct sim *s, const char *dir, int i, struct err *e)
{
	char path[4096], *text = NULL;
	size_t len;
	struct stat st;
	snprintf(path, sizeof(path), "%s/pcr%d.hex", dir, i);
	if (stat(path, &st) != 0)
		return 0;
	TRY(file_read_all(path, 256, &text, &len, e));
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	char prefixed[2 * SIM_PCR_LEN + 3];
	int rc = -ERR_INVALID;
	const char *digits = strncmp(text, "0x", 2) == 0 ? text + 2 : text;
	if (strlen(digits) == 2 * SIM_PCR_LEN) {
		snprintf(prefixed, sizeof(prefixed), "0x%s", digits);
		rc = hex_decode_exact(prefixed, s->pcr[i], SIM_PCR_LEN, e,
				      path);
	} else {
		err_set(e, ERR_INVALID, "%s: want 96 hex digits", path);
	}
	free(text);
	return rc;
}

static void sim_close(void *ctx)
{
	struct sim *s = ctx;
	if (!s)
		return;
	free_chain(s);
	EVP_PKEY_free(s->root_key);
	X509_free(s->root);
	free(s->dir);
	free(s);
}

/* ---- requests ------------------------------------------------------------------ */

static int reply_error(struct ncbor_out *o, const char *name)
{
	ncbor_put_map(o, 1);
	ncbor_put_text(o, "Error");
	ncbor_put_text(o, name);
	return 0;
}

static void reply_variant(struct ncbor_out *o, const char *variant,
			  size_t fields)
{
	ncbor_put_map(o, 1);
	ncbor_put_text(o, variant);
	ncbor_put_map(o, fields);
}

/*
 * The document's timestamp: this machine's clock plus DIR/time_offset_s
 * (a signed number of seconds, read at every document), so a test can play
 * a hypervisor whose time differs from the host's.
 */
static int sim_timestamp(const struct sim *s, uint64_t *ms, struct err *e)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	char path[4096], *text = NULL;
	size_t len;
	struct stat st;
	if (s->dir) {
		snprintf(path, sizeof(path), "%s/time_offset_s", s->dir);
		if (stat(path, &st) == 0) {
			TRY(file_read_all(path, 64, &text, &len, e));
			char *end = NULL;
			errno = 0;
			long long off = strtoll(text, &end, 10);
			bool ok = end != text && errno == 0 &&
				  (*end == '\0' || *end == '\n') &&
				  off > -(1LL << 40) && off < (1LL << 40);
			free(text);
			if (!ok)
				return err_set(e, ERR_INVALID, "%s: want a signed "
					       "number of seconds", path);
			now += off * 1000;
		}
	}
	if (now <= 0)
		return err_set(e, ERR_INVALID, "NSM simulator: time before 1970");
	*ms = (uint64_t)now;
	return 0;
}

/* DIR/unavailable exists: the simulator answers nothing, as a device that
 * is gone (tests of an enclave whose NSM cannot be asked). */
static bool sim_unavailable(const struct sim *s)
{
	char path[4096];
	struct stat st;
	if (!s->dir)
		return false;
	snprintf(path, sizeof(path), "%s/unavailable", s->dir);
	return stat(path, &st) == 0;
}

static int attest(struct sim *s, const struct ncbor *body, struct ncbor_out *o,
		  struct err *e)
{
	static const char *const keys[] = {"user_data", "nonce", "public_key"};
	static const size_t max[] = {NITRO_NSM_FIELD_MAX, NITRO_NSM_FIELD_MAX,
				     NITRO_PUBLIC_KEY_MAX};
	struct attestation_doc d;
	struct nitro_bytes *f[] = {&d.user_data, &d.nonce, &d.public_key};
	uint8_t *der[5] = {0}, *payload = NULL, *doc = NULL;
	size_t payload_len, doc_len;
	uint8_t sig[COSE_ES384_SIG_LEN];
	int rc = 0;
	memset(&d, 0, sizeof(d));
	if (ncbor_map_check_keys(body, keys, 3, NULL, "") < 0)
		return reply_error(o, "InvalidArgument");
	for (int i = 0; i < 3; i++) {
		const struct ncbor *v = ncbor_map_get(body, keys[i]);
		if (!v || ncbor_is_null(v))
			continue;
		if (ncbor_bytes_dup(v, i == 2 ? 1 : 0, max[i], &f[i]->p,
				    &f[i]->len, NULL, "") < 0) {
			rc = reply_error(o, "InvalidArgument");
			goto out;
		}
		f[i]->present = true;
	}
	if (time(NULL) + SIM_RENEW_BEFORE > s->leaf_not_after)
		TRY_OUT(make_chain(s, e));
	X509 *certs[5] = {s->root, s->ca[0], s->ca[1], s->ca[2], s->leaf};
	int der_len[5];
	for (int i = 0; i < 5; i++)
		if ((der_len[i] = i2d_X509(certs[i], &der[i])) <= 0) {
			rc = err_set(e, ERR_CRYPTO, "NSM simulator: i2d_X509");
			goto out;
		}
	d.module_id = s->module_id;
	memcpy(d.digest, "SHA384", 7);
	TRY_OUT(sim_timestamp(s, &d.timestamp_ms, e));
	d.pcr_len = SIM_PCR_LEN;
	for (int i = 0; i < NITRO_PCR_COUNT; i++)
		if (s->locked[i]) {
			d.pcr_mask |= 1u << i;
			memcpy(d.pcrs[i], s->pcr[i], SIM_PCR_LEN);
		}
	d.certificate = (struct nitro_bytes){der[4], (size_t)der_len[4], true};
	d.n_cabundle = 4;
	for (int i = 0; i < 4; i++)
		d.cabundle[i] = (struct nitro_bytes){der[i], (size_t)der_len[i], true};
	TRY_OUT(attestation_payload_encode(&d, &payload, &payload_len, e));
	TRY_OUT(cose_es384_sign(s->leaf_key, cose_es384_protected,
				sizeof(cose_es384_protected), payload,
				payload_len, sig, e));
	TRY_OUT(cose_sign1_encode(cose_es384_protected,
				  sizeof(cose_es384_protected), payload,
				  payload_len, sig, &doc, &doc_len, e));
	reply_variant(o, "Attestation", 1);
	ncbor_put_text(o, "document");
	ncbor_put_bytes(o, doc, doc_len);
out:
	for (int i = 0; i < 5; i++)
		OPENSSL_free(der[i]);
	for (int i = 0; i < 3; i++)
		free(f[i]->p);
	free(payload);
	free(doc);
	return rc;
}

/* Index field of a PCR request; -1 when missing or out of range. */
static int pcr_index(const struct ncbor *body, const char *field, uint64_t max)
{
	uint64_t v;
	if (ncbor_uint(ncbor_map_get(body, field), max, &v, NULL, "") < 0)
		return -1;
	return (int)v;
}

static int handle_variant(struct sim *s, const char *name,
			  const struct ncbor *body, struct ncbor_out *o,
			  struct err *e)
{
	if (strcmp(name, "Attestation") == 0)
		return attest(s, body, o, e);
	if (strcmp(name, "DescribePCR") == 0) {
		int i = pcr_index(body, "index", NITRO_PCR_COUNT - 1);
		if (i < 0)
			return reply_error(o, "InvalidIndex");
		reply_variant(o, "DescribePCR", 2);
		ncbor_put_text(o, "lock");
		ncbor_put_bool(o, s->locked[i]);
		ncbor_put_text(o, "data");
		ncbor_put_bytes(o, s->pcr[i], SIM_PCR_LEN);
		return 0;
	}
	if (strcmp(name, "ExtendPCR") == 0) {
		int i = pcr_index(body, "index", NITRO_PCR_COUNT - 1);
		uint8_t *data = NULL, buf[SIM_PCR_LEN * 2];
		size_t len;
		if (i < 0)
			return reply_error(o, "InvalidIndex");
		if (s->locked[i])
			return reply_error(o, "ReadOnlyIndex");
		if (ncbor_bytes_dup(ncbor_map_get(body, "data"), 0,
				    NSM_REQUEST_MAX, &data, &len, NULL, "") < 0)
			return reply_error(o, "InvalidArgument");
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned int n;
		bool ok = md && EVP_DigestInit_ex(md, EVP_sha384(), NULL) &&
			  EVP_DigestUpdate(md, s->pcr[i], SIM_PCR_LEN) &&
			  EVP_DigestUpdate(md, data, len) &&
			  EVP_DigestFinal_ex(md, buf, &n);
		EVP_MD_CTX_free(md);
		free(data);
		if (!ok)
			return reply_error(o, "InternalError");
		memcpy(s->pcr[i], buf, SIM_PCR_LEN);
		reply_variant(o, "ExtendPCR", 1);
		ncbor_put_text(o, "data");
		ncbor_put_bytes(o, s->pcr[i], SIM_PCR_LEN);
		return 0;
	}
	if (strcmp(name, "LockPCR") == 0) {
		int i = pcr_index(body, "index", NITRO_PCR_COUNT - 1);
		if (i < 0)
			return reply_error(o, "InvalidIndex");
		if (i < 16)
			return reply_error(o, "ReadOnlyIndex");
		s->locked[i] = true;
		ncbor_put_text(o, "LockPCR");
		return 0;
	}
	if (strcmp(name, "LockPCRs") == 0) {
		int r = pcr_index(body, "range", NITRO_PCR_COUNT);
		if (r < 0)
			return reply_error(o, "InvalidIndex");
		for (int i = 16; i < r; i++)
			s->locked[i] = true;
		ncbor_put_text(o, "LockPCRs");
		return 0;
	}
	return reply_error(o, "InvalidOperation");
}

static int describe(struct sim *s, struct ncbor_out *o)
{
	size_t n = 0;
	for (int i = 0; i < NITRO_PCR_COUNT; i++)
		n += s->locked[i];
	reply_variant(o, "DescribeNSM", 7);
	ncbor_put_text(o, "version_major");
	ncbor_put_uint(o, 1);
	ncbor_put_text(o, "version_minor");
	ncbor_put_uint(o, 0);
	ncbor_put_text(o, "version_patch");
	ncbor_put_uint(o, 0);
	ncbor_put_text(o, "module_id");
	ncbor_put_text(o, s->module_id);
	ncbor_put_text(o, "max_pcrs");
	ncbor_put_uint(o, NITRO_PCR_COUNT);
	ncbor_put_text(o, "locked_pcrs");
	ncbor_put_array(o, n);
	for (int i = 0; i < NITRO_PCR_COUNT; i++)
		if (s->locked[i])
			ncbor_put_uint(o, (uint64_t)i);
	ncbor_put_text(o, "digest");
	ncbor_put_text(o, "SHA384");
	return 0;
}

static int sim_roundtrip(void *ctx, const uint8_t *req, size_t req_len,
			 uint8_t *resp, size_t *resp_len, struct err *e)
{
	struct sim *s = ctx;
	struct ncbor_out o;
	struct ncbor *r = NULL;
	uint8_t *out = NULL;
	size_t out_len;
	int rc = 0;
	if (sim_unavailable(s))
		return err_set(e, ERR_IO, "NSM ioctl: %s/unavailable exists "
			       "(simulated failure)", s->dir);
	ncbor_out_init(&o, *resp_len);
	if (ncbor_decode(req, req_len, NSM_REQUEST_MAX, &r, NULL, "") < 0) {
		reply_error(&o, req_len > NSM_REQUEST_MAX ? "InputTooLarge"
							   : "InvalidArgument");
	} else if (ncbor_text_is(r, "DescribeNSM")) {
		describe(s, &o);
	} else if (ncbor_text_is(r, "GetRandom")) {
		uint8_t rnd[256];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			reply_error(&o, "InternalError");
		} else {
			reply_variant(&o, "GetRandom", 1);
			ncbor_put_text(&o, "random");
			ncbor_put_bytes(&o, rnd, sizeof(rnd));
		}
		OPENSSL_cleanse(rnd, sizeof(rnd));
	} else if (ncbor_is(r, NCBOR_MAP) && r->n == 1 &&
		   ncbor_is(ncbor_map_key(r, 0), NCBOR_TEXT) &&
		   ncbor_is(ncbor_map_value(r, 0), NCBOR_MAP)) {
		char *name = NULL;
		if (ncbor_text_dup(ncbor_map_key(r, 0), 32, &name, NULL,
				   "") < 0)
			reply_error(&o, "InvalidOperation");
		else
			rc = handle_variant(s, name, ncbor_map_value(r, 0),
					    &o, e);
		free(name);
	} else {
		reply_error(&o, "InvalidOperation");
	}
	ncbor_free(r);
	if (rc < 0) {
		ncbor_out_free(&o);
		return rc;
	}
	TRY(ncbor_out_finish(&o, &out, &out_len, e));
	memcpy(resp, out, out_len);
	*resp_len = out_len;
	free(out);
	return 0;
}

static const struct nsm_backend sim_backend = {sim_roundtrip, sim_close};

int nsm_sim_open(const char *dir, struct nsm *n, struct err *e)
{
	struct sim *s = calloc(1, sizeof(*s));
	uint8_t id[8];
	int rc;
	if (!s)
		return err_set(e, ERR_NOMEM, "NSM simulator: out of memory");
	if (RAND_bytes(id, sizeof(id)) != 1) {
		rc = err_set(e, ERR_CRYPTO, "NSM simulator: RAND_bytes");
		goto out;
	}
	char hex[2 + 2 * sizeof(id) + 1];
	hex_encode(id, sizeof(id), hex);
	snprintf(s->module_id, sizeof(s->module_id),
		 "i-00000000000000000-enc%s", hex + 2);
	measure(s->pcr[0], "nitro-signer NSM simulator: image");
	measure(s->pcr[1], "nitro-signer NSM simulator: kernel");
	measure(s->pcr[2], "nitro-signer NSM simulator: application");
	measure(s->pcr[4], "i-00000000000000000");
	for (int i = 0; i < 16; i++)
		s->locked[i] = true;
	if (dir) {
		if (!(s->dir = strdup(dir))) {
			rc = err_set(e, ERR_NOMEM, "NSM simulator: out of memory");
			goto out;
		}
		TRY_OUT(load_root(s, dir, e));
		TRY_OUT(load_pcr(s, dir, 0, e));
		TRY_OUT(load_pcr(s, dir, 8, e));
	} else {
		TRY_OUT(make_root(s, e));
	}
	TRY_OUT(make_chain(s, e));
	n->backend = &sim_backend;
	n->ctx = s;
	s = NULL;
	rc = 0;
out:
	sim_close(s);
	return rc;
}

/* ---- test hooks -------------------------------------------------------------- */

static struct sim *sim_of(struct nsm *n, struct err *e)
{
	if (!n->simulator) {
		err_set(e, ERR_INVALID, "NSM: not the simulator");
		return NULL;
	}
	return n->ctx;
}

int nsm_sim_root_der(struct nsm *n, uint8_t **der, size_t *len, struct err *e)
{
	struct sim *s = sim_of(n, e);
	if (!s)
		return -ERR_INVALID;
	uint8_t *p = NULL;
	int l = i2d_X509(s->root, &p);
	if (l <= 0)
		return err_set(e, ERR_CRYPTO, "NSM simulator: i2d_X509");
	*der = malloc((size_t)l);
	if (*der)
		memcpy(*der, p, (size_t)l);
	OPENSSL_free(p);
	if (!*der)
		return err_set(e, ERR_NOMEM, "out of memory");
	*len = (size_t)l;
	return 0;
}

int nsm_sim_root_pem(struct nsm *n, char **pem, struct err *e)
{
	struct sim *s = sim_of(n, e);
	if (!s)
		return -ERR_INVALID;
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long l;
	if (!b || !PEM_write_bio_X509(b, s->root) ||
	    (l = BIO_get_mem_data(b, &data)) <= 0 ||
	    !(*pem = strndup(data, (size_t)l))) {
		BIO_free(b);
		return err_set(e, ERR_NOMEM, "NSM simulator: PEM");
	}
	BIO_free(b);
	return 0;
}

int nsm_sim_sign_payload(struct nsm *n, const uint8_t *payload, size_t len,
			 uint8_t **doc, size_t *doc_len, struct err *e)
{
	struct sim *s = sim_of(n, e);
	uint8_t sig[COSE_ES384_SIG_LEN];
	if (!s)
		return -ERR_INVALID;
	pthread_mutex_lock(&n->lock);
	int rc = cose_es384_sign(s->leaf_key, cose_es384_protected,
				 sizeof(cose_es384_protected), payload, len,
				 sig, e);
	pthread_mutex_unlock(&n->lock);
	TRY(rc);
	return cose_sign1_encode(cose_es384_protected,
				 sizeof(cose_es384_protected), payload, len,
				 sig, doc, doc_len, e);
}

int64_t nsm_sim_leaf_not_after(struct nsm *n)
{
	struct sim *s = sim_of(n, NULL);
	return s ? (int64_t)s->leaf_not_after : 0;
}
