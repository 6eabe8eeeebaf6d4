/*
 * enclave_boot: how long `nitro-signer enclave` takes from `init` sent to
 * its reply (ready, keys loaded), and its peak resident memory.
 *
 *   build/bin/enclave_boot [--envelope=1000] [--sample=100] [--big=10000]
 *                          [--sample-kdf=scrypt|pbkdf2] [--work-factor=N]
 *                          [--rounds=3] [--sample-rounds=1]
 *
 * Against the local stand-ins (tests/standins/start.mjs; KMS trusting the
 * NSM simulator's root), with the real binary (next to this one) on unix
 * sockets:
 *   1. --envelope keys in one envelope bundle (default 1,000);
 *   2. --sample per-key records in the AWS sample's format, each an EIP-2335
 *      keystore (default 100, scrypt n=262144 as staking-deposit-cli makes
 *      them);
 *   3. --big keys in envelope bundles of at most 3,000 (default 10,000):
 *      the peak RSS (VmHWM) of the enclave process.
 * Each scenario starts a fresh enclave per round and runs --rounds times
 * (per-key records: --sample-rounds, default 1, as scrypt makes each round
 * long); the median time is printed. Baselines measured in the same run: one KMS Decrypt
 * round trip (the least any KMS-backed boot costs), the raw key work
 * (blst secret check + public key derivation) for the same number of keys,
 * and for sample records one keystore decryption times the records over the
 * cores. Needs `make deps-test` (node and tests/js) and NS_SOURCE_DIR (set
 * by default to the source tree this was built from).
 */
#include "aws/aws.h"
#include "control/control.h"
#include "crypto/crypto.h"
#include "nitro/nitro.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../tests/unit/test_aws_standins.h"
#pragma GCC diagnostic pop

#define SIGNER_ID "bench"
#define ENVELOPE_PURPOSE "nitro-signer-envelope-v1"
#define BUNDLE_MAX 3000

static char g_dir[64];
static char g_bin[PATH_MAX];
static struct aws_client *g_kms;

static _Noreturn void die(const char *what, const struct err *e)
{
	fprintf(stderr, "enclave_boot: %s%s%s\n", what, e ? ": " : "",
		e ? e->msg : "");
	exit(1);
}

static uint64_t now_us(void) { return clock_mono_us(); }

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- records ---------------------------------------------------------- */

static json_t *envelope_context(void)
{
	return aws_record_context(ENVELOPE_PURPOSE, SIGNER_ID);
}

/* One bundle record of n fresh keys. */
static json_t *envelope_record(size_t n, int part)
{
	struct err e = {0};
	struct secret *entries = secret_new(n * AWS_BUNDLE_ENTRY);
	if (!entries)
		die("out of memory", NULL);
	json_t *pubkeys = json_array();
	for (size_t i = 0; i < n; i++) {
		struct bls_key *k;
		struct secret *sk;
		if (bls_key_generate(&k, &e) < 0 || bls_key_export(k, &sk, &e) < 0)
			die("keygen", &e);
		uint8_t *slot = entries->bytes + i * AWS_BUNDLE_ENTRY;
		memcpy(slot, k->pubkey, 48);
		memcpy(slot + 48, sk->bytes, 32);
		char hex[2 + 96 + 1];
		hex_encode(k->pubkey, 48, hex);
		json_array_append_new(pubkeys, json_string(hex));
		secret_free(sk);
		bls_key_free(k);
	}
	struct secret *pt = aws_bundle_plaintext(entries->bytes, n);
	secret_free(entries);
	if (!pt)
		die("out of memory", NULL);
	json_t *ctx = envelope_context();
	struct aws_kms_data_key dk = {0};
	if (aws_kms_generate_data_key(g_kms, getenv("NS_STANDIN_KMS_KEY_ARN"),
				      "AES_256", ctx, NULL, &dk, &e) < 0)
		die("GenerateDataKey", &e);
	json_decref(ctx);
	char id[64], aad[160];
	snprintf(id, sizeof(id), "envelope:bench%d:%d", (int)n, part);
	snprintf(aad, sizeof(aad), ENVELOPE_PURPOSE "|" SIGNER_ID "|%s", id);
	uint8_t *sealed;
	size_t sealed_len;
	if (aws_envelope_seal(dk.plain.plaintext, (const uint8_t *)aad,
			      strlen(aad), pt->bytes, pt->len, &sealed,
			      &sealed_len, &e) < 0)
		die("seal", &e);
	char *wrapped = b64_encode(dk.blob, dk.blob_len);
	char *ct = b64_encode(sealed, sealed_len);
	json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:o}", "pubkey", id, "kind",
				"envelope", "wrapped_data_key_b64", wrapped,
				"envelope_ciphertext_b64", ct, "pubkeys",
				pubkeys);
	free(wrapped);
	free(ct);
	free(sealed);
	aws_kms_data_key_clear(&dk);
	secret_free(pt);
	return rec;
}

static json_t *envelope_records(size_t n)
{
	json_t *recs = json_array();
	for (int part = 0; n > 0; part++) {
		size_t m = n < BUNDLE_MAX ? n : BUNDLE_MAX;
		json_array_append_new(recs, envelope_record(m, part));
		n -= m;
	}
	return recs;
}

/* n per-key records: KMS ciphertext of {keystore_b64, password_b64,
 * mnemonic_b64}, as `nitro-keys kms encrypt` writes them. */
static json_t *sample_records(size_t n, const struct keystore_params *kp,
			      uint64_t *one_decrypt_us)
{
	struct err e = {0};
	static const char pw[] = "bench keystore password";
	struct secret *password = secret_from(pw, strlen(pw));
	json_t *recs = json_array();
	for (size_t i = 0; i < n; i++) {
		struct bls_key *k;
		char *ks;
		if (bls_key_generate(&k, &e) < 0 ||
		    keystore_encrypt(k, password, kp, &ks, &e) < 0)
			die("keystore", &e);
		if (i == 0) {
			struct bls_key *back;
			uint64_t t = now_us();
			if (keystore_decrypt(ks, strlen(ks), password, &back, &e) < 0)
				die("keystore decrypt", &e);
			*one_decrypt_us = now_us() - t;
			bls_key_free(back);
		}
		char *ks64 = b64_encode((const uint8_t *)ks, strlen(ks));
		char *pw64 = b64_encode((const uint8_t *)pw, strlen(pw));
		json_t *o = json_pack("{s:s,s:s,s:s}", "keystore_b64", ks64,
				      "password_b64", pw64, "mnemonic_b64", "");
		char *plain = json_dumps(o, JSON_COMPACT);
		uint8_t *blob;
		size_t blob_len;
		json_t *ctx = aws_record_context(AWS_RECORD_PURPOSE_KEY, SIGNER_ID);
		if (aws_kms_encrypt(g_kms, getenv("NS_STANDIN_KMS_KEY_ARN"),
				    (const uint8_t *)plain, strlen(plain), ctx,
				    &blob, &blob_len, &e) < 0)
			die("Encrypt", &e);
		json_decref(ctx);
		char *b64 = b64_encode(blob, blob_len);
		char hex[2 + 96 + 1];
		hex_encode(k->pubkey, 48, hex);
		json_array_append_new(recs, json_pack("{s:s,s:s,s:s,s:s}", "pubkey",
						      hex, "kind", "sample",
						      "ciphertext_b64", b64,
						      "context",
						      AWS_RECORD_PURPOSE_KEY));
		free(b64);
		free(blob);
		free(plain);
		json_decref(o);
		free(ks64);
		free(pw64);
		free(ks);
		bls_key_free(k);
	}
	secret_free(password);
	return recs;
}

static size_t count_keys(const json_t *recs)
{
	size_t n = 0, i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		json_t *pks = json_object_get(r, "pubkeys");
		n += pks ? json_array_size(pks) : 1;
	}
	return n;
}

/* ---- one enclave boot ------------------------------------------------- */

/* One request/reply on the enclave's control port, as nitro-host sends
 * them (the exchange it links); NULL when the port does not answer. */
static json_t *exchange(const struct http_addr *ctl, const json_t *msg,
			int timeout_ms)
{
	static const atomic_bool never = false;
	json_t *reply = NULL;
	struct err e = {0};
	if (control_exchange(ctl, msg, timeout_ms, &never, &reply, &e) < 0)
		return NULL;
	return reply;
}

/* kB of a /proc/PID/status field (VmHWM, VmRSS). */
static long proc_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	size_t fl = strlen(field);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			kb = strtol(line + fl + 1, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

struct boot {
	uint64_t us;
	size_t loaded;
	long hwm_kb, idle_hwm_kb;
};

static struct boot boot_once(const json_t *records, int run)
{
	char ctl[256], api[256], db[256], nsm[128];
	snprintf(ctl, sizeof(ctl), "%s/c%d.sock", g_dir, run);
	snprintf(api, sizeof(api), "%s/a%d.sock", g_dir, run);
	snprintf(db, sizeof(db), "sqlite:%s/slashing-%d.db", g_dir, run);
	snprintf(nsm, sizeof(nsm), "sim:%s/sim", g_dir);
	char a_ctl[300], a_api[300], a_nsm[160];
	snprintf(a_ctl, sizeof(a_ctl), "--control=unix:%s", ctl);
	snprintf(a_api, sizeof(a_api), "--http-listen=unix:%s", api);
	snprintf(a_nsm, sizeof(a_nsm), "--nsm=%s", nsm);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(g_bin, g_bin, "enclave", a_ctl, a_api, a_nsm, (char *)NULL);
		_exit(127);
	}
	char spec[300];
	snprintf(spec, sizeof(spec), "unix:%s", ctl);
	struct http_addr ctl_addr;
	struct err e = {0};
	if (http_addr_parse(spec, &ctl_addr, &e) < 0)
		die("control address", &e);
	json_t *status = control_msg_new(CONTROL_STATUS), *reply = NULL;
	for (int i = 0; i < 400 && !reply; i++) { /* 20 s */
		if (!(reply = exchange(&ctl_addr, status, 1000)))
			usleep(50000);
	}
	json_decref(status);
	if (!reply)
		die("the enclave's control port did not open", NULL);
	json_decref(reply);
	struct boot b = {.idle_hwm_kb = proc_kb(pid, "VmHWM")};

	json_t *creds = json_pack("{s:s,s:s}", "AccessKeyId",
				  getenv("AWS_ACCESS_KEY_ID"), "SecretAccessKey",
				  getenv("AWS_SECRET_ACCESS_KEY"));
	json_t *init = control_msg_new(CONTROL_INIT);
	json_object_set_new(init, "region", json_string(getenv("AWS_REGION")));
	json_object_set_new(init, "credentials", creds);
	json_object_set_new(init, "kms_endpoint",
			    json_string(getenv("AWS_ENDPOINT_URL_KMS")));
	json_object_set_new(init, "network", json_string("mainnet"));
	json_object_set_new(init, "slashing_db_url", json_string(db + 0));
	json_object_set_new(init, "signer_id", json_string(SIGNER_ID));
	json_object_set(init, "records", (json_t *)records);

	uint64_t t0 = now_us();
	reply = exchange(&ctl_addr, init, 30 * 60 * 1000);
	b.us = now_us() - t0;
	json_decref(init);
	if (!reply)
		die("no reply to init", NULL);
	b.hwm_kb = proc_kb(pid, "VmHWM");
	if (!json_is_true(json_object_get(reply, "ok"))) {
		char *s = json_dumps(reply, JSON_COMPACT);
		fprintf(stderr, "enclave_boot: init refused: %.500s\n", s);
		exit(1);
	}
	b.loaded = (size_t)json_integer_value(json_object_get(reply, "keys_loaded"));
	json_t *first = json_array_get(json_object_get(reply, "keys"), 0);
	if (first && !json_is_true(json_object_get(first, "loaded")))
		fprintf(stderr, "enclave_boot: not loaded: %s: %s\n",
			json_string_value(json_object_get(first, "pubkey")),
			json_string_value(json_object_get(first, "error")));
	json_decref(reply);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	unlink(ctl);
	unlink(api);
	return b;
}

static void scenario(const char *name, const json_t *records, int rounds,
		     uint64_t baseline_us, const char *baseline_what)
{
	static int run;
	size_t want = count_keys(records);
	uint64_t t[16];
	long hwm = 0, idle = 0;
	if (rounds > 16)
		rounds = 16;
	for (int i = 0; i < rounds; i++) {
		struct boot b = boot_once(records, run++);
		if (b.loaded != want) {
			fprintf(stderr, "enclave_boot: %s: %zu of %zu keys loaded\n",
				name, b.loaded, want);
			exit(1);
		}
		t[i] = b.us;
		if (b.hwm_kb > hwm)
			hwm = b.hwm_kb;
		idle = b.idle_hwm_kb;
	}
	qsort(t, (size_t)rounds, sizeof(t[0]), cmp_u64);
	uint64_t med = t[rounds / 2];
	printf("%-34s keys=%-6zu init->ready median %8.1f ms (min %.1f, max %.1f)"
	       "  peak RSS %.1f MiB (idle %.1f MiB)  = %.2f x %s\n",
	       name, want, med / 1000.0, t[0] / 1000.0, t[rounds - 1] / 1000.0,
	       hwm / 1024.0, idle / 1024.0, (double)med / (double)baseline_us,
	       baseline_what);
	fflush(stdout);
}

/* Secret check + public key derivation for n keys, in-process. */
static uint64_t raw_key_work_us(size_t n)
{
	struct err e = {0};
	uint8_t sk[32];
	memset(sk, 0x11, sizeof(sk));
	uint64_t t = now_us();
	for (size_t i = 0; i < n; i++) {
		struct bls_key *k;
		sk[31] = (uint8_t)i;
		sk[30] = (uint8_t)(i >> 8);
		if (bls_key_from_bytes(sk, &k, &e) < 0)
			die("bls_key_from_bytes", &e);
		bls_key_free(k);
	}
	return now_us() - t;
}

static uint64_t kms_round_trip_us(void)
{
	struct err e = {0};
	uint8_t *blob;
	size_t blob_len;
	if (aws_kms_encrypt(g_kms, getenv("NS_STANDIN_KMS_KEY_ARN"),
			    (const uint8_t *)"x", 1, NULL, &blob, &blob_len, &e) < 0)
		die("Encrypt", &e);
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 5; i++) {
		struct aws_kms_plain p = {0};
		uint64_t t = now_us();
		if (aws_kms_decrypt(g_kms, NULL, blob, blob_len, NULL, NULL, &p, &e) < 0)
			die("Decrypt", &e);
		uint64_t d = now_us() - t;
		if (d < best)
			best = d;
		aws_kms_plain_clear(&p);
	}
	free(blob);
	return best;
}

static long flag_num(const char *arg, const char *name, long dflt)
{
	size_t n = strlen(name);
	if (strncmp(arg, name, n) == 0 && arg[n] == '=')
		return strtol(arg + n + 1, NULL, 10);
	return dflt;
}

int main(int argc, char **argv)
{
	long n_env = 1000, n_sample = 100, n_big = 10000, rounds = 3, work = 0;
	long sample_rounds = 1;
	enum keystore_kdf kdf = KEYSTORE_KDF_SCRYPT;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--envelope=", 11) == 0)
			n_env = flag_num(a, "--envelope", n_env);
		else if (strncmp(a, "--sample=", 9) == 0)
			n_sample = flag_num(a, "--sample", n_sample);
		else if (strncmp(a, "--big=", 6) == 0)
			n_big = flag_num(a, "--big", n_big);
		else if (strncmp(a, "--rounds=", 9) == 0)
			rounds = flag_num(a, "--rounds", rounds);
		else if (strncmp(a, "--sample-rounds=", 16) == 0)
			sample_rounds = flag_num(a, "--sample-rounds", sample_rounds);
		else if (strncmp(a, "--work-factor=", 14) == 0)
			work = flag_num(a, "--work-factor", work);
		else if (strcmp(a, "--sample-kdf=pbkdf2") == 0)
			kdf = KEYSTORE_KDF_PBKDF2;
		else if (strcmp(a, "--sample-kdf=scrypt") == 0)
			kdf = KEYSTORE_KDF_SCRYPT;
		else {
			fprintf(stderr, "usage: enclave_boot [--envelope=N] [--sample=N] "
					"[--big=N] [--sample-kdf=scrypt|pbkdf2] "
					"[--work-factor=N] [--rounds=R] "
					"[--sample-rounds=R]\n");
			return 2;
		}
	}
	if (n_env < 0 || n_sample < 0 || n_big < 0 || rounds < 1 || rounds > 16 ||
	    sample_rounds < 1 || sample_rounds > 16 || work < 0) {
		fprintf(stderr, "enclave_boot: counts must be >= 0, rounds 1..16\n");
		return 2;
	}
	secret_init();
	log_setup(LOG_ERROR, LOG_FORMAT_TEXT);
	setenv("NS_SOURCE_DIR", getenv("NS_SOURCE_DIR") ? getenv("NS_SOURCE_DIR")
							: NS_SOURCE_DIR_DEFAULT, 1);
	/* the nitro-signer binary beside this one */
	ssize_t l = readlink("/proc/self/exe", g_bin, sizeof(g_bin) - 32);
	if (l <= 0)
		die("readlink /proc/self/exe", NULL);
	g_bin[l] = '\0';
	char *slash = strrchr(g_bin, '/');
	snprintf(slash + 1, sizeof(g_bin) - (size_t)(slash + 1 - g_bin), "nitro-signer");

	snprintf(g_dir, sizeof(g_dir), "/tmp/ns-enclave-boot-XXXXXX");
	if (!mkdtemp(g_dir))
		die("mkdtemp", NULL);
	char sim[128], root[160];
	snprintf(sim, sizeof(sim), "sim:%s/sim", g_dir);
	snprintf(root, sizeof(root), "%s/sim/root.pem", g_dir);
	struct err e = {0};
	struct nsm *nsm;
	if (nsm_open(sim, &nsm, &e) < 0) /* makes the simulator's root */
		die("NSM simulator", &e);
	nsm_close(nsm);
	setenv("KMS_STANDIN_ATTESTATION_ROOT", root, 1);
	if (standins_start() < 0)
		die("stand-ins did not start (make deps-test?)", NULL);
	struct aws_creds_provider *creds = aws_creds_env_new(&e);
	struct aws_client_opts o = {.creds = creds};
	if (!creds || !(g_kms = aws_client_new(&o, &e)))
		die("KMS client", &e);

	uint64_t kms_us = kms_round_trip_us();
	printf("baseline: one KMS Decrypt round trip to the stand-in %.2f ms; "
	       "%d cores\n", kms_us / 1000.0, cpu_count());
	if (n_env > 0) {
		json_t *r = envelope_records((size_t)n_env);
		uint64_t base = kms_us + raw_key_work_us((size_t)n_env);
		printf("baseline: KMS round trip + raw key checks for %ld keys "
		       "%.1f ms\n", n_env, base / 1000.0);
		scenario("envelope bundle", r, (int)rounds, base,
			 "(KMS round trip + raw key checks)");
		json_decref(r);
	}
	if (n_sample > 0) {
		struct keystore_params kp = {.kdf = kdf, .path = "",
					     .work_factor = (uint32_t)work};
		uint64_t one = 0;
		json_t *r = sample_records((size_t)n_sample, &kp, &one);
		uint64_t base = (uint64_t)n_sample * (kms_us + one) /
				(uint64_t)cpu_count();
		printf("baseline: one keystore decryption (%s) %.1f ms; "
		       "%ld x (KMS round trip + decryption) / %d cores = %.1f ms\n",
		       kdf == KEYSTORE_KDF_SCRYPT ? "scrypt" : "pbkdf2",
		       one / 1000.0, n_sample, cpu_count(), base / 1000.0);
		scenario("per-key (sample) records", r, (int)sample_rounds, base,
			 "(records x (KMS + keystore) / cores)");
		json_decref(r);
	}
	if (n_big > 0) {
		json_t *r = envelope_records((size_t)n_big);
		uint64_t base = kms_us * json_array_size(r) +
				raw_key_work_us((size_t)n_big);
		scenario("envelope bundles (RSS)", r, (int)rounds, base,
			 "(KMS round trips + raw key checks)");
		json_decref(r);
	}
	aws_client_free(g_kms);
	aws_creds_provider_free(creds);
	standins_stop();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "enclave_boot: could not remove %s\n", g_dir);
	return 0;
}
