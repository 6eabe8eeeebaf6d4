/*
 * cli.c: `nitro-signer enclave`, the program that runs inside the Nitro
 * Enclave (or, for tests, on unix sockets with the NSM simulator).
 *
 *   nitro-signer enclave --control=ADDR [--http-listen=ADDR]
 *       [--nsm=/dev/nsm|sim:DIR] [--tls-kms-key-id=ARN | --tls-keystore-file=P12
 *       --tls-keystore-password-file=F] [--tls-known-clients-file=F |
 *       --tls-allow-any-client] [--signer-id=ID] [--allow-signing-types=LIST]
 *       [--accept-legacy-records] [--http-max-connections=N] [--aws-ca-file=PEM]
 *       [--slashing-protection-clock-guard-epochs=N] [--metrics-listen=ADDR]
 *
 * Every flag is part of the image (the command line of the EIF's init is
 * measured into PCR0), so what decides who may sign comes from here and
 * never from the host: the known clients (per-route mTLS: health and
 * attestation routes stay open for the load balancer, everything else
 * needs a listed client certificate), the signing types (exits and
 * deposits off unless listed), the signer id init must name, and whether
 * records without an encryption context are accepted; and the clock guard's
 * window (default 2 epochs, on NSM-attested time: clock.c). Outside the NSM
 * simulator --signer-id is required.
 *
 * Wiring only: the control server (runtime.c) runs on its own thread, the
 * signing API on the http module's loops in the main thread behind the
 * enclave's gate (503 until init; plain HTTP until init makes or recovers
 * the enclave's TLS key, TLS only from then on: api.c). SIGINT/SIGTERM stop the API server,
 * then the control thread is stopped and joined.
 */
#include "aws/aws.h"
#include "enclave/enclave.h"
#include "signer/metrics.h"
#include "signer/signer.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: nitro-signer enclave --control=ADDR [--http-listen=ADDR]\n"
	"       [--nsm=/dev/nsm|sim:DIR] [--aws-ca-file=PEM]\n"
	"       [--tls-kms-key-id=ARN | --tls-keystore-file=P12\n"
	"        --tls-keystore-password-file=F]\n"
	"       [--tls-known-clients-file=F | --tls-allow-any-client]\n"
	"       [--signer-id=ID] [--allow-signing-types=LIST]\n"
	"       [--accept-legacy-records] [--http-max-connections=N]\n"
	"       [--slashing-protection-clock-guard-epochs=N]\n"
	"       [--metrics-listen=ADDR] [--slashing-protection-db-url=URL]\n"
	"Flags: --name=value or --name value, booleans --name[=true|false];\n"
	"a flag given twice is an error (exit 2).\n"
	"ADDR: tcp:HOST:PORT, unix:PATH or vsock:CID:PORT. The signing API\n"
	"answers 503 until the host's init on the control port succeeded;\n"
	"with --tls-kms-key-id (the image's KMS key; init's kms_key_id only\n"
	"with the NSM simulator) init switches it to HTTPS with the enclave's\n"
	"own TLS key, sealed under that key (docs/enclave.md).\n"
	"Who may sign (all from these measured flags, none from the host):\n"
	"  --tls-known-clients-file=F  lines '<name> <SHA-256 fingerprint>': only\n"
	"                     these client certificates may sign, list keys or\n"
	"                     read watermarks (401/403 otherwise); /upcheck,\n"
	"                     /healthcheck and /attestation stay open\n"
	"  --tls-allow-any-client  any TLS client may (warned at every start)\n"
	"                     Without either, nothing is signed.\n"
	"  --allow-signing-types=LIST  VOLUNTARY_EXIT, DEPOSIT,\n"
	"                     EXECUTION_PAYLOAD_BID and BUILDER_REQUEST_AUTH are\n"
	"                     refused (403 type_not_allowed) unless listed;\n"
	"                     listing duty types restricts the duties to those\n"
	"  --signer-id=ID     init must name this signer id (required outside\n"
	"                     the NSM simulator)\n"
	"  --accept-legacy-records  also per-key records without a KMS\n"
	"                     encryption context (the AWS sample's format)\n"
	"  --http-max-connections=N  concurrent API connections (default: from\n"
	"                     memory); more are refused\n"
	"  --slashing-protection-clock-guard-epochs=N  refuse (412 clock) blocks\n"
	"                     and attestations more than N epochs from the\n"
	"                     current epoch by NSM-attested time, and sign none\n"
	"                     (503) while the NSM cannot vouch for the time;\n"
	"                     0 = off (default 2)\n"
	"  --slashing-protection-db-url=dynamodb://TABLE?region=R  the shared\n"
	"                     slashing table, fixed by the image (init's must\n"
	"                     be the same); required outside the simulator\n"
	"  --metrics-listen=ADDR  serve the signer's Prometheus metrics (GET\n"
	"                     /metrics, as nitro-signer --metrics-enabled) on a\n"
	"                     listener of their own; off when not given.\n"
	"                     nitro-host's config key metrics proxies it\n";

/* The enclave's own flags; the server flags it shares with nitro-signer
 * are SIGNER_FLAG_* (signer.h). */
enum { O_CONTROL = SIGNER_FLAG_END, O_NSM, O_CA, O_TLS_KMS, O_SIGNER_ID,
       O_TYPES, O_LEGACY, O_CLOCK, O_METRICS, O_SP_URL };

static const struct args_flag flags[] = {
	SIGNER_SERVER_FLAGS,
	{"control", ARGS_VALUE, O_CONTROL, 0},
	{"nsm", ARGS_VALUE, O_NSM, 0},
	{"aws-ca-file", ARGS_VALUE, O_CA, 0},
	{"tls-kms-key-id", ARGS_VALUE, O_TLS_KMS, 0},
	{"signer-id", ARGS_VALUE, O_SIGNER_ID, 0},
	{"allow-signing-types", ARGS_VALUE, O_TYPES, 0},
	{"accept-legacy-records", ARGS_BOOL, O_LEGACY, 0},
	{"slashing-protection-clock-guard-epochs", ARGS_VALUE, O_CLOCK, 0},
	{"metrics-listen", ARGS_VALUE, O_METRICS, 0},
	{"slashing-protection-db-url", ARGS_VALUE, O_SP_URL, 0},
};

struct enclave_args {
	const char *control, *listen, *nsm, *ca_file, *tls_kms_key_id;
	const char *signer_id, *types;
	const char *metrics_listen; /* NULL: no metrics listener */
	const char *slashing_db_url; /* NULL: init's (simulator only) */
	bool accept_legacy;
	uint64_t clock_epochs;
	int max_conns;
	struct http_tls_config tls;
	bool exit_now;
};


/* Flags that need something else to mean anything are usage errors. */
static int check_combinations(const struct enclave_args *a, struct err *e)
{
	bool tls_identity = a->tls.keystore_file || a->tls_kms_key_id;
	const char *client_flag = a->tls.known_clients_file
					  ? "--tls-known-clients-file"
				  : a->tls.allow_any_client
					  ? "--tls-allow-any-client" : NULL;
	if (client_flag && !tls_identity)
		return err_set(e, ERR_USAGE, "%s: has no effect without a TLS "
			       "identity (--tls-kms-key-id or "
			       "--tls-keystore-file)", client_flag);
	if (a->tls.known_clients_file && a->tls.allow_any_client)
		return err_set(e, ERR_USAGE, "--tls-known-clients-file and "
			       "--tls-allow-any-client are exclusive");
	if (a->tls.keystore_file && a->tls_kms_key_id)
		return err_set(e, ERR_USAGE, "--tls-keystore-file and "
			       "--tls-kms-key-id are exclusive (one TLS identity)");
	if (a->signer_id && !aws_signer_id_ok(a->signer_id))
		return err_set(e, ERR_USAGE, "--signer-id: 1..128 printable "
			       "characters without spaces or '|'");
	return 0;
}

/* Outside the simulator the image names its signer (after the addresses,
 * so a bad --control is reported first). */
static int check_signer_id(const struct enclave_args *a, struct err *e)
{
	if (!a->signer_id && strncmp(a->nsm, "sim:", 4) != 0)
		return err_set(e, ERR_USAGE, "--signer-id is required: the image "
			       "names the signer whose keys it loads");
	return 0;
}

static int parse(int argc, char **argv, struct enclave_args *a, struct err *e)
{
	memset(a, 0, sizeof(*a));
	struct signer_server_args srv = {0};
	struct args r;
	struct args_spec spec = {.cmd = "enclave", .flags = flags,
				 .nflags = sizeof(flags) / sizeof(flags[0])};
	TRY(signer_cli_parse(&spec, argc - 1, argv + 1, usage, &r, &srv,
			     &a->exit_now, e));
	if (a->exit_now)
		return 0;
	a->listen = srv.listen ? srv.listen : "tcp:127.0.0.1:9000";
	a->tls = srv.tls;
	a->max_conns = srv.max_conns;
	a->nsm = args_get(&r, O_NSM) ? args_get(&r, O_NSM) : "/dev/nsm";
	a->control = args_get(&r, O_CONTROL);
	a->ca_file = args_get(&r, O_CA);
	a->tls_kms_key_id = args_get(&r, O_TLS_KMS);
	a->signer_id = args_get(&r, O_SIGNER_ID);
	a->types = args_get(&r, O_TYPES);
	a->metrics_listen = args_get(&r, O_METRICS);
	a->slashing_db_url = args_get(&r, O_SP_URL);
	if (a->slashing_db_url && strncmp(a->slashing_db_url, "dynamodb://", 11) != 0)
		return err_set(e, ERR_USAGE, "--slashing-protection-db-url: the "
			       "shared table, dynamodb://TABLE?region=R (a "
			       "database in enclave memory does not survive a "
			       "restart)");
	a->accept_legacy = args_bool(&r, O_LEGACY, false);
	a->clock_epochs = ENCLAVE_CLOCK_GUARD_DEFAULT;
	if (args_get(&r, O_CLOCK))
		TRY(signer_clock_guard_parse(args_get(&r, O_CLOCK),
					     &a->clock_epochs, e));
	if (!a->control)
		return err_set(e, ERR_USAGE, "--control is required");
	if (a->tls_kms_key_id && strncmp(a->tls_kms_key_id, "arn:", 4) != 0)
		return err_set(e, ERR_USAGE, "--tls-kms-key-id: the key's ARN "
			       "(arn:aws:kms:REGION:ACCOUNT:key/ID)");
	if (!a->tls.keystore_file != !a->tls.keystore_password_file)
		return err_set(e, ERR_USAGE, "--tls-keystore-file and "
			       "--tls-keystore-password-file go together");
	return check_combinations(a, e);
}

/* What the image allows, said at every start (the operator's log). */
static void log_policy(const struct enclave_args *a, uint32_t types)
{
	char list[512];
	signer_signing_types_format(types, list, sizeof(list));
	if (a->tls.allow_any_client)
		log_warn("enclave: --tls-allow-any-client: ANY TLS client may "
			 "sign; list the validator clients with "
			 "--tls-known-clients-file instead");
	else if (!a->tls.known_clients_file)
		log_warn("enclave: no client may sign (neither "
			 "--tls-known-clients-file nor --tls-allow-any-client)");
	log_info("enclave: signing types allowed: %s", list);
	if (a->signer_id)
		log_info("enclave: signer id %s (fixed by the image)",
			 a->signer_id);
	else
		log_warn("enclave: no --signer-id: init's signer id is taken "
			 "(NSM simulator only)");
	if (a->accept_legacy)
		log_warn("enclave: --accept-legacy-records: per-key records "
			 "without an encryption context are accepted");
	if (a->clock_epochs)
		log_info("enclave: clock guard: blocks and attestations more than "
			 "%llu epochs from the current epoch (NSM-attested time) "
			 "are refused", (unsigned long long)a->clock_epochs);
	else
		log_warn("enclave: clock guard OFF "
			 "(--slashing-protection-clock-guard-epochs=0): a "
			 "rolled-back slashing database is not bounded by time");
}

/* The metrics listener reports the signer once init has published it. */
static struct signer *published_signer(void *en) { return enclave_signer(en); }

/* --metrics-listen: the signer's metrics beside the API ("*" Host: what
 * reaches it comes through nitro-host's local port). */
static int start_metrics(const char *addr, struct enclave *en,
			 struct signer_metrics_server **out, struct err *e)
{
	struct http_addr listen;
	int rc = http_addr_parse(addr, &listen, e);
	if (rc < 0) {
		err_prefix(e, "--metrics-listen: ");
		return rc;
	}
	TRY(signer_metrics_server_start(&listen, "*", published_signer, en, out,
					e));
	log_info("enclave: metrics on %s", addr);
	return 0;
}

static void *control_thread(void *arg)
{
	if (enclave_run(arg) < 0)
		log_error("control server stopped");
	return NULL;
}

int enclave_main(int argc, char **argv)
{
	struct enclave_args a;
	struct err e = {0};
	if (parse(argc, argv, &a, &e) < 0) {
		fprintf(stderr, "nitro-signer enclave: %s\n", e.msg);
		return EXIT_USAGE;
	}
	if (a.exit_now)
		return 0;
	log_setup(LOG_INFO, LOG_FORMAT_TEXT);
	secret_init();
	struct http_addr control, listen;
	struct enclave *en = NULL;
	struct http_known_clients *kc = NULL;
	uint32_t types = 0;
	SSL_CTX *tls = NULL;
	struct http_server *srv = NULL;
	struct signer_metrics_server *metrics = NULL;
	pthread_t thr;
	bool thr_started = false;
	int rc = 0, exit_code = 1;
	if ((rc = http_addr_parse(a.control, &control, &e)) < 0) {
		err_prefix(&e, "--control: ");
		goto out;
	}
	if ((rc = http_addr_parse(a.listen, &listen, &e)) < 0) {
		err_prefix(&e, "--http-listen: ");
		goto out;
	}
	TRY_OUT(check_signer_id(&a, &e));
	TRY_OUT(signer_signing_types_parse(a.types, true, &types, &e));
	if (a.tls.known_clients_file)
		TRY_OUT(http_known_clients_load(a.tls.known_clients_file, &kc, &e));
	if (a.tls.keystore_file) {
		/* Per route: the load balancer's health check has no client
		 * certificate, so the handshake lets everyone in (asking for
		 * one) and the routes decide (signer.h). */
		struct http_tls_config tc = a.tls;
		tc.per_route_clients = true;
		tc.allow_any_client = !tc.known_clients_file;
		TRY_OUT(http_tls_server_ctx(&tc, &tls, &e));
	}
	log_policy(&a, types);
	struct enclave_opts eo = {.nsm_spec = a.nsm, .ca_file = a.ca_file,
				  .api_tls_flags = tls != NULL,
				  .tls_kms_key_id = a.tls_kms_key_id,
				  .slashing_db_url = a.slashing_db_url,
				  .known_clients = kc,
				  .allow_any_client = a.tls.allow_any_client,
				  .signing_types = types,
				  .signer_id = a.signer_id,
				  .accept_legacy_records = a.accept_legacy,
				  .clock_guard_epochs = a.clock_epochs};
	TRY_OUT(enclave_new(&eo, &en, &e));
	TRY_OUT(enclave_listen(en, &control, &e));
	if (a.metrics_listen)
		TRY_OUT(start_metrics(a.metrics_listen, en, &metrics, &e));
	struct http_server_config cfg = {
		.listen = listen,
		.tls = tls,
		.host_allowlist = "*",
		.max_body = 1024 * 1024,
		.loops = cpu_count(),
		.max_conns = a.max_conns,
		.handlers = enclave_api_handlers(en),
	};
	TRY_OUT(http_server_new(&cfg, &srv, &e));
	enclave_set_api_server(en, srv);
	if (pthread_create(&thr, NULL, control_thread, en) != 0) {
		rc = err_set(&e, ERR_INTERNAL, "cannot start the control thread");
		goto out;
	}
	thr_started = true;
	log_info("enclave: control on %s, API on %s, waiting for init",
		 a.control, a.listen);
	rc = http_server_run(srv);
	exit_code = rc < 0 ? 1 : 0;
out:
	if (rc < 0 && e.msg[0])
		exit_code = args_fail("nitro-signer enclave", &e);
	if (thr_started) {
		enclave_stop(en);
		pthread_join(thr, NULL);
	}
	http_server_free(srv);
	signer_metrics_server_stop(metrics); /* before the signer goes */
	SSL_CTX_free(tls);
	enclave_free(en);
	http_known_clients_free(kc);
	return exit_code;
}
