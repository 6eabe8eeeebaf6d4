/*
 * cli.c: the nitro-signer command line. Flag names are Web3Signer's so that
 * operators can switch without relearning; see DESIGN.md section 4 and
 * `nitro-signer --help`. Parsing is core's args_parse (the rules every
 * binary shares: --name=value or --name value, a repeated or unknown flag
 * refused) in three stages: global options, the `eth2` subcommand's, then an
 * eth2 command's. signer_cli_parse is the skeleton `nitro-signer enclave`
 * shares, with the server flags both take. Every error names the flag and
 * exits 2; runtime failures exit 1.
 */
#include "signer/signer.h"
#include "signer/metrics.h"
#include "slashing/slashing.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
	"usage: nitro-signer [global options] eth2 [eth2 options]\n"
	"       nitro-signer enclave --help   (the Nitro Enclave runtime)\n"
	"Flags: --name=value or --name value, booleans --name[=true|false];\n"
	"a flag given twice is an error (exit 2).\n"
	"\n"
	"global options:\n"
	"  --http-listen-host=HOST          bind address (default 127.0.0.1)\n"
	"  --http-listen-port=PORT          port (default 9000)\n"
	"  --http-listen=ADDR               tcp:HOST:PORT, unix:PATH or vsock:CID:PORT\n"
	"                                   (overrides host and port)\n"
	"  --http-host-allowlist=LIST       allowed Host headers, comma separated,\n"
	"                                   * for any (default localhost,127.0.0.1)\n"
	"  --tls-keystore-file=P12          PKCS#12 server key and certificate: enables TLS\n"
	"  --tls-keystore-password-file=F   its password (first line)\n"
	"  --tls-allow-any-client           TLS without client certificates\n"
	"  --tls-known-clients-file=F       mTLS: lines '<name> <SHA-256 fingerprint>'\n"
	"  --key-store-path=DIR             Web3Signer YAML key configs (file-raw,\n"
	"                                   file-keystore)\n"
	"  --metrics-enabled                serve Prometheus metrics at /metrics on\n"
	"                                   a listener of their own (default false)\n"
	"  --metrics-host=HOST              its address (default 127.0.0.1)\n"
	"  --metrics-port=PORT              its port (default 9001)\n"
	"  --metrics-host-allowlist=LIST    allowed Host headers, comma separated,\n"
	"                                   * or all for any, none for none\n"
	"                                   (default localhost,127.0.0.1)\n"
	"  --http-max-connections=N         concurrent API connections; more are\n"
	"                                   refused (default: from memory)\n"
	"  --idle-connection-timeout-seconds=N  keep-alive idle timeout (default 30)\n"
	"  --logging=LEVEL                  DEBUG, INFO, WARN, ERROR (default INFO)\n"
	"  --log-format=text|json           log line format (default text)\n"
	"  --progress[=true|false]          count keystores decrypted at start-up\n"
	"                                   on stderr (default: when a terminal)\n"
	"  --help, --version\n"
	"\n"
	"eth2 options:\n"
	"  --network=NAME|PATH              mainnet, hoodi, sepolia, holesky, minimal,\n"
	"                                   or a consensus-spec config YAML (default mainnet)\n"
	"  --keystores-path=DIR             EIP-2335 keystores (*.json)\n"
	"  --keystores-passwords-path=DIR   <keystore name>.txt password per keystore\n"
	"  --keystores-password-file=F      one password for every keystore\n"
	"  --allow-signing-types=LIST       signing types served, comma separated\n"
	"                                   (default: all). Duty types are all\n"
	"                                   allowed unless some are listed;\n"
	"                                   VOLUNTARY_EXIT, DEPOSIT,\n"
	"                                   EXECUTION_PAYLOAD_BID and\n"
	"                                   BUILDER_REQUEST_AUTH only when listed;\n"
	"                                   others get 403 type_not_allowed\n"
	"  --slashing-protection-enabled=true|false  (default true)\n"
	"  --slashing-protection-db-url=URL sqlite:PATH (default sqlite:./slashing.db)\n"
	"                                   or dynamodb://TABLE?region=R[&endpoint=URL]\n"
	"  --slashing-protection-mac-key-file=F  dynamodb: 64 hex characters, the\n"
	"                                   key of the items' MAC (same file on\n"
	"                                   every signer sharing the table)\n"
	"  --slashing-protection-pruning-enabled=true|false  (default true)\n"
	"  --slashing-protection-pruning-epochs-to-keep=N     (default 250)\n"
	"  --slashing-protection-pruning-interval=HOURS       (default 12)\n"
	"  --slashing-protection-clock-guard-epochs=N  refuse (412 clock) blocks\n"
	"                                   and attestations more than N epochs\n"
	"                                   from the current epoch by this\n"
	"                                   machine's clock; 0 = off (default 0)\n"
	"  --key-manager-api-enabled=true|false  serve the Keymanager API\n"
	"                                   (/eth/v1/keystores; default false);\n"
	"                                   needs --keystores-passwords-path\n"
	"  --key-manager-api-token-file=F   its bearer token (made, 256 random\n"
	"                                   bits, 0600, when missing; default\n"
	"                                   .keymanager-api-token in\n"
	"                                   --keystores-path)\n"
	"\n"
	"eth2 commands (slashing-protection database, EIP-3076 interchange v5):\n"
	"  eth2 [--network=..] [--slashing-protection-db-url=URL] import --from=FILE\n"
	"       [--genesis-validators-root=0x..]  merge a file; all or nothing\n"
	"  eth2 [..] export --to=FILE            write every record\n"
	"  eth2 [..] evaluate [--genesis-validators-root=0x..] [--from=FILE]\n"
	"       [--dry-run]  JSON lines in, one decision per line out; what it\n"
	"       allows is RECORDED, as when signing, unless --dry-run (checked\n"
	"       against a throwaway copy); counts on stderr\n"
	"  eth2 [..] watermark-repair [--epoch=E] [--slot=S]\n"
	"       [--set-high-watermark | --remove-high-watermark]\n"
	"  eth2 --slashing-protection-db-url=dynamodb://.. create-table\n"
	"       create the table (key pk, string) and wait until it is active\n"
	"The genesis validators root comes from --genesis-validators-root, or from\n"
	"an explicit --network. Only import creates a database: the other commands\n"
	"refuse a SQLite file that does not exist. Each prints what it did in one\n"
	"line (evaluate on stderr: its stdout is one line per input line).\n";

/* The program's own flags; the server flags it shares with nitro-signer
 * enclave are SIGNER_FLAG_* (signer.h). */
enum opt_id {
	O_HOST = SIGNER_FLAG_END, O_PORT, O_ALLOW, O_KEYSTORE_PATH, O_METRICS,
	O_IDLE, O_LOGGING, O_LOG_FORMAT,
	O_NETWORK, O_KS_PATH, O_KS_PWS, O_KS_PWF, O_SP_ENABLED, O_SP_URL,
	O_KM_API, O_KM_TOKEN, O_PRUNE, O_PRUNE_KEEP, O_PRUNE_INTERVAL, O_TYPES, O_SP_MAC,
	O_CLOCK, O_PROGRESS, O_METRICS_HOST, O_METRICS_PORT, O_METRICS_ALLOW,
	O_FROM, O_TO, O_GVR, O_EPOCH, O_SLOT, O_SET_HIGH, O_REMOVE_HIGH,
	O_DRY_RUN,
};

static const struct args_flag global_flags[] = {
	SIGNER_SERVER_FLAGS,
	{"http-listen-host", ARGS_VALUE, O_HOST, 0},
	{"http-listen-port", ARGS_VALUE, O_PORT, 0},
	{"http-host-allowlist", ARGS_VALUE, O_ALLOW, 0},
	{"key-store-path", ARGS_VALUE, O_KEYSTORE_PATH, 0},
	{"key-config-path", ARGS_VALUE, O_KEYSTORE_PATH, 0},
	{"metrics-enabled", ARGS_BOOL, O_METRICS, 0},
	{"metrics-host", ARGS_VALUE, O_METRICS_HOST, 0},
	{"metrics-port", ARGS_VALUE, O_METRICS_PORT, 0},
	{"metrics-host-allowlist", ARGS_VALUE, O_METRICS_ALLOW, 0},
	{"idle-connection-timeout-seconds", ARGS_VALUE, O_IDLE, 0},
	{"logging", ARGS_VALUE, O_LOGGING, 0},
	{"progress", ARGS_BOOL, O_PROGRESS, 0},
	{"log-format", ARGS_VALUE, O_LOG_FORMAT, 0},
};

static const struct args_flag eth2_flags[] = {
	{"network", ARGS_VALUE, O_NETWORK, 0},
	{"keystores-path", ARGS_VALUE, O_KS_PATH, 0},
	{"keystores-passwords-path", ARGS_VALUE, O_KS_PWS, 0},
	{"keystores-password-file", ARGS_VALUE, O_KS_PWF, 0},
	{"slashing-protection-enabled", ARGS_BOOL, O_SP_ENABLED, 0},
	{"slashing-protection-db-url", ARGS_VALUE, O_SP_URL, 0},
	{"slashing-protection-mac-key-file", ARGS_VALUE, O_SP_MAC, 0},
	{"slashing-protection-pruning-enabled", ARGS_BOOL, O_PRUNE, 0},
	{"slashing-protection-pruning-epochs-to-keep", ARGS_VALUE, O_PRUNE_KEEP,
	 0},
	{"slashing-protection-pruning-interval", ARGS_VALUE, O_PRUNE_INTERVAL,
	 0},
	{"allow-signing-types", ARGS_VALUE, O_TYPES, 0},
	{"slashing-protection-clock-guard-epochs", ARGS_VALUE, O_CLOCK, 0},
	{"key-manager-api-enabled", ARGS_BOOL, O_KM_API, 0},
	{"enable-key-manager-api", ARGS_BOOL, O_KM_API, 0},
	{"key-manager-api-token-file", ARGS_VALUE, O_KM_TOKEN, 0},
};

/* The eth2 commands' flags; the command table says which each takes. */
static const struct args_flag cmd_flags[] = {
	{"from", ARGS_VALUE, O_FROM, 0},
	{"to", ARGS_VALUE, O_TO, 0},
	{"genesis-validators-root", ARGS_VALUE, O_GVR, 0},
	{"epoch", ARGS_VALUE, O_EPOCH, 0},
	{"slot", ARGS_VALUE, O_SLOT, 0},
	{"set-high-watermark", ARGS_BOOL, O_SET_HIGH, 0},
	{"remove-high-watermark", ARGS_BOOL, O_REMOVE_HIGH, 0},
	{"dry-run", ARGS_BOOL, O_DRY_RUN, 0},
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A whole number in [1, max] for flag, or a usage error naming it. */
static int parse_range(const char *flag, const char *v, uint64_t max,
		       const char *expected, uint64_t *out, struct err *e)
{
	if (dec_parse_u64(v, out, NULL, "") < 0 || *out == 0 || *out > max)
		return err_set(e, ERR_USAGE, "--%s: expected %s", flag,
			       expected);
	return 0;
}

int signer_cli_parse(const struct args_spec *spec, int argc, char **argv,
		     const char *usage, struct args *out,
		     struct signer_server_args *srv, bool *exit_now,
		     struct err *e)
{
	TRY(args_parse(spec, argc, argv, out, e));
	if (out->help) {
		fputs(usage, stdout);
		*exit_now = true;
		return 0;
	}
	if (args_bool(out, SIGNER_FLAG_VERSION, false)) {
		printf("nitro-signer %s\n", NS_VERSION);
		*exit_now = true;
		return 0;
	}
	for (size_t i = 0; srv && i < out->n; i++) {
		const char *v = out->item[i].value;
		uint64_t n;
		switch (out->item[i].id) {
		case SIGNER_FLAG_LISTEN: srv->listen = v; break;
		case SIGNER_FLAG_TLS_KEYSTORE: srv->tls.keystore_file = v; break;
		case SIGNER_FLAG_TLS_PASSWORD:
			srv->tls.keystore_password_file = v;
			break;
		case SIGNER_FLAG_TLS_ANY_CLIENT:
			srv->tls.allow_any_client = strcmp(v, "true") == 0;
			break;
		case SIGNER_FLAG_TLS_KNOWN_CLIENTS:
			srv->tls.known_clients_file = v;
			break;
		case SIGNER_FLAG_MAX_CONNS:
			TRY(parse_range("http-max-connections", v, 65536,
					"1..65536", &n, e));
			srv->max_conns = (int)n;
			break;
		}
	}
	return 0;
}

/* --metrics-host and --metrics-port, as they were given */
struct metrics_flags {
	const char *host, *port;
};

static int global_opt(int id, const char *arg, struct signer_options *o,
		      const char **host, const char **port,
		      struct metrics_flags *mf, struct err *e)
{
	uint64_t n;
	switch (id) {
	case O_HOST: *host = arg; return 0;
	case O_PORT: *port = arg; return 0;
	case O_METRICS_HOST: mf->host = arg; return 0;
	case O_METRICS_PORT: mf->port = arg; return 0;
	case O_METRICS_ALLOW:
		return signer_metrics_allowlist_parse(
			arg, &o->metrics_host_allowlist, e);
	case O_ALLOW: o->host_allowlist = arg; return 0;
	case O_KEYSTORE_PATH: o->key_store_path = arg; return 0;
	case O_METRICS: o->metrics_enabled = strcmp(arg, "true") == 0; return 0;
	case O_IDLE:
		TRY(parse_range("idle-connection-timeout-seconds", arg, 86400,
				"1..86400", &n, e));
		o->idle_timeout_s = (int)n;
		return 0;
	case O_PROGRESS:
		o->progress = strcmp(arg, "true") == 0;
		o->progress_given = true;
		return 0;
	case O_LOGGING:
		if (log_parse_level(arg, &o->log_level) < 0)
			return err_set(e, ERR_USAGE, "--logging: unknown level '%s'",
				       arg);
		return 0;
	case O_LOG_FORMAT:
		if (strcmp(arg, "text") == 0)
			o->log_format = LOG_FORMAT_TEXT;
		else if (strcmp(arg, "json") == 0)
			o->log_format = LOG_FORMAT_JSON;
		else
			return err_set(e, ERR_USAGE,
				       "--log-format: expected text or json");
		return 0;
	}
	return 0;
}

static int eth2_opt(int id, const char *arg, struct signer_options *o,
		    struct err *e)
{
	uint64_t h;
	switch (id) {
	case O_NETWORK:
		o->network_name = arg;
		o->network_given = true;
		return 0;
	case O_KS_PATH: o->keystores_path = arg; return 0;
	case O_KS_PWS: o->keystores_passwords_path = arg; return 0;
	case O_KS_PWF: o->keystores_password_file = arg; return 0;
	case O_SP_ENABLED:
		o->slashing_enabled = strcmp(arg, "true") == 0;
		return 0;
	case O_SP_URL: o->slashing_db_url = arg; return 0;
	case O_SP_MAC: o->slashing_mac_key_file = arg; return 0;
	case O_TYPES:
		o->allow_signing_types = arg;
		return signer_signing_types_parse(arg, false, &o->signing_types, e);
	case O_PRUNE:
		o->pruning.enabled = strcmp(arg, "true") == 0;
		return 0;
	case O_PRUNE_KEEP:
		if (dec_parse_u64(arg, &o->pruning.epochs_to_keep, NULL, "") < 0 ||
		    o->pruning.epochs_to_keep == 0)
			return err_set(e, ERR_USAGE, "--slashing-protection-"
				       "pruning-epochs-to-keep: expected a "
				       "positive integer");
		return 0;
	case O_PRUNE_INTERVAL:
		TRY(parse_range("slashing-protection-pruning-interval", arg,
				8760, "1..8760 hours", &h, e));
		o->pruning.interval_s = h * 3600;
		return 0;
	case O_CLOCK:
		return signer_clock_guard_parse(arg, &o->clock_guard_epochs, e);
	case O_KM_API:
		o->key_manager_api_enabled = strcmp(arg, "true") == 0;
		return 0;
	case O_KM_TOKEN: o->key_manager_token_file = arg; return 0;
	}
	return 0;
}

static int cmd_opt(int id, const char *arg, struct signer_options *o,
		   struct err *e)
{
	switch (id) {
	case O_FROM: o->from_path = arg; return 0;
	case O_TO: o->to_path = arg; return 0;
	case O_GVR:
		o->has_gvr = true;
		return hex_decode_exact(arg, o->gvr, 32, e,
					"--genesis-validators-root") < 0
			       ? -ERR_USAGE : 0;
	case O_EPOCH:
		o->repair_has_epoch = true;
		return dec_parse_u64(arg, &o->repair_epoch, e, "--epoch") < 0
			       ? -ERR_USAGE : 0;
	case O_SLOT:
		o->repair_has_slot = true;
		return dec_parse_u64(arg, &o->repair_slot, e, "--slot") < 0
			       ? -ERR_USAGE : 0;
	case O_SET_HIGH:
		o->repair_set_high = strcmp(arg, "true") == 0;
		return 0;
	case O_REMOVE_HIGH:
		o->repair_remove_high = strcmp(arg, "true") == 0;
		return 0;
	case O_DRY_RUN:
		o->dry_run = strcmp(arg, "true") == 0;
		return 0;
	}
	return 0;
}

/* The eth2 commands and the flags (of cmd_flags) each takes. */
static const struct {
	const char *name;
	enum signer_command cmd;
	const char *const *flags;
} commands[] = {
	{"import", SIGNER_CMD_IMPORT,
	 (const char *const[]){"from", "genesis-validators-root", NULL}},
	{"export", SIGNER_CMD_EXPORT, (const char *const[]){"to", NULL}},
	{"evaluate", SIGNER_CMD_EVALUATE,
	 (const char *const[]){"genesis-validators-root", "from", "dry-run",
			       NULL}},
	{"watermark-repair", SIGNER_CMD_WATERMARK_REPAIR,
	 (const char *const[]){"epoch", "slot", "set-high-watermark",
			       "remove-high-watermark", NULL}},
	{"create-table", SIGNER_CMD_CREATE_TABLE, (const char *const[]){NULL}},
};

/* What each command needs beyond its flags' own checks. */
static int check_command(const struct signer_options *o, struct err *e)
{
	switch (o->command) {
	case SIGNER_CMD_IMPORT:
		if (!o->from_path)
			return err_set(e, ERR_USAGE, "import: --from=FILE is required");
		break;
	case SIGNER_CMD_EXPORT:
		if (!o->to_path)
			return err_set(e, ERR_USAGE, "export: --to=FILE is required");
		break;
	case SIGNER_CMD_EVALUATE:
		if (!o->has_gvr && !o->network_given)
			return err_set(e, ERR_USAGE, "evaluate: "
				       "--genesis-validators-root (or --network) "
				       "is required");
		break;
	case SIGNER_CMD_CREATE_TABLE:
		break;
	case SIGNER_CMD_WATERMARK_REPAIR:
		if (o->repair_set_high && o->repair_remove_high)
			return err_set(e, ERR_USAGE, "watermark-repair: "
				       "--set-high-watermark and "
				       "--remove-high-watermark are exclusive");
		if (!o->repair_remove_high && !o->repair_has_epoch &&
		    !o->repair_has_slot)
			return err_set(e, ERR_USAGE, "watermark-repair: give "
				       "--epoch and/or --slot");
		break;
	case SIGNER_CMD_SERVE:
		break;
	}
	return 0;
}

static int parse_command(int argc, char **argv, struct signer_options *o,
			 bool *exit_now, struct err *e)
{
	size_t i;
	for (i = 0; i < NELEMS(commands); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == NELEMS(commands))
		return err_set(e, ERR_USAGE, "eth2: unknown command '%s' (import, "
			       "export, evaluate, watermark-repair, "
			       "create-table)", argv[0]);
	o->command = commands[i].cmd;
	struct args_spec spec = {.cmd = argv[0], .flags = cmd_flags,
				 .nflags = NELEMS(cmd_flags),
				 .only = commands[i].flags};
	struct args a;
	TRY(signer_cli_parse(&spec, argc - 1, argv + 1, usage_text, &a, NULL,
			     exit_now, e));
	if (*exit_now)
		return 0;
	for (size_t k = 0; k < a.n; k++)
		TRY(cmd_opt(a.item[k].id, a.item[k].value, o, e));
	return check_command(o, e);
}

static int check_options(struct signer_options *o, struct err *e)
{
	o->tls_enabled = o->tls.keystore_file != NULL;
	const char *tls_only = o->tls.known_clients_file ? "--tls-known-clients-file"
			       : o->tls.allow_any_client ? "--tls-allow-any-client"
			       : o->tls.keystore_password_file
					 ? "--tls-keystore-password-file" : NULL;
	if (!o->tls_enabled && tls_only)
		return err_set(e, ERR_USAGE, "%s: has no effect without TLS "
			       "(--tls-keystore-file)", tls_only);
	if (!o->allow_signing_types)
		TRY(signer_signing_types_parse(NULL, false, &o->signing_types, e));
	if (o->keystores_path && !o->keystores_passwords_path &&
	    !o->keystores_password_file)
		return err_set(e, ERR_USAGE, "--keystores-path needs "
			       "--keystores-passwords-path or "
			       "--keystores-password-file");
	if (o->keystores_passwords_path && o->keystores_password_file)
		return err_set(e, ERR_USAGE, "--keystores-passwords-path and "
			       "--keystores-password-file are exclusive");
	if (o->slashing_db_url)
		TRY(slashing_url_check(o->slashing_db_url, NULL, e));
	if (o->key_manager_token_file && !o->key_manager_api_enabled)
		return err_set(e, ERR_USAGE, "--key-manager-api-token-file: has "
			       "no effect without --key-manager-api-enabled");
	if (o->key_manager_api_enabled &&
	    (!o->keystores_path || !o->keystores_passwords_path))
		return err_set(e, ERR_USAGE, "--key-manager-api-enabled needs "
			       "--keystores-path and --keystores-passwords-path "
			       "(imported keystores and their passwords are "
			       "stored there)");
	return 0;
}

static void set_defaults(struct signer_options *o)
{
	memset(o, 0, sizeof(*o));
	o->host_allowlist = "localhost,127.0.0.1";
	o->metrics_host_allowlist = "localhost,127.0.0.1";
	o->network_name = "mainnet";
	o->slashing_enabled = true;
	o->slashing_db_url = "sqlite:./slashing.db";
	o->pruning.enabled = true;
	o->pruning.epochs_to_keep = 250;
	o->pruning.interval_s = 12 * 3600;
	o->log_level = LOG_INFO;
	o->idle_timeout_s = 30;
}

/* --http-listen, else --http-listen-host and --http-listen-port. */
static int listen_addr(const char *listen, const char *host, const char *port,
		       struct http_addr *out, struct err *e)
{
	if (listen)
		return http_addr_parse(listen, out, e);
	char addr[300];
	snprintf(addr, sizeof(addr), "tcp:%s:%s", host, port);
	if (http_addr_parse(addr, out, NULL) < 0)
		return err_set(e, ERR_USAGE, "--http-listen-host/--http-"
			       "listen-port: invalid '%s:%s'", host, port);
	return 0;
}

int signer_parse_args(int argc, char **argv, struct signer_options *o,
		      bool *exit_now, struct err *e)
{
	set_defaults(o);
	*exit_now = false;
	const char *host = "127.0.0.1", *port = "9000";
	struct metrics_flags mf = {"127.0.0.1", "9001"};
	struct signer_server_args srv = {0};
	struct args a;
	struct args_spec spec = {.cmd = "nitro-signer", .flags = global_flags,
				 .nflags = NELEMS(global_flags),
				 .stop_at_positional = true};
	TRY(signer_cli_parse(&spec, argc - 1, argv + 1, usage_text, &a, &srv,
			     exit_now, e));
	if (*exit_now)
		return 0;
	for (size_t i = 0; i < a.n; i++)
		TRY(global_opt(a.item[i].id, a.item[i].value, o, &host, &port,
			       &mf, e));
	o->tls = srv.tls;
	o->max_conns = srv.max_conns;
	int next = 1 + a.next;
	if (next >= argc || strcmp(argv[next], "eth2") != 0)
		return err_set(e, ERR_USAGE, next >= argc
				       ? "missing subcommand: eth2 (see --help)"
				       : "unknown subcommand '%s' (expected eth2)",
			       next < argc ? argv[next] : "");
	o->eth2 = true;
	spec = (struct args_spec){.cmd = "eth2", .flags = eth2_flags,
				  .nflags = NELEMS(eth2_flags),
				  .stop_at_positional = true};
	TRY(signer_cli_parse(&spec, argc - next - 1, argv + next + 1,
			     usage_text, &a, NULL, exit_now, e));
	if (*exit_now)
		return 0;
	for (size_t i = 0; i < a.n; i++)
		TRY(eth2_opt(a.item[i].id, a.item[i].value, o, e));
	int rest = next + 1 + a.next;
	if (rest < argc)
		TRY(parse_command(argc - rest, argv + rest, o, exit_now, e));
	if (*exit_now)
		return 0;
	TRY(listen_addr(srv.listen, host, port, &o->listen, e));
	char maddr[300];
	snprintf(maddr, sizeof(maddr), "tcp:%s:%s", mf.host, mf.port);
	if (http_addr_parse(maddr, &o->metrics_listen, NULL) < 0)
		return err_set(e, ERR_USAGE, "--metrics-host/--metrics-port: "
			       "invalid '%s:%s'", mf.host, mf.port);
	return check_options(o, e);
}

/* import, export, evaluate, watermark-repair: one line on failure. */
/* --slashing-protection-mac-key-file: one line of 64 hex characters. */
static int load_mac_key(const char *path, uint8_t key[32], struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	TRY(file_read_all(path, 4096, &text, &len, e));
	size_t n = strcspn(text, "\r\n");
	bool one_line = text[n] == '\0' || strspn(text + n, "\r\n") == len - n;
	char hex[2 + 64 + 1] = "0x";
	int rc = 0;
	if (n != 64 || !one_line)
		rc = err_set(e, ERR_USAGE, "--slashing-protection-mac-key-file: "
			     "%s: expected one line of 64 hex characters", path);
	if (rc == 0) {
		memcpy(hex + 2, text, 64);
		hex[66] = '\0';
		if (hex_decode_exact(hex, key, 32, NULL, "") < 0)
			rc = err_set(e, ERR_USAGE, "--slashing-protection-mac-"
				     "key-file: %s: not hex", path);
	}
	OPENSSL_cleanse(text, len);
	free(text);
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

static int run_command(struct signer_options *o, const struct eth2_network *net)
{
	struct err e = {0};
	int rc = 0;
	const char *url = o->slashing_db_url; /* the CLI's: durable only */
	char summary[SLASHING_SUMMARY_MAX] = "";
	uint8_t mac[32];
	struct slashing_open_opts opts_v = {0};
	const struct slashing_open_opts *opts = &opts_v;
	if (o->slashing_mac_key_file) {
		if (load_mac_key(o->slashing_mac_key_file, mac, &e) < 0)
			return args_fail("nitro-signer", &e);
		opts_v.mac_key = mac;
	}
	const uint8_t *gvr = o->has_gvr ? o->gvr : NULL;
	if (!gvr && o->network_given && net->has_genesis_validators_root)
		gvr = net->genesis_validators_root;
	switch (o->command) {
	case SIGNER_CMD_IMPORT:
		rc = slashing_cmd_import(url, opts, o->from_path, gvr, summary,
					 &e);
		break;
	case SIGNER_CMD_EXPORT:
		rc = slashing_cmd_export(url, opts, o->to_path, summary, &e);
		break;
	case SIGNER_CMD_EVALUATE: {
		if (!gvr) {
			fprintf(stderr, "nitro-signer: evaluate: network %s has no "
				"known genesis validators root; give "
				"--genesis-validators-root\n", net->name);
			return EXIT_USAGE;
		}
		FILE *in = stdin;
		if (o->from_path && !(in = fopen(o->from_path, "r"))) {
			fprintf(stderr, "nitro-signer: evaluate: --from: cannot "
				"open %s\n", o->from_path);
			return EXIT_RUNTIME;
		}
		rc = slashing_cmd_evaluate(url, opts, gvr, o->dry_run, in, stdout,
					   summary, &e);
		if (in != stdin)
			fclose(in);
		if (summary[0])
			fprintf(stderr, "nitro-signer: evaluate: %s\n", summary);
		summary[0] = '\0'; /* stdout: one line per input line */
		break;
	}
	case SIGNER_CMD_WATERMARK_REPAIR: {
		struct slashing_watermark w = {
			.has_slot = o->repair_has_slot, .slot = o->repair_slot,
			.has_epoch = o->repair_has_epoch, .epoch = o->repair_epoch};
		enum slashing_repair_mode mode =
			o->repair_remove_high ? SLASHING_REPAIR_REMOVE_HIGH
			: o->repair_set_high  ? SLASHING_REPAIR_SET_HIGH
					      : SLASHING_REPAIR_LOW;
		rc = slashing_cmd_watermark_repair(url, opts, mode, &w,
						   summary, &e);
		break;
	}
	case SIGNER_CMD_CREATE_TABLE:
		rc = slashing_cmd_create_table(url, opts, &e);
		if (rc == 0)
			printf("slashing-protection table ready: %s\n", url);
		break;
	case SIGNER_CMD_SERVE:
		break;
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	if (rc == 0 && summary[0])
		printf("%s\n", summary);
	return rc < 0 ? args_fail("nitro-signer", &e) : 0;
}

static struct signer *the_signer(void *ctx) { return ctx; }

/* --metrics-enabled: the metrics listener (metrics.c) beside the API. */
static int start_metrics(const struct signer_options *o, struct signer *s,
			 struct signer_metrics_server **out, struct err *e)
{
	TRY(signer_metrics_server_start(&o->metrics_listen,
					o->metrics_host_allowlist, the_signer,
					s, out, e));
	struct http_addr shown = o->metrics_listen;
	shown.port = signer_metrics_server_port(*out);
	char url[400];
	http_addr_describe(&shown, false, url, sizeof(url));
	log_info("metrics: %s/metrics", url);
	return 0;
}

int signer_main(int argc, char **argv)
{
	struct signer_options o;
	struct err e = {0};
	bool exit_now = false;
	if (signer_parse_args(argc, argv, &o, &exit_now, &e) < 0) {
		fprintf(stderr, "nitro-signer: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (exit_now)
		return 0;
	log_setup(o.log_level, o.log_format);
	secret_init();
	if (!o.slashing_enabled)
		log_warn("slashing protection is DISABLED "
			 "(--slashing-protection-enabled=false): blocks and "
			 "attestations are signed without any check");
	if (o.key_manager_api_enabled && !o.tls_enabled)
		log_warn("keymanager API over plain HTTP: its bearer token and "
			 "the keystore passwords it receives are readable on "
			 "the network unless it listens on a loopback address "
			 "(--tls-keystore-file serves it over TLS)");

	struct eth2_network net;
	struct signer *s = NULL;
	SSL_CTX *tls = NULL;
	struct http_server *srv = NULL;
	struct signer_metrics_server *metrics = NULL;
	int rc = 0, exit_code = 1;
	if (eth2_network_load(o.network_name, &net, &e) < 0) {
		fprintf(stderr, "nitro-signer: --network: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (o.command != SIGNER_CMD_SERVE)
		return run_command(&o, &net);
	uint8_t mac[32];
	if (o.slashing_mac_key_file) {
		if (load_mac_key(o.slashing_mac_key_file, mac, &e) < 0) {
			fprintf(stderr, "nitro-signer: %s\n", e.msg);
			return EXIT_USAGE;
		}
		o.slashing_mac_key = mac;
	}
	/* TLS first: a bad keystore or flag is a usage error, reported before
	 * keys are decrypted or the slashing database is touched. */
	if (o.tls_enabled)
		TRY_OUT(http_tls_server_ctx(&o.tls, &tls, &e));
	TRY_OUT(signer_new(&o, &net, &s, &e));
	if (o.metrics_enabled)
		TRY_OUT(start_metrics(&o, s, &metrics, &e));
	struct http_server_config cfg = {
		.listen = o.listen,
		.tls = tls,
		.host_allowlist = o.host_allowlist,
		.max_body = 1024 * 1024,
		.loops = cpu_count(),
		.idle_timeout_s = o.idle_timeout_s,
		.max_conns = o.max_conns,
		.handlers = signer_http_handlers(s),
	};
	TRY_OUT(http_server_new(&cfg, &srv, &e));
	struct http_addr shown = o.listen;
	shown.port = http_server_port(srv);
	char url[400];
	http_addr_describe(&shown, o.tls_enabled, url, sizeof(url));
	signer_print_banner(s, url);
	log_info("ready: %s", url);
	rc = http_server_run(srv);
	log_info("shutting down");
	exit_code = rc < 0 ? 1 : 0;
out:
	if (rc < 0 && e.msg[0])
		exit_code = args_fail("nitro-signer", &e);
	signer_metrics_server_stop(metrics);
	http_server_free(srv);
	SSL_CTX_free(tls);
	signer_free(s);
	return exit_code;
}
