/*
 * init.c: the enclave's boot sequence, run once for the host's `init`.
 *
 *   1. validate the message strictly (control_init_check, the schema
 *      host and enclave share: known fields only, each of the right type
 *      and bounded) before anything happens;
 *   2. push the credentials, build a KMS client (region, endpoint, and
 *      with kms_proxy every connection through the host's proxy);
 *   3. one ephemeral RSA Recipient key and one NSM attestation document
 *      binding its public key (its timestamp sets the clock guard's
 *      time, clock.c);
 *   4. with kms_key_id (and no --tls-keystore-file): the API's TLS key,
 *      recovered from or created into the key table (tls_key.c) with a
 *      DynamoDB client (dynamodb_endpoint, through dynamodb_proxy if
 *      given, like KMS);
 *   5. per record: KMS Decrypt with that Recipient, the CMS reply opened
 *      inside the enclave (plaintext never crosses the host), then
 *        sample:   JSON {keystore_b64, password_b64, mnemonic_b64} ->
 *                  EIP-2335 keystore decrypted with its password;
 *        envelope: the data key (encryption context purpose + signer id)
 *                  opens AES-256-GCM over "NSEB" | 1 | u32be n | n x
 *                  (pubkey48 | sk32), AAD "<format>|<signer id>|<record id>"
 *      and every key is checked (blst_sk_check in bls_key_from_bytes and
 *      keystore_decrypt) and must derive the pubkey the record names;
 *   6. a signer (network, slashing database) with the keys that passed.
 *
 * `reload` (enclave_reload_run) re-runs step 5 for a new record list with
 * the configuration init kept: keys already loaded and still listed are
 * copied from the running signer without asking KMS again, new ones go
 * through KMS, and the new set replaces the old in one swap.
 *
 * What the host sends is untrusted: a record that fails any step is
 * reported with the reason ({pubkey, loaded:false, error}) and skipped;
 * only KMS (through the attested Recipient) can make a key load. Errors
 * never carry secret bytes.
 */
#include "enclave/enclave_internal.h"

#include <openssl/crypto.h>
#include "crypto/crypto.h"
#include "eth2/eth2.h"
#include "nitro/nitro.h"
#include "signer/keys.h"
#include "signer/signer.h"

#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#define ENVELOPE_FORMAT AWS_RECORD_PURPOSE_ENVELOPE
#define BUNDLE_ENTRY AWS_BUNDLE_ENTRY
_Static_assert(AWS_BUNDLE_ENTRY == BLS_PUBKEY_LEN + BLS_SECRET_LEN,
	       "a bundle entry is a public key and a secret key");

struct init_ctx {
	/* Per service: the host proxy's address and the socket hook's context
	 * (set only when init names a proxy for that service). */
	struct http_addr proxy[AWS_SVC_COUNT];
	struct enclave_proxy_hook hook[AWS_SVC_COUNT];
	struct aws_client *ddb;
	struct enclave_kms k;
	const char *signer_id;  /* the image's, or (simulator) init's */
	bool accept_legacy;     /* per-key records without a context */
	struct signer *running; /* reload: keys to keep come from here */
	struct aws_creds_provider *creds; /* the AWS clients' (borrowed) */
	json_t *report;
	struct bls_key **keys;
	size_t nkeys, cap;
	struct secret *km_token; /* the Keymanager API's, when sealed for us */
};

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

int enclave_kms_open(const struct enclave_kms *k, const char *key_id,
		     const char *blob_b64, const json_t *context,
		     struct secret **pt, struct err *e)
{
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	struct aws_kms_plain plain;
	memset(&plain, 0, sizeof(plain));
	struct aws_kms_recipient r = {k->doc, k->doc_len};
	int rc = b64_decode(blob_b64, &blob, &blob_len, e, "ciphertext");
	if (rc == 0)
		rc = aws_kms_decrypt(k->kms, key_id, blob, blob_len, context, &r,
				     &plain, e);
	if (rc == 0 && key_id && strcmp(plain.key_id, key_id) != 0)
		rc = err_set(e, ERR_CRYPTO, "KMS answered for another key than %s",
			     key_id);
	if (rc == 0 && !plain.for_recipient)
		rc = err_set(e, ERR_CRYPTO, "KMS returned no CiphertextForRecipient");
	if (rc == 0)
		rc = recipient_open(k->rcp, plain.for_recipient,
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
		rc = b64_decode_secret(ks_b64, &ks, e, "keystore_b64");
	if (rc == 0)
		rc = b64_decode_secret(pw_b64, &pw, e, "password_b64");
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

/*
 * reload: the running signer's copy of pubkey, kept without KMS. 1 when
 * kept, 0 when it is not loaded (or cannot be parsed: KMS will say why).
 */
static int keep_running(struct init_ctx *c, const char *pubkey)
{
	uint8_t pk[BLS_PUBKEY_LEN];
	struct bls_key *k = NULL;
	struct err e = {0};
	if (!c->running || !pubkey ||
	    hex_decode_exact(pubkey, pk, sizeof(pk), &e, "pubkey") < 0 ||
	    signer_key_dup(c->running, pk, &k, &e) < 0)
		return 0;
	TRY(keep_key(c, k));
	TRY(report(c, pubkey, NULL));
	return 1;
}

/*
 * reload: keys the Keymanager API imported here in the last ten minutes
 * that the records do not list. The host reads the key table, then sends
 * reload; an import that wrote its record in between would otherwise be
 * dropped until the next poll. A key deleted elsewhere meanwhile stays
 * loaded here that long, but its validator is disabled in the shared
 * slashing table, so it signs nothing.
 */
#define RECENT_IMPORT_US (600ull * 1000 * 1000)
static int keep_recent_imports(struct init_ctx *c, struct signer *s)
{
	uint8_t recent[64][BLS_PUBKEY_LEN];
	size_t n = signer_keymanager_recent(s, RECENT_IMPORT_US, recent, 64);
	for (size_t i = 0; i < n; i++) {
		bool listed = false;
		for (size_t j = 0; j < c->nkeys && !listed; j++)
			listed = memcmp(c->keys[j]->pubkey, recent[i],
					BLS_PUBKEY_LEN) == 0;
		char hex[2 + 2 * BLS_PUBKEY_LEN + 1];
		hex_encode(recent[i], BLS_PUBKEY_LEN, hex);
		if (!listed && keep_running(c, hex) < 0)
			return -ERR_NOMEM;
	}
	return 0;
}

/*
 * Per-key records go in batches: the KMS calls one after another (one
 * client, about a millisecond each), then the keystores (scrypt: most of a
 * second and 256 MiB each at staking-deposit-cli's n = 2^18) decrypted on
 * up to SAMPLE_THREADS threads at once (fewer when half of the memory
 * would not hold that many), then the reports in record order.
 */
#define SAMPLE_THREADS 4

struct sample_job {
	const char *pubkey;
	const char *ct;
	bool bound;         /* sealed with the signer's encryption context */
	bool kept;          /* reload: the running signer has it */
	struct secret *pt;  /* KMS plaintext */
	struct bls_key *key;
	int rc;
	struct err err;
};

struct sample_batch {
	struct sample_job job[SAMPLE_THREADS];
	size_t n, cap;
};

static void sample_decrypt(void *arg, size_t i)
{
	struct sample_job *j = &((struct sample_batch *)arg)->job[i];
	if (j->rc == 0 && !j->kept)
		j->rc = open_sample_plaintext(j->pt, j->pubkey, &j->key, &j->err);
}

/*
 * KMS Decrypt of a per-key record: with the encryption context {purpose,
 * signer id} it was sealed under (KMS refuses it for any other signer id,
 * so a host naming another signer's records gets nothing), or, for the
 * sample's records without one, only when the image accepts them.
 */
static int open_sample_record(struct init_ctx *c, struct sample_job *j)
{
	if (!j->bound && !c->accept_legacy)
		return err_set(&j->err, ERR_INVALID, "record without a KMS "
			       "encryption context (the sample's format): "
			       "refused unless the image says "
			       "--accept-legacy-records");
	json_t *ctx = j->bound ? aws_record_context(AWS_RECORD_PURPOSE_KEY,
						    c->signer_id) : NULL;
	if (j->bound && !ctx)
		return err_set(&j->err, ERR_NOMEM, "out of memory");
	int rc = enclave_kms_open(&c->k, NULL, j->ct, ctx, &j->pt, &j->err);
	json_decref(ctx);
	return rc;
}

static int flush_samples(struct init_ctx *c, struct sample_batch *b)
{
	uint8_t pk[BLS_PUBKEY_LEN];
	size_t todo = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct sample_job *j = &b->job[i];
		struct err e = {0};
		j->kept = c->running &&
			  hex_decode_exact(j->pubkey, pk, sizeof(pk), &e,
					   "pubkey") == 0 &&
			  signer_has_key(c->running, pk);
		if (!j->kept) {
			j->rc = open_sample_record(c, j);
			todo += j->rc == 0;
		}
	}
	if (todo)
		parallel_for(b->n, (int)(todo < b->cap ? todo : b->cap),
			     sample_decrypt, b);
	int rc = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct sample_job *j = &b->job[i];
		int kept = 0;
		if (rc == 0 && j->kept && (kept = keep_running(c, j->pubkey)) == 0)
			rc = report(c, j->pubkey, "key not loaded");
		else if (rc == 0 && !j->kept && j->rc < 0)
			rc = report(c, j->pubkey, j->err.msg);
		else if (rc == 0 && !j->kept) {
			rc = keep_key(c, j->key);
			j->key = NULL;
			if (rc == 0)
				rc = report(c, j->pubkey, NULL);
		}
		if (kept < 0)
			rc = kept;
		bls_key_free(j->key);
		secret_free(j->pt);
	}
	memset(b->job, 0, sizeof(b->job));
	b->n = 0;
	return rc;
}

static int load_sample(struct init_ctx *c, struct sample_batch *b,
		       const json_t *r)
{
	struct sample_job *j = &b->job[b->n++];
	j->pubkey = json_string_value(json_object_get(r, "pubkey"));
	j->ct = json_string_value(json_object_get(r, "ciphertext_b64"));
	j->bound = json_object_get(r, "context") != NULL; /* checked: ours */
	return b->n == b->cap ? flush_samples(c, b) : 0;
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
	if (pt->len < AWS_BUNDLE_HEADER ||
	    memcmp(pt->bytes, AWS_BUNDLE_MAGIC, 4) != 0 ||
	    pt->bytes[4] != AWS_BUNDLE_VERSION)
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

/* reload: every listed key of a bundle is running, so keep them all. */
static int keep_bundle(struct init_ctx *c, const json_t *pks)
{
	size_t i;
	const json_t *v;
	uint8_t pk[BLS_PUBKEY_LEN];
	struct err e = {0};
	if (!c->running)
		return 0;
	json_array_foreach(pks, i, v) {
		const char *s = json_string_value(v);
		if (!s || hex_decode_exact(s, pk, sizeof(pk), &e, "pubkey") < 0 ||
		    !signer_has_key(c->running, pk))
			return 0;
	}
	json_array_foreach(pks, i, v) {
		int kept = keep_running(c, json_string_value(v));
		if (kept < 0)
			return kept;
		if (kept == 0) /* removed meanwhile: cannot happen on one thread */
			TRY(report(c, json_string_value(v), "key not loaded"));
	}
	return 1;
}

static int load_envelope(struct init_ctx *c, const json_t *r)
{
	const char *id = json_string_value(json_object_get(r, "pubkey"));
	const json_t *pks = json_object_get(r, "pubkeys");
	int kept = keep_bundle(c, pks);
	if (kept != 0)
		return kept < 0 ? kept : 0;
	struct secret *dk = NULL, *pt = NULL;
	uint8_t *ct = NULL;
	size_t ct_len = 0;
	struct err e = {0};
	char aad[600];
	int n = aws_envelope_aad(c->signer_id, id, aad, sizeof(aad));
	json_t *ctx = aws_record_context(ENVELOPE_FORMAT, c->signer_id);
	int rc = !ctx ? -ERR_NOMEM
		 : n < 0 ? err_set(&e, ERR_INVALID, "envelope: record id too long")
			 : 0;
	if (rc == 0)
		rc = enclave_kms_open(&c->k, NULL, json_string_value(json_object_get(
					 r, "wrapped_data_key_b64")), ctx, &dk, &e);
	if (rc == 0 && dk->len != 32)
		rc = err_set(&e, ERR_CRYPTO, "envelope: data key is not 32 bytes");
	if (rc == 0)
		rc = b64_decode(json_string_value(json_object_get(
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
 * The AWS clients' socket hook: every connection goes to the host's proxy
 * for that service (vsock in the enclave, unix in tests), which relays
 * bytes only; TLS runs end to end to the real endpoint's name (aws_client
 * pins it, no DNS).
 */
static int open_proxy(void *ctx, enum aws_service svc,
		      struct sockaddr_storage *ss, socklen_t *len,
		      struct err *e)
{
	const struct enclave_proxy_hook *h = ctx;
	const struct http_addr *a = h->addr;
	if (svc != h->svc) {
		err_set(e, ERR_INVALID, "no host proxy for %s",
			aws_service_name(svc));
		return -1;
	}
	/* init accepts only unix: and vsock: proxies (control_init_check) */
	(void)http_addr_sockaddr(a, ss, len);
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		err_set(e, ERR_IO, "%s proxy: cannot make a socket",
			aws_service_name(svc));
	return fd;
}

/* A client for one service, through its proxy when one is given. */
static struct aws_client *client_for(struct enclave *en, struct init_ctx *c,
				     enum aws_service svc, const char *region,
				     const char *endpoint, const char *proxy,
				     struct err *e)
{
	struct aws_client_opts o = {
		.region = region,
		.creds = c->creds,
		.ca_file = en->ca_file,
	};
	o.endpoint[svc] = endpoint;
	if (proxy) {
		if (http_addr_parse(proxy, &c->proxy[svc], e) < 0)
			return NULL;
		c->hook[svc] = (struct enclave_proxy_hook){svc, &c->proxy[svc]};
		o.open_socket = open_proxy;
		o.open_socket_ctx = &c->hook[svc];
	}
	return aws_client_new(&o, e);
}

/* ---- the sequence ----------------------------------------------------------- */

/*
 * One NSM document binding the Recipient's public key. Its timestamp is
 * also the clock guard's time (clock.c); an NSM that cannot be asked
 * leaves the enclave without trusted time.
 */
static int attest(struct enclave *en, struct init_ctx *c, struct err *e)
{
	struct nsm *nsm = NULL;
	if (!en->nsm_spec)
		return err_set(e, ERR_UNAVAILABLE, "no NSM configured");
	TRY(recipient_new(&c->k.rcp, e));
	int rc = nsm_open(en->nsm_spec, &nsm, e);
	if (rc == 0) {
		size_t pk_len;
		const uint8_t *pk = recipient_public_key(c->k.rcp, &pk_len);
		struct nsm_attest_req req = {.public_key = pk,
					     .public_key_len = pk_len};
		rc = nsm_attest(nsm, &req, &c->k.doc, &c->k.doc_len, e);
	}
	uint64_t mono = clock_mono_us();
	nsm_close(nsm);
	if (rc < 0) {
		err_prefix(e, "attestation: ");
		enclave_clock_failed(&en->clock, e->msg);
		return rc;
	}
	return enclave_clock_note_doc(&en->clock, c->k.doc, c->k.doc_len, mono,
				      e);
}

static int make_signer(const struct enclave *en, const json_t *m,
		       struct init_ctx *c, struct signer **out, struct err *e)
{
	struct eth2_network net;
	struct signer_options o;
	memset(&o, 0, sizeof(o));
	o.eth2 = true;
	o.network_given = true;
	o.network_name = json_string_value(json_object_get(m, "network"));
	o.slashing_enabled = true;
	o.slashing_db_url = json_string_value(json_object_get(m, "slashing_db_url"));
	if (en->slashing.on) {
		/* Opened once the enclave's credentials are init's (runtime.c
		 * handle_init), through the host's DynamoDB proxy. */
		o.slashing_aws = &en->slashing.aws;
		o.slashing_mac_key = en->slashing.mac_key;
		o.slashing_open_deferred = true;
	}
	/* who may sign what: the image's flags (enclave_opts), never init's */
	o.signing_types = en->signing_types;
	o.client_auth = en->allow_any_client ? SIGNER_CLIENTS_ANY
					     : SIGNER_CLIENTS_LISTED;
	o.known_clients = http_known_clients_count(en->known_clients);
	o.http_reload_disabled = true;
	/* the clock guard: the image's window, on NSM-attested time */
	o.clock_guard_epochs = en->clock.epochs;
	o.clock = (struct signer_clock){enclave_clock_now,
					(void *)&en->clock, "nsm"};
	struct signer_route attestation = enclave_attestation_route(
		(struct enclave *)en);
	o.extra_routes = &attestation;
	o.nextra_routes = 1;
	o.key_manager_api_enabled = c->km_token != NULL;
	o.key_manager_token = c->km_token;
	o.key_manager_remove = enclave_keymanager_remove;
	o.key_manager_store = enclave_keymanager_store;
	o.key_manager_ctx = (void *)en;
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

/* Every record through KMS (or, for reload, kept from the running signer). */
static int load_records(struct init_ctx *c, const json_t *records,
			struct err *e)
{
	if (!(c->report = json_array()))
		return err_set(e, ERR_NOMEM, "out of memory");
	struct sample_batch b = {.n = 0};
	/* One scrypt at n = 2^18 needs 256 MiB: keep half of the enclave's
	 * memory for everything else. */
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	long by_mem = pages > 0 && psize > 0
			      ? (long)((double)pages * psize / (512.0 * 1048576))
			      : 1;
	long threads = cpu_count();
	threads = threads < by_mem ? threads : by_mem;
	threads = threads < SAMPLE_THREADS ? threads : SAMPLE_THREADS;
	b.cap = threads < 1 ? 1 : (size_t)threads;
	size_t i;
	const json_t *r;
	json_array_foreach(records, i, r) {
		bool env = strcmp(json_string_value(json_object_get(r, "kind")),
				  "envelope") == 0;
		int rc;
		if (env) {
			/* after the per-key records before it: reports in order */
			rc = flush_samples(c, &b);
			if (rc == 0)
				rc = load_envelope(c, r);
		} else {
			rc = load_sample(c, &b, r);
		}
		if (rc < 0) {
			flush_samples(c, &b);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	if (flush_samples(c, &b) < 0)
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

static void ctx_clear(struct init_ctx *c)
{
	for (size_t k = 0; k < c->nkeys; k++)
		bls_key_free(c->keys[k]);
	free(c->keys);
	free(c->k.doc);
	recipient_free(c->k.rcp);
	aws_client_free(c->k.kms);
	aws_client_free(c->ddb);
	json_decref(c->report);
	secret_free(c->km_token);
}

static char *dup_opt(const json_t *m, const char *name, bool *oom)
{
	const char *s = json_string_value(json_object_get(m, name));
	char *d = s ? strdup(s) : NULL;
	*oom |= s && !d;
	return d;
}

void enclave_init_cfg_clear(struct enclave_init_cfg *cfg)
{
	free(cfg->region);
	free(cfg->kms_endpoint);
	free(cfg->kms_proxy);
	free(cfg->signer_id);
	free(cfg->key_table);
	free(cfg->dynamodb_endpoint);
	free(cfg->dynamodb_proxy);
	memset(cfg, 0, sizeof(*cfg));
}

static int keep_cfg(const json_t *m, const char *signer_id,
		    struct enclave_init_cfg *cfg, struct err *e)
{
	bool oom = false;
	cfg->region = dup_opt(m, "region", &oom);
	cfg->kms_endpoint = dup_opt(m, "kms_endpoint", &oom);
	cfg->kms_proxy = dup_opt(m, "kms_proxy", &oom);
	cfg->key_table = dup_opt(m, "key_table", &oom);
	cfg->dynamodb_endpoint = dup_opt(m, "dynamodb_endpoint", &oom);
	cfg->dynamodb_proxy = dup_opt(m, "dynamodb_proxy", &oom);
	cfg->signer_id = strdup(signer_id);
	oom |= !cfg->signer_id;
	if (oom) {
		enclave_init_cfg_clear(cfg);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static const char *str_of(const json_t *m, const char *name)
{
	return json_string_value(json_object_get(m, name));
}

/* The NSM simulator: a test or development run, never an enclave image
 * (the simulator is compiled out of those). */
static bool test_mode(const struct enclave *en)
{
	return en->nsm_spec && strncmp(en->nsm_spec, "sim:", 4) == 0;
}

/* "arn:PARTITION:kms:REGION:..." -> REGION (false when not such an ARN). */
static bool arn_region(const char *arn, char *out, size_t cap)
{
	const char *p = arn;
	for (int i = 0; i < 3 && p; i++)
		p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL;
	const char *end = p ? strchr(p, ':') : NULL;
	if (strncmp(arn, "arn:", 4) != 0 || !end || end == p ||
	    (size_t)(end - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return true;
}

/*
 * What the host may not choose (the schema allows the fields; the image
 * decides): outside the simulator, no endpoint overrides (the enclave
 * talks TLS to the region's own KMS and DynamoDB names, so whoever relays
 * the bytes cannot answer for AWS), and the TLS key's KMS key comes only
 * from --tls-kms-key-id. *key_id is the key to seal the TLS key under, or
 * NULL for no TLS key of our own.
 */
static int init_policy(const struct enclave *en, const json_t *m,
		       const char **key_id, struct err *e)
{
	const char *host_key = str_of(m, "kms_key_id");
	if (en->signer_id && strcmp(str_of(m, "signer_id"), en->signer_id) != 0)
		return err_set(e, ERR_INVALID, "init: \"signer_id\" is not the "
			       "image's --signer-id %s", en->signer_id);
	if (!test_mode(en)) {
		if (json_object_get(m, "kms_endpoint") ||
		    json_object_get(m, "dynamodb_endpoint"))
			return err_set(e, ERR_INVALID,
				       "init: \"kms_endpoint\" and "
				       "\"dynamodb_endpoint\" are for the NSM "
				       "simulator only: the enclave uses the "
				       "region's AWS endpoints over HTTPS");
		if (host_key && !en->tls_kms_key_id)
			return err_set(e, ERR_INVALID,
				       "init: \"kms_key_id\": the TLS key's KMS "
				       "key is fixed by the image "
				       "(--tls-kms-key-id), not by the host");
	}
	if (!test_mode(en) && !en->signer_id)
		return err_set(e, ERR_INVALID, "init: the image names no "
			       "--signer-id (required outside the simulator)");
	if (host_key && en->tls_kms_key_id &&
	    strcmp(host_key, en->tls_kms_key_id) != 0)
		return err_set(e, ERR_INVALID,
			       "init: \"kms_key_id\" is not the image's "
			       "--tls-kms-key-id %s", en->tls_kms_key_id);
	*key_id = en->api_tls_flags ? NULL
		  : en->tls_kms_key_id ? en->tls_kms_key_id : host_key;
	const char *sp = str_of(m, "slashing_db_url");
	/* The slashing database is the image's to name: a host that chose it
	 * could hand a restarted enclave an empty one. */
	if (en->slashing_db_url && (!sp || strcmp(sp, en->slashing_db_url) != 0))
		return err_set(e, ERR_INVALID, "init: \"slashing_db_url\" is not "
			       "the image's --slashing-protection-db-url %s",
			       en->slashing_db_url);
	if (!test_mode(en) && !en->slashing_db_url)
		return err_set(e, ERR_INVALID, "init: the image names no "
			       "--slashing-protection-db-url (required outside "
			       "the simulator: the host must not choose the "
			       "slashing database)");
	if (sp && strncmp(sp, "dynamodb:", 9) == 0) {
		if (!test_mode(en) && strstr(sp, "endpoint="))
			return err_set(e, ERR_INVALID, "init: \"slashing_db_url\": "
				       "an endpoint is for the NSM simulator "
				       "only: the enclave uses the region's "
				       "DynamoDB over HTTPS");
		if (!(en->tls_kms_key_id ? en->tls_kms_key_id : host_key) ||
		    !json_object_get(m, "key_table"))
			return err_set(e, ERR_INVALID, "init: a dynamodb:// "
				       "slashing table needs a KMS key "
				       "(--tls-kms-key-id) and \"key_table\" "
				       "to seal its MAC key");
	}
	char region[64];
	if (*key_id && !json_object_get(m, "key_table"))
		return err_set(e, ERR_INVALID, "init: \"key_table\" is required: "
			       "the TLS key is kept there");
	if (*key_id && arn_region(*key_id, region, sizeof(region)) &&
	    strcmp(region, str_of(m, "region")) != 0)
		return err_set(e, ERR_INVALID, "init: \"region\" %s is not the "
			       "TLS key's KMS region %s", str_of(m, "region"),
			       region);
	struct eth2_network net;
	if (en->clock.epochs &&
	    (eth2_network_load(str_of(m, "network"), &net, e) < 0 ||
	     net.genesis_time == 0))
		return err_set(e, ERR_INVALID, "init: \"network\" %s has no "
			       "genesis time: the image's clock guard "
			       "(--slashing-protection-clock-guard-epochs=%llu) "
			       "needs one", str_of(m, "network"),
			       (unsigned long long)en->clock.epochs);
	return 0;
}

/* The init's DynamoDB client (the key table's), made on first use. */
static struct aws_client *key_table_client(struct enclave *en,
					   struct init_ctx *c, const json_t *m,
					   struct err *e)
{
	if (!c->ddb)
		c->ddb = client_for(en, c, AWS_SVC_DYNAMODB, str_of(m, "region"),
				    str_of(m, "dynamodb_endpoint"),
				    str_of(m, "dynamodb_proxy"), e);
	return c->ddb;
}

/*
 * A dynamodb:// slashing table: the MAC key (sealed in the key table like
 * the TLS key, under the same KMS key) and the AWS client options the
 * signer's backend will use for the life of the enclave.
 */
static int slashing_step(struct enclave *en, struct init_ctx *c,
			 const json_t *m, struct err *e)
{
	const char *url = str_of(m, "slashing_db_url");
	if (!url || strncmp(url, "dynamodb:", 9) != 0)
		return 0;
	struct enclave_slashing *sl = &en->slashing;
	memset(sl, 0, sizeof(*sl));
	if (!key_table_client(en, c, m, e))
		return -ERR_INVALID;
	struct enclave_sealed_store st = {
		.kms = &c->k, .ddb = c->ddb,
		.kms_key_id = en->tls_kms_key_id ? en->tls_kms_key_id
						 : str_of(m, "kms_key_id"),
		.table = str_of(m, "key_table"), .signer_id = c->signer_id};
	TRY(enclave_slashing_mac_obtain(&st, sl->mac_key, e));
	const char *region = str_of(m, "region");
	const char *ep = str_of(m, "dynamodb_endpoint");
	const char *proxy = str_of(m, "dynamodb_proxy");
	snprintf(sl->region, sizeof(sl->region), "%s", region ? region : "");
	snprintf(sl->endpoint, sizeof(sl->endpoint), "%s", ep ? ep : "");
	sl->aws = (struct aws_client_opts){
		.region = region ? sl->region : NULL,
		.creds = en->creds,
		.ca_file = en->ca_file,
	};
	if (ep)
		sl->aws.endpoint[AWS_SVC_DYNAMODB] = sl->endpoint;
	if (proxy) {
		TRY(http_addr_parse(proxy, &sl->proxy, e));
		sl->hook = (struct enclave_proxy_hook){AWS_SVC_DYNAMODB, &sl->proxy};
		sl->aws.open_socket = open_proxy;
		sl->aws.open_socket_ctx = &sl->hook;
	}
	sl->on = true;
	return 0;
}

/*
 * The Keymanager API's token, when the operator sealed one for this signer
 * id under the KMS key the image pins (--tls-kms-key-id: never the host's
 * choice, or a host could seal a token of its own under a key it holds).
 * A token item that does not open is logged and the API stays off: the
 * host may delete or spoil the item (it can stop the enclave anyway), but
 * never make the enclave take a token it knows.
 */
static int keymanager_step(struct enclave *en, struct init_ctx *c,
			   const json_t *m, struct err *e)
{
	if (!en->tls_kms_key_id)
		return 0;
	if (!key_table_client(en, c, m, e))
		return -ERR_INVALID;
	struct enclave_sealed_store st = {
		.kms = &c->k, .ddb = c->ddb, .kms_key_id = en->tls_kms_key_id,
		.table = str_of(m, "key_table"), .signer_id = c->signer_id};
	struct err ke = {0};
	if (enclave_keymanager_token_open(&st, &c->km_token, &ke) < 0) {
		log_error("keymanager API: off: the token item is refused: %s",
			  ke.msg);
		c->km_token = NULL;
	} else if (c->km_token) {
		log_info("keymanager API: on (token sealed for signer %s)",
			 c->signer_id);
	}
	return 0;
}

/* With a KMS key for it (and no --tls-keystore-file): the API's TLS key. */
static int tls_step(struct enclave *en, struct init_ctx *c, const json_t *m,
		    const char *key_id, struct enclave_tls **tls,
		    struct err *e)
{
	if (!key_id)
		return 0;
	if (!key_table_client(en, c, m, e))
		return -ERR_INVALID;
	struct enclave_tls_params p = {
		.store = {.kms = &c->k, .ddb = c->ddb, .kms_key_id = key_id,
			  .table = str_of(m, "key_table"),
			  .signer_id = c->signer_id},
		.clients = en->known_clients,
		.request_clients = true,
		.names = json_object_get(m, "tls_names"),
	};
	return enclave_tls_obtain(&p, tls, e);
}

int enclave_init_run(struct enclave *en, const json_t *m,
		     struct enclave_init_result *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	TRY(control_init_check(m, e));
	const char *key_id = NULL;
	TRY(init_policy(en, m, &key_id, e));
	struct init_ctx c;
	memset(&c, 0, sizeof(c));
	/* nothing of a refused init's slashing table carries over */
	OPENSSL_cleanse(&en->slashing, sizeof(en->slashing));
	c.signer_id = en->signer_id ? en->signer_id : str_of(m, "signer_id");
	c.accept_legacy = en->accept_legacy;
	/* The init's own credentials: a refused init leaves the enclave's
	 * (en->creds, what `credentials` frames refresh) as they were; a
	 * successful one hands them over once it is published (runtime.c). */
	struct aws_creds_provider *creds = aws_creds_pushed_new(e);
	int rc = creds ? aws_creds_push_json(creds, json_object_get(
						     m, "credentials"), e)
		       : -ERR_NOMEM;
	c.creds = creds;
	if (rc == 0 && !(c.k.kms = client_for(en, &c, AWS_SVC_KMS,
					       str_of(m, "region"),
					       str_of(m, "kms_endpoint"),
					       str_of(m, "kms_proxy"), e)))
		rc = -ERR_INVALID;
	if (rc == 0)
		rc = attest(en, &c, e);
	if (rc == 0)
		rc = tls_step(en, &c, m, key_id, &out->tls, e);
	if (rc == 0)
		rc = slashing_step(en, &c, m, e);
	if (rc == 0)
		rc = keymanager_step(en, &c, m, e);
	if (rc == 0)
		rc = load_records(&c, json_object_get(m, "records"), e);
	if (rc == 0)
		rc = make_signer(en, m, &c, &out->signer, e);
	if (rc == 0)
		rc = keep_cfg(m, c.signer_id, &out->cfg, e);

	if (rc == 0) {
		out->report = c.report;
		c.report = NULL;
	} else {
		enclave_tls_free(out->tls);
		out->tls = NULL;
		signer_free(out->signer);
		out->signer = NULL;
		enclave_init_cfg_clear(&out->cfg);
	}
	ctx_clear(&c);
	aws_creds_provider_free(creds);
	return rc;
}

int enclave_keymanager_remove(void *ctx, const uint8_t pk[BLS_PUBKEY_LEN],
			      struct err *e)
{
	struct enclave *en = ctx;
	struct init_ctx c;
	memset(&c, 0, sizeof(c));
	c.creds = en->creds;
	if (!en->cfg.key_table)
		return err_set(e, ERR_UNAVAILABLE, "no key table");
	struct aws_client *ddb = client_for(en, &c, AWS_SVC_DYNAMODB,
					    en->cfg.region,
					    en->cfg.dynamodb_endpoint,
					    en->cfg.dynamodb_proxy, e);
	if (!ddb)
		return -ERR_UNAVAILABLE;
	/* its own per-key record (nitro-keys), else the one-key bundle an
	 * import through the API made */
	char ids[2][ENCLAVE_KM_RECORD_ID_MAX + 64];
	hex_encode(pk, BLS_PUBKEY_LEN, ids[0]);
	enclave_keymanager_record_id(en->cfg.signer_id, pk, ids[1]);
	json_t *vals = json_pack("{s:{s:b}}", ":a", "BOOL", 0);
	struct aws_ddb_expr upd = {"SET active = :a", NULL, vals};
	int rc = vals ? -ERR_REFUSED : err_set(e, ERR_NOMEM, "out of memory");
	for (int i = 0; i < 2 && rc == -ERR_REFUSED; i++) {
		json_t *key = json_pack("{s:{s:s},s:{s:s}}", AWS_KT_SIGNER_ID,
					"S", en->cfg.signer_id, AWS_KT_PUBKEY,
					"S", ids[i]);
		rc = key ? aws_ddb_update_item(ddb, en->cfg.key_table, key, &upd,
					       "attribute_exists(pubkey)", NULL,
					       e)
			 : err_set(e, ERR_NOMEM, "out of memory");
		json_decref(key);
	}
	if (rc == -ERR_REFUSED)
		rc = err_set(e, ERR_NOT_FOUND, "no record of its own in the key "
			     "table (a key of an envelope bundle): disable the "
			     "bundle with nitro-keys kms disable");
	json_decref(vals);
	aws_client_free(ddb);
	return rc;
}

int enclave_keymanager_store(void *ctx, const struct bls_key *k,
			     const char *chain, struct err *e)
{
	struct enclave *en = ctx;
	struct init_ctx c;
	memset(&c, 0, sizeof(c));
	c.creds = en->creds;
	int rc = 0;
	if (!en->tls_kms_key_id || !en->cfg.key_table)
		rc = err_set(e, ERR_UNAVAILABLE, "no pinned KMS key or key table");
	if (rc == 0 && !(c.k.kms = client_for(en, &c, AWS_SVC_KMS,
					       en->cfg.region,
					       en->cfg.kms_endpoint,
					       en->cfg.kms_proxy, e)))
		rc = -ERR_UNAVAILABLE;
	if (rc == 0 && !(c.ddb = client_for(en, &c, AWS_SVC_DYNAMODB,
					     en->cfg.region,
					     en->cfg.dynamodb_endpoint,
					     en->cfg.dynamodb_proxy, e)))
		rc = -ERR_UNAVAILABLE;
	if (rc == 0)
		rc = attest(en, &c, e);
	if (rc == 0) {
		struct enclave_sealed_store st = {
			.kms = &c.k, .ddb = c.ddb,
			.kms_key_id = en->tls_kms_key_id,
			.table = en->cfg.key_table,
			.signer_id = en->cfg.signer_id};
		rc = enclave_keymanager_seal(&st, k, chain, e);
	}
	ctx_clear(&c);
	return rc;
}

int enclave_reload_run(struct enclave *en, const json_t *m, json_t **report,
		       struct err *e)
{
	struct signer *s = enclave_signer(en);
	if (!s)
		return err_set(e, ERR_UNAVAILABLE, "not initialised");
	TRY(control_reload_check(m, e));
	if (json_array_size(json_object_get(m, "records")) == 0)
		return err_set(e, ERR_INVALID, "reload: no records: a reload "
			       "that loads no key would leave the signer empty "
			       "(the running keys are kept)");
	struct init_ctx c;
	memset(&c, 0, sizeof(c));
	c.signer_id = en->cfg.signer_id;
	c.accept_legacy = en->accept_legacy;
	c.creds = en->creds;
	c.running = s;
	struct key_registry *reg = NULL;
	int rc = 0;
	if (!(c.k.kms = client_for(en, &c, AWS_SVC_KMS, en->cfg.region,
				   en->cfg.kms_endpoint, en->cfg.kms_proxy, e)))
		rc = -ERR_INVALID;
	if (rc == 0)
		rc = attest(en, &c, e);
	/* Not interleaved with a Keymanager import or delete. */
	signer_keys_lock(s);
	if (rc == 0)
		rc = load_records(&c, json_object_get(m, "records"), e);
	if (rc == 0)
		rc = keep_recent_imports(&c, s);
	if (rc == 0 && c.nkeys == 0)
		rc = err_set(e, ERR_INVALID, "reload: none of the %zu records "
			     "loaded (the running keys are kept)",
			     json_array_size(json_object_get(m, "records")));
	if (rc == 0) {
		rc = keys_from_list(c.keys, c.nkeys, "kms", &reg, e);
		c.nkeys = 0;
	}
	if (rc == 0) {
		signer_install_keys(s, reg);
		*report = c.report;
		c.report = NULL;
	}
	signer_keys_unlock(s);
	ctx_clear(&c);
	return rc;
}
