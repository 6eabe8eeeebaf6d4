/*
 * attestation_cmd.c: `nitro-keys attestation verify FILE [--root=PEM]
 * [--expect-pcr0=HEX] [--expect-pcr8=HEX] [--nonce=HEX] [--tls-cert=PEM]`.
 *
 * Reads an attestation document as raw CBOR or as standard base64 (padded or
 * not, one trailing newline allowed; a COSE document starts with 0x84 or
 * 0xD2, neither a base64 character, so the two cannot be confused), verifies
 * it with src/nitro (COSE ES384, chain to AWS's pinned root or to --root, at
 * the document's own timestamp: a stored document's certificates have long
 * expired by now) and prints one JSON object with its fields. The file is
 * untrusted; it is size-limited before anything parses it.
 *
 * The expectation flags turn it into the client's check of an enclave's
 * GET /attestation (docs/enclave.md): PCR0 is the image the client trusts,
 * PCR8 the certificate a signed image was signed with, the nonce is the one it sent, and user_data must be SHA-256 of the
 * SubjectPublicKeyInfo of the TLS certificate it was served.
 */
#include "tools/attestation_cmd.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "aws/aws.h"
#include "core/core.h"
#include "http/http.h"
#include "nitro/nitro.h"

#define CMD "nitro-keys attestation verify"
#define FILE_MAX (64 * 1024)
#define PCR0_LEN NITRO_PCR0_LEN
#define NONCE_MAX 512 /* the NSM's own limit */

static const char usage_text[] =
	"usage: nitro-keys attestation verify FILE [--root=PEM]\n"
	"       [--expect-pcr0=HEX] [--expect-pcr8=HEX] [--nonce=HEX]\n"
	"       [--tls-cert=PEM]\n"
	"\n"
	"Verifies a Nitro Enclaves attestation document (CBOR, or base64 with or\n"
	"without padding): COSE ES384 signature, certificate chain to the AWS\n"
	"root (or to the PEM certificate given by --root) at the document's own\n"
	"timestamp, field types and sizes. Prints one JSON object: module_id,\n"
	"timestamp (ms), digest, pcrs (index -> hex), public_key, user_data,\n"
	"nonce (hex or null).\n"
	"\n"
	"Each expectation given must also hold (the check of an enclave's\n"
	"GET /attestation?nonce=HEX):\n"
	"  --expect-pcr0=HEX  PCR0 equals these 48 bytes (96 hex digits)\n"
	"  --expect-pcr8=HEX  PCR8 equals these 48 bytes: the signing\n"
	"                     certificate of a signed image (nitro-keys eif\n"
	"                     describe); all zeros, what every unsigned image\n"
	"                     reports, is refused\n"
	"  --nonce=HEX        the nonce equals these bytes (1..512)\n"
	"  --tls-cert=PEM     user_data is SHA-256 of this certificate's\n"
	"                     SubjectPublicKeyInfo (the enclave's TLS key)\n"
	"and a second line says what was checked. HEX may start with 0x.\n"
	"\n"
	"Exit status: 0 valid, 1 invalid, unreadable or an expectation not met\n"
	"(one line naming it), 2 bad usage (naming the flag).\n";

struct expect {
	uint8_t pcr0[PCR0_LEN];
	bool has_pcr0;
	uint8_t pcr8[PCR0_LEN];
	bool has_pcr8;
	uint8_t *nonce;
	size_t nonce_len;
	uint8_t spki_sha256[32];
	const char *tls_cert; /* NULL: no user_data check */
};

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
								 ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, CMD ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see --help)\n");
	va_end(ap);
	return EXIT_USAGE;
}

static bool is_b64_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

/* Raw CBOR, or base64 (padding added when the writer left it out). */
static int decode_input(const char *buf, size_t len, uint8_t **out,
			size_t *out_len, struct err *e)
{
	size_t n = len;
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	bool b64 = n > 0;
	for (size_t i = 0; i < n && b64; i++)
		b64 = is_b64_char((uint8_t)buf[i]);
	if (!b64) {
		if (len > NITRO_DOC_MAX)
			return err_set(e, ERR_TOO_LARGE, "document over %d bytes",
				       NITRO_DOC_MAX);
		*out = malloc(len ? len : 1);
		if (!*out)
			return err_set(e, ERR_NOMEM, "out of memory");
		memcpy(*out, buf, len);
		*out_len = len;
		return 0;
	}
	if (n % 4 == 1)
		return err_set(e, ERR_INVALID, "base64 of impossible length");
	char *padded = malloc(n + 3);
	if (!padded)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(padded, buf, n);
	size_t m = n;
	while (m % 4)
		padded[m++] = '=';
	padded[m] = '\0';
	int rc = b64_decode(padded, out, out_len, e, "document");
	free(padded);
	return rc;
}

static json_t *hex_or_null(const struct nitro_bytes *b)
{
	if (!b->present)
		return json_null();
	char *s = malloc(2 * b->len + 3);
	if (!s)
		return NULL;
	hex_encode(b->p, b->len, s);
	json_t *j = json_string(s + 2); /* without "0x" */
	free(s);
	return j;
}

static int print_doc(const struct attestation_doc *d)
{
	json_t *pcrs = json_object();
	char hex[2 * NITRO_PCR_LEN_MAX + 3], key[4];
	for (int i = 0; pcrs && i < NITRO_PCR_COUNT; i++) {
		if (!(d->pcr_mask & (1u << i)))
			continue;
		hex_encode(d->pcrs[i], d->pcr_len, hex);
		snprintf(key, sizeof(key), "%d", i);
		json_object_set_new(pcrs, key, json_string(hex + 2));
	}
	json_t *o = json_pack("{s:s, s:I, s:s, s:o, s:o*, s:o*, s:o*}",
			      "module_id", d->module_id,
			      "timestamp", (json_int_t)d->timestamp_ms,
			      "digest", d->digest,
			      "pcrs", pcrs,
			      "public_key", hex_or_null(&d->public_key),
			      "user_data", hex_or_null(&d->user_data),
			      "nonce", hex_or_null(&d->nonce));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s) {
		fprintf(stderr, CMD ": out of memory\n");
		return 1;
	}
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	return 0;
}

/* What did not match, or NULL (src/nitro's check, named by our flags). */
static const char *mismatch(const struct attestation_doc *d,
			    const struct expect *x)
{
	struct attestation_expect ax = {
		.pcr0 = x->has_pcr0 ? x->pcr0 : NULL,
		.pcr8 = x->has_pcr8 ? x->pcr8 : NULL,
		.nonce = x->nonce,
		.nonce_len = x->nonce_len,
		.user_data = x->tls_cert ? x->spki_sha256 : NULL,
		.user_data_len = sizeof(x->spki_sha256),
	};
	switch (attestation_check_expect(d, &ax)) {
	case ATTESTATION_MISMATCH_PCR0:
		return "PCR0 does not match --expect-pcr0";
	case ATTESTATION_MISMATCH_PCR8:
		return "PCR8 does not match --expect-pcr8 (not an image signed "
		       "with that certificate)";
	case ATTESTATION_MISMATCH_NONCE:
		return "the nonce does not match --nonce";
	case ATTESTATION_MISMATCH_USER_DATA:
		return "user_data is not SHA-256 of the --tls-cert certificate's "
		       "public key";
	case ATTESTATION_MATCH:
		break;
	}
	return NULL;
}

static void print_checked(const struct expect *x)
{
	printf("checked: signature and certificate chain%s%s%s%s\n",
	       x->has_pcr0 ? ", PCR0" : "", x->has_pcr8 ? ", PCR8" : "",
	       x->nonce ? ", nonce" : "",
	       x->tls_cert ? ", user_data = SHA-256(SPKI of the TLS certificate)"
			   : "");
	fflush(stdout);
}

static int verify(const char *path, const char *root_pem,
		  const struct expect *x)
{
	struct err e = {0};
	char *buf = NULL;
	size_t len, doc_len, root_len = 0;
	uint8_t *doc = NULL, *root = NULL;
	struct attestation_doc *d = NULL;
	int status = 1;
	if (file_read_all(path, FILE_MAX, &buf, &len, &e) < 0 ||
	    decode_input(buf, len, &doc, &doc_len, &e) < 0 ||
	    (root_pem &&
	     attestation_root_from_pem_file(root_pem, &root, &root_len, &e) < 0))
		goto out;
	struct attestation_verify_opts opts = {root, root_len, 0, 0};
	if (attestation_verify(doc, doc_len, &opts, &d, &e) < 0)
		goto out;
	const char *why = mismatch(d, x);
	if (why) {
		err_set(&e, ERR_INVALID, "%s", why);
		goto out;
	}
	status = print_doc(d);
	if (status == 0 &&
	    (x->has_pcr0 || x->has_pcr8 || x->nonce || x->tls_cert))
		print_checked(x);
out:
	if (status != 0 && e.msg[0])
		fprintf(stderr, CMD ": %s: %s\n", path, e.msg);
	attestation_doc_free(d);
	free(root);
	free(doc);
	free(buf);
	return status;
}

/* Hex with or without 0x, through core's strict reader. */
static int parse_hex(const char *s, size_t max, uint8_t **out, size_t *len)
{
	char *h = malloc(strlen(s) + 3);
	if (!h)
		return -ERR_NOMEM;
	snprintf(h, strlen(s) + 3, "%s%s",
		 s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? "" : "0x", s);
	int rc = hex_decode_alloc(h, max, out, len, NULL, "hex");
	free(h);
	if (rc == 0 && *len == 0) {
		free(*out);
		*out = NULL;
		rc = -ERR_INVALID;
	}
	return rc;
}

/* SHA-256 of the PEM certificate's SubjectPublicKeyInfo DER. */
static int cert_spki_sha256(const char *path, uint8_t out[32])
{
	char *pem = NULL;
	size_t len = 0;
	X509 *cert = NULL;
	int rc = -ERR_INVALID;
	if (file_read_all(path, FILE_MAX, &pem, &len, NULL) == 0) {
		BIO *b = BIO_new_mem_buf(pem, (int)len);
		cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	}
	if (cert && http_tls_spki_sha256(cert, out) == 0)
		rc = 0;
	X509_free(cert);
	free(pem);
	return rc;
}

/* A PCR value of flag: exactly PCR0_LEN bytes of hex; 0, or 2 (usage). */
static int parse_pcr(const char *flag, const char *v, uint8_t out[PCR0_LEN])
{
	uint8_t *b = NULL;
	size_t n = 0;
	if (parse_hex(v, PCR0_LEN, &b, &n) < 0 || n != PCR0_LEN) {
		free(b);
		return usage_error("%s must be %d bytes of hex", flag, PCR0_LEN);
	}
	memcpy(out, b, PCR0_LEN);
	free(b);
	return 0;
}

/* The expectation flags' values; 2 (usage) naming the flag when bad. */
static int parse_expect(const char *pcr0, const char *pcr8, const char *nonce,
			struct expect *x)
{
	int rc;
	if (pcr0) {
		if ((rc = parse_pcr("--expect-pcr0", pcr0, x->pcr0)) != 0)
			return rc;
		x->has_pcr0 = true;
	}
	if (pcr8) {
		if ((rc = parse_pcr("--expect-pcr8", pcr8, x->pcr8)) != 0)
			return rc;
		if (nitro_pcr_is_zero(x->pcr8, PCR0_LEN))
			return usage_error("--expect-pcr8 is all zeros, which every "
					   "unsigned image reports: give the "
					   "signing certificate's PCR8");
		x->has_pcr8 = true;
	}
	if (nonce && parse_hex(nonce, NONCE_MAX, &x->nonce, &x->nonce_len) < 0)
		return usage_error("--nonce must be 1..%d bytes of hex", NONCE_MAX);
	if (x->tls_cert && cert_spki_sha256(x->tls_cert, x->spki_sha256) < 0)
		return usage_error("--tls-cert: %s is not a readable PEM "
				   "certificate", x->tls_cert);
	return 0;
}

enum { A_ROOT, A_PCR0, A_PCR8, A_NONCE, A_TLS_CERT, A_COUNT };
static const struct args_flag FLAGS[A_COUNT] = {
	{"root", ARGS_VALUE, A_ROOT, 0},
	{"expect-pcr0", ARGS_VALUE, A_PCR0, 0},
	{"expect-pcr8", ARGS_VALUE, A_PCR8, 0},
	{"nonce", ARGS_VALUE, A_NONCE, 0},
	{"tls-cert", ARGS_VALUE, A_TLS_CERT, 0},
};

int nitro_keys_attestation_main(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[2], "--help") == 0 ||
	    strcmp(argv[2], "-h") == 0) {
		fputs(usage_text, argc < 3 ? stderr : stdout);
		return argc < 3 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[2], "verify") != 0)
		return usage_error("unknown command %s", argv[2]);
	struct args_spec spec = {.cmd = "attestation verify", .flags = FLAGS,
				 .nflags = A_COUNT, .max_positional = 1};
	struct args a;
	struct err e = {0};
	if (args_parse(&spec, argc - 3, argv + 3, &a, &e) < 0)
		return usage_error("%s", e.msg);
	if (a.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (a.npositional == 0)
		return usage_error("FILE is required");
	struct expect x;
	memset(&x, 0, sizeof(x));
	x.tls_cert = args_get(&a, A_TLS_CERT);
	int rc = parse_expect(args_get(&a, A_PCR0), args_get(&a, A_PCR8),
			      args_get(&a, A_NONCE), &x);
	if (rc == 0)
		rc = verify(a.positional[0], args_get(&a, A_ROOT), &x);
	free(x.nonce);
	return rc;
}
