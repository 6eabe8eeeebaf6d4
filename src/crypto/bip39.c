/*
 * bip39.c: BIP-39 mnemonics (English list) and their seeds.
 *
 *   entropy (ENT bits) || first ENT/32 bits of SHA256(entropy)
 *     -> 11-bit groups -> words                  (generation)
 *   seed = PBKDF2-HMAC-SHA512(NFKD(words), "mnemonic" || NFKD(passphrase),
 *                             2048 iterations, 64 bytes)
 *
 * Operator text is untrusted and secret: it is normalised (NFKD, through
 * libunistring) into secure memory, split on ASCII whitespace, and every
 * word is looked up in the sorted list by binary search. A word may be
 * given by its first four letters, which are unique in the English list
 * (staking-deposit-cli accepts the same abbreviations); anything else that
 * is not an exact word is refused. The checksum is verified before a seed
 * is ever derived from operator text. Errors name the position of a bad
 * word, never the word. Indices, bit buffers and normalised text are wiped
 * (secret_free or OPENSSL_cleanse) on every path.
 */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#include <unistr.h>

#define MNEMONIC_TEXT_MAX 4096
#define PASSPHRASE_MAX 4096
/* NFKD grows UTF-8 text by at most this factor (Unicode UAX #15). */
#define WORD_MAX 8 /* longest English word */
#define ABBREV_LEN 4
#define SEED_ITERATIONS 2048
#define SALT_PREFIX "mnemonic"

/* ---- word list --------------------------------------------------------- */

/* First index whose word compares >= w[0..len) (binary search). */
static int lower_bound(const char *w, size_t len)
{
	int lo = 0, hi = BIP39_WORD_COUNT;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		const char *m = bip39_english[mid];
		size_t ml = strlen(m);
		int c = strncmp(m, w, ml < len ? ml : len);
		if (c < 0 || (c == 0 && ml < len))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bip39_word_index(const char *word, size_t len)
{
	if (len == 0 || len > WORD_MAX)
		return -1;
	int i = lower_bound(word, len);
	if (i < BIP39_WORD_COUNT && strlen(bip39_english[i]) == len &&
	    memcmp(bip39_english[i], word, len) == 0)
		return i;
	return -1;
}

/* Exact word, or the word whose first four letters these are. */
static int word_or_abbrev_index(const char *w, size_t len)
{
	int i = bip39_word_index(w, len);
	if (i >= 0 || len != ABBREV_LEN)
		return i;
	i = lower_bound(w, len);
	if (i < BIP39_WORD_COUNT &&
	    strncmp(bip39_english[i], w, ABBREV_LEN) == 0)
		return i;
	return -1;
}

/* ---- words <-> bits ---------------------------------------------------- */

static unsigned get_bits11(const uint8_t *buf, unsigned bit)
{
	unsigned v = 0;
	for (unsigned k = 0; k < 11; k++, bit++)
		v = (v << 1) | ((buf[bit / 8] >> (7 - bit % 8)) & 1u);
	return v;
}

static void put_bits11(uint8_t *buf, unsigned bit, unsigned v)
{
	for (int k = 10; k >= 0; k--, bit++)
		if ((v >> k) & 1u)
			buf[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

/* Words for indices, joined by single spaces, NUL-terminated. */
static int join_words(const uint16_t *idx, unsigned n, struct secret **out,
		      struct err *e)
{
	size_t total = 0;
	for (unsigned i = 0; i < n; i++)
		total += strlen(bip39_english[idx[i]]) + 1;
	struct secret *s = secret_new(total);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	size_t w = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t l = strlen(bip39_english[idx[i]]);
		if (i)
			s->bytes[w++] = ' ';
		memcpy(s->bytes + w, bip39_english[idx[i]], l);
		w += l;
	}
	s->bytes[w] = '\0';
	secret_truncate(s, w);
	*out = s;
	return 0;
}

int bip39_entropy_to_mnemonic(const uint8_t *entropy, size_t len,
			      struct secret **out, struct err *e)
{
	if (len < 16 || len > 32 || len % 4)
		return err_set(e, ERR_INVALID,
			       "entropy: must be 16..32 bytes, a multiple of 4");
	uint8_t buf[33], digest[SHA256_DIGEST_LENGTH];
	uint16_t idx[BIP39_MAX_WORDS];
	unsigned n = (unsigned)(len * 8 + len / 4) / 11;
	memcpy(buf, entropy, len);
	SHA256(entropy, len, digest);
	buf[len] = digest[0]; /* only the top len/4 bits are read */
	for (unsigned i = 0; i < n; i++)
		idx[i] = (uint16_t)get_bits11(buf, 11 * i);
	int rc = join_words(idx, n, out, e);
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(digest, sizeof(digest));
	OPENSSL_cleanse(idx, sizeof(idx));
	return rc;
}

int bip39_generate(struct secret **out, struct err *e)
{
	struct secret *ent = secret_new(32);
	if (!ent)
		return err_set(e, ERR_NOMEM, "out of secure memory");
	int rc;
	if (RAND_priv_bytes(ent->bytes, (int)ent->len) != 1)
		rc = err_set(e, ERR_CRYPTO, "random number generator failed");
	else
		rc = bip39_entropy_to_mnemonic(ent->bytes, ent->len, out, e);
	secret_free(ent);
	return rc;
}

/* ---- checking operator text ------------------------------------------- */

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Splits and looks up; *n words into idx. */
static int parse_words(const struct secret *norm, uint16_t *idx, unsigned *n,
		       struct err *e)
{
	char w[WORD_MAX + 1];
	unsigned count = 0;
	int rc = 0;
	size_t i = 0;
	while (rc == 0) {
		while (i < norm->len && is_space(norm->bytes[i]))
			i++;
		if (i == norm->len)
			break;
		size_t wl = 0;
		bool ok = true;
		while (i < norm->len && !is_space(norm->bytes[i])) {
			uint8_t c = norm->bytes[i++];
			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (c < 'a' || c > 'z' || wl == WORD_MAX)
				ok = false;
			else
				w[wl++] = (char)c;
		}
		if (count == BIP39_MAX_WORDS) {
			rc = err_set(e, ERR_INVALID,
				     "mnemonic: more than %d words",
				     BIP39_MAX_WORDS);
			break;
		}
		int k = ok ? word_or_abbrev_index(w, wl) : -1;
		if (k < 0) {
			rc = err_set(e, ERR_INVALID,
				     "mnemonic: word %u is not in the BIP-39 "
				     "English word list",
				     count + 1);
			break;
		}
		idx[count++] = (uint16_t)k;
	}
	OPENSSL_cleanse(w, sizeof(w));
	*n = count;
	return rc;
}

static int verify_checksum(const uint16_t *idx, unsigned n, struct err *e)
{
	uint8_t buf[33] = {0}, digest[SHA256_DIGEST_LENGTH];
	unsigned cs_bits = n / 3, ent_bytes = (n * 11 - cs_bits) / 8;
	for (unsigned i = 0; i < n; i++)
		put_bits11(buf, 11 * i, idx[i]);
	SHA256(buf, ent_bytes, digest);
	uint8_t mask = (uint8_t)(0xffu << (8 - cs_bits));
	bool good = ((buf[ent_bytes] ^ digest[0]) & mask) == 0;
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(digest, sizeof(digest));
	if (!good)
		return err_set(e, ERR_INVALID,
			       "mnemonic: checksum mismatch (a word is wrong or "
			       "the words are out of order)");
	return 0;
}

int bip39_mnemonic_check(const uint8_t *text, size_t len, unsigned want_words,
			 struct secret **canonical, struct err *e)
{
	struct secret *norm = NULL;
	uint16_t idx[BIP39_MAX_WORDS];
	unsigned n = 0;
	int rc;
	TRY(text_nfkd_secret(text, len, MNEMONIC_TEXT_MAX, "mnemonic", &norm, e));
	TRY_OUT(parse_words(norm, idx, &n, e));
	if (want_words && n != want_words) {
		rc = err_set(e, ERR_INVALID, "mnemonic: %u words, expected %u",
			     n, want_words);
		goto out;
	}
	if (n < 12 || n % 3) {
		rc = err_set(e, ERR_INVALID,
			     "mnemonic: %u words; BIP-39 has 12, 15, 18, 21 "
			     "or 24",
			     n);
		goto out;
	}
	TRY_OUT(verify_checksum(idx, n, e));
	TRY_OUT(join_words(idx, n, canonical, e));
out:
	OPENSSL_cleanse(idx, sizeof(idx));
	secret_free(norm);
	return rc;
}

/* ---- seed -------------------------------------------------------------- */

int bip39_mnemonic_to_seed(const struct secret *mnemonic,
			   const struct secret *passphrase, struct secret **seed,
			   struct err *e)
{
	struct secret *m = NULL, *p = NULL, *salt = NULL, *out = NULL;
	int rc;
	TRY_OUT(text_nfkd_secret(mnemonic->bytes, mnemonic->len, MNEMONIC_TEXT_MAX,
		     "mnemonic", &m, e));
	TRY_OUT(text_nfkd_secret(passphrase ? passphrase->bytes : NULL,
		     passphrase ? passphrase->len : 0, PASSPHRASE_MAX,
		     "mnemonic passphrase", &p, e));
	salt = secret_new(strlen(SALT_PREFIX) + p->len);
	out = secret_new(BIP39_SEED_LEN);
	if (!salt || !out) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	memcpy(salt->bytes, SALT_PREFIX, strlen(SALT_PREFIX));
	if (p->len)
		memcpy(salt->bytes + strlen(SALT_PREFIX), p->bytes, p->len);
	/* PKCS5_PBKDF2_HMAC runs in PKCS#5 mode: no SP 800-132 salt minimum. */
	if (PKCS5_PBKDF2_HMAC((const char *)m->bytes, (int)m->len, salt->bytes,
			      (int)salt->len, SEED_ITERATIONS, EVP_sha512(),
			      BIP39_SEED_LEN, out->bytes) != 1) {
		rc = err_set(e, ERR_CRYPTO, "mnemonic: PBKDF2 failed");
		goto out;
	}
	*seed = out;
	out = NULL;
	rc = 0;
out:
	secret_free(out);
	secret_free(salt);
	secret_free(p);
	secret_free(m);
	return rc;
}
