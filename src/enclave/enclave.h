/*
 * enclave.h: the public header of the enclave module, the enclave runtime
 * (`nitro-signer enclave`): the control server, the signing API's gate and
 * the boot sequence. What the enclave and nitro-host both speak (the
 * control frames, the init/reload schema, the exchange) is the control
 * module's (control/control.h), which the host links instead of this.
 */
#ifndef NS_ENCLAVE_H
#define NS_ENCLAVE_H

#include <jansson.h>

#include "control/control.h"
#include "core/core.h"
#include "http/http.h"

/* ---- the enclave runtime (runtime.c, init.c, cli.c) ------------------- */

struct http_addr;
struct signer;

/*
 * The enclave: a control server on one address and, once `init` has
 * succeeded, a signer behind the signing API (see enclave_api_handlers).
 *
 * Threading: one control thread (enclave_run) polls the listening socket and
 * at most ENCLAVE_MAX_CONTROL_CONNS connections. An `init` or `reload` (KMS
 * calls, keystore KDFs) runs on one worker thread at a time while the
 * control thread keeps answering `status` and `credentials` on the other
 * connections; the sending connection is not read until its reply is out.
 * The signing API runs on the http module's loops and only reads the
 * atomically published signer pointer (and the TLS identity set before
 * it); GET /attestation's NSM call runs on the http worker pool.
 */
#define ENCLAVE_MAX_CONTROL_CONNS 16

struct enclave_opts {
	const char *nsm_spec;   /* "/dev/nsm" or "sim:DIR" */
	size_t max_frame;       /* 0: CONTROL_MAX_FRAME */
	const char *ca_file;    /* AWS endpoints' CA bundle; NULL: system */
	/* The API already has TLS from --tls-keystore-file: init's kms_key_id
	 * then makes no TLS key. */
	bool api_tls_flags;
	/* --tls-kms-key-id: the KMS key (ARN) the TLS key is sealed under,
	 * fixed by the image (so measured into PCR0), never taken from the
	 * host. With it every init makes or recovers the TLS key; init's
	 * kms_key_id, if given, must be the same. */
	const char *tls_kms_key_id;
	/* --slashing-protection-db-url: the slashing database, fixed by the
	 * image; init's must be the same. Required outside the simulator: a
	 * database the host names could be an empty one. */
	const char *slashing_db_url;
	/*
	 * Who may use the keys, all from the image's own (measured) flags,
	 * never from the host: the clients allowed to sign (mTLS, per route;
	 * copied) or, explicitly, any client; the signing types; the signer
	 * id init must name (NULL: init's, only with the NSM simulator); and
	 * whether per-key records without an encryption context (the
	 * sample's format) are accepted.
	 */
	const struct http_known_clients *known_clients;
	bool allow_any_client;
	uint32_t signing_types;   /* signer_signing_types_parse(.., true, ..) */
	const char *signer_id;
	bool accept_legacy_records;
	/* The clock guard on NSM-attested time (--slashing-protection-clock-
	 * guard-epochs; 0: off; the CLI's default is 2) and how often the
	 * NSM's time is checked (0: every 300 s; tests set less). */
	uint64_t clock_guard_epochs;
	unsigned clock_check_interval_s;
};
/* The image's clock guard unless its flags say otherwise. */
#define ENCLAVE_CLOCK_GUARD_DEFAULT 2


struct enclave;

int enclave_new(const struct enclave_opts *o, struct enclave **out,
		struct err *e);
/*
 * The API server the enclave switches to TLS when init makes or recovers
 * its TLS key (http_server_set_tls). Without one (unit tests) the key is
 * still made and the gate still refuses plain requests.
 */
void enclave_set_api_server(struct enclave *en, struct http_server *srv);
/* Binds the control address (tcp:, unix:, vsock:). */
int enclave_listen(struct enclave *en, const struct http_addr *addr,
		   struct err *e);
/* Serves the control port until enclave_stop (thread- and signal-safe). */
int enclave_run(struct enclave *en);
void enclave_stop(struct enclave *en);
void enclave_free(struct enclave *en);

/*
 * One request in, one reply out (a new {"type":"reply",...} object, or NULL
 * when out of memory), synchronously. What the control server calls for
 * every frame (for init/reload on its worker thread).
 */
json_t *enclave_handle(struct enclave *en, const struct control_msg *msg);

/* The signer once init succeeded, else NULL. */
struct signer *enclave_signer(struct enclave *en);
bool enclave_ready(const struct enclave *en);

/*
 * The signing API's handlers: 503 {"error":"not initialised"} for every
 * route until init succeeded, then GET /attestation (with a TLS key) and
 * the signer's own handlers; once the enclave has a TLS key, requests that
 * did not come over TLS get 403 {"error":"TLS required"}.
 */
struct http_handlers enclave_api_handlers(struct enclave *en);

/* `nitro-signer enclave ...` (argv[0] is "enclave"). */
int enclave_main(int argc, char **argv);

#endif
