/*
 * kms_cmd.c: nitro-keys kms ... and nitro-keys list: validator key records
 * encrypted under a KMS key and stored in the DynamoDB key table.
 *
 *   kms encrypt       keystores (+ passwords, + optional mnemonic) to records:
 *                     per key (the sample's format: KMS ciphertext of
 *                     {"keystore_b64","password_b64","mnemonic_b64"}) or, with
 *                     --envelope, bundles of raw keys sealed with AES-256-GCM
 *                     under one GenerateDataKey data key; to DynamoDB
 *                     (--upload --table) or a file (--out)
 *   kms create-table  the key table (web3signer_uuid HASH, pubkey RANGE)
 *   kms list | list   the records of a signer id (paginated Query)
 *   kms disable|enable  flips `active` on one record (conditional update)
 *   kms policy        the key policy pinning decryption to the enclave image
 *
 * Order of work in encrypt, so a failure never leaves a half upload: read and
 * check every input (every keystore opened with its password: one that does
 * not open stops the run before any KMS call), check the table's key schema
 * and which of our records it already holds, encrypt everything (all KMS
 * calls), and only then write. Items are keyed by (signer id, pubkey) and
 * bundles by a hash of their key set. An upload never changes a record's
 * `active` state: a record that exists is refused, naming it, unless
 * --replace is given, and then its content is rewritten with a conditional
 * UpdateItem that leaves `active` alone; a new record is written with a
 * conditional PutItem (attribute_not_exists), so a record created or
 * disabled by someone else while we ran is never overwritten. Only `kms
 * enable|disable` change `active`. Records not written are listed by pubkey.
 * Passwords, mnemonics, key
 * files' plaintext and decrypted keys live in struct secret and are never
 * printed; output names pubkeys only.
 */
#include <dirent.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "aws/aws.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "nitro/nitro.h"
#include "tools/eif_cmd.h"
#include "tools/cloud_cmds.h"

#define MAX_KEYS 100000
#define MAX_PASSWORD 4096
#define ENVELOPE_FORMAT AWS_RECORD_PURPOSE_ENVELOPE
#define ENVELOPE_KEYS_PER_ITEM 3000
#define KEY_RECORD_BYTES AWS_BUNDLE_ENTRY

static const char KMS_USAGE[] =
	"usage: nitro-keys kms COMMAND [flags]\n"
	"\n"
	"  kms encrypt --key-id=ID --signer-id=ID --keystores-path=DIR\n"
	"              --keystores-passwords-path=DIR [--mnemonic-file=F]\n"
	"              [--deposit-data=FILE] [--chain=mainnet] [--envelope]\n"
	"              (--upload --table=T [--replace] | --out=FILE) [--region=R]\n"
	"              [--progress]\n"
	"      Per key (default): KMS Encrypt of {keystore_b64, password_b64,\n"
	"      mnemonic_b64} (at most 4096 bytes each). --envelope: one\n"
	"      GenerateDataKey, AES-256-GCM over bundles of up to 3000 keys.\n"
	"      DIR holds EIP-2335 keystores NAME.json with passwords NAME.txt;\n"
	"      every keystore must open with its password before anything is\n"
	"      encrypted or uploaded. deposit_data-*.json in DIR is used unless\n"
	"      --deposit-data is given. New records are uploaded active; a record\n"
	"      already in the table is refused unless --replace is given, which\n"
	"      rewrites it and keeps its active state (see kms enable|disable).\n"
	"      --progress (the default when stderr is a terminal): counts of keys\n"
	"      opened, encrypted and uploaded on stderr.\n"
	"  kms create-table --table=T [--region=R]\n"
	"  kms list --table=T --signer-id=ID [--page-size=N] [--region=R]\n"
	"      (also: nitro-keys list ...) one JSON line per item; the enclave's\n"
	"      own (kind \"enclave\": its TLS and MAC keys) are not counted as keys\n"
	"  kms disable|enable --table=T --signer-id=ID --pubkey=0x..|envelope:ID:N\n"
	"             [--region=R]\n"
	"      the only ways to change a record's active state (conditional\n"
	"      update; a record that does not exist is an error naming it)\n"
	"  keymanager token --key-id=ID --signer-id=ID --table=T [--region=R]\n"
	"      a new bearer token for the enclave's Keymanager API, printed once\n"
	"      on stdout; only its KMS-sealed form is stored (item\n"
	"      \"keymanager:token\"; a new token replaces the old one at the\n"
	"      enclave's next init). --key-id must be the key the image pins\n"
	"      (--tls-kms-key-id)\n"
	"  kms policy (--pcr0=HEX[,HEX] | --eif=IMAGE) --role-arn=ARN --key-admin-arn=ARN\n"
	"             [--encrypt-arn=ARN] [--condition=image-sha384|pcr0|pcr8]\n"
	"             [--pcr8=HEX[,HEX]] [--allow-pcr8-only]\n"
	"      the key policy JSON: only the enclave image with this PCR0 may\n"
	"      decrypt (either of two, HEX,HEX, while an image upgrade rolls\n"
	"      out); the admin manages the key but cannot use it. --eif reads\n"
	"      PCR0 from the image file (nitro-keys eif describe). An all-zero\n"
	"      PCR0 (debug-mode enclaves) needs --allow-debug-pcr0.\n"
	"      --pcr8 also requires the image's signing certificate (PCR8):\n"
	"      both must match (--eif of a signed image does this by itself,\n"
	"      with its PCR8 unless --pcr8 is given). --condition=pcr8 pins\n"
	"      PCR8 alone, from --pcr8 or --eif of a signed image: any image\n"
	"      signed with that key may decrypt, safe only if the launch path\n"
	"      checks the signature over PCR0, which AWS does not document;\n"
	"      it needs --allow-pcr8-only (docs/enclave-image.md). An all-zero\n"
	"      PCR8 (unsigned images) is refused.\n"
	"\n"
	"AWS: credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY\n"
	"(+AWS_SESSION_TOKEN) or the instance role (IMDSv2); region from --region,\n"
	"AWS_REGION or AWS_DEFAULT_REGION; endpoints from AWS_ENDPOINT_URL_KMS,\n"
	"AWS_ENDPOINT_URL_DYNAMODB or AWS_ENDPOINT_URL. Retries: AWS_MAX_ATTEMPTS.\n"
	"Exit status: 0 ok, 1 failure, 2 bad usage.\n";

enum {
	F_KEY_ID, F_SIGNER_ID, F_KEYSTORES, F_PASSWORDS, F_MNEMONIC, F_DEPOSIT,
	F_CHAIN, F_ENVELOPE, F_UPLOAD, F_TABLE, F_OUT, F_REGION, F_PAGE_SIZE,
	F_PUBKEY, F_PCR0, F_ROLE_ARN, F_ADMIN_ARN, F_ENCRYPT_ARN, F_CONDITION,
	F_REPLACE, F_PROGRESS, F_EIF, F_ALLOW_DEBUG_PCR0, F_PCR8,
	F_ALLOW_PCR8_ONLY, F_COUNT
};

#define VALUE(id, n) [id] = {n, ARGS_VALUE, id, 0}
#define BOOL(id, n) [id] = {n, ARGS_BOOL, id, 0}
static const struct args_flag KMS_FLAGS[F_COUNT] = {
	VALUE(F_KEY_ID, "key-id"),
	VALUE(F_SIGNER_ID, "signer-id"),
	VALUE(F_KEYSTORES, "keystores-path"),
	VALUE(F_PASSWORDS, "keystores-passwords-path"),
	VALUE(F_MNEMONIC, "mnemonic-file"),
	VALUE(F_DEPOSIT, "deposit-data"),
	VALUE(F_CHAIN, "chain"),
	BOOL(F_ENVELOPE, "envelope"),
	BOOL(F_UPLOAD, "upload"),
	VALUE(F_TABLE, "table"),
	VALUE(F_OUT, "out"),
	VALUE(F_REGION, "region"),
	VALUE(F_PAGE_SIZE, "page-size"),
	VALUE(F_PUBKEY, "pubkey"),
	VALUE(F_PCR0, "pcr0"),
	VALUE(F_EIF, "eif"),
	VALUE(F_ROLE_ARN, "role-arn"),
	VALUE(F_ADMIN_ARN, "key-admin-arn"),
	VALUE(F_ENCRYPT_ARN, "encrypt-arn"),
	VALUE(F_CONDITION, "condition"),
	BOOL(F_REPLACE, "replace"),
	BOOL(F_PROGRESS, "progress"),
	BOOL(F_ALLOW_DEBUG_PCR0, "allow-debug-pcr0"),
	BOOL(F_ALLOW_PCR8_ONLY, "allow-pcr8-only"),
	VALUE(F_PCR8, "pcr8"),
};
#undef VALUE
#undef BOOL

static int need(const struct args *f, const char *cmd, int k)
{
	if (!args_get(f, k))
		return cloud_usage_error(cmd, "--%s is required",
					 KMS_FLAGS[k].name);
	return 0;
}


static struct aws_client *open_client(const char *region,
				      struct aws_creds_provider **creds,
				      struct err *e)
{
	*creds = aws_creds_default_new(e);
	if (!*creds)
		return NULL;
	struct aws_client_opts o = {.region = region, .creds = *creds};
	struct aws_client *c = aws_client_new(&o, e);
	if (!c) {
		aws_creds_provider_free(*creds);
		*creds = NULL;
	}
	return c;
}

static void iso_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- progress (stderr, when a terminal or --progress) ----------------------- */

static struct progress g_progress;
static bool g_progress_on;

static void progress_begin(const char *what, size_t total)
{
	progress_start(&g_progress, "nitro-keys: ", what, total, g_progress_on);
}

/* ---- inputs --------------------------------------------------------------- */

struct key_input {
	char name[256];   /* keystore file name, for messages */
	char pubkey[2 + 2 * BLS_PUBKEY_LEN + 1];
	char *keystore;   /* the file's bytes (encrypted: not a secret) */
	size_t keystore_len;
	struct secret *password;
	char *deposit_b64; /* NULL when there is no deposit entry */
};

struct inputs {
	struct key_input *keys;
	size_t n;
	struct secret *mnemonic; /* may be NULL */
	json_t *deposits;        /* pubkey (no 0x) -> entry */
};

static void inputs_free(struct inputs *in)
{
	for (size_t i = 0; i < in->n; i++) {
		free(in->keys[i].keystore);
		secret_free(in->keys[i].password);
		free(in->keys[i].deposit_b64);
	}
	free(in->keys);
	secret_free(in->mnemonic);
	json_decref(in->deposits);
	memset(in, 0, sizeof(*in));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *sfx)
{
	size_t n = strlen(s), m = strlen(sfx);
	return n >= m && strcmp(s + n - m, sfx) == 0;
}

/* Deposit data files: arrays of staking-deposit-cli entries, by pubkey. */
static int load_deposits(const char *path, json_t *into, struct err *e)
{
	char *txt = NULL;
	size_t len = 0;
	TRY(file_read_all(path, 64u << 20, &txt, &len, e));
	json_t *arr = NULL;
	int rc = json_parse_strict(txt, len, path, &arr, e);
	free(txt);
	if (rc < 0)
		return rc;
	if (!json_is_array(arr)) {
		json_decref(arr);
		return err_set(e, ERR_INVALID, "%s: not a JSON array of deposits", path);
	}
	size_t i;
	json_t *d;
	json_array_foreach(arr, i, d) {
		const char *pk = json_string_value(json_object_get(d, "pubkey"));
		if (!pk || strlen(pk) != 2 * BLS_PUBKEY_LEN) {
			json_decref(arr);
			return err_set(e, ERR_INVALID, "%s: entry %zu has no pubkey",
				       path, i);
		}
		json_object_set(into, pk, d);
	}
	json_decref(arr);
	return 0;
}

static int load_key(const char *dir, const char *pwdir, const char *name,
		    struct key_input *k, struct err *e)
{
	char path[4096];
	snprintf(k->name, sizeof(k->name), "%s", name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	TRY(file_read_all(path, KEYSTORE_MAX_JSON, &k->keystore, &k->keystore_len, e));
	struct keystore_info info;
	if (keystore_inspect(k->keystore, k->keystore_len, &info, e) < 0)
		return err_prefix(e, "%s: ", name);
	if (!info.has_pubkey)
		return err_set(e, ERR_INVALID, "%s: keystore has no pubkey", name);
	hex_encode(info.pubkey, BLS_PUBKEY_LEN, k->pubkey);
	snprintf(path, sizeof(path), "%s/%.*s.txt", pwdir,
		 (int)(strlen(name) - strlen(".json")), name);
	if (secret_read_file(path, &k->password, e) < 0)
		return err_prefix(e, "%s: password: ", name);
	if (k->password->len == 0 || k->password->len > MAX_PASSWORD)
		return err_set(e, ERR_INVALID, "%s: password file is empty or too long",
			       name);
	return 0;
}

static int read_inputs(const struct args *f, struct inputs *in,
		       struct err *e)
{
	memset(in, 0, sizeof(*in));
	const char *dir = args_get(f, F_KEYSTORES), *pwdir = args_get(f, F_PASSWORDS);
	in->deposits = json_object();
	if (!in->deposits)
		return err_set(e, ERR_NOMEM, "out of memory");
	DIR *d = opendir(dir);
	if (!d)
		return err_set(e, ERR_IO, "--keystores-path %s: cannot open", dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d)) && rc == 0) {
		if (de->d_name[0] == '.' || !ends_with(de->d_name, ".json"))
			continue;
		if (strncmp(de->d_name, "deposit_data", 12) == 0) {
			if (!args_get(f, F_DEPOSIT)) {
				char p[4096];
				snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
				rc = load_deposits(p, in->deposits, e);
			}
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			char **nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				rc = err_set(e, ERR_NOMEM, "out of memory");
				break;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name)))
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else
			n++;
	}
	closedir(d);
	if (rc == 0 && args_get(f, F_DEPOSIT))
		rc = load_deposits(args_get(f, F_DEPOSIT), in->deposits, e);
	if (rc == 0 && n == 0)
		rc = err_set(e, ERR_INVALID, "--keystores-path %s: no keystores (*.json)",
			     dir);
	if (rc == 0 && n > MAX_KEYS)
		rc = err_set(e, ERR_TOO_LARGE, "more than %d keystores", MAX_KEYS);
	if (rc == 0) {
		qsort(names, n, sizeof(*names), name_cmp);
		in->keys = calloc(n, sizeof(*in->keys));
		if (!in->keys)
			rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		in->n = i + 1;
		rc = load_key(dir, pwdir, names[i], &in->keys[i], e);
		for (size_t j = 0; j < i && rc == 0; j++)
			if (strcmp(in->keys[j].pubkey, in->keys[i].pubkey) == 0)
				rc = err_set(e, ERR_INVALID, "%s and %s hold the same key %s",
					     in->keys[j].name, names[i],
					     in->keys[i].pubkey);
		json_t *dep = json_object_get(in->deposits, in->keys[i].pubkey + 2);
		if (rc == 0 && dep) {
			char *dj = json_dumps(dep, JSON_COMPACT | JSON_SORT_KEYS);
			in->keys[i].deposit_b64 = dj ? b64_encode((uint8_t *)dj,
								  strlen(dj)) : NULL;
			free(dj);
			if (!in->keys[i].deposit_b64)
				rc = err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == 0 && args_get(f, F_MNEMONIC)) {
		struct secret *raw = NULL;
		rc = secret_read_file(args_get(f, F_MNEMONIC), &raw, e);
		if (rc == 0)
			rc = bip39_mnemonic_check(raw->bytes, raw->len, 0, &in->mnemonic, e);
		if (rc < 0)
			err_prefix(e, "--mnemonic-file: ");
		secret_free(raw);
	}
	return rc;
}

/* ---- every keystore opens with its password ------------------------------ */

struct open_job {
	const struct inputs *in;
	int *rc;
};

static void open_one(void *arg, size_t i)
{
	struct open_job *j = arg;
	const struct key_input *k = &j->in->keys[i];
	struct bls_key *bk = NULL;
	j->rc[i] = keystore_decrypt(k->keystore, k->keystore_len, k->password, &bk,
				    NULL);
	bls_key_free(bk);
	progress_step(&g_progress);
}

/*
 * All or nothing: a password that does not open its keystore would otherwise
 * be found only by the enclave, after the upload. The KDFs run on every
 * core; the first keystore (by name) that failed is opened again alone for
 * the message, which names the file and how many others failed.
 */
static int check_passwords(const struct inputs *in, struct err *e)
{
	int *rc = calloc(in->n ? in->n : 1, sizeof(*rc));
	if (!rc)
		return err_set(e, ERR_NOMEM, "out of memory");
	struct open_job j = {in, rc};
	progress_begin("keystores opened", in->n);
	parallel_for(in->n, 0, open_one, &j);
	size_t bad = 0, first = 0;
	for (size_t i = 0; i < in->n; i++)
		if (rc[i] < 0 && bad++ == 0)
			first = i;
	free(rc);
	if (bad == 0)
		return 0;
	const struct key_input *k = &in->keys[first];
	struct bls_key *bk = NULL;
	struct err why = {0};
	if (keystore_decrypt(k->keystore, k->keystore_len, k->password, &bk, &why) == 0)
		snprintf(why.msg, sizeof(why.msg), "failed once, then opened");
	bls_key_free(bk);
	char more[64] = "";
	if (bad > 1)
		snprintf(more, sizeof(more), " (and %zu more keystores)", bad - 1);
	return err_set(e, ERR_INVALID,
		       "%s does not open with its password file %.*s.txt: %s%s; "
		       "nothing encrypted or uploaded",
		       k->name, (int)(strlen(k->name) - strlen(".json")), k->name,
		       why.msg, more);
}

/* ---- per-key records (the sample's format) ------------------------------- */

/* {"keystore_b64":"..","password_b64":"..","mnemonic_b64":".."} in secure memory. */
static int record_plaintext(const struct key_input *k,
			    const struct secret *mnemonic, struct secret **out,
			    struct err *e)
{
	struct secret *ks = NULL, *pw = NULL, *mn = NULL;
	int rc = b64_encode_secret((const uint8_t *)k->keystore,
				   k->keystore_len, &ks, e);
	if (rc == 0)
		rc = b64_encode_secret(k->password->bytes, k->password->len, &pw, e);
	if (rc == 0)
		rc = b64_encode_secret(mnemonic ? mnemonic->bytes
				       : (const uint8_t *)"",
				       mnemonic ? mnemonic->len : 0, &mn, e);
	if (rc < 0)
		goto out;
	static const char A[] = "{\"keystore_b64\":\"", B[] = "\",\"password_b64\":\"",
			  C[] = "\",\"mnemonic_b64\":\"", D[] = "\"}";
	size_t n = strlen(A) + ks->len + strlen(B) + pw->len + strlen(C) + mn->len +
		   strlen(D);
	if (n > AWS_KMS_MAX_PLAINTEXT) {
		rc = err_set(e, ERR_TOO_LARGE,
			     "%s: the record is %zu bytes, over KMS's %d-byte "
			     "plaintext limit (use --envelope)",
			     k->name, n, AWS_KMS_MAX_PLAINTEXT);
		goto out;
	}
	struct secret *s = secret_new(n + 1);
	if (!s) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	uint8_t *p = s->bytes;
#define PUT(src, len) do { memcpy(p, src, len); p += len; } while (0)
	PUT(A, strlen(A));
	PUT(ks->bytes, ks->len);
	PUT(B, strlen(B));
	PUT(pw->bytes, pw->len);
	PUT(C, strlen(C));
	PUT(mn->bytes, mn->len);
	PUT(D, strlen(D));
#undef PUT
	*p = '\0';
	secret_truncate(s, n);
	*out = s;
out:
	secret_free(ks);
	secret_free(pw);
	secret_free(mn);
	return rc;
}

static json_t *item_common(const char *signer, const char *pubkey,
			   const char *chain, const char *when)
{
	return json_pack("{s:{s:s},s:{s:s},s:{s:s},s:{s:s},s:{s:b}}",
			 AWS_KT_SIGNER_ID, "S", signer, AWS_KT_PUBKEY, "S", pubkey,
			 AWS_KT_CHAIN, "S", chain, AWS_KT_DATETIME, "S", when, AWS_KT_ACTIVE,
			 "BOOL", 1);
}

static int set_s(json_t *item, const char *k, const char *v)
{
	return json_object_set_new(item, k, json_pack("{s:s}", "S", v)) == 0
		? 0 : -ERR_NOMEM;
}

/* One item per key: KMS Encrypt of the record. */
static int encrypt_per_key(struct aws_client *c, const struct args *f,
			   const struct inputs *in, json_t *items, struct err *e)
{
	char when[32];
	iso_now(when);
	const char *chain = args_get(f, F_CHAIN) ? args_get(f, F_CHAIN) : "mainnet";
	progress_begin("keys encrypted", in->n);
	for (size_t i = 0; i < in->n; i++) {
		const struct key_input *k = &in->keys[i];
		struct secret *pt = NULL;
		TRY(record_plaintext(k, in->mnemonic, &pt, e));
		uint8_t *blob = NULL;
		size_t blen = 0;
		json_t *ctx = aws_record_context(AWS_RECORD_PURPOSE_KEY,
						 args_get(f, F_SIGNER_ID));
		int rc = ctx ? aws_kms_encrypt(c, args_get(f, F_KEY_ID), pt->bytes,
					       pt->len, ctx, &blob, &blen, e)
			     : err_set(e, ERR_NOMEM, "out of memory");
		json_decref(ctx);
		secret_free(pt);
		if (rc < 0)
			return err_prefix(e, "%s: ", k->pubkey);
		char *b64 = b64_encode(blob, blen);
		free(blob);
		json_t *it = item_common(args_get(f, F_SIGNER_ID), k->pubkey, chain, when);
		if (!b64 || !it || set_s(it, AWS_KT_SAMPLE_CT, b64) ||
		    set_s(it, AWS_RECORD_ATTR_CONTEXT, AWS_RECORD_PURPOSE_KEY) ||
		    (k->deposit_b64 && set_s(it, AWS_KT_DEPOSIT, k->deposit_b64))) {
			free(b64);
			json_decref(it);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		free(b64);
		json_array_append_new(items, it);
		progress_step(&g_progress);
	}
	return 0;
}

/* ---- envelope bundles ------------------------------------------------------ */

static int decrypt_keys(const struct inputs *in, struct secret **records,
			struct err *e)
{
	struct secret *s = secret_new(in->n * KEY_RECORD_BYTES);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	progress_begin("keystores opened", in->n);
	for (size_t i = 0; i < in->n; i++) {
		const struct key_input *k = &in->keys[i];
		struct bls_key *bk = NULL;
		struct secret *sk = NULL;
		progress_step(&g_progress);
		int rc = keystore_decrypt(k->keystore, k->keystore_len, k->password,
					  &bk, e);
		if (rc == 0)
			rc = bls_key_export(bk, &sk, e);
		if (rc == 0) {
			uint8_t *p = s->bytes + i * KEY_RECORD_BYTES;
			memcpy(p, bk->pubkey, BLS_PUBKEY_LEN);
			memcpy(p + BLS_PUBKEY_LEN, sk->bytes, BLS_SECRET_LEN);
		}
		secret_free(sk);
		bls_key_free(bk);
		if (rc < 0) {
			secret_free(s);
			return err_prefix(e, "%s: ", k->name);
		}
	}
	*records = s;
	return 0;
}

/* Deterministic bundle id: the same key set maps to the same items. */
static void bundle_id(const struct inputs *in, char out[17])
{
	uint8_t d[32];
	unsigned int dl = 0;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	memset(d, 0, sizeof(d));
	if (h && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1) {
		for (size_t i = 0; i < in->n; i++)
			EVP_DigestUpdate(h, in->keys[i].pubkey, strlen(in->keys[i].pubkey));
		EVP_DigestFinal_ex(h, d, &dl);
	}
	EVP_MD_CTX_free(h);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static int encrypt_envelope(struct aws_client *c, const struct args *f,
			    const struct inputs *in, json_t *items, struct err *e)
{
	const char *signer = args_get(f, F_SIGNER_ID);
	const char *chain = args_get(f, F_CHAIN) ? args_get(f, F_CHAIN) : "mainnet";
	struct secret *records = NULL;
	TRY(decrypt_keys(in, &records, e));
	json_t *ctx = aws_record_context(ENVELOPE_FORMAT, signer);
	struct aws_kms_data_key dk;
	int rc = aws_kms_generate_data_key(c, args_get(f, F_KEY_ID), "AES_256", ctx,
					   NULL, &dk, e);
	json_decref(ctx);
	if (rc < 0) {
		secret_free(records);
		return rc;
	}
	char id[17], when[32];
	bundle_id(in, id);
	iso_now(when);
	char *wrapped = b64_encode(dk.blob, dk.blob_len);
	size_t parts = (in->n + ENVELOPE_KEYS_PER_ITEM - 1) / ENVELOPE_KEYS_PER_ITEM;
	for (size_t part = 0; part < parts && rc == 0; part++) {
		size_t first = part * ENVELOPE_KEYS_PER_ITEM;
		size_t count = in->n - first < ENVELOPE_KEYS_PER_ITEM
			? in->n - first : ENVELOPE_KEYS_PER_ITEM;
		char name[64], aad[600];
		snprintf(name, sizeof(name), "envelope:%s:%zu", id, part);
		int alen = aws_envelope_aad(signer, name, aad, sizeof(aad));
		struct secret *pt = aws_bundle_plaintext(
			records->bytes + first * KEY_RECORD_BYTES, count);
		uint8_t *sealed = NULL;
		size_t slen = 0;
		rc = alen < 0 ? err_set(e, ERR_INVALID, "envelope: associated "
					"data too long")
		     : pt ? aws_envelope_seal(dk.plain.plaintext, (uint8_t *)aad,
					    (size_t)alen, pt->bytes, pt->len, &sealed,
					    &slen, e)
			: err_set(e, ERR_NOMEM, "out of secure memory");
		secret_free(pt);
		if (rc < 0)
			break;
		char *ct = b64_encode(sealed, slen);
		free(sealed);
		json_t *it = item_common(signer, name, chain, when);
		json_t *ss = json_array();
		for (size_t i = first; ss && i < first + count; i++)
			json_array_append_new(ss, json_string(in->keys[i].pubkey));
		char num[32], nparts[32], npart[32];
		snprintf(num, sizeof(num), "%zu", count);
		snprintf(npart, sizeof(npart), "%zu", part);
		snprintf(nparts, sizeof(nparts), "%zu", parts);
		if (!ct || !wrapped || !it || !ss ||
		    set_s(it, AWS_KT_ENVELOPE_FORMAT, ENVELOPE_FORMAT) ||
		    set_s(it, AWS_KT_WRAPPED_KEY, wrapped) ||
		    set_s(it, AWS_KT_ENVELOPE_CT, ct) ||
		    json_object_set_new(it, AWS_KT_ENVELOPE_PUBKEYS,
					json_pack("{s:o}", "SS", json_incref(ss))) ||
		    json_object_set_new(it, "key_count", json_pack("{s:s}", "N", num)) ||
		    json_object_set_new(it, "part", json_pack("{s:s}", "N", npart)) ||
		    json_object_set_new(it, "parts", json_pack("{s:s}", "N", nparts)))
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else
			json_array_append(items, it);
		json_decref(ss);
		json_decref(it);
		free(ct);
	}
	free(wrapped);
	aws_kms_data_key_clear(&dk);
	secret_free(records);
	return rc;
}

/* ---- output ------------------------------------------------------------------ */

/* DynamoDB JSON to plain JSON, for --out and list. */
static json_t *plain_item(const json_t *item)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)item, k, v) {
		json_t *x = json_object_get(v, "S");
		if (!x)
			x = json_object_get(v, "BOOL");
		if (!x)
			x = json_object_get(v, "SS");
		if (!x && json_object_get(v, "N"))
			x = json_integer(strtoll(json_string_value(json_object_get(v, "N")),
						 NULL, 10));
		else if (x)
			json_incref(x);
		if (x)
			json_object_set_new(o, k, x);
	}
	return o;
}

static int write_out(const char *path, const json_t *items, struct err *e)
{
	json_t *arr = json_array();
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it) json_array_append_new(arr, plain_item(it));
	char *txt = json_dumps(arr, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(arr);
	if (!txt)
		return err_set(e, ERR_NOMEM, "out of memory");
	struct stat st;
	int rc = stat(path, &st) == 0
		? err_set(e, ERR_IO, "--out %s exists; not overwriting", path)
		: file_write_atomic(path, txt, strlen(txt), 0600, e);
	free(txt);
	return rc;
}

static int check_table(struct aws_client *c, const char *table, struct err *e)
{
	struct aws_ddb_table_info ti;
	int rc = aws_ddb_describe_table(c, table, &ti, e);
	if (rc == -ERR_NOT_FOUND)
		return err_set(e, ERR_NOT_FOUND,
			       "table %s does not exist in %s (nitro-keys kms "
			       "create-table --table=%s)",
			       table, aws_client_region(c), table);
	TRY(rc);
	if (strcmp(ti.hash_key, AWS_KT_SIGNER_ID) != 0 ||
	    strcmp(ti.range_key, AWS_KT_PUBKEY) != 0 || strcmp(ti.hash_type, "S") != 0 ||
	    strcmp(ti.range_type, "S") != 0)
		return err_set(e, ERR_INVALID,
			       "table %s has key schema %s (HASH) / %s (RANGE); a key "
			       "table needs " AWS_KT_SIGNER_ID " (S, HASH) and "
			       AWS_KT_PUBKEY " (S, RANGE)",
			       table, ti.hash_key, ti.range_key[0] ? ti.range_key : "none");
	return 0;
}

/* ---- writing: never a silent overwrite, never `active` ---------------------- */

static const char *item_s(const json_t *item, const char *attr)
{
	return json_string_value(json_object_get(json_object_get(item, attr), "S"));
}

static const char *active_word(const json_t *item)
{
	json_t *a = json_object_get(json_object_get(item, AWS_KT_ACTIVE), "BOOL");
	return !a ? "unset" : json_is_true(a) ? "true" : "false";
}

/* The records the run will write, by id, known before any KMS call. */
static size_t record_count(const struct inputs *in, bool envelope)
{
	return envelope ? (in->n + ENVELOPE_KEYS_PER_ITEM - 1) / ENVELOPE_KEYS_PER_ITEM
			: in->n;
}

static void record_id(const struct inputs *in, bool envelope, size_t i,
		      char out[128])
{
	if (!envelope) {
		snprintf(out, 128, "%s", in->keys[i].pubkey);
		return;
	}
	char id[17];
	bundle_id(in, id);
	snprintf(out, 128, "envelope:%s:%zu", id, i);
}

/* The signer's items already in the table: record id -> item. */
static int existing_records(struct aws_client *c, const char *table,
			    const char *signer, json_t **out, struct err *e)
{
	json_t *vals = json_pack("{s:{s:s}}", ":s", "S", signer);
	struct aws_ddb_query q = {.table = table,
				  .key_condition = {AWS_KT_SIGNER_ID " = :s", NULL, vals},
				  .consistent = true};
	json_t *items = NULL;
	unsigned pages = 0;
	int rc = vals ? aws_ddb_query_all(c, &q, &items, &pages, e)
		      : err_set(e, ERR_NOMEM, "out of memory");
	json_decref(vals);
	if (rc < 0)
		return rc;
	json_t *by = json_object();
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it) {
		const char *id = item_s(it, AWS_KT_PUBKEY);
		if (id && by)
			json_object_set(by, id, it);
	}
	json_decref(items);
	if (!by)
		return err_set(e, ERR_NOMEM, "out of memory");
	*out = by;
	return 0;
}

/* Without --replace, a record already in the table stops the run. */
static int refuse_existing(const struct inputs *in, bool envelope,
			   const json_t *existing, const struct args *f,
			   struct err *e)
{
	size_t found = 0;
	char first[128] = "", id[128];
	const json_t *old = NULL;
	for (size_t i = 0; i < record_count(in, envelope); i++) {
		record_id(in, envelope, i, id);
		const json_t *it = json_object_get(existing, id);
		if (it && found++ == 0) {
			snprintf(first, sizeof(first), "%s", id);
			old = it;
		}
	}
	if (!found)
		return 0;
	char more[64] = "";
	if (found > 1)
		snprintf(more, sizeof(more), " (and %zu more)", found - 1);
	return err_set(e, ERR_REFUSED,
		       "record %s of signer %s is already in %s (active: %s)%s; "
		       "nothing uploaded: --replace rewrites it keeping its "
		       "active state, kms enable|disable changes that",
		       first, args_get(f, F_SIGNER_ID), args_get(f, F_TABLE),
		       active_word(old), more);
}

/* A new record: only if it is still absent. */
static int put_new(struct aws_client *c, const char *table, const json_t *item,
		   struct err *e)
{
	struct aws_ddb_expr cond = {"attribute_not_exists(" AWS_KT_PUBKEY ")", NULL,
				    NULL};
	int rc = aws_ddb_put_item(c, table, item, &cond, e);
	if (rc == -ERR_REFUSED)
		return err_set(e, ERR_REFUSED, "record %s appeared in %s while this "
			       "upload ran; not replacing it",
			       item_s(item, AWS_KT_PUBKEY), table);
	return rc;
}

static bool is_key_or_active(const char *attr)
{
	return strcmp(attr, AWS_KT_SIGNER_ID) == 0 || strcmp(attr, AWS_KT_PUBKEY) == 0 ||
	       strcmp(attr, AWS_KT_ACTIVE) == 0;
}

/* Appends to a bounded expression; false when it does not fit. */
static bool expr_add(char *buf, size_t cap, const char *part)
{
	size_t len = strlen(buf), n = strlen(part);
	if (len + n >= cap)
		return false;
	memcpy(buf + len, part, n + 1);
	return true;
}

/*
 * --replace of a record that exists: its content attributes set, those the
 * new record lacks removed, `active` untouched, and only while it still
 * exists. *active gets the record's state after the write.
 */
static int replace_one(struct aws_client *c, const char *table,
		       const json_t *item, const json_t *old, bool *active,
		       struct err *e)
{
	char expr[2048] = "SET ";
	json_t *names = json_object(), *vals = json_object(), *attrs = NULL;
	json_t *key = json_pack("{s:O,s:O}", AWS_KT_SIGNER_ID,
				json_object_get(item, AWS_KT_SIGNER_ID), AWS_KT_PUBKEY,
				json_object_get(item, AWS_KT_PUBKEY));
	bool ok = names && vals && key;
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)item, k, v) {
		if (!ok || is_key_or_active(k))
			continue;
		char nn[32], vn[32], part[80];
		snprintf(nn, sizeof(nn), "#a%zu", n);
		snprintf(vn, sizeof(vn), ":v%zu", n);
		snprintf(part, sizeof(part), "%s%s = %s", n ? ", " : "", nn, vn);
		ok = expr_add(expr, sizeof(expr), part) &&
		     json_object_set_new(names, nn, json_string(k)) == 0 &&
		     json_object_set(vals, vn, v) == 0;
		n++;
	}
	size_t r = 0;
	json_object_foreach((json_t *)old, k, v) {
		if (!ok || is_key_or_active(k) || json_object_get(item, k))
			continue;
		char nn[32], part[48];
		snprintf(nn, sizeof(nn), "#r%zu", r);
		snprintf(part, sizeof(part), "%s%s", r ? ", " : " REMOVE ", nn);
		ok = expr_add(expr, sizeof(expr), part) &&
		     json_object_set_new(names, nn, json_string(k)) == 0;
		r++;
	}
	int rc;
	if (!ok) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
	} else {
		struct aws_ddb_expr upd = {expr, names, vals};
		rc = aws_ddb_update_item(c, table, key, &upd,
					 "attribute_exists(" AWS_KT_PUBKEY ")", &attrs, e);
		if (rc == -ERR_REFUSED)
			rc = err_set(e, ERR_REFUSED, "record %s left %s while this "
				     "upload ran; not re-creating it",
				     item_s(item, AWS_KT_PUBKEY), table);
		*active = json_is_true(json_object_get(
			json_object_get(attrs, AWS_KT_ACTIVE), "BOOL"));
	}
	json_decref(attrs);
	json_decref(key);
	json_decref(names);
	json_decref(vals);
	return rc;
}

struct upload_counts {
	size_t added, replaced, inactive;
};

/* One conditional write per record; records not written are listed. */
static int upload(struct aws_client *c, const char *table, const json_t *items,
		  const json_t *existing, struct upload_counts *n, struct err *e)
{
	size_t i, total = json_array_size(items);
	int rc = 0;
	progress_begin("records uploaded", total);
	for (i = 0; i < total && rc == 0; i++) {
		const json_t *it = json_array_get(items, i);
		const json_t *old = json_object_get(existing, item_s(it, AWS_KT_PUBKEY));
		bool active = true;
		rc = old ? replace_one(c, table, it, old, &active, e)
			 : put_new(c, table, it, e);
		if (rc < 0)
			break;
		progress_step(&g_progress);
		if (!old) {
			n->added++;
			continue;
		}
		n->replaced++;
		if (!active) {
			n->inactive++;
			fprintf(stderr, "nitro-keys: %s replaced; it stays inactive\n",
				item_s(it, AWS_KT_PUBKEY));
		}
	}
	if (rc == 0)
		return 0;
	for (size_t j = i; j < total; j++)
		fprintf(stderr, "nitro-keys: not uploaded: %s\n",
			item_s(json_array_get(items, j), AWS_KT_PUBKEY));
	struct err first = e ? *e : (struct err){0};
	return err_set(e, -rc, "%zu of %zu records not uploaded (listed above)%s: %s",
		       total - i, total,
		       i ? "; re-run with --replace to finish (it keeps each "
			   "record's active state)"
			 : "; nothing was written, re-running is safe",
		       first.msg);
}

static int cmd_encrypt(const struct args *f, const char *cmd)
{
	if (!aws_signer_id_ok(args_get(f, F_SIGNER_ID)))
		return cloud_usage_error(cmd, "--signer-id must be 1..128 printable "
					 "characters without spaces or '|'");
	bool up = args_bool(f, F_UPLOAD, false);
	bool envelope = args_bool(f, F_ENVELOPE, false);
	if (up == (args_get(f, F_OUT) != NULL))
		return cloud_usage_error(cmd, "give exactly one of --upload and --out");
	if (up != (args_get(f, F_TABLE) != NULL))
		return cloud_usage_error(cmd, "--table goes with --upload");
	if (args_bool(f, F_REPLACE, false) && !up)
		return cloud_usage_error(cmd, "--replace goes with --upload");
	if (envelope && args_get(f, F_MNEMONIC))
		return cloud_usage_error(cmd, "--mnemonic-file is for per-key records; "
					 "envelope bundles hold keys only");

	struct err e = {0};
	struct inputs in;
	struct aws_creds_provider *creds = NULL;
	struct aws_client *c = NULL;
	json_t *items = json_array(), *existing = NULL;
	struct upload_counts n = {0};
	g_progress_on = args_bool(f, F_PROGRESS, isatty(STDERR_FILENO) != 0);
	int rc = read_inputs(f, &in, &e);
	/* Envelope bundles decrypt every key anyway, before any KMS call. */
	if (rc == 0 && !envelope)
		rc = check_passwords(&in, &e);
	if (rc == 0 && !(c = open_client(args_get(f, F_REGION), &creds, &e)))
		rc = -e.code;
	if (rc == 0 && up)
		rc = check_table(c, args_get(f, F_TABLE), &e);
	if (rc == 0 && up)
		rc = existing_records(c, args_get(f, F_TABLE), args_get(f, F_SIGNER_ID),
				      &existing, &e);
	if (rc == 0 && up && !args_bool(f, F_REPLACE, false))
		rc = refuse_existing(&in, envelope, existing, f, &e);
	if (rc == 0)
		rc = envelope ? encrypt_envelope(c, f, &in, items, &e)
			      : encrypt_per_key(c, f, &in, items, &e);
	if (rc == 0 && up)
		rc = upload(c, args_get(f, F_TABLE), items, existing, &n, &e);
	else if (rc == 0)
		rc = write_out(args_get(f, F_OUT), items, &e);
	if (rc == 0 && up)
		fprintf(stderr, "nitro-keys: %zu keys, %zu records uploaded to %s "
			"(%zu new and active, %zu replaced with their active state "
			"kept: %zu inactive)\n",
			in.n, json_array_size(items), args_get(f, F_TABLE), n.added,
			n.replaced, n.inactive);
	else if (rc == 0)
		fprintf(stderr, "nitro-keys: %zu keys, %zu records written to %s\n",
			in.n, json_array_size(items), args_get(f, F_OUT));
	json_decref(items);
	json_decref(existing);
	aws_client_free(c);
	aws_creds_provider_free(creds);
	inputs_free(&in);
	if (rc < 0)
		return e.code == ERR_USAGE ? cloud_usage_error(cmd, "%s", e.msg)
					   : cloud_fail(e.msg);
	return 0;
}

/* ---- table, list, disable/enable -------------------------------------------- */

static int with_client(const struct args *f, const char *cmd,
		       int (*fn)(struct aws_client *, const struct args *,
				 struct err *))
{
	struct err e = {0};
	struct aws_creds_provider *creds = NULL;
	struct aws_client *c = open_client(args_get(f, F_REGION), &creds, &e);
	int rc = c ? fn(c, f, &e) : -e.code;
	aws_client_free(c);
	aws_creds_provider_free(creds);
	if (rc < 0)
		return e.code == ERR_USAGE ? cloud_usage_error(cmd, "%s", e.msg)
					   : cloud_fail(e.msg);
	return 0;
}

/* the Keymanager API's token */

/*
 * 256 random bits, hex, sealed as the enclave seals its own secrets: a data
 * key from GenerateDataKey under {purpose, signer_id} (the operator's
 * grant; no Recipient), the token under AES-256-GCM with the AAD binding
 * the purpose and the signer id. Only the item is stored; the token is
 * printed once.
 */
static int do_keymanager_token(struct aws_client *c, const struct args *f,
			       struct err *e)
{
	const char *signer = args_get(f, F_SIGNER_ID);
	if (!aws_signer_id_ok(signer))
		return err_set(e, ERR_USAGE, "--signer-id: 1 to %d printable "
			       "characters, no spaces or '|'", AWS_SIGNER_ID_MAX);
	uint8_t raw[32];
	char hex[2 + 64 + 1], aad[300], when[32];
	if (RAND_priv_bytes(raw, sizeof(raw)) != 1)
		return err_set(e, ERR_CRYPTO, "no randomness for the token");
	hex_encode(raw, sizeof(raw), hex);
	OPENSSL_cleanse(raw, sizeof(raw));
	int alen = aws_sealed_aad(AWS_KT_KEYMANAGER_TOKEN_FORMAT, signer, aad,
				  sizeof(aad));
	json_t *ctx = aws_record_context(AWS_KT_KEYMANAGER_TOKEN_FORMAT, signer);
	struct aws_kms_data_key dk;
	memset(&dk, 0, sizeof(dk));
	uint8_t *sealed = NULL;
	size_t slen = 0;
	char *wrapped = NULL, *ct = NULL;
	json_t *item = NULL;
	int rc = ctx && alen > 0 ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = aws_kms_generate_data_key(c, args_get(f, F_KEY_ID), "AES_256",
					       ctx, NULL, &dk, e);
	if (rc == 0 && !dk.plain.plaintext)
		rc = err_set(e, ERR_CRYPTO, "KMS returned no data key");
	if (rc == 0)
		rc = aws_envelope_seal(dk.plain.plaintext, (const uint8_t *)aad,
				       (size_t)alen, (const uint8_t *)hex + 2, 64,
				       &sealed, &slen, e);
	iso_now(when);
	if (rc == 0 && (!(wrapped = b64_encode(dk.blob, dk.blob_len)) ||
			!(ct = b64_encode(sealed, slen)) ||
			!(item = json_pack("{s:{s:s},s:{s:s},s:{s:s},s:{s:s},"
					   "s:{s:s},s:{s:s}}",
					   AWS_KT_SIGNER_ID, "S", signer,
					   AWS_KT_PUBKEY, "S",
					   AWS_KT_KEYMANAGER_TOKEN_ITEM,
					   AWS_KT_SEALED_FORMAT, "S",
					   AWS_KT_KEYMANAGER_TOKEN_FORMAT,
					   AWS_KT_WRAPPED_KEY, "S", wrapped,
					   AWS_KT_SEALED_CT, "S", ct,
					   AWS_KT_DATETIME, "S", when))))
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = aws_ddb_put_item(c, args_get(f, F_TABLE), item, NULL, e);
	if (rc == 0) {
		printf("%s\n", hex + 2);
		fflush(stdout);
		fprintf(stderr, "nitro-keys: keymanager token for signer %s stored "
			"sealed in %s (the enclave reads it at its next init); "
			"it is shown only this once\n", signer,
			args_get(f, F_TABLE));
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	aws_kms_data_key_clear(&dk);
	json_decref(ctx);
	json_decref(item);
	free(sealed);
	free(wrapped);
	free(ct);
	return rc;
}

static int cmd_keymanager_token(const struct args *f, const char *cmd)
{
	return with_client(f, cmd, do_keymanager_token);
}

static int do_create_table(struct aws_client *c, const struct args *f,
			   struct err *e)
{
	TRY(aws_ddb_create_table(c, args_get(f, F_TABLE), AWS_KT_SIGNER_ID, "S",
				 AWS_KT_PUBKEY, "S", e));
	TRY(aws_ddb_wait_active(c, args_get(f, F_TABLE), 60000, e));
	fprintf(stderr, "nitro-keys: table %s is ACTIVE\n", args_get(f, F_TABLE));
	return 0;
}

static int do_list(struct aws_client *c, const struct args *f,
		   struct err *e)
{
	uint64_t page = 100;
	if (args_get(f, F_PAGE_SIZE) &&
	    (dec_parse_u64(args_get(f, F_PAGE_SIZE), &page, NULL, "--page-size") < 0 ||
	     page < 1 || page > 1000))
		return err_set(e, ERR_USAGE, "--page-size must be 1..1000");
	TRY(check_table(c, args_get(f, F_TABLE), e));
	json_t *vals = json_pack("{s:{s:s}}", ":s", "S", args_get(f, F_SIGNER_ID));
	struct aws_ddb_query q = {.table = args_get(f, F_TABLE),
				  .key_condition = {AWS_KT_SIGNER_ID " = :s", NULL, vals},
				  .page_size = (unsigned)page, .max_items = MAX_KEYS};
	json_t *items = NULL;
	unsigned pages = 0;
	int rc = aws_ddb_query_all(c, &q, &items, &pages, e);
	json_decref(vals);
	if (rc < 0)
		return rc;
	size_t i, keys = 0, own = 0;
	json_t *it;
	json_array_foreach(items, i, it) {
		json_t *p = plain_item(it);
		const char *id = item_s(it, AWS_KT_PUBKEY);
		/* The enclave's sealed TLS key and MAC key: not key records. */
		bool enclave = id && aws_kt_is_enclave_item(id);
		bool env = !enclave && json_object_get(p, AWS_KT_ENVELOPE_FORMAT) != NULL;
		json_t *out = json_pack("{s:O*,s:O*,s:O*,s:O*,s:s}", "pubkey",
					json_object_get(p, AWS_KT_PUBKEY), "active",
					json_object_get(p, AWS_KT_ACTIVE), "chain",
					json_object_get(p, AWS_KT_CHAIN), "datetime",
					json_object_get(p, AWS_KT_DATETIME), "kind",
					enclave ? "enclave" : env ? "envelope" : "key");
		if (env)
			json_object_set(out, "keys", json_object_get(p, AWS_KT_KEY_COUNT));
		own += enclave;
		keys += enclave ? 0
			: env ? (size_t)json_integer_value(json_object_get(p, AWS_KT_KEY_COUNT))
			      : 1;
		char *line = json_dumps(out, JSON_COMPACT);
		if (line)
			printf("%s\n", line);
		free(line);
		json_decref(out);
		json_decref(p);
	}
	char extra[96] = "";
	if (own)
		snprintf(extra, sizeof(extra), " and %zu of the enclave's own items "
			 "(tls:, slashing:)", own);
	fprintf(stderr, "nitro-keys: %zu records (%zu keys)%s for %s, %u pages\n",
		json_array_size(items) - own, keys, extra, args_get(f, F_SIGNER_ID),
		pages);
	json_decref(items);
	return 0;
}

/* An envelope bundle's record id, as kms encrypt names it: envelope:HEX16:N. */
static bool envelope_id_ok(const char *s)
{
	if (strncmp(s, "envelope:", 9) != 0 || strlen(s) < 9 + 16 + 2 || strlen(s) > 40)
		return false;
	for (size_t i = 9; i < 9 + 16; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	if (s[9 + 16] != ':')
		return false;
	for (const char *p = s + 9 + 17; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

static int set_active(struct aws_client *c, const struct args *f,
		      bool active, struct err *e)
{
	char pubkey[2 + 2 * BLS_PUBKEY_LEN + 1];
	const char *arg = args_get(f, F_PUBKEY);
	if (envelope_id_ok(arg)) {
		snprintf(pubkey, sizeof(pubkey), "%s", arg);
	} else {
		uint8_t pk[BLS_PUBKEY_LEN];
		if (hex_decode_exact(arg, pk, sizeof(pk), e, "--pubkey") < 0)
			return err_set(e, ERR_USAGE, "--pubkey must be 0x and 96 hex "
				       "digits, or an envelope bundle's envelope:ID:PART");
		hex_encode(pk, sizeof(pk), pubkey);
	}
	json_t *key = json_pack("{s:{s:s},s:{s:s}}", AWS_KT_SIGNER_ID, "S",
				args_get(f, F_SIGNER_ID), AWS_KT_PUBKEY, "S", pubkey);
	json_t *vals = json_pack("{s:{s:b}}", ":a", "BOOL", active);
	struct aws_ddb_expr upd = {"SET active = :a", NULL, vals};
	int rc = aws_ddb_update_item(c, args_get(f, F_TABLE), key, &upd,
				     "attribute_exists(pubkey)", NULL, e);
	json_decref(key);
	json_decref(vals);
	if (rc == -ERR_REFUSED)
		return err_set(e, ERR_NOT_FOUND, "no record %s for signer %s in %s",
			       pubkey, args_get(f, F_SIGNER_ID), args_get(f, F_TABLE));
	if (rc == 0)
		fprintf(stderr, "nitro-keys: %s %s\n", pubkey,
			active ? "enabled" : "disabled");
	return rc;
}

static int do_disable(struct aws_client *c, const struct args *f,
		      struct err *e)
{
	return set_active(c, f, false, e);
}

static int do_enable(struct aws_client *c, const struct args *f,
		     struct err *e)
{
	return set_active(c, f, true, e);
}

/* ---- policy ---------------------------------------------------------------------- */

static bool arn_ok(const char *s)
{
	int colons = 0;
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\')
			return false;
		colons += *p == ':';
	}
	return strncmp(s, "arn:aws", 7) == 0 && colons >= 5 && strlen(s) < 2048;
}

/* One --pcr0 value (0x optional, any case) as 96 lower-case hex digits in out;
 * len is its length in the flag (it may be followed by a comma). */
static bool pcr0_parse(const char *v, size_t len, char out[97], bool *zero)
{
	uint8_t pcr0[48];
	if (!nitro_pcr_from_hex(v, len, pcr0))
		return false;
	char enc[2 + 96 + 1];
	hex_encode(pcr0, sizeof(pcr0), enc);
	memcpy(out, enc + 2, 97);
	*zero = *zero && nitro_pcr_is_zero(pcr0, sizeof(pcr0));
	return true;
}

/* HEX or HEX,HEX of a PCR flag into pcrs; *n how many. False when not
 * 96 hex digits each. */
static bool pcr_list_parse(const char *v, char pcrs[2][97], size_t *n,
			   bool *zero)
{
	const char *comma = strchr(v, ',');
	bool zero2 = true;
	*zero = true;
	*n = comma ? 2 : 1;
	if (!pcr0_parse(v, comma ? (size_t)(comma - v) : strlen(v), pcrs[0], zero) ||
	    (comma && !pcr0_parse(comma + 1, strlen(comma + 1), pcrs[1], &zero2)))
		return false;
	*zero = *zero || (comma && zero2);
	return true;
}

static json_t *pcr_value(char pcrs[2][97], size_t n)
{
	return n == 1 ? json_string(pcrs[0]) : json_pack("[s,s]", pcrs[0], pcrs[1]);
}

/* The signing-certificate pin: --pcr8, or PCR8 of a signed --eif image
 * (alone for --condition=pcr8, else beside PCR0). *n is 0 when there is
 * none. */
static int pcr8_pin(const struct args *f, const char *cmd, bool only_pcr8,
		    const struct eif_info *image, char pcrs[2][97], size_t *n)
{
	const char *given = args_get(f, F_PCR8), *v = given;
	bool is_signed = image && image->pcrs.signed_image, zero;
	char own[2 + 96 + 1]; /* the image's PCR8, when it is signed */
	if (is_signed)
		hex_encode(image->pcrs.pcr8, 48, own);
	*n = 0;
	if (!v && image && (only_pcr8 || is_signed)) {
		if (!is_signed)
			return cloud_usage_error(cmd, "--condition=pcr8: %s is not "
						 "signed (no PCR8); sign it with "
						 "nitro-keys eif sign",
						 args_get(f, F_EIF));
		v = own;
	}
	if (only_pcr8 && !v)
		return cloud_usage_error(cmd, "--condition=pcr8 needs --pcr8 or "
					 "--eif of a signed image");
	if (!v)
		return 0;
	if (!pcr_list_parse(v, pcrs, n, &zero))
		return cloud_usage_error(cmd, "--pcr8 must be 96 hex digits "
					 "(SHA-384), or two of them separated by "
					 "a comma");
	if (image && given) {
		/* a policy the named image can never satisfy locks the keys
		 * out: --pcr8 with --eif must include the image's own */
		bool listed = false;
		for (size_t i = 0; is_signed && i < *n; i++)
			listed = listed || strcmp(pcrs[i], own + 2) == 0;
		if (!listed)
			return cloud_usage_error(cmd, "--pcr8 does not include the "
						 "PCR8 of %s (%s): the policy "
						 "would refuse that image",
						 args_get(f, F_EIF),
						 is_signed
							 ? "signed with another "
							   "certificate"
							 : "not signed");
	}
	if (*n == 2 && strcmp(pcrs[0], pcrs[1]) == 0)
		return cloud_usage_error(cmd, "--pcr8 names the same value twice");
	if (zero)
		return cloud_usage_error(cmd, "--pcr8 is all zeros, which every "
					 "unsigned image reports: pin a signing "
					 "certificate's PCR8");
	return 0;
}

static int cmd_policy(const struct args *f, const char *cmd)
{
	/* --pcr0=HEX, or HEX,HEX while an image upgrade rolls out (the new
	 * image's and the old one's): the condition then admits either. */
	const char *pv = args_get(f, F_PCR0), *image = args_get(f, F_EIF);
	const char *cond = args_get(f, F_CONDITION) ? args_get(f, F_CONDITION) : "image-sha384";
	bool only_pcr8 = strcmp(cond, "pcr8") == 0;
	if (only_pcr8 && pv)
		return cloud_usage_error(cmd, "--condition=pcr8 pins the signing "
					 "certificate alone: give --pcr8 or --eif, "
					 "not --pcr0 (without --condition=pcr8, "
					 "--pcr0 and --pcr8 pin both)");
	if (only_pcr8 && image && args_get(f, F_PCR8))
		return cloud_usage_error(cmd, "give one of --pcr8 and --eif");
	if (only_pcr8 && !args_bool(f, F_ALLOW_PCR8_ONLY, false))
		return cloud_usage_error(cmd, "--condition=pcr8 trusts the signing "
					 "certificate alone, which is safe only if "
					 "the launch path refuses a signature over "
					 "another image's PCR0 (AWS does not document "
					 "it; docs/enclave-image.md): give "
					 "--allow-pcr8-only to accept that, or pin "
					 "PCR0 and PCR8 together (--pcr8 without "
					 "--condition=pcr8)");
	if (!only_pcr8 && args_bool(f, F_ALLOW_PCR8_ONLY, false))
		return cloud_usage_error(cmd, "--allow-pcr8-only goes with "
					 "--condition=pcr8");
	if (!only_pcr8 && !pv == !image)
		return cloud_usage_error(cmd, "give one of --pcr0 and --eif");
	char from_image[2 + 96 + 1];
	struct eif_info info;
	if (image) {
		/* PCR0 read from the image itself (eif describe's). */
		char *bytes = NULL;
		size_t len;
		struct err e = {0};
		if (eif_cmd_read_image(image, &bytes, &len, &info, &e) < 0)
			return cloud_fail(e.msg);
		hex_encode(info.pcrs.pcr0, 48, from_image);
		free(bytes);
		pv = from_image;
	}
	char pcr8s[2][97];
	size_t npcr8;
	int pin = pcr8_pin(f, cmd, only_pcr8, image ? &info : NULL, pcr8s, &npcr8);
	if (pin)
		return pin;
	if (only_pcr8)
		pv = NULL;
	char pcrs[2][97];
	bool zero = false;
	size_t npcr = 0;
	if (pv && !pcr_list_parse(pv, pcrs, &npcr, &zero))
		return cloud_usage_error(cmd, "--pcr0 must be 96 hex digits (SHA-384), "
					 "or two of them separated by a comma");
	if (npcr == 2 && strcmp(pcrs[0], pcrs[1]) == 0)
		return cloud_usage_error(cmd, "--pcr0 names the same value twice");
	const char *ckey;
	if (strcmp(cond, "image-sha384") == 0)
		ckey = "kms:RecipientAttestation:ImageSha384";
	else if (strcmp(cond, "pcr0") == 0)
		ckey = "kms:RecipientAttestation:PCR0";
	else if (only_pcr8)
		ckey = "kms:RecipientAttestation:PCR8";
	else
		return cloud_usage_error(cmd, "--condition must be image-sha384, "
					 "pcr0 or pcr8");
	const int arns[] = {F_ROLE_ARN, F_ADMIN_ARN, F_ENCRYPT_ARN};
	for (size_t i = 0; i < 3; i++)
		if (args_get(f, arns[i]) && !arn_ok(args_get(f, arns[i])))
			return cloud_usage_error(cmd, "--%s is not an ARN", KMS_FLAGS[arns[i]].name);
	if (strcmp(args_get(f, F_ROLE_ARN), args_get(f, F_ADMIN_ARN)) == 0)
		return cloud_usage_error(cmd, "--key-admin-arn must differ from "
					 "--role-arn (admins must not use the key)");
	if (zero && !args_bool(f, F_ALLOW_DEBUG_PCR0, false))
		return cloud_usage_error(cmd, "--pcr0 is all zeros, which every "
					 "debug-mode enclave reports (the parent "
					 "instance can read its memory): give "
					 "--allow-debug-pcr0 for a test key");
	if (zero)
		fprintf(stderr, "nitro-keys: warning: a zero PCR0 admits every debug-mode "
				"enclave; never use it for production keys\n");

	json_t *admin = json_pack(
		"{s:s,s:s,s:{s:s},s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s],s:s}", "Sid",
		"KeyAdministrationWithoutUse", "Effect", "Allow", "Principal", "AWS",
		args_get(f, F_ADMIN_ARN), "Action", "kms:Create*", "kms:Describe*",
		"kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
		"kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
		"kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
		"Resource", "*");
	json_t *enclave = json_pack(
		"{s:s,s:s,s:{s:s},s:[s,s],s:s,s:{s:{s:o}}}", "Sid",
		"EnclaveDecryptOnlyWithAttestation", "Effect", "Allow", "Principal",
		"AWS", args_get(f, F_ROLE_ARN), "Action", "kms:Decrypt",
		"kms:GenerateDataKey", "Resource", "*", "Condition",
		"StringEqualsIgnoreCase", ckey,
		only_pcr8 ? pcr_value(pcr8s, npcr8) : pcr_value(pcrs, npcr));
	/* PCR0 (or the image hash) and PCR8: both keys in one operator, so
	 * both must match */
	if (!only_pcr8 && npcr8)
		json_object_set_new(
			json_object_get(json_object_get(enclave, "Condition"),
					"StringEqualsIgnoreCase"),
			"kms:RecipientAttestation:PCR8", pcr_value(pcr8s, npcr8));
	/* Belt and braces: even an IAM grant cannot decrypt without a document. */
	json_t *deny = json_pack(
		"{s:s,s:s,s:{s:s},s:[s,s],s:s,s:{s:{s:s}}}", "Sid",
		"DenyRoleWithoutAttestation", "Effect", "Deny", "Principal", "AWS",
		args_get(f, F_ROLE_ARN), "Action", "kms:Decrypt", "kms:GenerateDataKey",
		"Resource", "*", "Condition", "Null", ckey, "true");
	json_t *st = json_pack("[o,o,o]", admin, enclave, deny);
	if (args_get(f, F_ENCRYPT_ARN))
		json_array_append_new(
			st, json_pack("{s:s,s:s,s:{s:s},s:[s,s,s],s:s}", "Sid",
				      "OperatorEncryptOnly", "Effect", "Allow",
				      "Principal", "AWS", args_get(f, F_ENCRYPT_ARN),
				      "Action", "kms:Encrypt", "kms:GenerateDataKey",
				      "kms:DescribeKey", "Resource", "*"));
	json_t *policy = json_pack("{s:s,s:s,s:o}", "Version", "2012-10-17", "Id",
				   "nitro-signer-key-policy", "Statement", st);
	char *txt = json_dumps(policy, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(policy);
	if (!txt)
		return cloud_fail("out of memory");
	printf("%s\n", txt);
	free(txt);
	return 0;
}

/* ---- dispatch -------------------------------------------------------------------------- */

static int cmd_create_table(const struct args *f, const char *cmd)
{
	return with_client(f, cmd, do_create_table);
}

static int cmd_list(const struct args *f, const char *cmd)
{
	return with_client(f, cmd, do_list);
}

static int cmd_disable(const struct args *f, const char *cmd)
{
	return with_client(f, cmd, do_disable);
}

static int cmd_enable(const struct args *f, const char *cmd)
{
	return with_client(f, cmd, do_enable);
}

/* The subcommands: the flags (of KMS_FLAGS) each takes, and those it needs. */
#define END (-1)
static const struct kms_command {
	const char *name;
	const char *const *flags;
	const int *required; /* END-terminated */
	int (*run)(const struct args *f, const char *cmd);
} KMS_COMMANDS[] = {
	{"encrypt",
	 (const char *const[]){"key-id", "signer-id", "keystores-path",
			       "keystores-passwords-path", "mnemonic-file",
			       "deposit-data", "chain", "envelope", "upload",
			       "table", "out", "region", "replace", "progress",
			       NULL},
	 (const int[]){F_KEY_ID, F_SIGNER_ID, F_KEYSTORES, F_PASSWORDS, END},
	 cmd_encrypt},
	{"create-table", (const char *const[]){"table", "region", NULL},
	 (const int[]){F_TABLE, END}, cmd_create_table},
	{"list",
	 (const char *const[]){"table", "signer-id", "page-size", "region",
			       NULL},
	 (const int[]){F_TABLE, F_SIGNER_ID, END}, cmd_list},
	{"disable",
	 (const char *const[]){"table", "signer-id", "pubkey", "region", NULL},
	 (const int[]){F_TABLE, F_SIGNER_ID, F_PUBKEY, END}, cmd_disable},
	{"enable",
	 (const char *const[]){"table", "signer-id", "pubkey", "region", NULL},
	 (const int[]){F_TABLE, F_SIGNER_ID, F_PUBKEY, END}, cmd_enable},
	{"keymanager-token",
	 (const char *const[]){"key-id", "signer-id", "table", "region", NULL},
	 (const int[]){F_KEY_ID, F_SIGNER_ID, F_TABLE, END},
	 cmd_keymanager_token},
	{"policy",
	 (const char *const[]){"pcr0", "eif", "role-arn", "key-admin-arn",
			       "encrypt-arn", "condition", "allow-debug-pcr0",
			       "pcr8", "allow-pcr8-only", NULL},
	 (const int[]){F_ROLE_ARN, F_ADMIN_ARN, END}, cmd_policy},
};

int nitro_keys_kms_main(int argc, char **argv)
{
	/* "nitro-keys list ..." is "nitro-keys kms list ...". */
	bool is_list = argc >= 2 && strcmp(argv[1], "list") == 0;
	int first = is_list ? 2 : 3;
	const char *sub = is_list ? "list" : (argc >= 3 ? argv[2] : NULL);
	/* "nitro-keys keymanager token ..." is the row "keymanager-token" */
	bool is_km = strcmp(argv[1], "keymanager") == 0;
	if (is_km && sub && strcmp(sub, "token") == 0)
		sub = "keymanager-token";
	else if (is_km && sub && strcmp(sub, "--help") != 0 &&
		 strcmp(sub, "-h") != 0)
		return cloud_usage_error("keymanager", "unknown command %s "
					 "(only: token)", sub);
	if (!sub || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		fputs(KMS_USAGE, sub ? stdout : stderr);
		return sub ? 0 : EXIT_USAGE;
	}
	const struct kms_command *c = NULL;
	for (size_t i = 0; i < sizeof(KMS_COMMANDS) / sizeof(KMS_COMMANDS[0]); i++)
		if (strcmp(KMS_COMMANDS[i].name, sub) == 0)
			c = &KMS_COMMANDS[i];
	if (!c)
		return cloud_usage_error("kms", "unknown command %s", sub);
	char cmd[64];
	if (is_km)
		snprintf(cmd, sizeof(cmd), "keymanager token");
	else
		snprintf(cmd, sizeof(cmd), "kms %s", sub);
	struct args_spec spec = {.cmd = cmd, .flags = KMS_FLAGS,
				 .nflags = F_COUNT, .only = c->flags};
	struct args f;
	struct err e = {0};
	if (args_parse(&spec, argc - first, argv + first, &f, &e) < 0)
		return cloud_usage_error("kms", "%s", e.msg);
	if (f.help) {
		fputs(KMS_USAGE, stdout);
		return 0;
	}
	for (const int *k = c->required; *k != END; k++)
		if (need(&f, cmd, *k))
			return EXIT_USAGE;
	secret_init();
	return c->run(&f, cmd);
}
