/*
 * fuzz_http_headers.c: the header rules we parse ourselves on untrusted
 * input (Accept, Content-Type) and listen addresses. evhttp parses the HTTP
 * framing; these are the parts of a request that reach our code as strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	volatile bool a = http_accept_wants_json(s);
	volatile bool b = http_content_type_is_json(s);
	struct http_addr addr;
	volatile int c = http_addr_parse(s, &addr, NULL);
	(void)a;
	(void)b;
	(void)c;
	free(s);
	return 0;
}
