/*
 * fixture.h: what every benchmark needs around the real nitro-signer binary:
 * a temp directory with random file-raw keys and a self-signed TLS PKCS#12,
 * a free loopback port, the signer started as a child, TLS connections to
 * it. Benchmarks stay single programs; only this fixture is shared.
 */
#ifndef NS_BENCH_FIXTURE_H
#define NS_BENCH_FIXTURE_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <sys/types.h>

#include "crypto/crypto.h"

typedef char bench_pubkey_hex[2 + 2 * BLS_PUBKEY_LEN + 1];

struct bench_fixture {
	char dir[256];          /* temp dir: keys/, tls.p12, tls.pass */
	char signer_path[512];  /* nitro-signer next to the benchmark */
	int nkeys;
	bench_pubkey_hex *pubkeys;
	SSL_CTX *client_ctx;    /* no verification: our own throwaway cert */
};

/* Prints "<prog>: what" and exits 1. */
void bench_die(const char *what) __attribute__((noreturn));
void bench_set_name(const char *prog);

/* Temp dir, n keys, TLS material, client context. signer may be NULL
 * (default: the nitro-signer beside this program). */
void bench_fixture_init(struct bench_fixture *f, const char *prefix, int nkeys,
			const char *signer);
/* Removes the temp dir. */
void bench_fixture_cleanup(struct bench_fixture *f);

int bench_free_port(void);
/* Starts the signer with TLS (any client), the fixture's keys, quiet logs,
 * `eth2 --network=mainnet` and the extra eth2 argument given. */
pid_t bench_start_signer(const struct bench_fixture *f, int port,
			 const char *eth2_arg);
/* The same with the eth2 arguments of a NULL-terminated list. */
pid_t bench_start_signer_argv(const struct bench_fixture *f, int port,
			      const char *const *eth2_args);
void bench_stop_signer(pid_t pid);
/* A TLS connection to 127.0.0.1:port with TCP_NODELAY, or NULL. */
SSL *bench_connect(const struct bench_fixture *f, int port);
/* Polls until the signer accepts TLS (10 s). */
bool bench_wait_ready(const struct bench_fixture *f, int port);
void bench_close(SSL *ssl);

/*
 * One request on an open keep-alive connection, blocking: the status, and
 * the reply's body in *body (malloc'd, NUL-terminated; the caller frees)
 * when body is not NULL. -1 on a broken connection or reply.
 */
int bench_https(SSL *ssl, const char *method, const char *path,
		const char *json_body, char **body);
/* A counter of the signer's metrics (it runs with --metrics-enabled and
 * --metrics-port on the API port + 1, which bench_free_port leaves free);
 * -1 when absent. */
double bench_metric(const struct bench_fixture *f, int port,
		    const char *name);
/*
 * What the benchmarks compare against: the time raw blst (bls_sign:
 * hash_to_g2 + sign + compress) takes to sign n distinct 32-byte messages
 * on `threads` threads (n split evenly), in microseconds.
 */
double bench_raw_sign_us(int n, int threads);
/*
 * CPU time (user + system, all threads, finished ones included) of a
 * process, in microseconds: of a child by /proc (10 ms ticks: sum many
 * intervals), of this process by getrusage. On a shared machine CPU time
 * is what other load disturbs least.
 */
double bench_proc_cpu_us(pid_t pid);
double bench_self_cpu_us(void);

#endif
