/*
 * fuzz_aws_json.c: what an AWS endpoint (or whatever answers in its place:
 * a host proxy, a hostile network) sends back and we parse: the response
 * object parser, the error-shape parser (__type / message), IMDS/pushed
 * credentials JSON, ISO-8601 expirations and strict base64.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		secret_init();
		init = 1;
	}
	const char *body = (const char *)data;
	struct aws_error_info ei;
	/* Callers print ei.type whatever the outcome: a refused body must
	 * still leave "Unknown" there. */
	if (aws_json_error_parse(body, size, &ei) < 0 &&
	    strcmp(ei.type, "Unknown") != 0)
		abort();
	(void)aws_error_retryable(400, ei.type);

	json_t *obj = NULL;
	if (aws_json_parse_object(body, size, &obj, NULL) == 0) {
		struct aws_creds c;
		if (aws_creds_from_json(obj, &c, NULL) == 0)
			aws_creds_clear(&c);
		const json_t *v = json_object_get(obj, "CiphertextBlob");
		uint8_t *out = NULL;
		size_t n = 0;
		if (json_is_string(v) &&
		    b64_decode(json_string_value(v), &out, &n, NULL, "f") == 0)
			free(out);
		json_decref(obj);
	}
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t t;
	/* Only the parse is under test: its answer has no invariant here. */
	if (aws_parse_iso8601(s, &t) < 0) {
	}
	struct secret *sec = NULL;
	if (b64_decode_secret(s, &sec, NULL, "f") == 0)
		secret_free(sec);
	free(s);
	return 0;
}
