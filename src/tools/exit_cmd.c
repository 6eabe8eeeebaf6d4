/*
 * exit_cmd.c: nitro-keys exit, a signed voluntary exit made offline, as
 * ethdo and ethstaker-deposit-cli (exit-transaction-keystore,
 * exit-transaction-mnemonic) make it. The enclave refuses VOLUNTARY_EXIT by
 * default, so operators sign exits here, away from the signer.
 *
 *   1. every flag is checked (chain, validator index, epoch, the key source,
 *      --out must not exist) before any secret is read;
 *   2. the key: an EIP-2335 keystore opened with its password, or the key at
 *      m/12381/3600/I/0/0 of a BIP-39 mnemonic read from a file (plus an
 *      optional BIP-39 passphrase);
 *   3. the signing root from eth2_voluntary_exit_signing(), which runs the
 *      signer's own VOLUNTARY_EXIT handler: from Deneb on the CAPELLA fork
 *      version (EIP-7044), and the chain's genesis validators root; signed
 *      and verified before anything is written;
 *   4. {"message":{"epoch":"E","validator_index":"N"},"signature":"0x.."},
 *      one line, on stdout or in --out (atomic, mode 0644: nothing secret),
 *      and one stderr line naming the pubkey, index, epoch and chain.
 *
 * The epoch defaults to the chain's current one (its genesis time and the
 * clock). A config file carries neither genesis time nor genesis validators
 * root, so --chain=PATH.yaml needs --epoch and --genesis-validators-root.
 * An epoch before CAPELLA on a chain that has DENEB is refused: it would be
 * signed with an older fork version, and a Deneb chain checks every exit
 * against Capella's.
 *
 * Trusts: nothing in the keystore or mnemonic file beyond what the crypto
 * library checks. The password, mnemonic, passphrase, seed and key stay in
 * struct secret / struct bls_key and reach no output or message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "eth2/eth2.h"
#include "tools/keys_cli.h"

#define EXIT_FILE_MODE 0644

static const char *const CHAINS[] = {"mainnet", "hoodi", "sepolia", "holesky",
				     NULL};

struct exit_plan {
	struct eth2_network net;
	uint8_t gvr[32];
	uint64_t epoch, validator_index;
	bool from_mnemonic;
	uint32_t key_index; /* EIP-2334 index, with --mnemonic-file */
};

/* ---- step 1: flags ------------------------------------------------------ */

static bool is_config_path(const char *s)
{
	size_t n = strlen(s);
	return strchr(s, '/') || (n > 5 && strcmp(s + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(s + n - 4, ".yml") == 0);
}

static int parse_u64(const char *s, const char *flag, uint64_t max,
		     uint64_t *out)
{
	if (dec_parse_u64(s, out, NULL, "") < 0 || *out > max)
		return keys_usage_error("%s: expected a decimal integer in "
					"[0, %llu], got %s",
					flag, (unsigned long long)max, s);
	return 0;
}

/* A public chain by name, or a consensus-spec config plus its gvr. */
static int parse_chain(const struct keys_args *a, struct exit_plan *p)
{
	struct err e = {0};
	bool known = false, config = is_config_path(a->chain);
	for (const char *const *c = CHAINS; *c; c++)
		known = known || strcmp(*c, a->chain) == 0;
	if (!known && !config)
		return keys_usage_error("--chain: expected mainnet, hoodi, "
					"sepolia, holesky or a config .yaml "
					"path, got %s",
					a->chain);
	if (eth2_network_load(a->chain, &p->net, &e) < 0)
		return keys_usage_error("--chain: %s", e.msg);
	if (!config) {
		if (a->genesis_validators_root)
			return keys_usage_error("--genesis-validators-root: only "
						"with --chain=PATH.yaml (%s "
						"carries its own)",
						a->chain);
		memcpy(p->gvr, p->net.genesis_validators_root, 32);
		return 0;
	}
	if (!a->genesis_validators_root)
		return keys_usage_error("--genesis-validators-root: required "
					"with --chain=PATH.yaml (a config file "
					"does not carry it)");
	if (hex_decode_exact(a->genesis_validators_root, p->gvr, 32, &e,
			     "--genesis-validators-root") < 0)
		return keys_usage_error("%s", e.msg);
	return 0;
}

/* Exactly one of the keystore and the mnemonic, with its own flags only. */
static int parse_key_source(const struct keys_args *a, struct exit_plan *p)
{
	uint64_t v = 0;
	int rc;
	if (!!a->keystore == !!a->mnemonic_file)
		return keys_usage_error("give exactly one of --keystore and "
					"--mnemonic-file");
	p->from_mnemonic = a->mnemonic_file != NULL;
	if (!p->from_mnemonic) {
		if (a->validator_key_index)
			return keys_usage_error("--validator-key-index: only "
						"with --mnemonic-file");
		if (a->mnemonic_password_file)
			return keys_usage_error("--mnemonic-password-file: "
						"only with --mnemonic-file");
		return keys_need(a->password_file, "--keystore-password-file");
	}
	if (a->password_file)
		return keys_usage_error("--keystore-password-file: only with "
					"--keystore");
	if ((rc = keys_need(a->validator_key_index, "--validator-key-index")) ||
	    (rc = parse_u64(a->validator_key_index, "--validator-key-index",
			    UINT32_MAX, &v)))
		return rc;
	p->key_index = (uint32_t)v;
	return 0;
}

/* --epoch, or the chain's current epoch; never one a Deneb chain rejects. */
static int parse_epoch(const struct keys_args *a, struct exit_plan *p)
{
	struct err e = {0};
	const struct eth2_network *n = &p->net;
	int rc;
	if (a->epoch) {
		if ((rc = parse_u64(a->epoch, "--epoch", UINT64_MAX, &p->epoch)))
			return rc;
	} else if (eth2_epoch_at_time(n, (uint64_t)time(NULL), &p->epoch,
				      &e) < 0) {
		return keys_usage_error("--epoch: missing, and the current "
					"epoch is unknown (%s)",
					e.msg);
	}
	uint64_t capella = n->forks[ETH2_FORK_CAPELLA].epoch;
	if (n->forks[ETH2_FORK_DENEB].epoch != ETH2_FAR_FUTURE_EPOCH &&
	    p->epoch < capella)
		return keys_usage_error(
			"--epoch: %llu is before CAPELLA (epoch %llu on %s); "
			"since Deneb the chain checks exits against the "
			"CAPELLA fork version only (EIP-7044): give an epoch "
			">= %llu",
			(unsigned long long)p->epoch,
			(unsigned long long)capella, n->name,
			(unsigned long long)capella);
	return 0;
}

static int parse_plan(const struct keys_args *a, struct exit_plan *p)
{
	struct stat st;
	int rc;
	memset(p, 0, sizeof(*p));
	if ((rc = keys_need(a->chain, "--chain")) ||
	    (rc = keys_need(a->validator_index, "--validator-index")) ||
	    (rc = parse_u64(a->validator_index, "--validator-index",
			    UINT64_MAX, &p->validator_index)) ||
	    (rc = parse_key_source(a, p)) || (rc = parse_chain(a, p)) ||
	    (rc = parse_epoch(a, p)))
		return rc;
	if (a->out && lstat(a->out, &st) == 0)
		return keys_usage_error("--out: %s already exists (nitro-keys "
					"never writes over existing output)",
					a->out);
	return 0;
}

/* ---- step 2: the key ---------------------------------------------------- */

static int key_from_keystore(const struct keys_args *a, struct bls_key **k,
			     struct err *e)
{
	struct secret *pw = NULL;
	char *json = NULL;
	size_t len = 0;
	int rc;
	if (file_read_all(a->keystore, KEYSTORE_MAX_JSON, &json, &len, e) < 0)
		return err_prefix(e, "--keystore: ");
	TRY_OUT(keys_read_password(a->password_file, false, false, &pw, e));
	rc = keystore_decrypt(json, len, pw, k, e);
	if (rc < 0)
		err_prefix(e, "--keystore: %s: ", a->keystore);
out:
	secret_free(pw);
	free(json);
	return rc;
}

static int read_secret_file(const char *path, const char *flag,
			    struct secret **out, struct err *e)
{
	if (secret_read_file(path, out, e) < 0)
		return err_prefix(e, "%s: ", flag);
	return 0;
}

static int key_from_mnemonic(const struct keys_args *a,
			     const struct exit_plan *p, struct bls_key **k,
			     struct err *e)
{
	struct secret *text = NULL, *mnemonic = NULL, *passphrase = NULL,
		      *seed = NULL;
	char path[EIP2334_PATH_MAX];
	int rc;
	TRY_OUT(read_secret_file(a->mnemonic_file, "--mnemonic-file", &text,
				 e));
	rc = bip39_mnemonic_check(text->bytes, text->len, 0, &mnemonic, e);
	if (rc < 0) {
		err_prefix(e, "--mnemonic-file: ");
		goto out;
	}
	if (a->mnemonic_password_file)
		TRY_OUT(read_secret_file(a->mnemonic_password_file,
					 "--mnemonic-password-file",
					 &passphrase, e));
	TRY_OUT(bip39_mnemonic_to_seed(mnemonic, passphrase, &seed, e));
	eip2334_signing_path(p->key_index, path);
	TRY_OUT(eip2333_derive_path(seed, path, k, e));
out:
	secret_free(seed);
	secret_free(passphrase);
	secret_free(mnemonic);
	secret_free(text);
	return rc;
}

/* ---- steps 3 and 4: sign, write ----------------------------------------- */

static int sign_exit(const struct exit_plan *p, const struct bls_key *k,
		     uint8_t sig[BLS_SIG_LEN], struct err *e)
{
	struct eth2_signing s;
	TRY(eth2_voluntary_exit_signing(&p->net, p->gvr, p->epoch,
					p->validator_index, &s, e));
	bls_sign(k, s.signing_root, sizeof(s.signing_root), sig);
	if (bls_verify(k->pubkey, s.signing_root, sizeof(s.signing_root),
		       sig) < 0)
		return err_set(e, ERR_CRYPTO,
			       "the exit signature does not verify");
	return 0;
}

static int emit(const struct keys_args *a, const char *line, struct err *e)
{
	if (a->out) {
		if (file_write_atomic(a->out, line, strlen(line),
				      EXIT_FILE_MODE, e) < 0)
			return err_prefix(e, "--out: ");
		return 0;
	}
	if (fputs(line, stdout) < 0 || fflush(stdout) != 0)
		return err_set(e, ERR_IO, "cannot write to stdout");
	return 0;
}

static int make_exit(const struct keys_args *a, const struct exit_plan *p,
		     struct err *e)
{
	struct bls_key *k = NULL;
	uint8_t sig[BLS_SIG_LEN];
	char sig_hex[2 * BLS_SIG_LEN + 3], pk_hex[2 * BLS_PUBKEY_LEN + 3];
	char *line = NULL;
	int rc;
	if (p->from_mnemonic)
		TRY_OUT(key_from_mnemonic(a, p, &k, e));
	else
		TRY_OUT(key_from_keystore(a, &k, e));
	TRY_OUT(sign_exit(p, k, sig, e));
	hex_encode(sig, BLS_SIG_LEN, sig_hex);
	hex_encode(k->pubkey, BLS_PUBKEY_LEN, pk_hex);
	if (asprintf(&line,
		     "{\"message\":{\"epoch\":\"%llu\",\"validator_index\":"
		     "\"%llu\"},\"signature\":\"%s\"}\n",
		     (unsigned long long)p->epoch,
		     (unsigned long long)p->validator_index, sig_hex) < 0) {
		line = NULL;
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	TRY_OUT(emit(a, line, e));
	fprintf(stderr,
		"nitro-keys: signed voluntary exit: pubkey %s, validator index "
		"%llu, epoch %llu, chain %s%s%s\n",
		pk_hex, (unsigned long long)p->validator_index,
		(unsigned long long)p->epoch, p->net.name,
		a->out ? ", written to " : "", a->out ? a->out : "");
out:
	free(line);
	bls_key_free(k);
	return rc;
}

int keys_cmd_exit(const struct keys_args *a)
{
	struct exit_plan p;
	struct err e = {0};
	int rc = parse_plan(a, &p);
	if (rc)
		return rc;
	if (make_exit(a, &p, &e) < 0)
		return keys_fail(&e);
	return 0;
}
