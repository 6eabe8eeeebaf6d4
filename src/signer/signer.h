/*
 * signer.h: the public header of the signer module: the Web3Signer-compatible
 * signing service (routes, handlers, key registry, metrics) and the
 * nitro-signer command line that wires it to the http module.
 */
#ifndef NS_SIGNER_H
#define NS_SIGNER_H

#include "core/core.h"
#include "crypto/crypto.h"
#include "eth2/eth2.h"
#include "http/http.h"

struct key_registry;
struct key_load_opts;
struct aws_client_opts;

struct signer_pruning {
	bool enabled;            /* --slashing-protection-pruning-enabled */
	uint64_t epochs_to_keep; /* --slashing-protection-pruning-epochs-to-keep */
	uint64_t interval_s;     /* --slashing-protection-pruning-interval (hours) */
};

/*
 * Who may call the routes that sign, list keys or change state (the route
 * table in service.c marks them; health routes are open to all):
 *   TRANSPORT  standalone: the TLS handshake already decided (Web3Signer's
 *              known-clients mTLS or none);
 *   LISTED     per route: only a client whose certificate fingerprint is
 *              listed (req->client); 401 without a certificate, 403 with
 *              an unlisted one (the enclave's default);
 *   ANY        per route: any client over TLS, because the image says
 *              --tls-allow-any-client (warned at start, reported).
 */
enum signer_client_auth { SIGNER_CLIENTS_TRANSPORT, SIGNER_CLIENTS_LISTED,
			  SIGNER_CLIENTS_ANY };

/*
 * The signing-type policy, a bit per enum eth2_sign_type. Duty types (all
 * but the opt-in VOLUNTARY_EXIT, DEPOSIT, EXECUTION_PAYLOAD_BID and
 * BUILDER_REQUEST_AUTH) are allowed unless the list names some of them, then
 * only those; opt-in types only when listed. With no list: every type
 * standalone (Web3Signer), the duties in the enclave.
 * list NULL means no list. Unknown or empty names: -ERR_USAGE naming
 * --allow-signing-types.
 */
int signer_signing_types_parse(const char *list, bool enclave, uint32_t *mask,
			       struct err *e);
/* "BLOCK_V2,ATTESTATION,..." of a mask into out (NUL-terminated). */
void signer_signing_types_format(uint32_t mask, char *out, size_t cap);

/*
 * A row of the signer's route table (routes.c): a path or path prefix, the
 * methods (SIGNER_METHOD(HTTP_GET) | ...), who may call it, and the handler.
 * The embedding program adds its own rows through signer_options (the
 * enclave's GET /attestation), checked by the same rules as the signer's:
 * 404 for no row, 405 for another method, the caller check (signer_client_auth)
 * for SIGNER_ROUTE_CLIENT rows. Rows are matched in order, the signer's first.
 */
enum signer_route_access { SIGNER_ROUTE_OPEN, SIGNER_ROUTE_CLIENT };
#define SIGNER_METHOD(m) (1u << (m))
struct signer_route {
	const char *path;
	bool prefix;
	unsigned methods;
	enum signer_route_access access;
	void (*fn)(void *ctx, const struct http_req *req, struct http_reply *r);
	void *ctx;
};

/*
 * Where the clock guard's "now" comes from: fn NULL is the machine's clock
 * (standalone); the enclave passes NSM-attested time. fn gives unix
 * seconds, or -ERR_UNAVAILABLE with e saying why (slashable requests are
 * then 503: no trusted time, no slashable signature). `source` names it in
 * /healthcheck and logs ("system", "nsm").
 */
struct signer_clock {
	int (*now)(void *ctx, uint64_t *unix_s, struct err *e);
	void *ctx;
	const char *source;
};

/* --slashing-protection-clock-guard-epochs=N: 0 (off) ..
 * SIGNER_CLOCK_GUARD_MAX, else -ERR_USAGE naming the flag. */
#define SIGNER_CLOCK_GUARD_MAX 1000000
int signer_clock_guard_parse(const char *v, uint64_t *epochs, struct err *e);

enum signer_command { SIGNER_CMD_SERVE, SIGNER_CMD_IMPORT, SIGNER_CMD_EXPORT,
		      SIGNER_CMD_EVALUATE, SIGNER_CMD_WATERMARK_REPAIR,
		      SIGNER_CMD_CREATE_TABLE };

struct signer_options {
	/* global */
	struct http_addr listen;
	const char *host_allowlist;
	struct http_tls_config tls;
	bool tls_enabled;
	const char *key_store_path;
	/* --metrics-enabled, --metrics-host/--metrics-port, and
	 * --metrics-host-allowlist (as http_server_config takes it) */
	bool metrics_enabled;
	struct http_addr metrics_listen;
	const char *metrics_host_allowlist;
	enum log_level log_level;
	enum log_format log_format;
	int idle_timeout_s;
	/* eth2 */
	bool eth2;
	const char *network_name;
	const char *keystores_path;
	const char *keystores_passwords_path;
	const char *keystores_password_file;
	/* --progress: keystores decrypted, counted on stderr at start-up
	 * (unset: when stderr is a terminal). */
	bool progress, progress_given;
	bool slashing_enabled;
	const char *slashing_db_url;
	/* --slashing-protection-mac-key-file (read into the key), or the
	 * enclave's sealed key: 32 bytes copied by signer_new; NULL: off. */
	const char *slashing_mac_key_file;
	const uint8_t *slashing_mac_key;
	/* How a DynamoDB backend makes AWS clients (the enclave's); NULL: the
	 * environment's credentials, plain TCP. Borrowed. */
	const struct aws_client_opts *slashing_aws;
	/* Open the database at the first use instead of in signer_new (the
	 * enclave: its credentials arrive once init is accepted). */
	bool slashing_open_deferred;
	struct signer_pruning pruning;
	/* --slashing-protection-clock-guard-epochs (0: off) and the clock */
	uint64_t clock_guard_epochs;
	struct signer_clock clock;
	/* --key-manager-api-enabled and --key-manager-api-token-file (NULL:
	 * .keymanager-api-token in --keystores-path) */
	bool key_manager_api_enabled;
	const char *key_manager_token_file;
	/* The enclave's: the token itself (opened from the key table), and
	 * the two hooks it needs: a delete marks the key's record inactive
	 * through key_manager_remove (0, or why not) instead of removing
	 * files, */
	const struct secret *key_manager_token;
	int (*key_manager_remove)(void *ctx, const uint8_t pk[BLS_PUBKEY_LEN],
				  struct err *e);
	/* and an import stores a decrypted key through this (its record,
	 * sealed) instead of writing files */
	int (*key_manager_store)(void *ctx, const struct bls_key *k,
				 const char *chain, struct err *e);
	void *key_manager_ctx;
	bool network_given;
	/* access (defaults: standalone's, all types) */
	const char *allow_signing_types; /* --allow-signing-types as given */
	uint32_t signing_types;          /* parsed: bit per eth2_sign_type */
	enum signer_client_auth client_auth;
	size_t known_clients;            /* LISTED: how many are listed */
	bool http_reload_disabled;       /* the enclave: the host's control
					  * reload is the only reload */
	int max_conns;                   /* --http-max-connections (0: derived) */
	const struct signer_route *extra_routes; /* copied by signer_new */
	size_t nextra_routes;
	/* eth2 subcommands */
	enum signer_command command;
	const char *from_path, *to_path;
	bool has_gvr;
	uint8_t gvr[32];
	bool repair_set_high, repair_remove_high, repair_has_epoch,
		repair_has_slot;
	uint64_t repair_epoch, repair_slot;
	bool dry_run; /* evaluate */
};

/* Parses argv (Web3Signer flag names). Returns 0, or -ERR_USAGE with e set;
 * *exit_now is set when --help/--version already printed. */
int signer_parse_args(int argc, char **argv, struct signer_options *o,
		      bool *exit_now, struct err *e);

/* ---- the command line of nitro-signer and nitro-signer enclave (cli.c) ----
 * Both parse with core's args_parse (one rule set for every binary) and
 * share the server flags: their rows, ids and handling are here once. */

/* Ids of the shared flags; each program numbers its own from
 * SIGNER_FLAG_END. */
enum signer_flag {
	SIGNER_FLAG_LISTEN, SIGNER_FLAG_TLS_KEYSTORE, SIGNER_FLAG_TLS_PASSWORD,
	SIGNER_FLAG_TLS_ANY_CLIENT, SIGNER_FLAG_TLS_KNOWN_CLIENTS,
	SIGNER_FLAG_MAX_CONNS, SIGNER_FLAG_VERSION, SIGNER_FLAG_END
};

/* The shared rows of both programs' struct args_flag tables. */
#define SIGNER_SERVER_FLAGS                                                    \
	{"http-listen", ARGS_VALUE, SIGNER_FLAG_LISTEN, 0},                    \
	{"tls-keystore-file", ARGS_VALUE, SIGNER_FLAG_TLS_KEYSTORE, 0},        \
	{"tls-keystore-password-file", ARGS_VALUE, SIGNER_FLAG_TLS_PASSWORD,   \
	 0},                                                                   \
	{"tls-allow-any-client", ARGS_BOOL, SIGNER_FLAG_TLS_ANY_CLIENT, 0},    \
	{"tls-known-clients-file", ARGS_VALUE, SIGNER_FLAG_TLS_KNOWN_CLIENTS,  \
	 0},                                                                   \
	{"http-max-connections", ARGS_VALUE, SIGNER_FLAG_MAX_CONNS, 0},        \
	{"version", ARGS_BOOL, SIGNER_FLAG_VERSION, 0}

/* What the shared flags say. */
struct signer_server_args {
	const char *listen; /* --http-listen, NULL when not given */
	struct http_tls_config tls;
	int max_conns;      /* --http-max-connections (0: from memory) */
};

/*
 * One level of a nitro-signer command line (global flags, eth2's, a
 * command's, or the enclave's) by spec: --help prints usage and --version
 * the version (both set *exit_now); the shared flags go into srv (NULL
 * when the level has none); the program's own flags stay in out, in
 * command-line order, for the caller. 0, or -ERR_USAGE with e naming the
 * flag.
 */
int signer_cli_parse(const struct args_spec *spec, int argc, char **argv,
		     const char *usage, struct args *out,
		     struct signer_server_args *srv, bool *exit_now,
		     struct err *e);

struct signer;

/* Loads keys per the options and builds the service; net is copied. */
int signer_new(const struct signer_options *o, const struct eth2_network *net,
	       struct signer **out, struct err *e);
void signer_free(struct signer *s);
struct http_handlers signer_http_handlers(struct signer *s);
/* Serialises a key-set rebuild (the enclave's reload) with the Keymanager
 * API's imports and deletes, so that neither loses the other's change. */
void signer_keys_lock(struct signer *s);
void signer_keys_unlock(struct signer *s);
/* Under signer_keys_lock: the keys the Keymanager API imported within the
 * last within_us and did not delete since (at most cap, into out). The
 * enclave's reload keeps them when its records, read by the host before
 * the import wrote its record, do not list them yet. */
size_t signer_keymanager_recent(struct signer *s, uint64_t within_us,
				uint8_t (*out)[BLS_PUBKEY_LEN], size_t cap);
/*
 * The enclave's hook: replaces the registry (taking ownership) under the
 * same write lock /reload uses, so in-flight signatures finish on the old
 * keys; the old registry is wiped and freed.
 */
void signer_install_keys(struct signer *s, struct key_registry *keys);
/* A copy of the loaded key with this pubkey (the enclave's reload keeps
 * keys without asking KMS again); -ERR_NOT_FOUND when it is not loaded. */
int signer_key_dup(struct signer *s, const uint8_t pubkey[BLS_PUBKEY_LEN],
		   struct bls_key **out, struct err *e);
bool signer_has_key(struct signer *s, const uint8_t pubkey[BLS_PUBKEY_LEN]);
/* The slashing database's health (opened on first use): 0, or why not.
 * May block on the database: call it off the event loops. */
int signer_slashing_health(struct signer *s, struct err *e);
/* Number of keys loaded right now (under the registry's lock). */
size_t signer_key_count(struct signer *s);
/* Prints the URL and pubkeys to stdout (the operator's first view). */
void signer_print_banner(const struct signer *s, const char *url);

/* The whole `nitro-signer` program (main() calls only this). */
int signer_main(int argc, char **argv);

#endif
