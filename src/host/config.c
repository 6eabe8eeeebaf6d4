/*
 * config.c: the YAML configuration of `nitro-host run` (docs/host.md).
 *
 * Strict: an unknown key, a wrong type (a list where a string belongs), a
 * missing required field or an ADDR that does not parse is refused with
 * one line naming the field ("runner.command: ..."). Defaults are filled
 * in here (status_interval_s, credentials_refresh_s, restart backoff,
 * nitro_cli), so the supervisor reads one complete struct. Parsed with libyaml's
 * document loader; anchors/aliases are refused (nothing needs them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "host/host.h"

#define MAX_CONFIG_BYTES (1024 * 1024)

struct cfg_ctx {
	yaml_document_t *doc;
	struct err *e;
};

static int bad(struct err *e, const yaml_node_t *n, const char *field,
	       const char *fmt, const char *arg)
{
	/* fmt is always "<text>%s": the text, then arg (or nothing) */
	char what[160];
	const char *pct = strstr(fmt, "%s");
	size_t tl = pct ? (size_t)(pct - fmt) : strlen(fmt);
	snprintf(what, sizeof(what), "%.*s%s%s", (int)tl, fmt,
		 arg ? arg : "", pct ? pct + 2 : "");
	if (n)
		return err_set(e, ERR_INVALID, "config: %s: %s (line %lu)",
			       field, what,
			       (unsigned long)n->start_mark.line + 1);
	return err_set(e, ERR_INVALID, "config: %s: %s", field, what);
}

static int get_str(struct cfg_ctx *c, yaml_node_t *n, const char *field,
		   char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return bad(c->e, n, field, "expected a string%s", NULL);
	size_t len = n->data.scalar.length;
	if (len == 0)
		return bad(c->e, n, field, "empty%s", NULL);
	if (memchr(n->data.scalar.value, '\0', len))
		return bad(c->e, n, field, "contains a NUL byte%s", NULL);
	free(*out);
	*out = strndup((const char *)n->data.scalar.value, len);
	if (!*out)
		return err_set(c->e, ERR_NOMEM, "config: out of memory");
	return 0;
}

static int get_addr(struct cfg_ctx *c, yaml_node_t *n, const char *field,
		    struct http_addr *out)
{
	char *s = NULL;
	TRY(get_str(c, n, field, &s));
	struct err e2 = {0};
	int rc = http_addr_parse(s, out, &e2);
	free(s);
	if (rc < 0)
		return bad(c->e, n, field, "%s", e2.msg);
	return 0;
}

static int get_uint(struct cfg_ctx *c, yaml_node_t *n, const char *field,
		    uint64_t max, int *out)
{
	char *s = NULL;
	TRY(get_str(c, n, field, &s));
	uint64_t v;
	int rc = dec_parse_u64(s, &v, NULL, field);
	free(s);
	if (rc < 0 || v == 0 || v > max) {
		char lim[80];
		snprintf(lim, sizeof(lim), "expected a whole number from 1 to %llu",
			 (unsigned long long)max);
		return bad(c->e, n, field, "%s", lim);
	}
	*out = (int)v;
	return 0;
}

static int get_bool(struct cfg_ctx *c, yaml_node_t *n, const char *field,
		    bool *out)
{
	char *s = NULL;
	TRY(get_str(c, n, field, &s));
	int rc = 0;
	if (strcmp(s, "true") == 0)
		*out = true;
	else if (strcmp(s, "false") == 0)
		*out = false;
	else
		rc = bad(c->e, n, field, "expected true or false%s", NULL);
	free(s);
	return rc;
}

/* A list of strings into out[0..max), *n counts them. */
static int get_str_list(struct cfg_ctx *c, yaml_node_t *n, const char *field,
			char **out, size_t max, size_t *count)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return bad(c->e, n, field, "expected a list of strings%s", NULL);
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		if (*count == max)
			return bad(c->e, n, field, "too many items%s", NULL);
		yaml_node_t *a = yaml_document_get_node(c->doc, *it);
		if (!a)
			return bad(c->e, n, field, "bad item%s", NULL);
		TRY(get_str(c, a, field, &out[*count]));
		(*count)++;
	}
	return 0;
}

/* An http(s) URL for an endpoint override. */
static int get_url(struct cfg_ctx *c, yaml_node_t *n, const char *field,
		   char **out)
{
	TRY(get_str(c, n, field, out));
	if (strncmp(*out, "http://", 7) != 0 && strncmp(*out, "https://", 8) != 0)
		return bad(c->e, n, field, "expected an http:// or https:// "
			   "URL%s", NULL);
	return 0;
}

/* unix:PATH or vsock:CID:PORT, kept as text for init (the enclave refuses
 * tcp: proxies, so they are refused here first). */
static int get_proxy_addr(struct cfg_ctx *c, yaml_node_t *n,
			  const char *field, char **out)
{
	TRY(get_str(c, n, field, out));
	struct http_addr a;
	struct err e2 = {0};
	if (http_addr_parse(*out, &a, &e2) < 0)
		return bad(c->e, n, field, "%s", e2.msg);
	if (a.kind == HTTP_ADDR_TCP)
		return bad(c->e, n, field, "expected unix:PATH or "
			   "vsock:CID:PORT%s", NULL);
	return 0;
}

/* Calls fn for each key of mapping n; keys must be plain strings, unique. */
typedef int (*key_fn)(struct cfg_ctx *c, const char *key, yaml_node_t *val,
		      void *arg);

static int each_key(struct cfg_ctx *c, yaml_node_t *n, const char *field,
		    key_fn fn, void *arg)
{
	if (n->type != YAML_MAPPING_NODE)
		return bad(c->e, n, field, "expected a mapping%s", NULL);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		if (!k || !v || k->type != YAML_SCALAR_NODE)
			return bad(c->e, k, field, "keys must be strings%s",
				   NULL);
		char key[64];
		size_t kl = k->data.scalar.length;
		if (kl >= sizeof(key))
			kl = sizeof(key) - 1;
		memcpy(key, k->data.scalar.value, kl);
		key[kl] = '\0';
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p;
		     q++) {
			yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);
			if (k2 && k2->type == YAML_SCALAR_NODE &&
			    k2->data.scalar.length == k->data.scalar.length &&
			    memcmp(k2->data.scalar.value, k->data.scalar.value,
				   kl) == 0)
				return bad(c->e, k, key, "given twice%s", NULL);
		}
		TRY(fn(c, key, v, arg));
	}
	return 0;
}

static int unknown(struct cfg_ctx *c, const char *parent, const char *key,
		   yaml_node_t *v)
{
	char f[160];
	snprintf(f, sizeof(f), "%s%s%s", parent, *parent ? "." : "", key);
	return bad(c->e, v, f, "unknown key%s", NULL);
}

static int restart_key(struct cfg_ctx *c, const char *key, yaml_node_t *v,
		       void *arg)
{
	struct host_config *hc = arg;
	if (strcmp(key, "max_backoff_s") == 0)
		return get_uint(c, v, "restart.max_backoff_s", 86400,
				&hc->max_backoff_s);
	return unknown(c, "restart", key, v);
}

struct proxy_ctx {
	struct host_proxy *p;
	bool has_listen, has_connect;
	char field[64];
};

static int proxy_key(struct cfg_ctx *c, const char *key, yaml_node_t *v,
		     void *arg)
{
	struct proxy_ctx *pc = arg;
	char f[96];
	snprintf(f, sizeof(f), "%s.%s", pc->field, key);
	if (strcmp(key, "listen") == 0) {
		pc->has_listen = true;
		return get_addr(c, v, f, &pc->p->listen);
	}
	if (strcmp(key, "connect") == 0) {
		pc->has_connect = true;
		TRY(get_addr(c, v, f, &pc->p->connect));
		if (pc->p->connect.kind == HTTP_ADDR_VSOCK &&
		    pc->p->connect.cid == 0xFFFFFFFFu)
			return bad(c->e, v, f, "vsock CID ANY is for "
				   "listening%s", NULL);
		return 0;
	}
	if (strcmp(key, "allow") == 0) {
		if (v->type != YAML_SEQUENCE_NODE)
			return bad(c->e, v, f, "expected a list of HOST:PORT%s",
				   NULL);
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			if (pc->p->nallow == PROXY_MAX_ALLOW)
				return bad(c->e, v, f, "more than 64%s", NULL);
			yaml_node_t *a = yaml_document_get_node(c->doc, *it);
			char *s = NULL;
			if (!a)
				return bad(c->e, v, f, "bad item%s", NULL);
			TRY(get_str(c, a, f, &s));
			struct err e2 = {0};
			int rc = proxy_allow_parse(
				s, &pc->p->allow[pc->p->nallow], &e2);
			free(s);
			if (rc < 0)
				return bad(c->e, a, f, "%s", e2.msg);
			pc->p->nallow++;
		}
		return 0;
	}
	if (strcmp(key, "max_connections") == 0)
		return get_uint(c, v, f, 100000, &pc->p->max_connections);
	if (strcmp(key, "idle_timeout_s") == 0)
		return get_uint(c, v, f, 86400, &pc->p->idle_timeout_s);
	return unknown(c, pc->field, key, v);
}

static int runner_key(struct cfg_ctx *c, const char *key, yaml_node_t *v,
		      void *arg)
{
	struct host_config *hc = arg;
	if (strcmp(key, "type") == 0) {
		char *t = NULL;
		TRY(get_str(c, v, "runner.type", &t));
		int rc = 0;
		if (strcmp(t, "local") == 0)
			hc->runner = HOST_RUNNER_LOCAL;
		else if (strcmp(t, "nitro-cli") == 0)
			hc->runner = HOST_RUNNER_NITRO_CLI;
		else
			rc = bad(c->e, v, "runner.type",
				 "'%s' is not local or nitro-cli", t);
		free(t);
		return rc;
	}
	if (strcmp(key, "command") == 0) {
		if (v->type != YAML_SEQUENCE_NODE)
			return bad(c->e, v, "runner.command",
				   "expected a list of strings%s", NULL);
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			if (hc->ncommand == HOST_MAX_ARGV)
				return bad(c->e, v, "runner.command",
					   "more than 64 arguments%s", NULL);
			yaml_node_t *a = yaml_document_get_node(c->doc, *it);
			if (!a)
				return bad(c->e, v, "runner.command",
					   "bad item%s", NULL);
			TRY(get_str(c, a, "runner.command",
				    &hc->command[hc->ncommand]));
			hc->ncommand++;
		}
		return 0;
	}
	struct host_nitro_cli *nc = &hc->nitro;
	hc->runner_nitro_fields = true;
	if (strcmp(key, "eif_path") == 0)
		return get_str(c, v, "runner.eif_path", &nc->eif_path);
	if (strcmp(key, "nitro_cli") == 0)
		return get_str(c, v, "runner.nitro_cli", &nc->nitro_cli);
	if (strcmp(key, "cpu_count") == 0)
		return get_uint(c, v, "runner.cpu_count", 1024, &nc->cpu_count);
	if (strcmp(key, "memory_mib") == 0)
		return get_uint(c, v, "runner.memory_mib", 1024 * 1024,
				&nc->memory_mib);
	if (strcmp(key, "cid") == 0)
		return get_uint(c, v, "runner.cid", 0x7FFFFFFF, &nc->cid);
	if (strcmp(key, "debug_mode") == 0)
		return get_bool(c, v, "runner.debug_mode", &nc->debug_mode);
	hc->runner_nitro_fields = false;
	return unknown(c, "runner", key, v);
}

static int endpoints_key(struct cfg_ctx *c, const char *key, yaml_node_t *v,
			 void *arg)
{
	struct host_config *hc = arg;
	if (strcmp(key, "kms") == 0)
		return get_url(c, v, "endpoints.kms", &hc->endpoint_kms);
	if (strcmp(key, "dynamodb") == 0)
		return get_url(c, v, "endpoints.dynamodb",
			       &hc->endpoint_dynamodb);
	if (strcmp(key, "imds") == 0)
		return get_url(c, v, "endpoints.imds", &hc->endpoint_imds);
	return unknown(c, "endpoints", key, v);
}

static int enclave_key(struct cfg_ctx *c, const char *key, yaml_node_t *v,
		       void *arg)
{
	struct host_config *hc = arg;
	if (strcmp(key, "network") == 0)
		return get_str(c, v, "enclave.network", &hc->network);
	if (strcmp(key, "slashing_db_url") == 0)
		return get_str(c, v, "enclave.slashing_db_url",
			       &hc->slashing_db_url);
	if (strcmp(key, "volatile_slashing_db") == 0)
		return get_bool(c, v, "enclave.volatile_slashing_db",
				&hc->volatile_slashing_db);
	if (strcmp(key, "kms_proxy") == 0)
		return get_proxy_addr(c, v, "enclave.kms_proxy",
				      &hc->kms_proxy);
	if (strcmp(key, "dynamodb_proxy") == 0)
		return get_proxy_addr(c, v, "enclave.dynamodb_proxy",
				      &hc->dynamodb_proxy);
	if (strcmp(key, "tls_names") == 0)
		return get_str_list(c, v, "enclave.tls_names", hc->tls_names,
				    HOST_MAX_TLS_NAMES, &hc->ntls_names);
	return unknown(c, "enclave", key, v);
}

static int top_key(struct cfg_ctx *c, const char *key, yaml_node_t *v,
		   void *arg)
{
	struct host_config *hc = arg;
	if (strcmp(key, "region") == 0)
		return get_str(c, v, key, &hc->region);
	if (strcmp(key, "signer_id") == 0)
		return get_str(c, v, key, &hc->signer_id);
	if (strcmp(key, "key_table") == 0)
		return get_str(c, v, key, &hc->key_table);
	if (strcmp(key, "runner") == 0) {
		hc->has_runner = true;
		return each_key(c, v, key, runner_key, hc);
	}
	if (strcmp(key, "control") == 0) {
		hc->has_control = true;
		TRY(get_addr(c, v, key, &hc->control));
		if (hc->control.kind == HTTP_ADDR_VSOCK &&
		    hc->control.cid == 0xFFFFFFFFu)
			return bad(c->e, v, key, "vsock CID ANY is for "
				   "listening, give the enclave's CID%s", NULL);
		return 0;
	}
	if (strcmp(key, "api_listen") == 0) {
		hc->has_api_listen = true;
		return get_addr(c, v, key, &hc->api_listen);
	}
	if (strcmp(key, "credentials") == 0) {
		char *s = NULL;
		TRY(get_str(c, v, key, &s));
		int rc = 0;
		if (strcmp(s, "env") == 0)
			hc->credentials = HOST_CREDS_ENV;
		else if (strcmp(s, "imds") == 0)
			hc->credentials = HOST_CREDS_IMDS;
		else
			rc = bad(c->e, v, key, "'%s' is not env or imds", s);
		free(s);
		return rc;
	}
	if (strcmp(key, "restart") == 0)
		return each_key(c, v, key, restart_key, hc);
	if (strcmp(key, "kms_key_id") == 0)
		return get_str(c, v, key, &hc->kms_key_id);
	if (strcmp(key, "credentials_refresh_s") == 0)
		return get_uint(c, v, key, 86400, &hc->credentials_refresh_s);
	if (strcmp(key, "status_interval_s") == 0)
		return get_uint(c, v, key, 3600, &hc->status_interval_s);
	if (strcmp(key, "key_table_poll_s") == 0)
		return get_uint(c, v, key, 86400, &hc->key_table_poll_s);
	if (strcmp(key, "tls_cert_file") == 0)
		return get_str(c, v, key, &hc->tls_cert_file);
	if (strcmp(key, "health_listen") == 0) {
		hc->has_health_listen = true;
		TRY(get_addr(c, v, key, &hc->health_listen));
		if (hc->health_listen.kind == HTTP_ADDR_VSOCK)
			return bad(c->e, v, key, "expected tcp:HOST:PORT or "
				   "unix:PATH%s", NULL);
		return 0;
	}
	if (strcmp(key, "metrics") == 0) {
		/* a proxy of its own: {connect, listen (default
		 * tcp:127.0.0.1:9001), max_connections, idle_timeout_s} */
		struct proxy_ctx pc = {.p = &hc->metrics, .field = "metrics"};
		TRY(each_key(c, v, key, proxy_key, &pc));
		if (!pc.has_connect)
			return bad(c->e, v, key, "connect: required (the "
				   "enclave's --metrics-listen)%s", NULL);
		if (!pc.has_listen &&
		    http_addr_parse("tcp:127.0.0.1:9001", &hc->metrics.listen,
				    c->e) < 0)
			return -ERR_INTERNAL;
		if (hc->metrics.listen.kind == HTTP_ADDR_VSOCK)
			return bad(c->e, v, "metrics.listen", "expected "
				   "tcp:HOST:PORT or unix:PATH%s", NULL);
		hc->has_metrics = true;
		return 0;
	}
	if (strcmp(key, "endpoints") == 0)
		return each_key(c, v, key, endpoints_key, hc);
	if (strcmp(key, "enclave") == 0)
		return each_key(c, v, key, enclave_key, hc);
	if (strcmp(key, "proxies") == 0) {
		if (v->type != YAML_SEQUENCE_NODE)
			return bad(c->e, v, key, "expected a list of "
				   "{listen, connect}%s", NULL);
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			if (hc->nproxies == HOST_MAX_PROXIES)
				return bad(c->e, v, key, "more than 16%s", NULL);
			yaml_node_t *pn = yaml_document_get_node(c->doc, *it);
			struct proxy_ctx pc = {.p = &hc->proxies[hc->nproxies]};
			snprintf(pc.field, sizeof(pc.field), "proxies[%zu]",
				 hc->nproxies);
			if (!pn)
				return bad(c->e, v, pc.field, "bad item%s", NULL);
			TRY(each_key(c, pn, pc.field, proxy_key, &pc));
			if (!pc.has_listen)
				return bad(c->e, pn, pc.field,
					   "listen: required%s", NULL);
			if (!pc.has_connect)
				return bad(c->e, pn, pc.field,
					   "connect: required%s", NULL);
			hc->nproxies++;
		}
		return 0;
	}
	return unknown(c, "", key, v);
}

void host_config_free(struct host_config *hc)
{
	if (!hc)
		return;
	free(hc->region);
	free(hc->signer_id);
	free(hc->key_table);
	free(hc->kms_key_id);
	for (size_t i = 0; i < hc->ncommand; i++)
		free(hc->command[i]);
	free(hc->nitro.eif_path);
	free(hc->nitro.nitro_cli);
	free(hc->endpoint_kms);
	free(hc->endpoint_dynamodb);
	free(hc->endpoint_imds);
	free(hc->network);
	free(hc->slashing_db_url);
	free(hc->kms_proxy);
	free(hc->dynamodb_proxy);
	for (size_t i = 0; i < hc->ntls_names; i++)
		free(hc->tls_names[i]);
	free(hc->tls_cert_file);
	memset(hc, 0, sizeof(*hc));
}

static int check_required(struct host_config *hc, struct err *e)
{
	if (!hc->region)
		return bad(e, NULL, "region", "required%s", NULL);
	if (!hc->signer_id)
		return bad(e, NULL, "signer_id", "required%s", NULL);
	if (!hc->key_table)
		return bad(e, NULL, "key_table", "required%s", NULL);
	if (!hc->has_runner)
		return bad(e, NULL, "runner", "required%s", NULL);
	if (!hc->has_control)
		return bad(e, NULL, "control", "required%s", NULL);
	if (!hc->network)
		return bad(e, NULL, "enclave.network", "required%s", NULL);
	if (!hc->slashing_db_url)
		return bad(e, NULL, "enclave.slashing_db_url", "required%s",
			   NULL);
	if (hc->runner == HOST_RUNNER_LOCAL) {
		if (hc->ncommand == 0)
			return bad(e, NULL, "runner.command",
				   "required for the local runner%s", NULL);
		if (hc->runner_nitro_fields)
			return bad(e, NULL, "runner",
				   "eif_path, cpu_count, memory_mib, cid, "
				   "nitro_cli and debug_mode are for the "
				   "nitro-cli runner%s", NULL);
		return 0;
	}
	if (hc->ncommand)
		return bad(e, NULL, "runner.command",
			   "only for the local runner%s", NULL);
	if (!hc->nitro.eif_path)
		return bad(e, NULL, "runner.eif_path", "required for the "
			   "nitro-cli runner%s", NULL);
	/* An enclave has no disk: refuse to lose the slashing history at the
	 * first restart unless the operator said so. */
	if (strncmp(hc->slashing_db_url, "sqlite:", 7) == 0 &&
	    !hc->volatile_slashing_db)
		return bad(e, NULL, "enclave.slashing_db_url",
			   "a sqlite: database inside a Nitro enclave lives in "
			   "enclave memory and is lost at every restart; set "
			   "enclave.volatile_slashing_db: true to accept that%s",
			   NULL);
	if (!hc->nitro.cpu_count)
		return bad(e, NULL, "runner.cpu_count", "required for the "
			   "nitro-cli runner%s", NULL);
	if (!hc->nitro.memory_mib)
		return bad(e, NULL, "runner.memory_mib", "required for the "
			   "nitro-cli runner%s", NULL);
	if (!hc->nitro.cid)
		return bad(e, NULL, "runner.cid", "required for the "
			   "nitro-cli runner%s", NULL);
	if (!hc->nitro.nitro_cli) {
		hc->nitro.nitro_cli = strdup("nitro-cli");
		if (!hc->nitro.nitro_cli)
			return err_set(e, ERR_NOMEM, "config: out of memory");
	}
	return 0;
}

int host_config_parse(const char *text, size_t len, struct host_config *hc,
		      struct err *e)
{
	memset(hc, 0, sizeof(*hc));
	hc->credentials = HOST_CREDS_IMDS;
	hc->max_backoff_s = HOST_DEFAULT_MAX_BACKOFF_S;
	hc->status_interval_s = HOST_DEFAULT_STATUS_INTERVAL_S;
	hc->key_table_poll_s = HOST_DEFAULT_KEY_TABLE_POLL_S;
	hc->credentials_refresh_s = HOST_DEFAULT_CREDS_REFRESH_S;
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		return err_set(e, ERR_NOMEM, "config: out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		int rc = err_set(e, ERR_INVALID, "config: YAML: %s (line %lu)",
				 parser.problem ? parser.problem : "bad syntax",
				 (unsigned long)parser.problem_mark.line + 1);
		yaml_parser_delete(&parser);
		return rc;
	}
	int rc = 0;
	struct cfg_ctx c = {.doc = &doc, .e = e};
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root)
		rc = err_set(e, ERR_INVALID, "config: empty");
	else
		rc = each_key(&c, root, "config", top_key, hc);
	if (rc == 0) {
		/* a second document is refused */
		yaml_document_t more;
		if (!yaml_parser_load(&parser, &more)) {
			rc = err_set(e, ERR_INVALID, "config: YAML: %s",
				     parser.problem ? parser.problem
						    : "bad syntax");
		} else {
			if (yaml_document_get_root_node(&more))
				rc = err_set(e, ERR_INVALID,
					     "config: more than one YAML document");
			yaml_document_delete(&more);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc == 0)
		rc = check_required(hc, e);
	if (rc < 0)
		host_config_free(hc);
	return rc;
}

int host_config_load(const char *path, struct host_config *hc, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, ERR_IO, "config: cannot open %s", path);
	char *buf = malloc(MAX_CONFIG_BYTES + 1);
	if (!buf) {
		fclose(f);
		return err_set(e, ERR_NOMEM, "config: out of memory");
	}
	size_t n = fread(buf, 1, MAX_CONFIG_BYTES + 1, f);
	int rd_err = ferror(f);
	fclose(f);
	int rc;
	if (rd_err)
		rc = err_set(e, ERR_IO, "config: cannot read %s", path);
	else if (n > MAX_CONFIG_BYTES)
		rc = err_set(e, ERR_INVALID, "config: %s is over 1 MiB", path);
	else
		rc = host_config_parse(buf, n, hc, e);
	free(buf);
	return rc;
}
