/*
 * json.c: what comes back from a JSON 1.0/1.1 AWS service. A success body
 * must be one JSON object under a size cap; an error body is
 * {"__type": "[prefix#]Name", "message"|"Message": "..."} (the type may also
 * arrive in the X-Amzn-ErrorType header, which the client passes in as the
 * fallback). Everything here reads untrusted bytes: jansson parses with
 * JSON_REJECT_DUPLICATES, strings are length-checked and control
 * characters are replaced before a message can reach a terminal or log.
 * tests/fuzz/fuzz_aws_json.c drives both parsers.
 */
#include "aws_internal.h"

#include <string.h>
#include <strings.h>

int aws_json_parse_object(const char *body, size_t len, json_t **out,
			  struct err *e)
{
	*out = NULL;
	if (len > AWS_MAX_RESPONSE)
		return err_set(e, ERR_TOO_LARGE, "response of %zu bytes is over the limit",
			       len);
	if (len == 0)
		return err_set(e, ERR_INVALID, "empty response body");
	json_t *j;
	TRY(json_parse_strict(body, len, "malformed JSON response", &j, e));
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(e, ERR_INVALID, "response is not a JSON object");
	}
	*out = j;
	return 0;
}

/* Copies printable ASCII/UTF-8 bytes, replacing control characters. */
static void copy_clean(char *dst, size_t cap, const char *src, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[o] = '\0';
}

/* "com.amazon.coral.service#ThrottlingException" -> "ThrottlingException";
 * also cuts a ":http://..." suffix (the X-Amzn-ErrorType header form). */
static void set_type(struct aws_error_info *out, const char *t, size_t n)
{
	const char *hash = memchr(t, '#', n);
	if (hash) {
		n -= (size_t)(hash + 1 - t);
		t = hash + 1;
	}
	const char *colon = memchr(t, ':', n);
	if (colon)
		n = (size_t)(colon - t);
	copy_clean(out->type, sizeof(out->type), t, n);
}

int aws_json_error_parse(const char *body, size_t len,
			 struct aws_error_info *out)
{
	memset(out, 0, sizeof(*out));
	strcpy(out->type, "Unknown");
	if (!body || len == 0 || len > AWS_MAX_RESPONSE)
		return -ERR_INVALID;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!j)
		return -ERR_INVALID;
	int rc = -ERR_INVALID;
	if (json_is_object(j)) {
		const json_t *t = json_object_get(j, "__type");
		if (!t)
			t = json_object_get(j, "code");
		if (json_is_string(t) && json_string_length(t) > 0) {
			set_type(out, json_string_value(t), json_string_length(t));
			rc = 0;
		}
		/* The key's case varies by service: look it up ignoring case. */
		const char *k;
		json_t *v;
		json_object_foreach(j, k, v) {
			if (strcasecmp(k, "message") == 0 && json_is_string(v)) {
				copy_clean(out->message, sizeof(out->message),
					   json_string_value(v),
					   json_string_length(v));
				break;
			}
		}
	}
	json_decref(j);
	return rc;
}

bool aws_error_retryable(long status, const char *type)
{
	static const char *const RETRY[] = {
		"ThrottlingException",
		"Throttling",
		"ThrottledException",
		"RequestThrottledException",
		"TooManyRequestsException",
		"ProvisionedThroughputExceededException",
		"RequestLimitExceeded",
		"RequestThrottled",
		"LimitExceededException", /* DynamoDB control-plane rate */
		"TransactionInProgressException",
		"InternalServerError",
		"InternalFailure",
		"ServiceUnavailable",
		"KMSInternalException",
		"DependencyTimeoutException",
		"KeyUnavailableException",
		"RequestTimeout",
		"RequestTimeoutException",
		NULL,
	};
	if (status >= 500 || status == 429)
		return true;
	if (!type)
		return false;
	for (const char *const *p = RETRY; *p; p++)
		if (strcmp(type, *p) == 0)
			return true;
	return false;
}
