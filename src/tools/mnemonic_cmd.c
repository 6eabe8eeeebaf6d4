/*
 * mnemonic_cmd.c: nitro-keys new-mnemonic and existing-mnemonic, the
 * staking-deposit-cli workflow in C.
 *
 *   1. every flag is checked (chain, indices, withdrawal address with its
 *      EIP-55 checksum, amount, KDF) and --out / --mnemonic-out must not
 *      exist, before any secret is read or any file is made;
 *   2. the mnemonic: generated (24 words, shown once on the terminal and
 *      typed back, or written to --mnemonic-out) or read (--mnemonic-file or
 *      a no-echo prompt) and checked (words, checksum); the keystore
 *      password from its file or a no-echo prompt asked twice;
 *   3. the seed, then per validator the library pipeline
 *      deposit_validator_derive() (eth2/deposit.c): keys, credentials,
 *      signed and verified deposit data; each keystore is written in
 *      staking-deposit-cli's layout and decrypted back to check it;
 *   4. everything is written into a private staging directory next to
 *      --out, which is renamed to --out (RENAME_NOREPLACE) only when all of
 *      it is complete. Any failure removes the staging directory (and a
 *      --mnemonic-out written by this run): a refused run leaves nothing.
 *
 * File names and contents follow staking-deposit-cli (credentials.py):
 * keystore-m_12381_3600_<i>_0_0-<unix time>.json and
 * deposit_data-<unix time>.json, mode 0440. The mnemonic, seed, password
 * and keys live in struct secret; nothing secret reaches stdout, stderr or
 * an error message (the new mnemonic is shown on /dev/tty only).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "eth2/eth2.h"
#include "tools/keys_cli.h"

#define MAX_VALIDATORS 100000
#define OUTPUT_MODE 0440
#define MNEMONIC_OUT_MODE 0600
#define CONFIRM_TRIES 3

static const char *const CHAINS[] = {"mainnet", "hoodi", "sepolia", "holesky",
				     NULL};

struct plan {
	bool existing;
	uint32_t start, count;
	struct eth2_network net;
	struct deposit_withdrawal w;
	uint64_t amount;
	struct keystore_params kp;
	char out[PATH_MAX];
};

/* ---- step 1: flags ------------------------------------------------------ */

static int parse_u32(const char *s, const char *flag, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	if (dec_parse_u64(s, out, NULL, "") < 0 || *out < min || *out > max)
		return keys_usage_error("%s: expected an integer in [%llu, %llu], "
					"got %s",
					flag, (unsigned long long)min,
					(unsigned long long)max, s);
	return 0;
}

static int parse_chain(const char *name, struct eth2_network *net)
{
	struct err e = {0};
	bool known = false;
	for (const char *const *c = CHAINS; *c; c++)
		known = known || strcmp(*c, name) == 0;
	if (!known)
		return keys_usage_error("--chain: expected mainnet, hoodi, "
					"sepolia or holesky, got %s",
					name);
	if (eth2_network_load(name, net, &e) < 0)
		return keys_usage_error("--chain: %s", e.msg);
	return 0;
}

static int parse_withdrawal(const struct keys_args *a, struct deposit_withdrawal *w)
{
	struct err e = {0};
	memset(w, 0, sizeof(*w));
	if (!!a->withdrawal_address == a->bls_withdrawal)
		return keys_usage_error("give exactly one of --withdrawal-address "
					"and --bls-withdrawal");
	if (a->bls_withdrawal) {
		if (a->compounding)
			return keys_usage_error("--compounding needs "
						"--withdrawal-address (0x02 "
						"credentials name an address)");
		w->kind = DEPOSIT_WITHDRAWAL_BLS;
		return 0;
	}
	if (eth_address_parse_checksummed(a->withdrawal_address, w->address,
					  &e, "--withdrawal-address") < 0)
		return keys_usage_error("%s", e.msg);
	w->kind = a->compounding ? DEPOSIT_WITHDRAWAL_COMPOUNDING
				 : DEPOSIT_WITHDRAWAL_EXECUTION;
	return 0;
}

static int parse_amount(const struct keys_args *a, struct plan *p)
{
	struct err e = {0};
	p->amount = DEPOSIT_MAX_GWEI;
	if (!a->amount)
		return 0;
	if (deposit_parse_amount(a->amount, p->w.kind, &p->amount, &e,
				 "--amount") < 0)
		return keys_usage_error("%s", e.msg);
	if (p->w.kind != DEPOSIT_WITHDRAWAL_COMPOUNDING &&
	    p->amount != DEPOSIT_MAX_GWEI)
		return keys_usage_error("--amount: only 32 ETH without "
					"--compounding (as ethstaker-deposit-cli)");
	return 0;
}

static int refuse_existing_path(const char *path, const char *flag)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return keys_usage_error("%s: %s already exists (nitro-keys never "
					"writes into or over existing output)",
					flag, path);
	return 0;
}

static int parse_plan(const struct keys_args *a, bool existing, struct plan *p)
{
	uint64_t v = 0;
	int rc;
	memset(p, 0, sizeof(*p));
	p->existing = existing;
	if ((rc = keys_need(a->num_validators, "--num-validators")) ||
	    (rc = keys_need(a->chain, "--chain")) ||
	    (rc = keys_need(a->out, "--out")) ||
	    (existing &&
	     (rc = keys_need(a->start_index, "--validator-start-index"))))
		return rc;
	if ((rc = parse_u32(a->num_validators, "--num-validators", 1,
			    MAX_VALIDATORS, &v)))
		return rc;
	p->count = (uint32_t)v;
	v = 0;
	if (a->start_index &&
	    (rc = parse_u32(a->start_index, "--validator-start-index", 0,
			    UINT32_MAX, &v)))
		return rc;
	p->start = (uint32_t)v;
	if ((uint64_t)p->start + p->count - 1 > UINT32_MAX)
		return keys_usage_error(
			"--validator-start-index: %u + %u validators runs past "
			"index 2^32-1 (EIP-2334 indices are 32-bit)",
			p->start, p->count);
	if ((rc = parse_chain(a->chain, &p->net)) ||
	    (rc = parse_withdrawal(a, &p->w)) || (rc = parse_amount(a, p)) ||
	    (rc = keys_parse_kdf(a, &p->kp)))
		return rc;
	size_t n = strlen(a->out);
	while (n > 1 && a->out[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(p->out) - 32)
		return keys_usage_error("--out: empty or too long");
	memcpy(p->out, a->out, n);
	p->out[n] = '\0';
	if ((rc = refuse_existing_path(p->out, "--out")))
		return rc;
	if (a->mnemonic_out &&
	    (rc = refuse_existing_path(a->mnemonic_out, "--mnemonic-out")))
		return rc;
	return 0;
}

/* ---- step 2: the mnemonic ----------------------------------------------- */

static int read_existing_mnemonic(const struct keys_args *a,
				  struct secret **canonical, struct err *e)
{
	struct secret *text = NULL;
	if (a->mnemonic_file) {
		if (secret_read_file(a->mnemonic_file, &text, e) < 0)
			return err_prefix(e, "--mnemonic-file: ");
	} else if (!prompt_have_tty()) {
		return err_set(e, ERR_USAGE,
			       "--mnemonic-file: missing (and no terminal to "
			       "ask on)");
	} else {
		TRY(prompt_secret("Mnemonic (words separated by spaces): ",
				  &text, e));
	}
	int rc = bip39_mnemonic_check(text->bytes, text->len, 0, canonical, e);
	secret_free(text);
	if (rc < 0 && a->mnemonic_file)
		err_prefix(e, "--mnemonic-file: ");
	return rc;
}

static int same_secret(const struct secret *x, const struct secret *y)
{
	return x->len == y->len && CRYPTO_memcmp(x->bytes, y->bytes, x->len) == 0;
}

/* Shows the words once on the terminal and has the operator type them. */
static int show_and_confirm(const struct secret *mnemonic, struct err *e)
{
	TRY(prompt_show("\nThis is your mnemonic (seed phrase). Write it down "
			"and store it safely offline.\nIt is the ONLY way to "
			"recover your validator keys and your deposit.\n\n",
			e));
	TRY(prompt_show((const char *)mnemonic->bytes, e));
	TRY(prompt_show("\n\n", e));
	TRY(prompt_wait_enter("Press Enter when you have written it down. ",
			      e));
	/* Clear the screen and the scrollback before asking for it back. */
	TRY(prompt_show("\033[2J\033[3J\033[H", e));
	for (int i = 0; i < CONFIRM_TRIES; i++) {
		struct secret *typed = NULL, *canon = NULL;
		struct err ignore = {0};
		TRY(prompt_secret("Type your mnemonic to confirm you have "
				  "written it down: ",
				  &typed, e));
		int ok = bip39_mnemonic_check(typed->bytes, typed->len,
					      BIP39_MAX_WORDS, &canon,
					      &ignore) == 0 &&
			 same_secret(canon, mnemonic);
		secret_free(canon);
		secret_free(typed);
		if (ok)
			return 0;
		TRY(prompt_show("That is not the mnemonic shown. Try again.\n",
				e));
	}
	return err_set(e, ERR_INVALID,
		       "mnemonic: not confirmed; nothing was written");
}

/* The new mnemonic goes to the terminal or to --mnemonic-out, never both. */
static int new_mnemonic(const struct keys_args *a, struct secret **m,
			struct err *e)
{
	if (!a->mnemonic_out && !prompt_have_tty())
		return err_set(e, ERR_USAGE,
			       "--mnemonic-out: missing (and no terminal to "
			       "show the new mnemonic on)");
	TRY(bip39_generate(m, e));
	if (a->mnemonic_out)
		return 0;
	int rc = show_and_confirm(*m, e);
	if (rc < 0) {
		secret_free(*m);
		*m = NULL;
	}
	return rc;
}

static int write_mnemonic_out(const char *path, const struct secret *m,
			      struct err *e)
{
	struct secret *line = secret_new(m->len + 1);
	if (!line)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	memcpy(line->bytes, m->bytes, m->len);
	line->bytes[m->len] = '\n';
	int rc = file_write_atomic(path, line->bytes, line->len,
				   MNEMONIC_OUT_MODE, e);
	secret_free(line);
	return rc < 0 ? err_prefix(e, "--mnemonic-out: ") : 0;
}

/* ---- step 3: keys, keystores, deposit data ------------------------------ */

struct run {
	const struct plan *p;
	const struct secret *password;
	char staging[PATH_MAX];
	long long stamp;
	struct deposit_data *deposits;
	char (*pubkeys)[2 * BLS_PUBKEY_LEN + 3];
};

static int keystore_name(const struct run *r, const char *path, char *out,
			 size_t n)
{
	char flat[EIP2334_PATH_MAX];
	size_t i = 0;
	for (; path[i] && i + 1 < sizeof(flat); i++)
		flat[i] = path[i] == '/' ? '_' : path[i];
	flat[i] = '\0';
	int w = snprintf(out, n, "keystore-%s-%lld.json", flat, r->stamp);
	return w > 0 && (size_t)w < n ? 0 : -ERR_INVALID;
}

/* Decrypts the file just written: the same check staking-deposit-cli makes. */
static int verify_keystore_file(const char *file, const struct bls_key *k,
				const struct secret *pw, struct err *e)
{
	char *json = NULL;
	size_t len = 0;
	struct bls_key *back = NULL;
	int rc;
	TRY(file_read_all(file, KEYSTORE_MAX_JSON, &json, &len, e));
	rc = keystore_decrypt(json, len, pw, &back, e);
	if (rc == 0 && memcmp(back->pubkey, k->pubkey, BLS_PUBKEY_LEN) != 0)
		rc = err_set(e, ERR_INTERNAL,
			     "keystore %s: decrypts to another key", file);
	bls_key_free(back);
	free(json);
	return rc;
}

static int write_validator(struct run *r, const struct deposit_validator *v,
			   struct err *e)
{
	char name[256], file[PATH_MAX + 256];
	char *json = NULL;
	struct keystore_params kp = r->p->kp;
	int rc;
	kp.path = v->signing_path;
	kp.description = NULL; /* staking-deposit-cli writes "" */
	if (keystore_name(r, v->signing_path, name, sizeof(name)) < 0)
		return err_set(e, ERR_INTERNAL, "keystore name too long");
	snprintf(file, sizeof(file), "%s/%s", r->staging, name);
	TRY_OUT(keystore_encrypt(v->key, r->password, &kp, &json, e));
	TRY_OUT(keystore_format_deposit_cli(&json, e));
	TRY_OUT(file_write_atomic(file, json, strlen(json), OUTPUT_MODE, e));
	TRY_OUT(verify_keystore_file(file, v->key, r->password, e));
out:
	free(json);
	return rc;
}

static int derive_all(struct run *r, const struct secret *seed,
		      struct err *e)
{
	const struct plan *p = r->p;
	uint64_t t0 = clock_mono_us();
	for (uint32_t i = 0; i < p->count; i++) {
		struct deposit_validator v;
		TRY(deposit_validator_derive(seed, p->start + i, &p->w,
					     p->amount, &p->net, &v, e));
		int rc = write_validator(r, &v, e);
		if (rc == 0) {
			r->deposits[i] = v.deposit;
			hex_encode(v.key->pubkey, BLS_PUBKEY_LEN, r->pubkeys[i]);
		}
		deposit_validator_clear(&v);
		if (rc < 0)
			return err_prefix(e, "validator %u: ", p->start + i);
		/* progress: n of N, the rate so far and the time left at it
		 * (each keystore's KDF makes this minutes for many keys) */
		double s_done = (double)(clock_mono_us() - t0) / 1e6;
		double rate = s_done > 0 ? (i + 1) / s_done : 0;
		fprintf(stderr, "nitro-keys: validator %u: %s (%u of %u, %.2f/s, "
			"about %.0f s left)\n", p->start + i, r->pubkeys[i],
			i + 1, p->count, rate,
			rate > 0 ? (p->count - i - 1) / rate : 0.0);
	}
	char *json = NULL;
	char file[PATH_MAX + 64];
	snprintf(file, sizeof(file), "%s/deposit_data-%lld.json", r->staging,
		 r->stamp);
	TRY(deposit_data_json(r->deposits, p->count, &json, e));
	int rc = file_write_atomic(file, json, strlen(json), OUTPUT_MODE, e);
	free(json);
	return rc;
}

/* ---- step 4: staging directory ------------------------------------------ */

static void remove_staging(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				(void)unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
	(void)rmdir(dir);
}

static int make_staging(struct run *r, struct err *e)
{
	int n = snprintf(r->staging, sizeof(r->staging), "%s.partial-XXXXXX",
			 r->p->out);
	if (n < 0 || (size_t)n >= sizeof(r->staging))
		return err_set(e, ERR_INVALID, "--out: path too long");
	if (!mkdtemp(r->staging)) {
		int err = errno;
		r->staging[0] = '\0';
		return err_set(e, ERR_IO,
			       "--out: cannot create a directory next to %s: %s",
			       r->p->out, strerror(err));
	}
	return 0;
}

static int publish(struct run *r, struct err *e)
{
	if (renameat2(AT_FDCWD, r->staging, AT_FDCWD, r->p->out,
		      RENAME_NOREPLACE) == 0)
		return 0;
	return err_set(e, ERR_IO, "--out: cannot create %s: %s", r->p->out,
		       strerror(errno));
}

static void print_summary(const struct run *r)
{
	for (uint32_t i = 0; i < r->p->count; i++) {
		char name[256];
		char path[EIP2334_PATH_MAX];
		eip2334_signing_path(r->p->start + i, path);
		if (keystore_name(r, path, name, sizeof(name)) == 0)
			printf("%s %s/%s\n", r->pubkeys[i], r->p->out, name);
	}
	printf("deposit data: %s/deposit_data-%lld.json\n", r->p->out, r->stamp);
	fflush(stdout);
}

/* ---- the command -------------------------------------------------------- */

static int generate(const struct keys_args *a, const struct plan *p,
		    struct err *e)
{
	struct secret *mnemonic = NULL, *passphrase = NULL, *password = NULL,
		      *seed = NULL;
	struct run r = {.p = p, .stamp = (long long)time(NULL)};
	bool wrote_mnemonic = false;
	int rc;
	r.deposits = calloc(p->count, sizeof(*r.deposits));
	r.pubkeys = calloc(p->count, sizeof(*r.pubkeys));
	if (!r.deposits || !r.pubkeys) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	TRY_OUT(keys_read_password(a->password_file, true, true, &password, e));
	if (p->existing) {
		TRY_OUT(read_existing_mnemonic(a, &mnemonic, e));
		if (a->mnemonic_password_file &&
		    secret_read_file(a->mnemonic_password_file, &passphrase, e) <
			    0) {
			rc = err_prefix(e, "--mnemonic-password-file: ");
			goto out;
		}
	} else {
		TRY_OUT(new_mnemonic(a, &mnemonic, e));
	}
	TRY_OUT(bip39_mnemonic_to_seed(mnemonic, passphrase, &seed, e));
	r.password = password;
	TRY_OUT(make_staging(&r, e));
	TRY_OUT(derive_all(&r, seed, e));
	if (a->mnemonic_out) {
		TRY_OUT(write_mnemonic_out(a->mnemonic_out, mnemonic, e));
		wrote_mnemonic = true;
	}
	TRY_OUT(publish(&r, e));
	r.staging[0] = '\0';
	print_summary(&r);
out:
	if (rc < 0 && wrote_mnemonic)
		(void)unlink(a->mnemonic_out);
	if (r.staging[0])
		remove_staging(r.staging);
	secret_free(seed);
	secret_free(password);
	secret_free(passphrase);
	secret_free(mnemonic);
	free(r.deposits);
	free(r.pubkeys);
	return rc;
}

int keys_cmd_mnemonic(const struct keys_args *a, bool existing)
{
	struct plan p;
	struct err e = {0};
	int rc;
	if ((rc = parse_plan(a, existing, &p)))
		return rc;
	if (generate(a, &p, &e) < 0)
		return keys_fail(&e);
	return 0;
}
