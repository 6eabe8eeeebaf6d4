/*
 * test_deposit.c: deposit data (src/eth2/deposit.c), EIP-55 addresses and
 * Keccak-256 (src/crypto/eth_address.c) and the staking-deposit-cli keystore
 * layout (src/crypto/keystore_format.c).
 *
 * Roots are recomputed here from the consensus spec with nothing but
 * SHA-256 (DepositMessage / DepositData / ForkData merkleization written
 * out chunk by chunk), withdrawal credentials from their definitions, and
 * the genesis fork versions are the ones staking-deposit-cli and
 * ethstaker-deposit-cli ship (settings.py), not ours. Keys come from the
 * BIP-39 and EIP-2333 code that test_bip39/test_eip2333 pin to spec vectors.
 * Keccak-256 and EIP-55 cases are from the EIP-55 text and the Keccak
 * reference digests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "crypto/crypto.h"
#include "eth2/eth2.h"

static const char MNEMONIC[] = "abandon abandon abandon abandon abandon "
			       "abandon abandon abandon abandon abandon "
			       "abandon about";

static void unhex(const char *s, uint8_t *out, size_t n)
{
	if (s[0] == '0' && s[1] == 'x')
		s += 2;
	assert_int_equal(strlen(s), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void h2(const uint8_t a[32], const uint8_t b[32], uint8_t out[32])
{
	uint8_t buf[64];
	memcpy(buf, a, 32);
	memcpy(buf + 32, b, 32);
	SHA256(buf, 64, out);
}

/* ---- spec roots, by hand ---- */

static void spec_pubkey_root(const uint8_t pk[48], uint8_t out[32])
{
	uint8_t c[2][32] = {{0}};
	memcpy(c[0], pk, 32);
	memcpy(c[1], pk + 32, 16);
	h2(c[0], c[1], out);
}

static void spec_sig_root(const uint8_t sig[96], uint8_t out[32])
{
	uint8_t c[4][32] = {{0}}, l[32], r[32];
	memcpy(c[0], sig, 32);
	memcpy(c[1], sig + 32, 32);
	memcpy(c[2], sig + 64, 32);
	h2(c[0], c[1], l);
	h2(c[2], c[3], r);
	h2(l, r, out);
}

static void spec_amount_chunk(uint64_t amount, uint8_t out[32])
{
	memset(out, 0, 32);
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(amount >> (8 * i));
}

static void spec_message_root(const struct deposit_data *d, uint8_t out[32])
{
	uint8_t pk[32], am[32], zero[32] = {0}, l[32], r[32];
	spec_pubkey_root(d->pubkey, pk);
	spec_amount_chunk(d->amount_gwei, am);
	h2(pk, d->withdrawal_credentials, l);
	h2(am, zero, r);
	h2(l, r, out);
}

static void spec_data_root(const struct deposit_data *d, uint8_t out[32])
{
	uint8_t pk[32], am[32], sig[32], l[32], r[32];
	spec_pubkey_root(d->pubkey, pk);
	spec_amount_chunk(d->amount_gwei, am);
	spec_sig_root(d->signature, sig);
	h2(pk, d->withdrawal_credentials, l);
	h2(am, sig, r);
	h2(l, r, out);
}

static void spec_signing_root(const uint8_t msg_root[32],
			      const uint8_t fork_version[4], uint8_t out[32])
{
	uint8_t fv[32] = {0}, zero[32] = {0}, fork_data[32], domain[32];
	memcpy(fv, fork_version, 4);
	h2(fv, zero, fork_data);
	domain[0] = 0x03; /* DOMAIN_DEPOSIT */
	domain[1] = domain[2] = domain[3] = 0;
	memcpy(domain + 4, fork_data, 28);
	h2(msg_root, domain, out);
}

/* ---- fixtures ---- */

static struct secret *seed_of(const char *words)
{
	struct secret *m = secret_from(words, strlen(words)), *seed = NULL;
	struct err e = {0};
	assert_int_equal(bip39_mnemonic_to_seed(m, NULL, &seed, &e), 0);
	secret_free(m);
	return seed;
}

static void load_net(const char *name, struct eth2_network *n)
{
	struct err e = {0};
	assert_int_equal(eth2_network_load(name, n, &e), 0);
}

static void check_against_spec(const struct deposit_data *d,
			       const char *fork_hex, const char *name)
{
	uint8_t fv[4], root[32], signing[32];
	unhex(fork_hex, fv, 4);
	assert_memory_equal(d->fork_version, fv, 4);
	assert_string_equal(d->network_name, name);
	spec_message_root(d, root);
	assert_memory_equal(d->deposit_message_root, root, 32);
	spec_data_root(d, root);
	assert_memory_equal(d->deposit_data_root, root, 32);
	spec_signing_root(d->deposit_message_root, fv, signing);
	assert_int_equal(bls_verify(d->pubkey, signing, 32, d->signature), 0);
}

static void test_bls_withdrawal_deposits_match_spec(void **state)
{
	static const struct {
		const char *chain, *fork;
	} chains[] = {{"mainnet", "00000000"},
		      {"hoodi", "10000910"},
		      {"sepolia", "90000069"},
		      {"holesky", "01017000"}};
	struct secret *seed = seed_of(MNEMONIC);
	struct deposit_withdrawal w = {.kind = DEPOSIT_WITHDRAWAL_BLS};
	for (size_t c = 0; c < 4; c++) {
		struct eth2_network net;
		load_net(chains[c].chain, &net);
		for (uint32_t i = 0; i < 3; i++) {
			struct deposit_validator v;
			struct err e = {0};
			assert_int_equal(deposit_validator_derive(
						 seed, i, &w, DEPOSIT_MAX_GWEI,
						 &net, &v, &e),
					 0);
			/* The signing key is m/12381/3600/i/0/0. */
			char path[64];
			struct bls_key *k = NULL, *wk = NULL;
			snprintf(path, sizeof(path), "m/12381/3600/%u/0/0", i);
			assert_string_equal(v.signing_path, path);
			assert_int_equal(eip2333_derive_path(seed, path, &k, &e), 0);
			assert_memory_equal(v.deposit.pubkey, k->pubkey, 48);
			/* 0x00 || SHA256(pubkey of m/12381/3600/i/0)[1:] */
			snprintf(path, sizeof(path), "m/12381/3600/%u/0", i);
			assert_int_equal(eip2333_derive_path(seed, path, &wk, &e),
					 0);
			uint8_t wc[32];
			SHA256(wk->pubkey, 48, wc);
			wc[0] = 0;
			assert_memory_equal(v.deposit.withdrawal_credentials, wc,
					    32);
			assert_int_equal(v.deposit.amount_gwei, 32000000000ull);
			check_against_spec(&v.deposit, chains[c].fork,
					   chains[c].chain);
			bls_key_free(k);
			bls_key_free(wk);
			deposit_validator_clear(&v);
		}
	}
	secret_free(seed);
}

static void test_address_and_compounding_credentials(void **state)
{
	struct secret *seed = seed_of(MNEMONIC);
	struct eth2_network net;
	struct deposit_withdrawal w;
	struct err e = {0};
	uint8_t want[32] = {0};
	load_net("hoodi", &net);
	assert_int_equal(eth_address_parse_checksummed(
				 "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
				 w.address, &e, "a"),
			 0);
	unhex("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", want + 12, 20);
	for (int kind = 1; kind <= 2; kind++) {
		struct deposit_validator v;
		uint64_t amount = kind == 2 ? 2048000000000ull : 32000000000ull;
		w.kind = (enum deposit_withdrawal_kind)kind;
		want[0] = (uint8_t)kind;
		assert_int_equal(deposit_validator_derive(seed, 5, &w, amount,
							  &net, &v, &e),
				 0);
		assert_memory_equal(v.deposit.withdrawal_credentials, want, 32);
		assert_int_equal(v.deposit.amount_gwei, amount);
		check_against_spec(&v.deposit, "10000910", "hoodi");
		deposit_validator_clear(&v);
	}
	/* 0x01 cannot carry more than 32 ETH; nobody less than 1 ETH. */
	struct deposit_validator v;
	w.kind = DEPOSIT_WITHDRAWAL_EXECUTION;
	assert_true(deposit_validator_derive(seed, 0, &w, 33000000000ull, &net,
					     &v, &e) < 0);
	assert_non_null(strstr(e.msg, "amount"));
	assert_null(v.key);
	w.kind = DEPOSIT_WITHDRAWAL_COMPOUNDING;
	assert_true(deposit_validator_derive(seed, 0, &w, 999999999ull, &net,
					     &v, &e) < 0);
	secret_free(seed);
}

static void test_tampering_detected(void **state)
{
	struct secret *seed = seed_of(MNEMONIC);
	struct eth2_network net;
	struct deposit_withdrawal w = {.kind = DEPOSIT_WITHDRAWAL_BLS};
	struct deposit_validator v;
	struct err e = {0};
	load_net("mainnet", &net);
	assert_int_equal(deposit_validator_derive(seed, 0, &w, DEPOSIT_MAX_GWEI,
						  &net, &v, &e),
			 0);
	struct deposit_data d = v.deposit;
	assert_int_equal(deposit_verify(&d, &e), 0);
	d.signature[5] ^= 1;
	assert_true(deposit_verify(&d, &e) < 0);
	d = v.deposit;
	d.amount_gwei--;
	assert_true(deposit_verify(&d, &e) < 0);
	d = v.deposit;
	d.fork_version[3] = 1; /* another network's domain */
	assert_true(deposit_verify(&d, &e) < 0);
	assert_non_null(strstr(e.msg, "signature"));
	deposit_validator_clear(&v);
	secret_free(seed);
}

static void test_json_is_staking_deposit_cli_format(void **state)
{
	struct deposit_data d[2];
	memset(d, 0, sizeof(d));
	for (int i = 0; i < 2; i++) {
		memset(d[i].pubkey, 0xa0 + i, 48);
		memset(d[i].withdrawal_credentials, 0x01, 32);
		d[i].amount_gwei = 32000000000ull;
		memset(d[i].signature, 0xb0, 96);
		memset(d[i].deposit_message_root, 0xc0, 32);
		memset(d[i].deposit_data_root, 0xd0, 32);
		memcpy(d[i].fork_version, "\x10\x00\x09\x10", 4);
		strcpy(d[i].network_name, "hoodi");
	}
	/* What json.dump(list, default=bytes.hex) writes for these values. */
	char want[4096] = "[", item[1024];
	for (int i = 0; i < 2; i++) {
		char pk[97], wc[65], sig[193], mr[65], dr[65];
		for (int k = 0; k < 48; k++)
			sprintf(pk + 2 * k, "%02x", 0xa0 + i);
		for (int k = 0; k < 32; k++) {
			sprintf(wc + 2 * k, "01");
			sprintf(mr + 2 * k, "c0");
			sprintf(dr + 2 * k, "d0");
		}
		for (int k = 0; k < 96; k++)
			sprintf(sig + 2 * k, "b0");
		snprintf(item, sizeof(item),
			 "%s{\"pubkey\": \"%s\", \"withdrawal_credentials\": "
			 "\"%s\", \"amount\": 32000000000, \"signature\": "
			 "\"%s\", \"deposit_message_root\": \"%s\", "
			 "\"deposit_data_root\": \"%s\", \"fork_version\": "
			 "\"10000910\", \"network_name\": \"hoodi\", "
			 "\"deposit_cli_version\": \"2.8.0\"}",
			 i ? ", " : "", pk, wc, sig, mr, dr);
		strcat(want, item);
	}
	strcat(want, "]");
	char *got = NULL;
	struct err e = {0};
	assert_int_equal(deposit_data_json(d, 2, &got, &e), 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_amount_parsing(void **state)
{
	static const struct {
		const char *s;
		int kind;
		uint64_t gwei; /* 0 = refused */
	} cases[] = {
		{"32", 1, 32000000000ull},
		{"1", 0, 1000000000ull},
		{"32.5", 2, 32500000000ull},
		{"2048", 2, 2048000000000ull},
		{"1.000000001", 2, 1000000001ull},
		{"33", 1, 0},
		{"2049", 2, 0},
		{"0.5", 2, 0},
		{"1.0000000001", 2, 0},
		{"01", 2, 0},
		{"", 2, 0},
		{"3e1", 2, 0},
		{"32.", 2, 0},
		{".5", 2, 0},
		{"-1", 2, 0},
		{"99999999999999999999999", 2, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t g = 0;
		struct err e = {0};
		int rc = deposit_parse_amount(cases[i].s,
					      (enum deposit_withdrawal_kind)
						      cases[i].kind,
					      &g, &e, "--amount");
		if (cases[i].gwei) {
			assert_int_equal(rc, 0);
			assert_int_equal(g, cases[i].gwei);
		} else {
			assert_true(rc < 0);
			assert_non_null(strstr(e.msg, "--amount"));
		}
	}
}

static void test_keccak_and_eip55(void **state)
{
	uint8_t d[32], want[32];
	assert_int_equal(keccak256((const uint8_t *)"", 0, d), 0);
	unhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
	      want, 32);
	assert_memory_equal(d, want, 32);
	assert_int_equal(keccak256((const uint8_t *)"abc", 3, d), 0);
	unhex("4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
	      want, 32);
	assert_memory_equal(d, want, 32);
	/* EIP-55's examples: each is its own checksum form. */
	static const char *const good[] = {
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint8_t a[20];
		char back[43];
		struct err e = {0};
		assert_int_equal(eth_address_parse_checksummed(good[i], a, &e,
							       "--x"),
				 0);
		assert_int_equal(eth_address_checksum(a, back), 0);
		assert_string_equal(back, good[i]);
	}
	static const char *const bad[] = {
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", /* one case flip */
		"0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", /* all lower */
		"0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", /* all upper */
		"5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t a[20];
		struct err e = {0};
		assert_true(eth_address_parse_checksummed(bad[i], a, &e,
							  "--withdrawal-address") <
			    0);
		assert_non_null(strstr(e.msg, "--withdrawal-address"));
	}
}

static void test_keystore_layout_is_deposit_cli(void **state)
{
	static const char *const kdfs[] = {"scrypt", "pbkdf2"};
	uint8_t sk[32];
	unhex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
	      sk, 32);
	struct bls_key *k = NULL, *back = NULL;
	struct secret *pw = secret_from("testpassword", 12);
	struct err e = {0};
	assert_int_equal(bls_key_from_bytes(sk, &k, &e), 0);
	for (int i = 0; i < 2; i++) {
		struct keystore_params p = {
			.kdf = i ? KEYSTORE_KDF_PBKDF2 : KEYSTORE_KDF_SCRYPT,
			.path = "m/12381/3600/0/0/0",
			.work_factor = i ? 16 : 16};
		char *json = NULL;
		assert_int_equal(keystore_encrypt(k, pw, &p, &json, &e), 0);
		assert_int_equal(keystore_format_deposit_cli(&json, &e), 0);
		/* json.dumps(asdict(Keystore)) key order and separators. */
		char head[128];
		snprintf(head, sizeof(head),
			 "{\"crypto\": {\"kdf\": {\"function\": \"%s\", "
			 "\"params\": {\"%s\": ",
			 kdfs[i], i ? "c" : "dklen");
		assert_memory_equal(json, head, strlen(head));
		assert_non_null(strstr(json, i ? "{\"c\": 16, \"dklen\": 32, "
						 "\"prf\": \"hmac-sha256\", "
						 "\"salt\": \""
					       : "{\"dklen\": 32, \"n\": 16, "
						 "\"r\": 8, \"p\": 1, \"salt\": "
						 "\""));
		assert_non_null(strstr(json, "}, \"checksum\": {\"function\": "
					     "\"sha256\", \"params\": {}, "
					     "\"message\": \""));
		assert_non_null(strstr(json, "\"}}, \"description\": \"\", "
					     "\"pubkey\": \"9612d7a727c9d0a2"));
		assert_non_null(strstr(json, "\", \"path\": "
					     "\"m/12381/3600/0/0/0\", \"uuid\": "
					     "\""));
		const char *tail = "\", \"version\": 4}";
		assert_string_equal(json + strlen(json) - strlen(tail), tail);
		assert_null(strchr(json, '\n'));
		/* And it still opens. */
		assert_int_equal(keystore_decrypt(json, strlen(json), pw, &back,
						  &e),
				 0);
		assert_memory_equal(back->pubkey, k->pubkey, 48);
		bls_key_free(back);
		free(json);
	}
	bls_key_free(k);
	secret_free(pw);
}

int main(void)
{
	secret_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bls_withdrawal_deposits_match_spec),
		cmocka_unit_test(test_address_and_compounding_credentials),
		cmocka_unit_test(test_tampering_detected),
		cmocka_unit_test(test_json_is_staking_deposit_cli_format),
		cmocka_unit_test(test_amount_parsing),
		cmocka_unit_test(test_keccak_and_eip55),
		cmocka_unit_test(test_keystore_layout_is_deposit_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
