/*
 * fuzz_http_response.c: the HTTP client's response parsing (llhttp plus our
 * callbacks: header store, body cap, interim responses) on untrusted bytes,
 * and URL parsing. The first byte picks whether the peer closed after the
 * bytes; whatever is accepted must respect the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool eof = data[0] & 1;
	struct http_client_response r;
	memset(&r, 0, sizeof(r));
	buf_init(&r.body, 4096, true);
	int rc = http_client_parse_response(data + 1, size - 1, eof, &r, NULL);
	if (rc == 0) {
		if (r.status < 100 || r.status > 999 || r.body.len >= 4096 ||
		    r.n_hdr > HTTP_CLIENT_MAX_HEADERS)
			abort();
		for (size_t i = 0; i < r.n_hdr; i++) {
			for (const char *p = r.hdr[i].value; *p; p++)
				if ((unsigned char)*p < 0x20 && *p != '\t')
					abort();
			if (http_client_header(&r, r.hdr[i].name) == NULL)
				abort();
		}
	}
	http_client_response_free(&r);

	char *s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	struct http_url u;
	if (http_url_parse(s, &u, NULL) == 0 &&
	    (u.port < 1 || u.port > 65535 || u.path[0] != '/' || !u.host[0]))
		abort();
	free(s);
	return 0;
}
