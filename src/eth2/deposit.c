/*
 * deposit.c: validator deposit data, as staking-deposit-cli makes it.
 *
 *   DepositMessage = (pubkey: Bytes48, withdrawal_credentials: Bytes32,
 *                     amount: uint64)
 *   DepositData    = DepositMessage fields + signature: Bytes96
 *   domain         = compute_domain(DOMAIN_DEPOSIT, genesis fork version,
 *                                   zero genesis validators root)
 *   signature      = Sign(sk, hash_tree_root(SigningData(
 *                         hash_tree_root(DepositMessage), domain)))
 *
 * deposit_validator_derive() is the whole per-validator pipeline of
 * staking-deposit-cli's Credential class (credentials.py): EIP-2334 paths,
 * EIP-2333 keys from the seed, withdrawal credentials (0x00 from the
 * withdrawal key, 0x01/0x02 from an address), the signed DepositData. Every
 * signature is verified against the recomputed roots before it leaves this
 * file. JSON output follows credentials.py's export_deposit_data_json:
 * json.dump(list of dicts) with bytes as bare hex.
 *
 * Secrets: the seed and keys stay in struct secret / struct bls_key; the
 * withdrawal key is freed as soon as its public key is read.
 */
#include "eth2.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t DOMAIN_DEPOSIT_TYPE[4] = {0x03, 0, 0, 0};
static const uint8_t ZERO_ROOT[32];

/* ---- roots ------------------------------------------------------------- */

static void message_fields(const uint8_t pubkey[BLS_PUBKEY_LEN],
			   const uint8_t wc[32], uint64_t amount,
			   uint8_t f[4][32])
{
	(void)ssz_bytes_root(pubkey, BLS_PUBKEY_LEN, 2, f[0]);
	memcpy(f[1], wc, 32);
	ssz_uint64_root(amount, f[2]);
}

void deposit_compute_message_root(const uint8_t pubkey[BLS_PUBKEY_LEN],
			  const uint8_t withdrawal_credentials[32],
			  uint64_t amount_gwei, uint8_t out[32])
{
	uint8_t f[4][32];
	message_fields(pubkey, withdrawal_credentials, amount_gwei, f);
	(void)ssz_merkleize(&f[0][0], 3, 3, out);
}

void deposit_compute_data_root(const uint8_t pubkey[BLS_PUBKEY_LEN],
		       const uint8_t withdrawal_credentials[32],
		       uint64_t amount_gwei, const uint8_t sig[BLS_SIG_LEN],
		       uint8_t out[32])
{
	uint8_t f[4][32];
	message_fields(pubkey, withdrawal_credentials, amount_gwei, f);
	(void)ssz_bytes_root(sig, BLS_SIG_LEN, 3, f[3]);
	(void)ssz_merkleize(&f[0][0], 4, 4, out);
}

void deposit_bls_credentials(const uint8_t withdrawal_pk[BLS_PUBKEY_LEN],
			     uint8_t out[32])
{
	SHA256(withdrawal_pk, BLS_PUBKEY_LEN, out);
	out[0] = DEPOSIT_WITHDRAWAL_BLS;
}

void deposit_address_credentials(enum deposit_withdrawal_kind kind,
				 const uint8_t address[ETH_ADDRESS_LEN],
				 uint8_t out[32])
{
	memset(out, 0, 32);
	out[0] = (uint8_t)kind;
	memcpy(out + 12, address, ETH_ADDRESS_LEN);
}

/* ---- signing ----------------------------------------------------------- */

static uint64_t max_amount(uint8_t credential_prefix)
{
	return credential_prefix == DEPOSIT_WITHDRAWAL_COMPOUNDING
		       ? DEPOSIT_MAX_COMPOUNDING_GWEI
		       : DEPOSIT_MAX_GWEI;
}

static void signing_root(const struct deposit_data *d, uint8_t out[32])
{
	uint8_t domain[32];
	eth2_compute_domain(DOMAIN_DEPOSIT_TYPE, d->fork_version, ZERO_ROOT,
			    domain);
	eth2_compute_signing_root(d->deposit_message_root, domain, out);
}

int deposit_sign(const struct bls_key *k,
		 const uint8_t withdrawal_credentials[32], uint64_t amount_gwei,
		 const struct eth2_network *net, struct deposit_data *out,
		 struct err *e)
{
	uint8_t root[32];
	if (withdrawal_credentials[0] > DEPOSIT_WITHDRAWAL_COMPOUNDING)
		return err_set(e, ERR_INVALID,
			       "withdrawal credentials: unknown prefix 0x%02x",
			       withdrawal_credentials[0]);
	if (amount_gwei < DEPOSIT_MIN_GWEI ||
	    amount_gwei > max_amount(withdrawal_credentials[0]))
		return err_set(e, ERR_INVALID,
			       "amount: %llu gwei is outside [1, %llu] ETH",
			       (unsigned long long)amount_gwei,
			       (unsigned long long)(max_amount(
							    withdrawal_credentials[0]) /
						    DEPOSIT_GWEI_PER_ETH));
	memset(out, 0, sizeof(*out));
	memcpy(out->pubkey, k->pubkey, BLS_PUBKEY_LEN);
	memcpy(out->withdrawal_credentials, withdrawal_credentials, 32);
	out->amount_gwei = amount_gwei;
	memcpy(out->fork_version, net->forks[ETH2_FORK_PHASE0].version, 4);
	snprintf(out->network_name, sizeof(out->network_name), "%s",
		 net->name);
	deposit_compute_message_root(out->pubkey, out->withdrawal_credentials,
			     amount_gwei, out->deposit_message_root);
	signing_root(out, root);
	bls_sign(k, root, sizeof(root), out->signature);
	deposit_compute_data_root(out->pubkey, out->withdrawal_credentials, amount_gwei,
			  out->signature, out->deposit_data_root);
	return deposit_verify(out, e);
}

int deposit_verify(const struct deposit_data *d, struct err *e)
{
	uint8_t msg[32], data[32], root[32];
	deposit_compute_message_root(d->pubkey, d->withdrawal_credentials,
			     d->amount_gwei, msg);
	deposit_compute_data_root(d->pubkey, d->withdrawal_credentials, d->amount_gwei,
			  d->signature, data);
	if (memcmp(msg, d->deposit_message_root, 32) != 0)
		return err_set(e, ERR_INVALID,
			       "deposit_message_root: does not match the fields");
	if (memcmp(data, d->deposit_data_root, 32) != 0)
		return err_set(e, ERR_INVALID,
			       "deposit_data_root: does not match the fields");
	signing_root(d, root);
	if (bls_verify(d->pubkey, root, sizeof(root), d->signature) < 0)
		return err_set(e, ERR_CRYPTO,
			       "signature: does not verify for pubkey under "
			       "the deposit domain");
	return 0;
}

/* ---- JSON -------------------------------------------------------------- */

static json_t *hex_json(const uint8_t *b, size_t n)
{
	char buf[2 * BLS_SIG_LEN + 3];
	hex_encode(b, n, buf);
	return json_string(buf + 2);
}

static json_t *deposit_json(const struct deposit_data *d)
{
	/* json_pack keeps this order: staking-deposit-cli's dict order. */
	return json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:s, s:s}",
			 "pubkey", hex_json(d->pubkey, BLS_PUBKEY_LEN),
			 "withdrawal_credentials",
			 hex_json(d->withdrawal_credentials, 32), "amount",
			 (json_int_t)d->amount_gwei, "signature",
			 hex_json(d->signature, BLS_SIG_LEN),
			 "deposit_message_root",
			 hex_json(d->deposit_message_root, 32),
			 "deposit_data_root", hex_json(d->deposit_data_root, 32),
			 "fork_version", hex_json(d->fork_version, 4),
			 "network_name", d->network_name, "deposit_cli_version",
			 DEPOSIT_CLI_VERSION);
}

int deposit_data_json(const struct deposit_data *d, size_t n, char **out,
		      struct err *e)
{
	json_t *list = json_array();
	int rc = list ? 0 : -ERR_NOMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_t *o = deposit_json(&d[i]);
		if (!o || json_array_append_new(list, o) != 0)
			rc = -ERR_NOMEM;
	}
	/* No indent and no JSON_COMPACT: Python's ", " and ": " separators. */
	*out = rc == 0 ? json_dumps(list, JSON_ENSURE_ASCII) : NULL;
	json_decref(list);
	return *out ? 0 : err_set(e, ERR_NOMEM, "deposit data: out of memory");
}

/* ---- one validator from a seed ------------------------------------------ */

static int credentials_for(const struct secret *seed, uint32_t index,
			   const struct deposit_withdrawal *w, uint8_t wc[32],
			   struct err *e)
{
	if (w->kind == DEPOSIT_WITHDRAWAL_EXECUTION ||
	    w->kind == DEPOSIT_WITHDRAWAL_COMPOUNDING) {
		deposit_address_credentials(w->kind, w->address, wc);
		return 0;
	}
	if (w->kind != DEPOSIT_WITHDRAWAL_BLS)
		return err_set(e, ERR_INVALID, "withdrawal: unknown kind");
	char path[EIP2334_PATH_MAX];
	struct bls_key *wk = NULL;
	eip2334_withdrawal_path(index, path);
	TRY(eip2333_derive_path(seed, path, &wk, e));
	deposit_bls_credentials(wk->pubkey, wc);
	bls_key_free(wk);
	return 0;
}

int deposit_validator_derive(const struct secret *seed, uint32_t index,
			     const struct deposit_withdrawal *w,
			     uint64_t amount_gwei,
			     const struct eth2_network *net,
			     struct deposit_validator *out, struct err *e)
{
	uint8_t wc[32];
	int rc;
	memset(out, 0, sizeof(*out));
	out->index = index;
	eip2334_signing_path(index, out->signing_path);
	TRY(credentials_for(seed, index, w, wc, e));
	TRY_OUT(eip2333_derive_path(seed, out->signing_path, &out->key, e));
	TRY_OUT(deposit_sign(out->key, wc, amount_gwei, net, &out->deposit, e));
out:
	if (rc < 0)
		deposit_validator_clear(out);
	return rc;
}

void deposit_validator_clear(struct deposit_validator *v)
{
	if (!v)
		return;
	bls_key_free(v->key);
	v->key = NULL;
}

/* ---- amounts ----------------------------------------------------------- */

int deposit_parse_amount(const char *eth, enum deposit_withdrawal_kind kind,
			 uint64_t *gwei, struct err *e, const char *field)
{
	uint64_t whole = 0, frac = 0;
	unsigned digits = 0, frac_digits = 0;
	const char *p = eth;
	for (; *p >= '0' && *p <= '9'; p++, digits++)
		if ((whole = whole * 10 + (uint64_t)(*p - '0')) > 1000000)
			break;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && frac_digits < 10;
		     p++, frac_digits++)
			frac = frac * 10 + (uint64_t)(*p - '0');
	if (digits == 0 || *p || frac_digits > 9 || whole > 1000000 ||
	    (eth[0] == '0' && digits > 1) ||
	    (strchr(eth, '.') && frac_digits == 0))
		return err_set(e, ERR_INVALID,
			       "%s: expected an amount in ETH such as 32 or "
			       "32.5 (at most 9 decimals), got %s",
			       field, eth);
	for (unsigned i = frac_digits; i < 9; i++)
		frac *= 10;
	uint64_t v = whole * DEPOSIT_GWEI_PER_ETH + frac;
	uint64_t max = max_amount((uint8_t)kind);
	if (v < DEPOSIT_MIN_GWEI || v > max)
		return err_set(e, ERR_INVALID, "%s: %s ETH is outside [1, %llu]",
			       field, eth,
			       (unsigned long long)(max / DEPOSIT_GWEI_PER_ETH));
	*gwei = v;
	return 0;
}
