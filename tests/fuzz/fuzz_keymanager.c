/*
 * fuzz_keymanager.c: libFuzzer target for the Keymanager API's request
 * bodies (src/signer/keymanager.c), the bytes a holder of the API token
 * sends: the first input byte picks POST (import) or DELETE, the rest is
 * the body. Each goes through the route as the server would run it (the
 * bearer check, then the deferred handler) on a signer whose keystore
 * directories are fresh temporary ones and whose slashing protection is
 * off. Any outcome is fine except a crash or a sanitizer finding, a reply
 * that is not JSON, or a status outside 200/400/413/500; a keystore the
 * fuzzer managed to import is deleted again so the registry stays small.
 *
 * Seeds: tests/fuzz/corpus/keymanager/ (an import of a pbkdf2 keystore with
 * a slashing_protection, a delete, and broken bodies).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "signer/signer_internal.h"

#define TOKEN "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static struct signer *s;

static void setup(void)
{
	static char dir[] = "/tmp/ns-fuzz-km-XXXXXX";
	static char keys[64], pws[64], tok[64];
	struct eth2_network net;
	struct err e;
	if (!mkdtemp(dir))
		abort();
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	snprintf(pws, sizeof(pws), "%s/pws", dir);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	FILE *f = fopen(tok, "w");
	if (mkdir(keys, 0700) || mkdir(pws, 0700) || !f)
		abort();
	fputs(TOKEN "\n", f);
	fclose(f);
	log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
	struct signer_options o = {0};
	o.keystores_path = keys;
	o.keystores_passwords_path = pws;
	o.key_manager_api_enabled = true;
	o.key_manager_token_file = tok;
	o.progress_given = true;
	if (eth2_network_load("mainnet", &net, &e) < 0 ||
	    signer_signing_types_parse(NULL, false, &o.signing_types, &e) < 0 ||
	    signer_new(&o, &net, &s, &e) < 0)
		abort();
}

static void call(enum http_method m, const uint8_t *body, size_t len,
		 struct http_reply *r)
{
	struct http_req req = {0};
	char auth[] = "Bearer " TOKEN;
	req.method = m;
	static char path[] = "/eth/v1/keystores", ctype[] = "application/json";
	req.path = path;
	req.authorization = auth;
	req.content_type = ctype;
	req.body = malloc(len + 1);
	if (!req.body)
		abort();
	memcpy(req.body, body, len);
	req.body[len] = '\0';
	req.body_len = len;
	struct http_handlers h = signer_http_handlers(s);
	h.handle(&req, r, h.arg);
	if (r->defer_fn) {
		http_defer_fn fn = r->defer_fn;
		r->defer_fn = NULL;
		fn(&req, r, r->defer_ctx);
	}
	free(req.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!s)
		setup();
	if (size < 1 || size > 256 * 1024)
		return 0;
	struct http_reply r = {0};
	call(data[0] & 1 ? HTTP_DELETE : HTTP_POST, data + 1, size - 1, &r);
	if (r.status != 200 && r.status != 400 && r.status != 413 &&
	    r.status != 500)
		__builtin_trap();
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
	if (!j)
		__builtin_trap();
	json_decref(j);
	free(r.body);
	if (signer_key_count(s) > 0) {
		/* something imported: delete every key again */
		struct http_reply d = {0};
		char list[] = "{\"pubkeys\":[]}";
		call(HTTP_GET, (const uint8_t *)"", 0, &d);
		json_t *got = json_loadb(d.body, d.body_len, 0, NULL);
		free(d.body);
		json_t *pks = json_array();
		size_t i;
		json_t *row;
		json_array_foreach(json_object_get(got, "data"), i, row)
			json_array_append(pks, json_object_get(row,
							       "validating_pubkey"));
		json_t *del = json_pack("{s:o}", "pubkeys", pks);
		char *text = json_dumps(del, JSON_COMPACT);
		struct http_reply x = {0};
		call(HTTP_DELETE, (const uint8_t *)(text ? text : list),
		     strlen(text ? text : list), &x);
		free(x.body);
		free(text);
		json_decref(del);
		json_decref(got);
	}
	return 0;
}
