/*
 * cli.c: the nitro-host command line.
 *
 *   nitro-host proxy --listen=ADDR --connect=ADDR [--allow=HOST:PORT ...]
 *                    [--max-connections=N] [--idle-timeout=S]
 *                    [--connect-timeout=S]
 *   nitro-host run --config=FILE [--logging=LEVEL] [--log-format=text|json]
 *
 * Parsing and wiring only: the relaying is proxy.c's. Exit codes: 0 after
 * a clean stop (SIGTERM/SIGINT), 1 on a runtime failure (cannot listen),
 * 2 on bad usage, with one line on stderr naming the flag.
 */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host.h"

#define MAX_TIMEOUT_S 86400
#define MAX_CONNECTIONS 100000

static const char USAGE[] =
	"usage: nitro-host COMMAND [flags]\n"
	"\n"
	"The parent-instance side of nitro-signer on AWS Nitro Enclaves.\n"
	"\n"
	"Commands:\n"
	"  proxy   --listen=ADDR --connect=ADDR [--allow=HOST:PORT ...]\n"
	"          [--max-connections=N] [--idle-timeout=S] [--connect-timeout=S]\n"
	"          Relays bytes between each connection accepted on --listen and\n"
	"          a new connection to --connect (TLS stays end to end).\n"
	"  run     --config=FILE\n"
	"          The watchdog and its proxies (the systemd service): starts\n"
	"          the enclave (local or nitro-cli runner), sends it init with\n"
	"          credentials and the key table's records, refreshes the\n"
	"          credentials, checks its status, restarts it when it ends or\n"
	"          stops answering; SIGHUP reloads the records; GET /health\n"
	"          on health_listen (docs/host.md).\n"
	"\n"
	"ADDR is tcp:HOST:PORT, unix:PATH or vsock:CID:PORT (CID may be ANY\n"
	"for --listen). A tcp --connect host is resolved at each connection.\n"
	"\n"
	"proxy flags:\n"
	"  --allow=HOST:PORT       allowed tcp destinations (repeatable, at most\n"
	"                          64); when given, a --connect=tcp: target\n"
	"                          outside the list refuses to start\n"
	"  --max-connections=N     open connections at most (default 1024); more\n"
	"                          are closed at once\n"
	"  --idle-timeout=S        close both sides after S seconds without a\n"
	"                          byte either way (default 300)\n"
	"  --connect-timeout=S     name resolution + connect (default 5)\n"
	"  --logging=LEVEL         DEBUG, INFO (default), WARN, ERROR\n"
	"  --log-format=text|json  log lines on stderr (default text)\n"
	"\n"
	"  --help, --version\n"
	"Exit status: 0 ok (stopped by SIGTERM/SIGINT), 1 failure, 2 bad usage.\n";

struct proxy_args {
	const char *listen;
	const char *connect;
	const char *allow[PROXY_MAX_ALLOW];
	size_t nallow;
	const char *max_connections;
	const char *idle_timeout;
	const char *connect_timeout;
	const char *logging;
	const char *log_format;
};

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "nitro-host: %s (see nitro-host --help)\n", msg);
	return 2;
}

/* Sets *slot from "--name=value"; 1 if it matched, -1 on a repeat. */
static int take_flag(const char *arg, const char *name, const char **slot)
{
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0 || arg[n] != '=')
		return 0;
	if (*slot)
		return -1;
	*slot = arg + n + 1;
	return 1;
}

static int parse_proxy_args(int argc, char **argv, struct proxy_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--allow=", 8) == 0) {
			if (a->nallow == PROXY_MAX_ALLOW)
				return usage_error("--allow: more than %d entries",
						   PROXY_MAX_ALLOW);
			a->allow[a->nallow++] = arg + 8;
			continue;
		}
		static const struct {
			const char *name;
			size_t off;
		} flags[] = {
			{"--listen", offsetof(struct proxy_args, listen)},
			{"--connect", offsetof(struct proxy_args, connect)},
			{"--max-connections",
			 offsetof(struct proxy_args, max_connections)},
			{"--idle-timeout", offsetof(struct proxy_args, idle_timeout)},
			{"--connect-timeout",
			 offsetof(struct proxy_args, connect_timeout)},
			{"--logging", offsetof(struct proxy_args, logging)},
			{"--log-format", offsetof(struct proxy_args, log_format)},
		};
		int hit = 0;
		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]) && !hit;
		     f++) {
			const char **slot =
				(const char **)((char *)a + flags[f].off);
			hit = take_flag(arg, flags[f].name, slot);
			if (hit < 0)
				return usage_error("%s: given twice",
						   flags[f].name);
		}
		if (!hit)
			return usage_error("proxy: unknown argument '%s'", arg);
	}
	if (!a->listen)
		return usage_error("--listen: required (tcp:HOST:PORT, unix:PATH "
				   "or vsock:CID:PORT)");
	if (!a->connect)
		return usage_error("--connect: required (tcp:HOST:PORT, "
				   "unix:PATH or vsock:CID:PORT)");
	return 0;
}

/* A whole number in [1, max] or usage error naming the flag. */
static int parse_count(const char *flag, const char *v, uint64_t max,
		       int *out)
{
	uint64_t n;
	if (!v)
		return 0;
	if (dec_parse_u64(v, &n, NULL, flag) < 0 || n == 0 || n > max) {
		char lim[32];
		snprintf(lim, sizeof(lim), "%llu", (unsigned long long)max);
		fprintf(stderr,
			"nitro-host: %s: '%s' is not a whole number from 1 to %s\n",
			flag, v, lim);
		return 2;
	}
	*out = (int)n;
	return 0;
}

static struct proxy *volatile running;

static void on_signal(int sig)
{
	struct proxy *p = running;
	if (p)
		proxy_stop(p);
}

static int setup_logging(const struct proxy_args *a)
{
	enum log_level level = LOG_INFO;
	enum log_format format = LOG_FORMAT_TEXT;
	if (a->logging && log_parse_level(a->logging, &level) < 0)
		return usage_error("--logging: unknown level '%s'", a->logging);
	if (a->log_format) {
		if (strcmp(a->log_format, "json") == 0)
			format = LOG_FORMAT_JSON;
		else if (strcmp(a->log_format, "text") != 0)
			return usage_error("--log-format: '%s' is not text or json",
					   a->log_format);
	}
	log_setup(level, format);
	return 0;
}

static int cmd_proxy(int argc, char **argv)
{
	struct proxy_args a;
	int rc;
	if ((rc = parse_proxy_args(argc, argv, &a)) != 0)
		return rc;
	if ((rc = setup_logging(&a)) != 0)
		return rc;
	struct proxy_route r = {.name = "main"};
	struct err e = {0};
	if (http_addr_parse(a.listen, &r.listen, &e) < 0)
		return usage_error("--listen: %s", e.msg);
	if (http_addr_parse(a.connect, &r.connect, &e) < 0)
		return usage_error("--connect: %s", e.msg);
	if (r.connect.kind == HTTP_ADDR_VSOCK &&
	    r.connect.cid == 0xFFFFFFFFu)
		return usage_error("--connect: vsock CID ANY is for listening, "
				   "give the enclave's CID");
	int idle_s = 0, connect_s = 0;
	if ((rc = parse_count("--max-connections", a.max_connections,
			      MAX_CONNECTIONS, &r.max_connections)) != 0 ||
	    (rc = parse_count("--idle-timeout", a.idle_timeout, MAX_TIMEOUT_S,
			      &idle_s)) != 0 ||
	    (rc = parse_count("--connect-timeout", a.connect_timeout,
			      MAX_TIMEOUT_S, &connect_s)) != 0)
		return rc;
	r.idle_timeout_ms = idle_s * 1000;
	r.connect_timeout_ms = connect_s * 1000;
	struct proxy_allow allow[PROXY_MAX_ALLOW];
	for (size_t i = 0; i < a.nallow; i++)
		if (proxy_allow_parse(a.allow[i], &allow[i], &e) < 0)
			return usage_error("--allow: %s", e.msg);

	struct proxy_config cfg = {
		.routes = &r, .nroutes = 1, .allow = allow, .nallow = a.nallow};
	struct proxy *p;
	if (proxy_new(&cfg, NULL, &p, &e) < 0) {
		if (e.code == ERR_USAGE)
			return usage_error("--connect: %s", e.msg);
		fprintf(stderr, "nitro-host: %s\n", e.msg);
		return 1;
	}
	running = p;
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rc = proxy_run(p);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	running = NULL;
	log_info("proxy: stopping");
	proxy_free(p);
	return rc < 0 ? 1 : 0;
}

static int cmd_run(int argc, char **argv)
{
	struct proxy_args a;
	const char *config = NULL;
	memset(&a, 0, sizeof(a));
	for (int i = 0; i < argc; i++) {
		int hit = take_flag(argv[i], "--config", &config);
		if (hit == 0)
			hit = take_flag(argv[i], "--logging", &a.logging);
		if (hit == 0)
			hit = take_flag(argv[i], "--log-format", &a.log_format);
		if (hit < 0)
			return usage_error("run: '%s': flag given twice", argv[i]);
		if (hit == 0)
			return usage_error("run: unknown argument '%s'", argv[i]);
	}
	if (!config)
		return usage_error("--config: required (a YAML file)");
	int rc;
	if ((rc = setup_logging(&a)) != 0)
		return rc;
	struct host_config cfg;
	struct err e = {0};
	if (host_config_load(config, &cfg, &e) < 0) {
		fprintf(stderr, "nitro-host run: --config: %s\n", e.msg);
		return e.code == ERR_IO ? 1 : 2;
	}
	rc = host_run(&cfg);
	host_config_free(&cfg);
	return rc;
}

int nitro_host_main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("a command is required: proxy or run");
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(USAGE, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("nitro-host %s\n", NS_VERSION);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(USAGE, stdout);
			return 0;
		}
	}
	if (strcmp(cmd, "proxy") == 0)
		return cmd_proxy(argc - 2, argv + 2);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 2, argv + 2);
	return usage_error("unknown command '%s' (proxy or run)", cmd);
}
