/*
 * attestation_cmd.c: `nitro-keys attestation verify FILE [--root=PEM]`.
 *
 * Reads an attestation document as raw CBOR or as standard base64 (padded or
 * not, one trailing newline allowed; a COSE document starts with 0x84 or
 * 0xD2, neither a base64 character, so the two cannot be confused), verifies
 * it with src/nitro (COSE ES384, chain to AWS's pinned root or to --root, at
 * the document's own timestamp: a stored document's certificates have long
 * expired by now) and prints one JSON object with its fields. The file is
 * untrusted; it is size-limited before anything parses it.
 */
#include "tools/attestation_cmd.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "nitro/nitro.h"

#define CMD "nitro-keys attestation verify"
#define FILE_MAX (64 * 1024)

static const char usage_text[] =
	"usage: nitro-keys attestation verify FILE [--root=PEM]\n"
	"\n"
	"Verifies a Nitro Enclaves attestation document (CBOR, or base64 with or\n"
	"without padding): COSE ES384 signature, certificate chain to the AWS\n"
	"root (or to the PEM certificate given by --root) at the document's own\n"
	"timestamp, field types and sizes. Prints one JSON object: module_id,\n"
	"timestamp (ms), digest, pcrs (index -> hex), public_key, user_data,\n"
	"nonce (hex or null).\n"
	"\n"
	"Exit status: 0 valid, 1 invalid or unreadable, 2 bad usage.\n";

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt,
								 ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, CMD ": ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see --help)\n");
	va_end(ap);
	return 2;
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
	int rc = aws_b64_decode(padded, out, out_len, e, "document");
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

static int verify(const char *path, const char *root_pem)
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
	status = print_doc(d);
out:
	if (status != 0 && e.msg[0])
		fprintf(stderr, CMD ": %s: %s\n", path, e.msg);
	attestation_doc_free(d);
	free(root);
	free(doc);
	free(buf);
	return status;
}

int nitro_keys_attestation_main(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[2], "--help") == 0 ||
	    strcmp(argv[2], "-h") == 0) {
		fputs(usage_text, argc < 3 ? stderr : stdout);
		return argc < 3 ? 2 : 0;
	}
	if (strcmp(argv[2], "verify") != 0)
		return usage_error("unknown command %s", argv[2]);
	const char *file = NULL, *root = NULL;
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strncmp(a, "--root=", 7) == 0) {
			if (root)
				return usage_error("%s given twice", "--root");
			if (!a[7])
				return usage_error("%s needs a file", "--root");
			root = a + 7;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("%s is not a flag of verify", a);
		} else if (file) {
			return usage_error("one FILE only, got also %s", a);
		} else {
			file = a;
		}
	}
	if (!file)
		return usage_error("FILE is required");
	return verify(file, root);
}
