/*
 * fixture.c: the benchmarks' shared fixture (see fixture.h). Keys are
 * throwaway random keys; their secrets pass through a stack buffer on the
 * way into the YAML files and are wiped there.
 */
#include "fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *prog_name = "bench";

void bench_set_name(const char *prog)
{
	prog_name = prog;
}

void bench_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", prog_name, what);
	exit(1);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		bench_die("cannot write fixture file");
}

static void make_keys(struct bench_fixture *f)
{
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/keys", f->dir);
	mkdir(dir, 0700);
	for (int i = 0; i < f->nkeys; i++) {
		struct bls_key *k = NULL;
		struct secret *sk = NULL;
		struct err e;
		if (bls_key_generate(&k, &e) < 0 || bls_key_export(k, &sk, &e) < 0)
			bench_die("key generation failed");
		char hex[2 + 64 + 1], path[400], yaml[256];
		hex_encode(sk->bytes, 32, hex);
		hex_encode(k->pubkey, BLS_PUBKEY_LEN, f->pubkeys[i]);
		int len = snprintf(yaml, sizeof(yaml),
				   "type: \"file-raw\"\nkeyType: \"BLS\"\n"
				   "privateKey: \"%s\"\n", hex);
		snprintf(path, sizeof(path), "%s/key%d.yaml", dir, i);
		write_file(path, yaml, (size_t)len);
		OPENSSL_cleanse(hex, sizeof(hex));
		OPENSSL_cleanse(yaml, sizeof(yaml));
		secret_free(sk);
		bls_key_free(k);
	}
}

static void make_tls(const struct bench_fixture *f)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	if (!key || !cert)
		bench_die("cannot create TLS key");
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, key);
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (!X509_sign(cert, key, EVP_sha256()))
		bench_die("cannot sign certificate");
	PKCS12 *p12 = PKCS12_create("benchpass", "signer", key, cert, NULL, 0,
				    0, 0, 0, 0);
	unsigned char *der = NULL;
	int len = p12 ? i2d_PKCS12(p12, &der) : -1;
	if (len <= 0)
		bench_die("cannot build PKCS#12");
	char path[300];
	snprintf(path, sizeof(path), "%s/tls.p12", f->dir);
	write_file(path, der, (size_t)len);
	snprintf(path, sizeof(path), "%s/tls.pass", f->dir);
	write_file(path, "benchpass\n", 10);
	OPENSSL_free(der);
	PKCS12_free(p12);
	X509_free(cert);
	EVP_PKEY_free(key);
}

void bench_fixture_init(struct bench_fixture *f, const char *prefix, int nkeys,
			const char *signer)
{
	memset(f, 0, sizeof(*f));
	if (signer) {
		snprintf(f->signer_path, sizeof(f->signer_path), "%s", signer);
	} else {
		char self[400];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			bench_die("cannot find own path; use --signer=PATH");
		self[n] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(f->signer_path, sizeof(f->signer_path),
			 "%s/nitro-signer", self);
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/%s-XXXXXX", prefix);
	if (!mkdtemp(f->dir))
		bench_die("mkdtemp failed");
	f->nkeys = nkeys;
	f->pubkeys = calloc((size_t)nkeys, sizeof(*f->pubkeys));
	if (!f->pubkeys)
		bench_die("out of memory");
	make_keys(f);
	make_tls(f);
	f->client_ctx = SSL_CTX_new(TLS_client_method());
	if (!f->client_ctx)
		bench_die("cannot create TLS client context");
	SSL_CTX_set_verify(f->client_ctx, SSL_VERIFY_NONE, NULL);
}

void bench_fixture_cleanup(struct bench_fixture *f)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: could not remove %s\n", prog_name, f->dir);
	free(f->pubkeys);
	SSL_CTX_free(f->client_ctx);
}

int bench_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		bench_die("no free port");
	int port = ntohs(a.sin_port);
	close(fd);
	return port;
}

pid_t bench_start_signer(const struct bench_fixture *f, int port,
			 const char *eth2_arg)
{
	const char *args[] = {eth2_arg, NULL};
	return bench_start_signer_argv(f, port, args);
}

pid_t bench_start_signer_argv(const struct bench_fixture *f, int port,
			      const char *const *eth2_args)
{
	char a_port[64], a_keys[300], a_p12[300], a_pw[300];
	snprintf(a_port, sizeof(a_port), "--http-listen-port=%d", port);
	snprintf(a_keys, sizeof(a_keys), "--key-store-path=%s/keys", f->dir);
	snprintf(a_p12, sizeof(a_p12), "--tls-keystore-file=%s/tls.p12", f->dir);
	snprintf(a_pw, sizeof(a_pw), "--tls-keystore-password-file=%s/tls.pass",
		 f->dir);
	const char *argv[32] = {f->signer_path, "--http-listen-host=127.0.0.1",
				a_port, a_keys, a_p12, a_pw,
				"--tls-allow-any-client", "--logging=ERROR",
				"eth2", "--network=mainnet"};
	size_t n = 10;
	for (size_t i = 0; eth2_args[i] && n < 31; i++)
		argv[n++] = eth2_args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execv(f->signer_path, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0)
		bench_die("fork failed");
	return pid;
}

void bench_stop_signer(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

SSL *bench_connect(const struct bench_fixture *f, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return NULL;
	}
	SSL *ssl = SSL_new(f->client_ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

void bench_close(SSL *ssl)
{
	if (!ssl)
		return;
	int fd = SSL_get_fd(ssl);
	SSL_free(ssl);
	close(fd);
}

bool bench_wait_ready(const struct bench_fixture *f, int port)
{
	for (int i = 0; i < 200; i++) {
		SSL *ssl = bench_connect(f, port);
		if (ssl) {
			bench_close(ssl);
			return true;
		}
		usleep(50000);
	}
	return false;
}
