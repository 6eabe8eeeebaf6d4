/*
 * cli.c: the nitro-host command line.
 *
 *   nitro-host proxy --listen=ADDR --connect=ADDR [--allow=HOST:PORT ...]
 *                    [--max-connections=N] [--idle-timeout=S]
 *                    [--connect-timeout=S]
 *   nitro-host run --config=FILE [--logging=LEVEL] [--log-format=text|json]
 *
 * Parsing and wiring only: the relaying is proxy.c's; flags follow the
 * rules every binary shares (core/args.c: --name=value or --name value,
 * only --allow repeats). Exit codes: 0 after a clean stop (SIGTERM/SIGINT),
 * 1 on a runtime failure (cannot listen), 2 on bad usage, with one line on
 * stderr naming the flag.
 */
#include <signal.h>
#include <stdarg.h>
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
	"Flags: --name=value or --name value; only --allow may be given twice.\n"
	"Exit status: 0 ok (stopped by SIGTERM/SIGINT), 1 failure, 2 bad usage.\n";

enum {
	H_LISTEN, H_CONNECT, H_ALLOW, H_MAX_CONNECTIONS, H_IDLE_TIMEOUT,
	H_CONNECT_TIMEOUT, H_LOGGING, H_LOG_FORMAT, H_CONFIG, H_COUNT
};

/* Both commands' flags; COMMANDS says which each takes. */
static const struct args_flag FLAGS[H_COUNT] = {
	{"listen", ARGS_VALUE, H_LISTEN, 0},
	{"connect", ARGS_VALUE, H_CONNECT, 0},
	{"allow", ARGS_LIST, H_ALLOW, PROXY_MAX_ALLOW},
	{"max-connections", ARGS_VALUE, H_MAX_CONNECTIONS, 0},
	{"idle-timeout", ARGS_VALUE, H_IDLE_TIMEOUT, 0},
	{"connect-timeout", ARGS_VALUE, H_CONNECT_TIMEOUT, 0},
	{"logging", ARGS_VALUE, H_LOGGING, 0},
	{"log-format", ARGS_VALUE, H_LOG_FORMAT, 0},
	{"config", ARGS_VALUE, H_CONFIG, 0},
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
	return EXIT_USAGE;
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
		return EXIT_USAGE;
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

static int setup_logging(const struct args *a)
{
	enum log_level level = LOG_INFO;
	enum log_format format = LOG_FORMAT_TEXT;
	const char *logging = args_get(a, H_LOGGING);
	const char *log_format = args_get(a, H_LOG_FORMAT);
	if (logging && log_parse_level(logging, &level) < 0)
		return usage_error("--logging: unknown level '%s'", logging);
	if (log_format) {
		if (strcmp(log_format, "json") == 0)
			format = LOG_FORMAT_JSON;
		else if (strcmp(log_format, "text") != 0)
			return usage_error("--log-format: '%s' is not text or json",
					   log_format);
	}
	log_setup(level, format);
	return 0;
}

static int cmd_proxy(const struct args *a)
{
	int rc;
	const char *listen = args_get(a, H_LISTEN);
	const char *connect = args_get(a, H_CONNECT);
	if (!listen)
		return usage_error("--listen: required (tcp:HOST:PORT, unix:PATH "
				   "or vsock:CID:PORT)");
	if (!connect)
		return usage_error("--connect: required (tcp:HOST:PORT, "
				   "unix:PATH or vsock:CID:PORT)");
	if ((rc = setup_logging(a)) != 0)
		return rc;
	struct proxy_route r = {.name = "main"};
	struct err e = {0};
	if (http_addr_parse(listen, &r.listen, &e) < 0)
		return usage_error("--listen: %s", e.msg);
	if (http_addr_parse(connect, &r.connect, &e) < 0)
		return usage_error("--connect: %s", e.msg);
	if (r.connect.kind == HTTP_ADDR_VSOCK &&
	    r.connect.cid == 0xFFFFFFFFu)
		return usage_error("--connect: vsock CID ANY is for listening, "
				   "give the enclave's CID");
	int idle_s = 0, connect_s = 0;
	if ((rc = parse_count("--max-connections",
			      args_get(a, H_MAX_CONNECTIONS), MAX_CONNECTIONS,
			      &r.max_connections)) != 0 ||
	    (rc = parse_count("--idle-timeout", args_get(a, H_IDLE_TIMEOUT),
			      MAX_TIMEOUT_S, &idle_s)) != 0 ||
	    (rc = parse_count("--connect-timeout",
			      args_get(a, H_CONNECT_TIMEOUT), MAX_TIMEOUT_S,
			      &connect_s)) != 0)
		return rc;
	r.idle_timeout_ms = idle_s * 1000;
	r.connect_timeout_ms = connect_s * 1000;
	const char *allow_v[PROXY_MAX_ALLOW];
	struct proxy_allow allow[PROXY_MAX_ALLOW];
	size_t nallow = args_list(a, H_ALLOW, allow_v, PROXY_MAX_ALLOW);
	for (size_t i = 0; i < nallow; i++)
		if (proxy_allow_parse(allow_v[i], &allow[i], &e) < 0)
			return usage_error("--allow: %s", e.msg);

	struct proxy_config cfg = {
		.routes = &r, .nroutes = 1, .allow = allow, .nallow = nallow};
	struct proxy *p;
	if (proxy_new(&cfg, NULL, &p, &e) < 0) {
		if (e.code == ERR_USAGE)
			return usage_error("--connect: %s", e.msg);
		fprintf(stderr, "nitro-host: %s\n", e.msg);
		return EXIT_RUNTIME;
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
	return rc < 0 ? EXIT_RUNTIME : 0;
}

static int cmd_run(const struct args *a)
{
	int rc;
	const char *config = args_get(a, H_CONFIG);
	if (!config)
		return usage_error("--config: required (a YAML file)");
	if ((rc = setup_logging(a)) != 0)
		return rc;
	struct host_config cfg;
	struct err e = {0};
	if (host_config_load(config, &cfg, &e) < 0) {
		fprintf(stderr, "nitro-host run: --config: %s\n", e.msg);
		return e.code == ERR_IO ? EXIT_RUNTIME : EXIT_USAGE;
	}
	rc = host_run(&cfg);
	host_config_free(&cfg);
	return rc;
}

/* The commands and the flags (of FLAGS) each takes. */
static const struct host_command {
	const char *name;
	const char *const *flags;
	int (*run)(const struct args *a);
} COMMANDS[] = {
	{"proxy",
	 (const char *const[]){"listen", "connect", "allow", "max-connections",
			       "idle-timeout", "connect-timeout", "logging",
			       "log-format", NULL},
	 cmd_proxy},
	{"run", (const char *const[]){"config", "logging", "log-format", NULL},
	 cmd_run},
};

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
	const struct host_command *c = NULL;
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
		if (strcmp(cmd, COMMANDS[i].name) == 0)
			c = &COMMANDS[i];
	if (!c)
		return usage_error("unknown command '%s' (proxy or run)", cmd);
	/* The command's flags by the rules every binary shares (core/args.c). */
	struct args_spec spec = {.cmd = c->name, .flags = FLAGS,
				 .nflags = H_COUNT, .only = c->flags};
	struct args a;
	struct err e = {0};
	if (args_parse(&spec, argc - 2, argv + 2, &a, &e) < 0)
		return usage_error("%s", e.msg);
	if (a.help) {
		fputs(USAGE, stdout);
		return 0;
	}
	return c->run(&a);
}
