/*
 * cli.c: `nitro-signer enclave`, the program that runs inside the Nitro
 * Enclave (or, for tests, on unix sockets with the NSM simulator).
 *
 *   nitro-signer enclave --control=ADDR [--http-listen=ADDR]
 *       [--nsm=/dev/nsm|sim:DIR] [--tls-keystore-file=P12
 *       --tls-keystore-password-file=F (--tls-allow-any-client |
 *       --tls-known-clients-file=F)] [--aws-ca-file=PEM]
 *
 * Wiring only: the control server (runtime.c) runs on its own thread, the
 * signing API on the http module's loops in the main thread behind the
 * enclave's gate (503 until init; plain HTTP until init makes or recovers
 * the enclave's TLS key, TLS only from then on: api.c). SIGINT/SIGTERM stop the API server,
 * then the control thread is stopped and joined.
 */
#include "enclave/enclave.h"
#include "signer/signer.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: nitro-signer enclave --control=ADDR [--http-listen=ADDR]\n"
	"       [--nsm=/dev/nsm|sim:DIR] [--tls-keystore-file=P12\n"
	"        --tls-keystore-password-file=F (--tls-allow-any-client |\n"
	"        --tls-known-clients-file=F)] [--aws-ca-file=PEM]\n"
	"       [--tls-kms-key-id=ARN]\n"
	"ADDR: tcp:HOST:PORT, unix:PATH or vsock:CID:PORT. The signing API\n"
	"answers 503 until the host's init on the control port succeeded;\n"
	"with --tls-kms-key-id (the image's KMS key; init's kms_key_id only\n"
	"with the NSM simulator) init switches it to HTTPS with the enclave's\n"
	"own TLS key, sealed under that key (docs/enclave.md).\n";

enum { O_CONTROL = 1, O_LISTEN, O_NSM, O_TLS_KS, O_TLS_PW, O_TLS_ANY,
       O_TLS_KNOWN, O_CA, O_TLS_KMS, O_HELP, O_VERSION };

static const struct option opts[] = {
	{"control", required_argument, NULL, O_CONTROL},
	{"http-listen", required_argument, NULL, O_LISTEN},
	{"nsm", required_argument, NULL, O_NSM},
	{"tls-keystore-file", required_argument, NULL, O_TLS_KS},
	{"tls-keystore-password-file", required_argument, NULL, O_TLS_PW},
	{"tls-allow-any-client", no_argument, NULL, O_TLS_ANY},
	{"tls-known-clients-file", required_argument, NULL, O_TLS_KNOWN},
	{"aws-ca-file", required_argument, NULL, O_CA},
	{"tls-kms-key-id", required_argument, NULL, O_TLS_KMS},
	{"help", no_argument, NULL, O_HELP},
	{"version", no_argument, NULL, O_VERSION},
	{NULL, 0, NULL, 0},
};

struct enclave_args {
	const char *control, *listen, *nsm, *ca_file, *tls_kms_key_id;
	struct http_tls_config tls;
	bool exit_now;
};

static int parse(int argc, char **argv, struct enclave_args *a, struct err *e)
{
	memset(a, 0, sizeof(*a));
	a->listen = "tcp:127.0.0.1:9000";
	a->nsm = "/dev/nsm";
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_CONTROL: a->control = optarg; break;
		case O_LISTEN: a->listen = optarg; break;
		case O_NSM: a->nsm = optarg; break;
		case O_TLS_KS: a->tls.keystore_file = optarg; break;
		case O_TLS_PW: a->tls.keystore_password_file = optarg; break;
		case O_TLS_ANY: a->tls.allow_any_client = true; break;
		case O_TLS_KNOWN: a->tls.known_clients_file = optarg; break;
		case O_CA: a->ca_file = optarg; break;
		case O_TLS_KMS: a->tls_kms_key_id = optarg; break;
		case O_HELP:
			fputs(usage, stdout);
			a->exit_now = true;
			return 0;
		case O_VERSION:
			printf("nitro-signer %s\n", NS_VERSION);
			a->exit_now = true;
			return 0;
		default:
			return err_set(e, ERR_USAGE, "unknown or incomplete "
				       "option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return err_set(e, ERR_USAGE, "unexpected argument %s",
			       argv[optind]);
	if (!a->control)
		return err_set(e, ERR_USAGE, "--control is required");
	if (a->tls_kms_key_id && strncmp(a->tls_kms_key_id, "arn:", 4) != 0)
		return err_set(e, ERR_USAGE, "--tls-kms-key-id: the key's ARN "
			       "(arn:aws:kms:REGION:ACCOUNT:key/ID)");
	if (!a->tls.keystore_file != !a->tls.keystore_password_file)
		return err_set(e, ERR_USAGE, "--tls-keystore-file and "
			       "--tls-keystore-password-file go together");
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
		return 2;
	}
	if (a.exit_now)
		return 0;
	log_setup(LOG_INFO, LOG_FORMAT_TEXT);
	secret_init();
	struct http_addr control, listen;
	struct enclave *en = NULL;
	SSL_CTX *tls = NULL;
	struct http_server *srv = NULL;
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
	if (a.tls.keystore_file)
		TRY_OUT(http_tls_server_ctx(&a.tls, &tls, &e));
	struct enclave_opts eo = {.nsm_spec = a.nsm, .ca_file = a.ca_file,
				  .api_tls_flags = tls != NULL,
				  .tls_kms_key_id = a.tls_kms_key_id};
	TRY_OUT(enclave_new(&eo, &en, &e));
	TRY_OUT(enclave_listen(en, &control, &e));
	struct http_server_config cfg = {
		.listen = listen,
		.tls = tls,
		.host_allowlist = "*",
		.max_body = 1024 * 1024,
		.loops = cpu_count(),
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
	if (rc < 0 && e.msg[0]) {
		fprintf(stderr, "nitro-signer enclave: %s\n", e.msg);
		exit_code = e.code == ERR_USAGE ? 2 : 1;
	}
	if (thr_started) {
		enclave_stop(en);
		pthread_join(thr, NULL);
	}
	http_server_free(srv);
	SSL_CTX_free(tls);
	enclave_free(en);
	return exit_code;
}
