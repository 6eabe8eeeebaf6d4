/*
 * test_bip39.c: BIP-39 mnemonics (src/crypto/bip39.c, bip39_english.c).
 *
 * The 24 English vectors are the BIP-39 specification's published test
 * vectors (bitcoin/bips bip-0039.mediawiki points to them), copied from
 * trezor/python-mnemonic vectors.json (MIT License, Copyright (c) 2013-2016
 * Pavol Rusnak) at commit b57a5ad77a981e743f4167ab2f7927a55c1e82a8: entropy,
 * mnemonic, and the seed with passphrase "TREZOR". The xprv column is not
 * used (BIP-32 is not part of Ethereum staking keys).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "crypto/crypto.h"

struct vector {
	const char *entropy, *mnemonic, *seed;
};

static const struct vector VECTORS[] = {
	{"00000000000000000000000000000000",
	 "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
	 "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04"},
	{"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
	 "legal winner thank year wave sausage worth useful legal winner thank yellow",
	 "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607"},
	{"80808080808080808080808080808080",
	 "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
	 "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c462a0358d18d69fe4f985ec81778c1b370b652a8"},
	{"ffffffffffffffffffffffffffffffff",
	 "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
	 "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069"},
	{"000000000000000000000000000000000000000000000000",
	 "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon agent",
	 "035895f2f481b1b0f01fcf8c289c794660b289981a78f8106447707fdd9666ca06da5a9a565181599b79f53b844d8a71dd9f439c52a3d7b3e8a79c906ac845fa"},
	{"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
	 "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal will",
	 "f2b94508732bcbacbcc020faefecfc89feafa6649a5491b8c952cede496c214a0c7b3c392d168748f2d4a612bada0753b52a1c7ac53c1e93abd5c6320b9e95dd"},
	{"808080808080808080808080808080808080808080808080",
	 "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter always",
	 "107d7c02a5aa6f38c58083ff74f04c607c2d2c0ecc55501dadd72d025b751bc27fe913ffb796f841c49b1d33b610cf0e91d3aa239027f5e99fe4ce9e5088cd65"},
	{"ffffffffffffffffffffffffffffffffffffffffffffffff",
	 "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo when",
	 "0cd6e5d827bb62eb8fc1e262254223817fd068a74b5b449cc2f667c3f1f985a76379b43348d952e2265b4cd129090758b3e3c2c49103b5051aac2eaeb890a528"},
	{"0000000000000000000000000000000000000000000000000000000000000000",
	 "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
	 "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8"},
	{"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
	 "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title",
	 "bc09fca1804f7e69da93c2f2028eb238c227f2e9dda30cd63699232578480a4021b146ad717fbb7e451ce9eb835f43620bf5c514db0f8add49f5d121449d3e87"},
	{"8080808080808080808080808080808080808080808080808080808080808080",
	 "letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless",
	 "c0c519bd0e91a2ed54357d9d1ebef6f5af218a153624cf4f2da911a0ed8f7a09e2ef61af0aca007096df430022f7a2b6fb91661a9589097069720d015e4e982f"},
	{"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	 "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote",
	 "dd48c104698c30cfe2b6142103248622fb7bb0ff692eebb00089b32d22484e1613912f0a5b694407be899ffd31ed3992c456cdf60f5d4564b8ba3f05a69890ad"},
	{"9e885d952ad362caeb4efe34a8e91bd2",
	 "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic",
	 "274ddc525802f7c828d8ef7ddbcdc5304e87ac3535913611fbbfa986d0c9e5476c91689f9c8a54fd55bd38606aa6a8595ad213d4c9c9f9aca3fb217069a41028"},
	{"6610b25967cdcca9d59875f5cb50b0ea75433311869e930b",
	 "gravity machine north sort system female filter attitude volume fold club stay feature office ecology stable narrow fog",
	 "628c3827a8823298ee685db84f55caa34b5cc195a778e52d45f59bcf75aba68e4d7590e101dc414bc1bbd5737666fbbef35d1f1903953b66624f910feef245ac"},
	{"68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c",
	 "hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length",
	 "64c87cde7e12ecf6704ab95bb1408bef047c22db4cc7491c4271d170a1b213d20b385bc1588d9c7b38f1b39d415665b8a9030c9ec653d75e65f847d8fc1fc440"},
	{"c0ba5a8e914111210f2bd131f3d5e08d",
	 "scheme spot photo card baby mountain device kick cradle pact join borrow",
	 "ea725895aaae8d4c1cf682c1bfd2d358d52ed9f0f0591131b559e2724bb234fca05aa9c02c57407e04ee9dc3b454aa63fbff483a8b11de949624b9f1831a9612"},
	{"6d9be1ee6ebd27a258115aad99b7317b9c8d28b6d76431c3",
	 "horn tenant knee talent sponsor spell gate clip pulse soap slush warm silver nephew swap uncle crack brave",
	 "fd579828af3da1d32544ce4db5c73d53fc8acc4ddb1e3b251a31179cdb71e853c56d2fcb11aed39898ce6c34b10b5382772db8796e52837b54468aeb312cfc3d"},
	{"9f6a2878b2520799a44ef18bc7df394e7061a224d2c33cd015b157d746869863",
	 "panda eyebrow bullet gorilla call smoke muffin taste mesh discover soft ostrich alcohol speed nation flash devote level hobby quick inner drive ghost inside",
	 "72be8e052fc4919d2adf28d5306b5474b0069df35b02303de8c1729c9538dbb6fc2d731d5f832193cd9fb6aeecbc469594a70e3dd50811b5067f3b88b28c3e8d"},
	{"23db8160a31d3e0dca3688ed941adbf3",
	 "cat swing flag economy stadium alone churn speed unique patch report train",
	 "deb5f45449e615feff5640f2e49f933ff51895de3b4381832b3139941c57b59205a42480c52175b6efcffaa58a2503887c1e8b363a707256bdd2b587b46541f5"},
	{"8197a4a47f0425faeaa69deebc05ca29c0a5b5cc76ceacc0",
	 "light rule cinnamon wrap drastic word pride squirrel upgrade then income fatal apart sustain crack supply proud access",
	 "4cbdff1ca2db800fd61cae72a57475fdc6bab03e441fd63f96dabd1f183ef5b782925f00105f318309a7e9c3ea6967c7801e46c8a58082674c860a37b93eda02"},
	{"066dca1a2bb7e8a1db2832148ce9933eea0f3ac9548d793112d9a95c9407efad",
	 "all hour make first leader extend hole alien behind guard gospel lava path output census museum junior mass reopen famous sing advance salt reform",
	 "26e975ec644423f4a4c4f4215ef09b4bd7ef924e85d1d17c4cf3f136c2863cf6df0a475045652c57eb5fb41513ca2a2d67722b77e954b4b3fc11f7590449191d"},
	{"f30f8c1da665478f49b001d94c5fc452",
	 "vessel ladder alter error federal sibling chat ability sun glass valve picture",
	 "2aaa9242daafcee6aa9d7269f17d4efe271e1b9a529178d7dc139cd18747090bf9d60295d0ce74309a78852a9caadf0af48aae1c6253839624076224374bc63f"},
	{"c10ec20dc3cd9f652c7fac2f1230f7a3c828389a14392f05",
	 "scissors invite lock maple supreme raw rapid void congress muscle digital elegant little brisk hair mango congress clump",
	 "7b4a10be9d98e6cba265566db7f136718e1398c71cb581e1b2f464cac1ceedf4f3e274dc270003c670ad8d02c4558b2f8e39edea2775c9e232c7cb798b069e88"},
	{"f585c11aec520db57dd353c69554b21a89b20fb0650966fa0a9d6f74fd989d8f",
	 "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold",
	 "01f5bced59dec48e362f2c45b5de68b9fd6c92c6634f44d6d40aab69056506f0e35524a518034ddc1192e1dacd32c1ed3eaa3c3b131c88ed8e7e54c49a5d0998"},
};
#define NVEC (sizeof(VECTORS) / sizeof(VECTORS[0]))

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s) / 2;
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

static struct secret *text_secret(const char *s)
{
	struct secret *t = secret_from(s, strlen(s));
	assert_non_null(t);
	return t;
}

static void test_all_24_spec_vectors(void **state)
{
	assert_int_equal(NVEC, 24);
	for (size_t i = 0; i < NVEC; i++) {
		uint8_t ent[32], seed[64];
		size_t n = unhex(VECTORS[i].entropy, ent, sizeof(ent));
		unhex(VECTORS[i].seed, seed, sizeof(seed));
		struct secret *m = NULL, *canon = NULL, *s = NULL;
		struct err e = {0};
		/* entropy -> words */
		assert_int_equal(bip39_entropy_to_mnemonic(ent, n, &m, &e), 0);
		assert_string_equal((const char *)m->bytes, VECTORS[i].mnemonic);
		/* words -> checked, canonical */
		assert_int_equal(bip39_mnemonic_check(
					 (const uint8_t *)VECTORS[i].mnemonic,
					 strlen(VECTORS[i].mnemonic), 0, &canon,
					 &e),
				 0);
		assert_int_equal(canon->len, m->len);
		assert_memory_equal(canon->bytes, m->bytes, m->len);
		/* words -> seed with passphrase TREZOR */
		struct secret *pass = text_secret("TREZOR");
		assert_int_equal(bip39_mnemonic_to_seed(canon, pass, &s, &e), 0);
		assert_int_equal(s->len, 64);
		assert_memory_equal(s->bytes, seed, 64);
		secret_free(pass);
		secret_free(s);
		secret_free(canon);
		secret_free(m);
	}
}

static void test_word_list_is_the_published_one(void **state)
{
	/* sha256 of the 2048 words joined by "\n" plus a final "\n" (english.txt). */
	static const char WANT[] =
		"2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda";
	static char all[BIP39_WORD_COUNT * 9];
	size_t n = 0;
	uint8_t d[32];
	char hex[67];
	for (int i = 0; i < BIP39_WORD_COUNT; i++) {
		n += (size_t)sprintf(all + n, "%s\n", bip39_english[i]);
		if (i)
			assert_true(strcmp(bip39_english[i - 1],
					   bip39_english[i]) < 0);
		assert_int_equal(bip39_word_index(bip39_english[i],
						  strlen(bip39_english[i])),
				 i);
	}
	SHA256((const uint8_t *)all, n, d);
	hex_encode(d, 32, hex);
	assert_string_equal(hex + 2, WANT);
	assert_int_equal(bip39_word_index("abandonx", 8), -1);
	assert_int_equal(bip39_word_index("", 0), -1);
}

static int check(const char *text, unsigned want, struct secret **canon,
		 struct err *e)
{
	return bip39_mnemonic_check((const uint8_t *)text, strlen(text), want,
				    canon, e);
}

static void test_wrong_checksum_refused(void **state)
{
	struct secret *c = NULL;
	struct err e = {0};
	/* Last word changed: every word valid, checksum wrong. */
	assert_true(check("abandon abandon abandon abandon abandon abandon "
			  "abandon abandon abandon abandon abandon abandon",
			  0, &c, &e) < 0);
	assert_non_null(strstr(e.msg, "checksum"));
	assert_null(c);
	/* Two words swapped in a 24-word vector. */
	memset(&e, 0, sizeof(e));
	assert_true(check("zoo legal winner thank year wave sausage worth "
			  "useful legal winner thank year wave sausage worth "
			  "useful legal winner thank year wave sausage title",
			  0, &c, &e) < 0);
	assert_non_null(strstr(e.msg, "checksum"));
}

static void test_unknown_word_named_by_position_not_text(void **state)
{
	struct secret *c = NULL;
	struct err e = {0};
	assert_true(check("abandon abandon abandon abandon abandon abandon "
			  "abandon abandon abandon abandon bitcoinz about",
			  0, &c, &e) < 0);
	assert_non_null(strstr(e.msg, "word 11"));
	assert_null(strstr(e.msg, "bitcoinz"));
	memset(&e, 0, sizeof(e));
	/* Non-letters and over-long words are unknown words too. */
	assert_true(check("abandon1 abandon", 0, &c, &e) < 0);
	assert_non_null(strstr(e.msg, "word 1"));
	assert_true(check("abandonabandon about", 0, &c, &e) < 0);
	/* A three-letter prefix is not an abbreviation. */
	assert_true(check("aba aba aba aba aba aba aba aba aba aba aba abo", 0,
			  &c, &e) < 0);
}

static void test_word_counts(void **state)
{
	struct secret *c = NULL;
	struct err e = {0};
	assert_true(check("", 0, &c, &e) < 0);
	assert_true(check("abandon abandon abandon", 0, &c, &e) < 0);
	assert_non_null(strstr(e.msg, "3 words"));
	/* A valid 12-word mnemonic where 24 are required. */
	memset(&e, 0, sizeof(e));
	assert_true(check(VECTORS[0].mnemonic, 24, &c, &e) < 0);
	assert_non_null(strstr(e.msg, "expected 24"));
	/* 25 words. */
	char buf[512] = "";
	for (int i = 0; i < 25; i++)
		strcat(buf, "abandon ");
	assert_true(check(buf, 0, &c, &e) < 0);
	assert_null(c);
}

static void test_abbreviations_case_and_spacing_accepted(void **state)
{
	/* staking-deposit-cli's own test uses "aban ... abou". */
	struct secret *c = NULL;
	struct err e = {0};
	assert_int_equal(check("  aban aban aban aban aban aban\taban aban "
			       "aban aban ABAN Abou\n",
			       0, &c, &e),
			 0);
	assert_string_equal((const char *)c->bytes, VECTORS[0].mnemonic);
	secret_free(c);
	/* NFKD: full-width letters fold to ASCII (U+FF41 = 'a'). */
	c = NULL;
	assert_int_equal(check("abandon abandon abandon abandon abandon abandon "
			       "abandon abandon abandon abandon abandon "
			       "\xef\xbd\x81\xef\xbd\x82out",
			       0, &c, &e),
			 0);
	assert_string_equal((const char *)c->bytes, VECTORS[0].mnemonic);
	secret_free(c);
	/* Not UTF-8. */
	assert_true(check("abandon \xff", 0, &c, &e) < 0);
}

static void test_generate_gives_24_checked_words(void **state)
{
	struct secret *a = NULL, *b = NULL, *c = NULL;
	struct err e = {0};
	assert_int_equal(bip39_generate(&a, &e), 0);
	assert_int_equal(bip39_generate(&b, &e), 0);
	assert_false(a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0);
	assert_int_equal(bip39_mnemonic_check(a->bytes, a->len, 24, &c, &e), 0);
	assert_memory_equal(c->bytes, a->bytes, a->len);
	secret_free(a);
	secret_free(b);
	secret_free(c);
}

static void test_empty_passphrase_seed(void **state)
{
	/* The no-passphrase seed differs from the TREZOR one and is stable. */
	struct secret *m = text_secret(VECTORS[0].mnemonic);
	struct secret *s1 = NULL, *s2 = NULL, *empty = secret_new(0);
	struct err e = {0};
	assert_int_equal(bip39_mnemonic_to_seed(m, NULL, &s1, &e), 0);
	assert_int_equal(bip39_mnemonic_to_seed(m, empty, &s2, &e), 0);
	assert_memory_equal(s1->bytes, s2->bytes, 64);
	uint8_t trezor[64];
	unhex(VECTORS[0].seed, trezor, 64);
	assert_memory_not_equal(s1->bytes, trezor, 64);
	secret_free(m);
	secret_free(s1);
	secret_free(s2);
	secret_free(empty);
}

static void test_secrets_released(void **state)
{
	uint64_t before = secret_stats_live();
	struct secret *c = NULL;
	struct err e = {0};
	assert_true(check("abandon zzzz", 0, &c, &e) < 0);
	assert_int_equal(check(VECTORS[1].mnemonic, 0, &c, &e), 0);
	secret_free(c);
	assert_int_equal(secret_stats_live(), before);
}

int main(void)
{
	secret_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_24_spec_vectors),
		cmocka_unit_test(test_word_list_is_the_published_one),
		cmocka_unit_test(test_wrong_checksum_refused),
		cmocka_unit_test(test_unknown_word_named_by_position_not_text),
		cmocka_unit_test(test_word_counts),
		cmocka_unit_test(test_abbreviations_case_and_spacing_accepted),
		cmocka_unit_test(test_generate_gives_24_checked_words),
		cmocka_unit_test(test_empty_passphrase_seed),
		cmocka_unit_test(test_secrets_released),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
