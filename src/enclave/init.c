/*
 * init.c: the enclave's boot sequence, run once for the host's `init`.
 *
 *   1. validate the message strictly (docs/enclave.md: known fields only,
 *      each of the right type and bounded) before anything happens;
 *   2. push the credentials, build a KMS client (region, endpoint, and
 *      with kms_proxy every connection through the host's proxy);
 *   3. one ephemeral RSA Recipient key and one NSM attestation document
 *      binding its public key;
 *   4. per record: KMS Decrypt with that Recipient, the CMS reply opened
 *      inside the enclave (plaintext never crosses the host), then
 *        sample:   JSON {keystore_b64, password_b64, mnemonic_b64} ->
 *                  EIP-2335 keystore decrypted with its password;
 *        envelope: the data key (encryption context purpose + signer id)
 *                  opens AES-256-GCM over "NSEB" | 1 | u32be n | n x
 *                  (pubkey48 | sk32), AAD "<format>|<signer id>|<record id>"
 *      and every key is checked (blst_sk_check in bls_key_from_bytes and
 *      keystore_decrypt) and must derive the pubkey the record names;
 *   5. a signer (network, slashing database) with the keys that passed.
 *
 * What the host sends is untrusted: a record that fails any step is
 * reported with the reason ({pubkey, loaded:false, error}) and skipped;
 * only KMS (through the attested Recipient) can make a key load. Errors
 * never carry secret bytes.
 */
#include "enclave/enclave_internal.h"
#include "crypto/crypto.h"
#include "eth2/eth2.h"
#include "nitro/nitro.h"
#include "signer/keys.h"
#include "signer/signer.h"

#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#define INIT_MAX_RECORDS 20000
#define INIT_MAX_BUNDLE_KEYS 3000
#define ENVELOPE_FORMAT "nitro-signer-envelope-v1"
#define ENVELOPE_MAGIC "NSEB"
#define BUNDLE_ENTRY (BLS_PUBKEY_LEN + BLS_SECRET_LEN)

enum record_kind { RECORD_SAMPLE, RECORD_ENVELOPE };

struct init_ctx {
	struct http_addr kms_proxy; /* valid when has_proxy */
	bool has_proxy;
	struct aws_client *kms;
	struct recipient *rcp;
	uint8_t *doc;
	size_t doc_len;
	const char *signer_id;
	json_t *report;
	struct bls_key **keys;
	size_t nkeys, cap;
};

/* ---- schema ------------------------------------------------------------ */

/* Every member of o is in allowed (NULL-terminated). */
static int only_fields(const json_t *o, const char *const *allowed,
		       const char *what, struct err *e)
{
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)o, k, v) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], k) != 0)
			i++;
		if (!allowed[i])
			return err_set(e, ERR_INVALID, "%s: unknown field \"%.64s\"",
				       what, k);
	}
	return 0;
}

/* A required (or, with optional, absent-or-) non-empty bounded string. */
static int get_str(const json_t *o, const char *name, bool optional,
		   size_t max, const char **out, const char *what,
		   struct err *e)
{
	const json_t *v = json_object_get(o, name);
	*out = NULL;
	if (!v && optional)
		return 0;
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) > max)
		return err_set(e, ERR_INVALID,
			       "%s: \"%s\" must be a non-empty string of at most "
			       "%zu bytes", what, name, max);
	*out = s;
	return 0;
}

static int check_record(const json_t *r, size_t i, enum record_kind *kind,
			struct err *e)
{
	static const char *const sample[] = {"pubkey", "kind", "ciphertext_b64",
					     NULL};
	static const char *const envelope[] = {
		"pubkey", "kind", "wrapped_data_key_b64",
		"envelope_ciphertext_b64", "pubkeys", NULL};
	char what[48];
	snprintf(what, sizeof(what), "records[%zu]", i);
	const char *k, *s;
	if (!json_is_object(r))
		return err_set(e, ERR_INVALID, "%s: not an object", what);
	TRY(get_str(r, "kind", false, 16, &k, what, e));
	TRY(get_str(r, "pubkey", false, 128, &s, what, e));
	if (strcmp(k, "sample") == 0) {
		*kind = RECORD_SAMPLE;
		TRY(only_fields(r, sample, what, e));
		return get_str(r, "ciphertext_b64", false, 64 * 1024, &s, what, e);
	}
	if (strcmp(k, "envelope") != 0)
		return err_set(e, ERR_INVALID,
			       "%s: \"kind\" must be \"sample\" or \"envelope\"",
			       what);
	*kind = RECORD_ENVELOPE;
	TRY(only_fields(r, envelope, what, e));
	TRY(get_str(r, "wrapped_data_key_b64", false, 4096, &s, what, e));
	TRY(get_str(r, "envelope_ciphertext_b64", false, 1u << 20, &s, what, e));
	const json_t *pks = json_object_get(r, "pubkeys");
	if (!json_is_array(pks) || json_array_size(pks) == 0 ||
	    json_array_size(pks) > INIT_MAX_BUNDLE_KEYS)
		return err_set(e, ERR_INVALID,
			       "%s: \"pubkeys\" must list 1..%d pubkeys", what,
			       INIT_MAX_BUNDLE_KEYS);
	return 0;
}

static int check_init(const json_t *m, struct err *e)
{
	static const char *const top[] = {
		"type", "region", "credentials", "kms_endpoint", "kms_proxy",
		"network",
		"slashing_db_url", "key_table", "signer_id", "records", NULL};
	const char *s;
	TRY(only_fields(m, top, "init", e));
	TRY(get_str(m, "region", false, 64, &s, "init", e));
	TRY(get_str(m, "kms_endpoint", true, 512, &s, "init", e));
	TRY(get_str(m, "kms_proxy", true, 128, &s, "init", e));
	struct http_addr a;
	if (s && (http_addr_parse(s, &a, e) < 0 || a.kind == HTTP_ADDR_TCP))
		return err_set(e, ERR_INVALID,
			       "init: \"kms_proxy\" must be unix:PATH or "
			       "vsock:CID:PORT");
	TRY(get_str(m, "network", false, 64, &s, "init", e));
	if (strchr(s, '/') || strchr(s, '.'))
		return err_set(e, ERR_INVALID,
			       "init: \"network\" must be a network name, not a "
			       "path");
	TRY(get_str(m, "slashing_db_url", false, 1024, &s, "init", e));
	TRY(get_str(m, "key_table", true, 255, &s, "init", e));
	TRY(get_str(m, "signer_id", false, 255, &s, "init", e));
	if (!json_is_object(json_object_get(m, "credentials")))
		return err_set(e, ERR_INVALID,
			       "init: \"credentials\" must be an object");
	const json_t *recs = json_object_get(m, "records");
	if (!json_is_array(recs) || json_array_size(recs) > INIT_MAX_RECORDS)
		return err_set(e, ERR_INVALID,
			       "init: \"records\" must be an array of at most %d",
			       INIT_MAX_RECORDS);
	size_t i;
	const json_t *r;
	json_array_foreach(recs, i, r) {
		enum record_kind k;
		TRY(check_record(r, i, &k, e));
	}
	return 0;
}

/* ---- the report and the collected keys --------------------------------- */

static int report(struct init_ctx *c, const char *pubkey, const char *error)
{
	json_t *o = json_pack("{s:s,s:b}", "pubkey", pubkey, "loaded", !error);
	if (!o || (error && json_object_set_new(o, "error",
						json_string(error)) < 0) ||
	    json_array_append_new(c->report, o) < 0) {
		json_decref(o);
		return -ERR_NOMEM;
	}
	if (error)
		log_warn("key %s not loaded: %s", pubkey, error);
	return 0;
}

static int keep_key(struct init_ctx *c, struct bls_key *k)
{
	if (c->nkeys == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct bls_key **v = realloc(c->keys, cap * sizeof(*v));
		if (!v) {
			bls_key_free(k);
			return -ERR_NOMEM;
		}
		c->keys = v;
		c->cap = cap;
	}
	c->keys[c->nkeys++] = k;
	return 0;
}

/* The key must be the one the record names. */
static int check_pubkey(const struct bls_key *k, const char *want,
			struct err *e)
{
	uint8_t pk[BLS_PUBKEY_LEN];
	TRY(hex_decode_exact(want, pk, sizeof(pk), e, "pubkey"));
	if (memcmp(pk, k->pubkey, BLS_PUBKEY_LEN) != 0)
		return err_set(e, ERR_INVALID,
			       "the decrypted key does not match the record's "
			       "pubkey");
	return 0;
}

/* ---- KMS with Recipient --------------------------------------------------- */

static int kms_open(struct init_ctx *c, const char *blob_b64,
		    const json_t *context, struct secret **pt, struct err *e)
{
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	struct aws_kms_plain plain;
	memset(&plain, 0, sizeof(plain));
	struct aws_kms_recipient r = {c->doc, c->doc_len};
	int rc = aws_b64_decode(blob_b64, &blob, &blob_len, e, "ciphertext");
	if (rc == 0)
		rc = aws_kms_decrypt(c->kms, NULL, blob, blob_len, context, &r,
				     &plain, e);
	if (rc == 0 && !plain.for_recipient)
		rc = err_set(e, ERR_CRYPTO, "KMS returned no CiphertextForRecipient");
	if (rc == 0)
		rc = recipient_open(c->rcp, plain.for_recipient,
				    plain.for_recipient_len, pt, e);
	aws_kms_plain_clear(&plain);
	free(blob);
	return rc;
}

/* {keystore_b64, password_b64, mnemonic_b64} -> the checked key. */
static int open_sample_plaintext(const struct secret *pt, const char *pubkey,
				 struct bls_key **out, struct err *e)
{
	json_t *j = NULL;
	struct secret *ks = NULL, *pw = NULL;
	int rc = json_parse_strict((const char *)pt->bytes, pt->len,
				   "record plaintext", &j, e);
	const char *ks_b64 = json_string_value(json_object_get(j, "keystore_b64"));
	const char *pw_b64 = json_string_value(json_object_get(j, "password_b64"));
	if (rc == 0 && (!ks_b64 || !pw_b64))
		rc = err_set(e, ERR_INVALID,
			     "record plaintext: keystore_b64 and password_b64 "
			     "required");
	if (rc == 0)
		rc = aws_b64_decode_secret(ks_b64, &ks, e, "keystore_b64");
	if (rc == 0)
		rc = aws_b64_decode_secret(pw_b64, &pw, e, "password_b64");
	if (rc == 0)
		rc = keystore_decrypt((const char *)ks->bytes, ks->len, pw, out, e);
	if (rc == 0 && (rc = check_pubkey(*out, pubkey, e)) < 0) {
		bls_key_free(*out);
		*out = NULL;
	}
	secret_free(ks);
	secret_free(pw);
	json_decref(j);
	return rc;
}

static int load_sample(struct init_ctx *c, const json_t *r)
{
	const char *pubkey = json_string_value(json_object_get(r, "pubkey"));
	const char *ct = json_string_value(json_object_get(r, "ciphertext_b64"));
	struct secret *pt = NULL;
	struct bls_key *k = NULL;
	struct err e = {0};
	int rc = kms_open(c, ct, NULL, &pt, &e);
	if (rc == 0)
		rc = open_sample_plaintext(pt, pubkey, &k, &e);
	secret_free(pt);
	if (rc < 0)
		return report(c, pubkey, e.msg);
	TRY(keep_key(c, k));
	return report(c, pubkey, NULL);
}

/* Every listed pubkey reported with the same reason. */
static int report_bundle(struct init_ctx *c, const json_t *pks,
			 const char *error)
{
	size_t i;
	const json_t *v;
	json_array_foreach(pks, i, v) {
		const char *s = json_string_value(v);
		TRY(report(c, s ? s : "(not a string)", error));
	}
	return 0;
}

/* The opened bundle: each (pubkey, sk) checked against the listed pubkeys. */
static int load_bundle_keys(struct init_ctx *c, const struct secret *pt,
			    const json_t *pks, struct err *e)
{
	size_t n = json_array_size(pks);
	if (pt->len < 9 || memcmp(pt->bytes, ENVELOPE_MAGIC, 4) != 0 ||
	    pt->bytes[4] != 1)
		return err_set(e, ERR_INVALID, "envelope: not a version 1 bundle");
	struct cursor cur = cursor_init(pt->bytes + 5, pt->len - 5);
	uint32_t count;
	if (cursor_u32be(&cur, &count) < 0 || count != n ||
	    cur.left != (size_t)count * BUNDLE_ENTRY)
		return err_set(e, ERR_INVALID,
			       "envelope: the bundle's key count or length does "
			       "not match the %zu listed pubkeys", n);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *ent;
		if (cursor_take(&cur, BUNDLE_ENTRY, &ent) < 0)
			return err_set(e, ERR_TRUNCATED, "envelope: truncated");
		const char *want = json_string_value(json_array_get(pks, i));
		struct bls_key *k = NULL;
		struct err ke = {0};
		char have[2 + 2 * BLS_PUBKEY_LEN + 1];
		hex_encode(ent, BLS_PUBKEY_LEN, have);
		int rc = want ? bls_key_from_bytes(ent + BLS_PUBKEY_LEN, &k, &ke)
			      : err_set(&ke, ERR_INVALID, "listed pubkey not a string");
		if (rc == 0 && (memcmp(k->pubkey, ent, BLS_PUBKEY_LEN) != 0 ||
				check_pubkey(k, want, &ke) < 0)) {
			if (!ke.msg[0])
				err_set(&ke, ERR_INVALID, "the bundle's key does "
					"not derive its pubkey");
			bls_key_free(k);
			rc = -ERR_INVALID;
		}
		if (rc < 0) {
			TRY(report(c, want ? want : have, ke.msg));
			continue;
		}
		TRY(keep_key(c, k));
		TRY(report(c, want, NULL));
	}
	return 0;
}

static int load_envelope(struct init_ctx *c, const json_t *r)
{
	const char *id = json_string_value(json_object_get(r, "pubkey"));
	const json_t *pks = json_object_get(r, "pubkeys");
	struct secret *dk = NULL, *pt = NULL;
	uint8_t *ct = NULL;
	size_t ct_len = 0;
	struct err e = {0};
	char aad[600];
	int n = snprintf(aad, sizeof(aad), "%s|%s|%s", ENVELOPE_FORMAT,
			 c->signer_id, id);
	json_t *ctx = json_pack("{s:s,s:s}", "purpose", ENVELOPE_FORMAT,
				"signer_id", c->signer_id);
	int rc = ctx ? 0 : -ERR_NOMEM;
	if (rc == 0)
		rc = kms_open(c, json_string_value(json_object_get(
					 r, "wrapped_data_key_b64")), ctx, &dk, &e);
	if (rc == 0 && dk->len != 32)
		rc = err_set(&e, ERR_CRYPTO, "envelope: data key is not 32 bytes");
	if (rc == 0)
		rc = aws_b64_decode(json_string_value(json_object_get(
					    r, "envelope_ciphertext_b64")),
				    &ct, &ct_len, &e, "envelope_ciphertext_b64");
	if (rc == 0)
		rc = aws_envelope_open(dk, (const uint8_t *)aad, (size_t)n, ct,
				       ct_len, &pt, &e);
	if (rc == 0)
		rc = load_bundle_keys(c, pt, pks, &e);
	if (rc < 0 && rc != -ERR_NOMEM)
		rc = report_bundle(c, pks, e.msg);
	secret_free(dk);
	secret_free(pt);
	free(ct);
	json_decref(ctx);
	return rc;
}

/* ---- the host proxy ------------------------------------------------------------ */

/*
 * The KMS client's socket hook: every connection goes to the host's proxy
 * (vsock in the enclave, unix in tests), which relays bytes only; TLS runs
 * end to end to the real endpoint's name (aws_client pins it, no DNS).
 */
static int open_proxy(void *ctx, enum aws_service svc,
		      struct sockaddr_storage *ss, socklen_t *len,
		      struct err *e)
{
	const struct http_addr *a = ctx;
	if (svc != AWS_SVC_KMS) {
		err_set(e, ERR_INVALID, "no host proxy for %s",
			aws_service_name(svc));
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	int fd;
	if (a->kind == HTTP_ADDR_UNIX) {
		struct sockaddr_un *u = (struct sockaddr_un *)ss;
		u->sun_family = AF_UNIX;
		memcpy(u->sun_path, a->path, sizeof(u->sun_path));
		*len = (socklen_t)sizeof(*u);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	} else {
		struct sockaddr_vm *v = (struct sockaddr_vm *)ss;
		v->svm_family = AF_VSOCK;
		v->svm_cid = a->cid;
		v->svm_port = a->port;
		*len = (socklen_t)sizeof(*v);
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		err_set(e, ERR_IO, "kms_proxy: cannot make a socket");
	return fd;
}

/* ---- the sequence ----------------------------------------------------------- */

static int attest(struct enclave *en, struct init_ctx *c, struct err *e)
{
	struct nsm *nsm = NULL;
	if (!en->nsm_spec)
		return err_set(e, ERR_UNAVAILABLE, "no NSM configured");
	TRY(nsm_open(en->nsm_spec, &nsm, e));
	int rc = recipient_new(&c->rcp, e);
	if (rc == 0) {
		size_t pk_len;
		const uint8_t *pk = recipient_public_key(c->rcp, &pk_len);
		struct nsm_attest_req req = {.public_key = pk,
					     .public_key_len = pk_len};
		rc = nsm_attest(nsm, &req, &c->doc, &c->doc_len, e);
	}
	nsm_close(nsm);
	return rc < 0 ? err_prefix(e, "attestation: ") : 0;
}

static int make_signer(const json_t *m, struct init_ctx *c,
		       struct signer **out, struct err *e)
{
	struct eth2_network net;
	struct signer_options o;
	memset(&o, 0, sizeof(o));
	o.eth2 = true;
	o.network_given = true;
	o.network_name = json_string_value(json_object_get(m, "network"));
	o.slashing_enabled = true;
	o.slashing_db_url = json_string_value(json_object_get(m, "slashing_db_url"));
	TRY(eth2_network_load(o.network_name, &net, e));
	struct key_registry *reg = NULL;
	int rc = keys_from_list(c->keys, c->nkeys, "kms", &reg, e);
	c->nkeys = 0; /* owned by reg now, or freed */
	if (rc < 0)
		return rc;
	rc = signer_new(&o, &net, out, e);
	if (rc < 0) {
		keys_free(reg);
		return rc;
	}
	signer_install_keys(*out, reg);
	return 0;
}

int enclave_init_run(struct enclave *en, const json_t *m, json_t **out_report,
		     struct signer **out, struct err *e)
{
	TRY(check_init(m, e));
	struct init_ctx c;
	memset(&c, 0, sizeof(c));
	c.signer_id = json_string_value(json_object_get(m, "signer_id"));
	int rc = aws_creds_push_json(en->creds, json_object_get(m, "credentials"), e);
	struct aws_client_opts ko = {
		.region = json_string_value(json_object_get(m, "region")),
		.creds = en->creds,
		.ca_file = en->ca_file,
	};
	ko.endpoint[AWS_SVC_KMS] =
		json_string_value(json_object_get(m, "kms_endpoint"));
	const char *proxy = json_string_value(json_object_get(m, "kms_proxy"));
	if (rc == 0 && proxy) {
		rc = http_addr_parse(proxy, &c.kms_proxy, e); /* checked above */
		ko.open_socket = open_proxy;
		ko.open_socket_ctx = &c.kms_proxy;
	}
	if (rc == 0 && !(c.kms = aws_client_new(&ko, e)))
		rc = -ERR_INVALID;
	if (rc == 0)
		rc = attest(en, &c, e);
	if (rc == 0 && !(c.report = json_array()))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(m, "records"), i, r) {
		if (rc < 0)
			break;
		bool env = strcmp(json_string_value(json_object_get(r, "kind")),
				  "envelope") == 0;
		rc = env ? load_envelope(&c, r) : load_sample(&c, r);
		if (rc < 0)
			err_set(e, ERR_NOMEM, "out of memory");
	}
	if (rc == 0)
		rc = make_signer(m, &c, out, e);
	for (size_t k = 0; k < c.nkeys; k++)
		bls_key_free(c.keys[k]);
	free(c.keys);
	free(c.doc);
	recipient_free(c.rcp);
	aws_client_free(c.kms);
	if (rc < 0) {
		json_decref(c.report);
		return rc;
	}
	*out_report = c.report;
	return 0;
}
