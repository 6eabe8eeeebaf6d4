/*
 * cli.c: the nitro-signer command line. Flag names are Web3Signer's so that
 * operators can switch without relearning; see DESIGN.md section 4 and
 * `nitro-signer --help`. Parsing is getopt_long in two stages: global
 * options, then the `eth2` subcommand's options. Every error names the flag
 * and exits 2; runtime failures exit 1.
 */
#include "signer/signer.h"
#include "slashing/slashing.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage_text[] =
	"usage: nitro-signer [global options] eth2 [eth2 options]\n"
	"       nitro-signer enclave --help   (the Nitro Enclave runtime)\n"
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
	"  --metrics-enabled                serve Prometheus text at /metrics\n"
	"  --http-max-connections=N         concurrent API connections; more are\n"
	"                                   refused (default: from memory)\n"
	"  --idle-connection-timeout-seconds=N  keep-alive idle timeout (default 30)\n"
	"  --logging=LEVEL                  DEBUG, INFO, WARN, ERROR (default INFO)\n"
	"  --log-format=text|json           log line format (default text)\n"
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
	"                                   VOLUNTARY_EXIT and DEPOSIT only when\n"
	"                                   listed; others get 403 type_not_allowed\n"
	"  --slashing-protection-enabled=true|false  (default true)\n"
	"  --slashing-protection-db-url=URL sqlite:PATH (default sqlite:./slashing.db)\n"
	"  --slashing-protection-pruning-enabled=true|false  (default true)\n"
	"  --slashing-protection-pruning-epochs-to-keep=N     (default 250)\n"
	"  --slashing-protection-pruning-interval=HOURS       (default 12)\n"
	"\n"
	"eth2 commands (slashing-protection database, EIP-3076 interchange v5):\n"
	"  eth2 [--network=..] [--slashing-protection-db-url=URL] import --from=FILE\n"
	"       [--genesis-validators-root=0x..]  merge a file; all or nothing\n"
	"  eth2 [..] export --to=FILE            write every record\n"
	"  eth2 [..] evaluate [--genesis-validators-root=0x..] [--from=FILE]\n"
	"       JSON lines in, one decision per line out, recorded like signing\n"
	"  eth2 [..] watermark-repair [--epoch=E] [--slot=S]\n"
	"       [--set-high-watermark | --remove-high-watermark]\n"
	"The genesis validators root comes from --genesis-validators-root, or from\n"
	"an explicit --network.\n";

enum opt_id {
	O_HOST = 1000, O_PORT, O_LISTEN, O_ALLOW, O_TLS_KS, O_TLS_PW,
	O_TLS_ANY, O_TLS_KNOWN, O_KEYSTORE_PATH, O_METRICS, O_IDLE, O_LOGGING,
	O_LOG_FORMAT, O_HELP, O_VERSION,
	O_NETWORK, O_KS_PATH, O_KS_PWS, O_KS_PWF, O_SP_ENABLED, O_SP_URL,
	O_KM_API, O_PRUNE, O_PRUNE_KEEP, O_PRUNE_INTERVAL, O_TYPES, O_MAX_CONNS,
	O_FROM, O_TO, O_GVR, O_EPOCH, O_SLOT, O_SET_HIGH, O_REMOVE_HIGH,
};

static const struct option global_opts[] = {
	{"http-listen-host", required_argument, NULL, O_HOST},
	{"http-listen-port", required_argument, NULL, O_PORT},
	{"http-listen", required_argument, NULL, O_LISTEN},
	{"http-host-allowlist", required_argument, NULL, O_ALLOW},
	{"tls-keystore-file", required_argument, NULL, O_TLS_KS},
	{"tls-keystore-password-file", required_argument, NULL, O_TLS_PW},
	{"tls-allow-any-client", optional_argument, NULL, O_TLS_ANY},
	{"tls-known-clients-file", required_argument, NULL, O_TLS_KNOWN},
	{"key-store-path", required_argument, NULL, O_KEYSTORE_PATH},
	{"key-config-path", required_argument, NULL, O_KEYSTORE_PATH},
	{"metrics-enabled", optional_argument, NULL, O_METRICS},
	{"idle-connection-timeout-seconds", required_argument, NULL, O_IDLE},
	{"http-max-connections", required_argument, NULL, O_MAX_CONNS},
	{"logging", required_argument, NULL, O_LOGGING},
	{"log-format", required_argument, NULL, O_LOG_FORMAT},
	{"help", no_argument, NULL, O_HELP},
	{"version", no_argument, NULL, O_VERSION},
	{NULL, 0, NULL, 0},
};

static const struct option eth2_opts[] = {
	{"network", required_argument, NULL, O_NETWORK},
	{"keystores-path", required_argument, NULL, O_KS_PATH},
	{"keystores-passwords-path", required_argument, NULL, O_KS_PWS},
	{"keystores-password-file", required_argument, NULL, O_KS_PWF},
	{"slashing-protection-enabled", optional_argument, NULL, O_SP_ENABLED},
	{"slashing-protection-db-url", required_argument, NULL, O_SP_URL},
	{"slashing-protection-pruning-enabled", optional_argument, NULL, O_PRUNE},
	{"slashing-protection-pruning-epochs-to-keep", required_argument, NULL,
	 O_PRUNE_KEEP},
	{"slashing-protection-pruning-interval", required_argument, NULL,
	 O_PRUNE_INTERVAL},
	{"allow-signing-types", required_argument, NULL, O_TYPES},
	{"key-manager-api-enabled", optional_argument, NULL, O_KM_API},
	{"enable-key-manager-api", optional_argument, NULL, O_KM_API},
	{"help", no_argument, NULL, O_HELP},
	{NULL, 0, NULL, 0},
};

static const struct option cmd_opts[] = {
	{"from", required_argument, NULL, O_FROM},
	{"to", required_argument, NULL, O_TO},
	{"genesis-validators-root", required_argument, NULL, O_GVR},
	{"epoch", required_argument, NULL, O_EPOCH},
	{"slot", required_argument, NULL, O_SLOT},
	{"set-high-watermark", no_argument, NULL, O_SET_HIGH},
	{"remove-high-watermark", no_argument, NULL, O_REMOVE_HIGH},
	{"help", no_argument, NULL, O_HELP},
	{NULL, 0, NULL, 0},
};

static int parse_bool(const char *flag, const char *v, bool *out,
		      struct err *e)
{
	if (!v || strcasecmp(v, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(v, "false") == 0) {
		*out = false;
		return 0;
	}
	return err_set(e, ERR_USAGE, "--%s: expected true or false, got '%s'",
		       flag, v);
}

static const char *flag_name(const struct option *opts, int id)
{
	for (const struct option *o = opts; o->name; o++)
		if (o->val == id)
			return o->name;
	return "?";
}

static int global_opt(int id, const char *arg, struct signer_options *o,
		      const char **host, const char **port, const char **listen,
		      bool *exit_now, struct err *e)
{
	switch (id) {
	case O_HOST: *host = arg; return 0;
	case O_PORT: *port = arg; return 0;
	case O_LISTEN: *listen = arg; return 0;
	case O_ALLOW: o->host_allowlist = arg; return 0;
	case O_TLS_KS: o->tls.keystore_file = arg; return 0;
	case O_TLS_PW: o->tls.keystore_password_file = arg; return 0;
	case O_TLS_ANY:
		return parse_bool("tls-allow-any-client", arg,
				  &o->tls.allow_any_client, e);
	case O_TLS_KNOWN: o->tls.known_clients_file = arg; return 0;
	case O_KEYSTORE_PATH: o->key_store_path = arg; return 0;
	case O_METRICS:
		return parse_bool("metrics-enabled", arg, &o->metrics_enabled, e);
	case O_IDLE: {
		uint64_t v;
		if (dec_parse_u64(arg, &v, NULL, "") < 0 || v == 0 || v > 86400)
			return err_set(e, ERR_USAGE,
				       "--idle-connection-timeout-seconds: "
				       "expected 1..86400");
		o->idle_timeout_s = (int)v;
		return 0;
	}
	case O_MAX_CONNS: {
		uint64_t v;
		if (dec_parse_u64(arg, &v, NULL, "") < 0 || v == 0 || v > 65536)
			return err_set(e, ERR_USAGE, "--http-max-connections: "
				       "expected 1..65536");
		o->max_conns = (int)v;
		return 0;
	}
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
	case O_HELP:
		fputs(usage_text, stdout);
		*exit_now = true;
		return 0;
	case O_VERSION:
		printf("nitro-signer %s\n", NS_VERSION);
		*exit_now = true;
		return 0;
	}
	return err_set(e, ERR_USAGE, "unknown option (see --help)");
}

static int eth2_opt(int id, const char *arg, struct signer_options *o,
		    bool *exit_now, struct err *e)
{
	switch (id) {
	case O_NETWORK:
		o->network_name = arg;
		o->network_given = true;
		return 0;
	case O_KS_PATH: o->keystores_path = arg; return 0;
	case O_KS_PWS: o->keystores_passwords_path = arg; return 0;
	case O_KS_PWF: o->keystores_password_file = arg; return 0;
	case O_SP_ENABLED:
		return parse_bool("slashing-protection-enabled", arg,
				  &o->slashing_enabled, e);
	case O_SP_URL: o->slashing_db_url = arg; return 0;
	case O_TYPES:
		o->allow_signing_types = arg;
		return signer_signing_types_parse(arg, false, &o->signing_types, e);
	case O_PRUNE:
		return parse_bool("slashing-protection-pruning-enabled", arg,
				  &o->pruning.enabled, e);
	case O_PRUNE_KEEP:
		if (dec_parse_u64(arg, &o->pruning.epochs_to_keep, NULL, "") < 0 ||
		    o->pruning.epochs_to_keep == 0)
			return err_set(e, ERR_USAGE, "--slashing-protection-"
				       "pruning-epochs-to-keep: expected a "
				       "positive integer");
		return 0;
	case O_PRUNE_INTERVAL: {
		uint64_t h;
		if (dec_parse_u64(arg, &h, NULL, "") < 0 || h == 0 || h > 8760)
			return err_set(e, ERR_USAGE, "--slashing-protection-"
				       "pruning-interval: expected 1..8760 hours");
		o->pruning.interval_s = h * 3600;
		return 0;
	}
	case O_KM_API:
		TRY(parse_bool("key-manager-api-enabled", arg,
			       &o->key_manager_api_enabled, e));
		if (o->key_manager_api_enabled)
			return err_set(e, ERR_USAGE,
				       "--key-manager-api-enabled: the Keymanager "
				       "API is not available in this version");
		return 0;
	case O_HELP:
		fputs(usage_text, stdout);
		*exit_now = true;
		return 0;
	}
	return err_set(e, ERR_USAGE, "unknown eth2 option (see --help)");
}

static int cmd_opt(int id, const char *arg, struct signer_options *o,
		   bool *exit_now, struct err *e)
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
	case O_SET_HIGH: o->repair_set_high = true; return 0;
	case O_REMOVE_HIGH: o->repair_remove_high = true; return 0;
	case O_HELP:
		fputs(usage_text, stdout);
		*exit_now = true;
		return 0;
	}
	return err_set(e, ERR_USAGE, "unknown option (see --help)");
}

/* One getopt_long pass; stops at the first non-option ("+"). */
static int run_getopt(int argc, char **argv, const struct option *opts,
		      const char *what, struct signer_options *o,
		      const char **host, const char **port, const char **listen,
		      bool *exit_now, struct err *e)
{
	opterr = 0;
	optind = 1;
	int c, idx = 0;
	while ((c = getopt_long(argc, argv, "+", opts, &idx)) != -1) {
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];
			return err_set(e, ERR_USAGE, "%s: unknown or incomplete "
				       "option '%s' (see --help)", what, bad);
		}
		int rc = opts == global_opts
				 ? global_opt(c, optarg, o, host, port, listen,
					      exit_now, e)
			 : opts == eth2_opts ? eth2_opt(c, optarg, o, exit_now, e)
					     : cmd_opt(c, optarg, o, exit_now, e);
		if (rc < 0)
			return rc;
		if (*exit_now)
			return 0;
		(void)flag_name;
	}
	return optind;
}

static int parse_command(int argc, char **argv, struct signer_options *o,
			 bool *exit_now, struct err *e)
{
	static const struct {
		const char *name;
		enum signer_command cmd;
	} cmds[] = {{"import", SIGNER_CMD_IMPORT}, {"export", SIGNER_CMD_EXPORT},
		    {"evaluate", SIGNER_CMD_EVALUATE},
		    {"watermark-repair", SIGNER_CMD_WATERMARK_REPAIR}};
	size_t i;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		return err_set(e, ERR_USAGE, "eth2: unknown command '%s' (import, "
			       "export, evaluate, watermark-repair)", argv[0]);
	o->command = cmds[i].cmd;
	const char *unused = NULL;
	int rest = run_getopt(argc, argv, cmd_opts, argv[0], o, &unused,
			      &unused, &unused, exit_now, e);
	if (rest < 0 || *exit_now)
		return rest < 0 ? rest : 0;
	if (rest < argc)
		return err_set(e, ERR_USAGE, "%s: unexpected argument '%s'",
			       argv[0], argv[rest]);
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
	return 0;
}

int signer_parse_args(int argc, char **argv, struct signer_options *o,
		      bool *exit_now, struct err *e)
{
	memset(o, 0, sizeof(*o));
	o->host_allowlist = "localhost,127.0.0.1";
	o->network_name = "mainnet";
	o->slashing_enabled = true;
	o->slashing_db_url = "sqlite:./slashing.db";
	o->pruning.enabled = true;
	o->pruning.epochs_to_keep = 250;
	o->pruning.interval_s = 12 * 3600;
	o->log_level = LOG_INFO;
	o->idle_timeout_s = 30;
	*exit_now = false;
	const char *host = "127.0.0.1", *port = "9000", *listen = NULL;
	int next = run_getopt(argc, argv, global_opts, "nitro-signer", o, &host,
			      &port, &listen, exit_now, e);
	if (next < 0 || *exit_now)
		return next < 0 ? next : 0;
	if (next >= argc || strcmp(argv[next], "eth2") != 0)
		return err_set(e, ERR_USAGE, next >= argc
				       ? "missing subcommand: eth2 (see --help)"
				       : "unknown subcommand '%s' (expected eth2)",
			       next < argc ? argv[next] : "");
	o->eth2 = true;
	int sub_argc = argc - next;
	char **sub_argv = argv + next;
	int rest = run_getopt(sub_argc, sub_argv, eth2_opts, "eth2", o, &host,
			      &port, &listen, exit_now, e);
	if (rest < 0 || *exit_now)
		return rest < 0 ? rest : 0;
	if (rest < sub_argc)
		TRY(parse_command(sub_argc - rest, sub_argv + rest, o, exit_now,
				  e));
	if (*exit_now)
		return 0;
	if (listen) {
		TRY(http_addr_parse(listen, &o->listen, e));
	} else {
		char addr[300];
		snprintf(addr, sizeof(addr), "tcp:%s:%s", host, port);
		if (http_addr_parse(addr, &o->listen, NULL) < 0)
			return err_set(e, ERR_USAGE, "--http-listen-host/--http-"
				       "listen-port: invalid '%s:%s'", host, port);
	}
	return check_options(o, e);
}

/* import, export, evaluate, watermark-repair: one line on failure. */
static int run_command(struct signer_options *o, const struct eth2_network *net)
{
	struct err e = {0};
	int rc = 0;
	const char *url = o->slashing_db_url; /* the CLI's: durable only */
	const uint8_t *gvr = o->has_gvr ? o->gvr : NULL;
	if (!gvr && o->network_given && net->has_genesis_validators_root)
		gvr = net->genesis_validators_root;
	switch (o->command) {
	case SIGNER_CMD_IMPORT:
		rc = slashing_cmd_import(url, NULL, o->from_path, gvr, &e);
		break;
	case SIGNER_CMD_EXPORT:
		rc = slashing_cmd_export(url, NULL, o->to_path, &e);
		break;
	case SIGNER_CMD_EVALUATE: {
		if (!gvr) {
			fprintf(stderr, "nitro-signer: evaluate: network %s has no "
				"known genesis validators root; give "
				"--genesis-validators-root\n", net->name);
			return 2;
		}
		FILE *in = stdin;
		if (o->from_path && !(in = fopen(o->from_path, "r"))) {
			fprintf(stderr, "nitro-signer: evaluate: --from: cannot "
				"open %s\n", o->from_path);
			return 1;
		}
		rc = slashing_cmd_evaluate(url, NULL, gvr, in, stdout, &e);
		if (in != stdin)
			fclose(in);
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
		rc = slashing_cmd_watermark_repair(url, NULL, mode, &w,
						   &e);
		break;
	}
	case SIGNER_CMD_SERVE:
		break;
	}
	if (rc < 0) {
		fprintf(stderr, "nitro-signer: %s\n", e.msg);
		return e.code == ERR_USAGE ? 2 : 1;
	}
	return 0;
}

int signer_main(int argc, char **argv)
{
	struct signer_options o;
	struct err e = {0};
	bool exit_now = false;
	if (signer_parse_args(argc, argv, &o, &exit_now, &e) < 0) {
		fprintf(stderr, "nitro-signer: %s\n", e.msg);
		return 2;
	}
	if (exit_now)
		return 0;
	log_setup(o.log_level, o.log_format);
	secret_init();
	if (!o.slashing_enabled)
		log_warn("slashing protection is DISABLED "
			 "(--slashing-protection-enabled=false): blocks and "
			 "attestations are signed without any check");

	struct eth2_network net;
	struct signer *s = NULL;
	SSL_CTX *tls = NULL;
	struct http_server *srv = NULL;
	int rc = 0, exit_code = 1;
	if (eth2_network_load(o.network_name, &net, &e) < 0) {
		fprintf(stderr, "nitro-signer: --network: %s\n", e.msg);
		return 2;
	}
	if (o.command != SIGNER_CMD_SERVE)
		return run_command(&o, &net);
	/* TLS first: a bad keystore or flag is a usage error, reported before
	 * keys are decrypted or the slashing database is touched. */
	if (o.tls_enabled)
		TRY_OUT(http_tls_server_ctx(&o.tls, &tls, &e));
	TRY_OUT(signer_new(&o, &net, &s, &e));
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
	if (rc < 0 && e.msg[0]) {
		fprintf(stderr, "nitro-signer: %s\n", e.msg);
		exit_code = e.code == ERR_USAGE ? 2 : 1;
	}
	http_server_free(srv);
	SSL_CTX_free(tls);
	signer_free(s);
	return exit_code;
}
