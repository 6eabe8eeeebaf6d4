/*
 * endpoint.c: which region and which URL a request goes to. The order is
 * AWS's own (the SDKs' "service-specific endpoints" feature): an explicit
 * flag, AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, then the public
 * endpoint for the region's partition (the suffixes kmstool uses). The
 * environment is operator input: region names are checked for shape and
 * endpoint URLs must be http:// or https:// with no spaces.
 */
#include "aws_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *aws_service_name(enum aws_service s)
{
	switch (s) {
	case AWS_SVC_KMS: return "kms";
	case AWS_SVC_DYNAMODB: return "dynamodb";
	default: return "unknown";
	}
}

static const char *service_env(enum aws_service s)
{
	return s == AWS_SVC_KMS ? "AWS_ENDPOINT_URL_KMS"
				: "AWS_ENDPOINT_URL_DYNAMODB";
}

/* Like "us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1". */
static bool region_ok(const char *r)
{
	size_t n = strlen(r);
	if (n < 4 || n > 32 || !islower((unsigned char)r[0]) ||
	    !isdigit((unsigned char)r[n - 1]) || !strchr(r, '-'))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)r[i];
		if (!(islower(c) || isdigit(c) || c == '-'))
			return false;
		if (c == '-' && (i == 0 || r[i - 1] == '-'))
			return false;
	}
	return true;
}

int aws_region_resolve(const char *flag, char *out, size_t cap, struct err *e)
{
	const char *r = flag, *src = "--region";
	if (!r || !*r) {
		r = getenv("AWS_REGION");
		src = "AWS_REGION";
	}
	if (!r || !*r) {
		r = getenv("AWS_DEFAULT_REGION");
		src = "AWS_DEFAULT_REGION";
	}
	if (!r || !*r)
		return err_set(e, ERR_USAGE,
			       "no AWS region: set --region, AWS_REGION or "
			       "AWS_DEFAULT_REGION");
	if (!region_ok(r) || strlen(r) >= cap)
		return err_set(e, ERR_USAGE, "%s: not a region name", src);
	snprintf(out, cap, "%s", r);
	return 0;
}

static const char *partition_suffix(const char *region)
{
	static const struct {
		const char *prefix, *suffix;
	} P[] = {
		{"cn-", "amazonaws.com.cn"},      {"eusc-", "amazonaws.eu"},
		{"us-isob-", "sc2s.sgov.gov"},    {"us-isof-", "csp.hci.ic.gov"},
		{"us-iso-", "c2s.ic.gov"},        {"eu-isoe-", "cloud.adc-e.uk"},
	};
	for (size_t i = 0; i < sizeof(P) / sizeof(P[0]); i++)
		if (strncmp(region, P[i].prefix, strlen(P[i].prefix)) == 0)
			return P[i].suffix;
	return "amazonaws.com";
}

static bool url_ok(const char *u)
{
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return false;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return strlen(u) > 8;
}

int aws_endpoint_resolve(enum aws_service s, const char *region,
			 const char *flag, char *out, size_t cap,
			 struct err *e)
{
	const char *u = flag, *src = "endpoint flag";
	if (!u || !*u) {
		src = service_env(s);
		u = getenv(src);
	}
	if (!u || !*u) {
		src = "AWS_ENDPOINT_URL";
		u = getenv(src);
	}
	if (u && *u) {
		if (!url_ok(u) || strlen(u) >= cap)
			return err_set(e, ERR_USAGE, "%s: not an http(s) URL", src);
		snprintf(out, cap, "%s", u);
		/* The request path is always "/": drop a trailing slash. */
		size_t n = strlen(out);
		if (n > 8 && out[n - 1] == '/')
			out[n - 1] = '\0';
		return 0;
	}
	if (!region || !*region)
		return err_set(e, ERR_USAGE, "no region for the %s endpoint",
			       aws_service_name(s));
	snprintf(out, cap, "https://%s.%s.%s", aws_service_name(s), region,
		 partition_suffix(region));
	return 0;
}
