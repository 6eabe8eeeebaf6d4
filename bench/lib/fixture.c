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
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* A socket bound to 127.0.0.1:port (0: any), or -1. */
static int bind_loopback(int port, int *bound)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

/* A free port whose successor (the signer's metrics port) is free too. */
int bench_free_port(void)
{
	for (int tries = 0; tries < 100; tries++) {
		int port, next, fd = bind_loopback(0, &port);
		if (fd < 0)
			break;
		int fd2 = port < 65535 ? bind_loopback(port + 1, &next) : -1;
		close(fd);
		if (fd2 >= 0) {
			close(fd2);
			return port;
		}
	}
	bench_die("no free port");
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
	char a_port[64], a_mport[64], a_keys[300], a_p12[300], a_pw[300];
	snprintf(a_port, sizeof(a_port), "--http-listen-port=%d", port);
	snprintf(a_mport, sizeof(a_mport), "--metrics-port=%d", port + 1);
	snprintf(a_keys, sizeof(a_keys), "--key-store-path=%s/keys", f->dir);
	snprintf(a_p12, sizeof(a_p12), "--tls-keystore-file=%s/tls.p12", f->dir);
	snprintf(a_pw, sizeof(a_pw), "--tls-keystore-password-file=%s/tls.pass",
		 f->dir);
	const char *argv[32] = {f->signer_path, "--http-listen-host=127.0.0.1",
				a_port, a_keys, a_p12, a_pw,
				"--tls-allow-any-client", "--logging=ERROR",
				"--metrics-enabled", a_mport, "eth2",
				"--network=mainnet"};
	size_t n = 12;
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

int bench_https(SSL *ssl, const char *method, const char *path,
		const char *json_body, char **body)
{
	size_t blen = json_body ? strlen(json_body) : 0;
	size_t cap = blen + 512;
	char *req = malloc(cap);
	if (!req)
		return -1;
	int len = snprintf(req, cap,
			   "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			   "Content-Type: application/json\r\n"
			   "Accept: application/json\r\nContent-Length: %zu\r\n"
			   "\r\n%s", method, path, blen, json_body ? json_body : "");
	int w = SSL_write(ssl, req, len);
	free(req);
	if (w != len)
		return -1;
	size_t got = 0, rcap = 1 << 16;
	char *resp = malloc(rcap);
	size_t want = SIZE_MAX, hdr = 0; /* hdr: offset of the body, 0 unknown */
	while (resp && got < want) {
		if (got + 1 >= rcap) {
			char *bigger = realloc(resp, rcap * 2);
			if (!bigger)
				break;
			resp = bigger;
			rcap *= 2;
		}
		int r = SSL_read(ssl, resp + got, (int)(rcap - 1 - got));
		if (r <= 0)
			break;
		got += (size_t)r;
		resp[got] = '\0';
		char *end = hdr ? NULL : strstr(resp, "\r\n\r\n");
		if (end)
			hdr = (size_t)(end + 4 - resp);
		char *cl = end ? strcasestr(resp, "Content-Length:") : NULL;
		if (cl && cl < end)
			want = hdr + (size_t)atol(cl + 15);
	}
	if (!resp || got < want || want == SIZE_MAX) {
		free(resp);
		return -1;
	}
	int status = atoi(resp + 9);
	if (body) {
		memmove(resp, resp + hdr, got - hdr + 1);
		*body = resp;
	} else {
		free(resp);
	}
	return status;
}

/* GET /metrics over plain HTTP from the metrics listener (port + 1),
 * the whole reply NUL-terminated, or NULL. */
static char *metrics_reply(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)(port + 1));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Connection: close\r\n\r\n";
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while (buf && len < cap - 1 &&
	       (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

double bench_metric(const struct bench_fixture *f, int port, const char *name)
{
	(void)f;
	char *reply = metrics_reply(port);
	double v = -1;
	if (reply && strncmp(reply, "HTTP/1.1 200", 12) == 0) {
		char line[200];
		snprintf(line, sizeof(line), "\n%s ", name);
		char *at = strstr(reply, line);
		if (at)
			v = atof(at + strlen(line));
	}
	free(reply);
	return v;
}

struct raw_part {
	struct bls_key *key;
	int first, n;
};

static void *raw_thread(void *p)
{
	struct raw_part *r = p;
	uint8_t msg[32] = {0}, sig[BLS_SIG_LEN];
	for (int i = r->first; i < r->first + r->n; i++) {
		memcpy(msg, &i, sizeof(i));
		bls_sign(r->key, msg, sizeof(msg), sig);
	}
	return NULL;
}

double bench_raw_sign_us(int n, int threads)
{
	pthread_t t[64];
	struct raw_part parts[64];
	struct err e;
	if (threads < 1 || threads > 64)
		bench_die("bench_raw_sign_us: 1..64 threads");
	for (int i = 0; i < threads; i++) {
		parts[i].first = n * i / threads;
		parts[i].n = n * (i + 1) / threads - parts[i].first;
		if (bls_key_generate(&parts[i].key, &e) < 0)
			bench_die("key generation failed");
	}
	uint64_t t0 = clock_mono_us();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, raw_thread, &parts[i]);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	uint64_t dt = clock_mono_us() - t0;
	for (int i = 0; i < threads; i++)
		bls_key_free(parts[i].key);
	return (double)dt;
}

double bench_proc_cpu_us(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

double bench_self_cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
