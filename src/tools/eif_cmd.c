/*
 * eif_cmd.c: `nitro-keys eif ...`, the enclave image offline: write the two
 * ramdisks, assemble the image, sign it, describe an image (its PCRs, as
 * nitro-cli's describe-eif prints them). A shell over src/eif: read the files, call the
 * library, write the output atomically. Inputs are the operator's files
 * (AWS's blobs, our release binary); the image read by describe is
 * untrusted and size-capped before eif_parse checks every byte.
 *
 * Nothing here reads the clock or the host: the metadata's BuildTime comes
 * from SOURCE_DATE_EPOCH (or is the epoch), so the same inputs give the
 * same image bytes on every machine (docs/enclave-image.md). The one
 * exception is signing, which refuses a certificate outside its validity
 * period now (nitro-cli run-enclave refuses such an image); a signed
 * image's bytes differ on every run anyway (ECDSA), its PCRs do not.
 */
#include "tools/eif_cmd.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "eif/eif.h"

#define KERNEL_MAX (256u * 1024 * 1024)
#define RAMDISK_MAX (1024u * 1024 * 1024)
#define SMALL_FILE_MAX (4u * 1024 * 1024)
#define IMAGE_MAX (2ull * 1024 * 1024 * 1024)

static const char usage_text[] =
	"usage: nitro-keys eif COMMAND [flags]\n"
	"\n"
	"The enclave image (EIF), built and measured offline (docs/enclave-image.md):\n"
	"  eif ramdisk bootstrap --init=F --nsm=F --out=F\n"
	"      the first ramdisk: dev/, init and nsm.ko from AWS's blobs\n"
	"  eif ramdisk app --signer=F --ca-bundle=PEM --out=F [--arg=A ...]\n"
	"                  [--env=NAME=VALUE ...] [--file=/PATH=F ...]\n"
	"      the second ramdisk: rootfs/ with the signer at " EIF_SIGNER_PATH ",\n"
	"      the CA bundle at " EIF_CA_BUNDLE_PATH " and each --file (0644),\n"
	"      cmd (" EIF_SIGNER_PATH " then each --arg, one per line) and env\n"
	"      (each --env; default " EIF_ENV_DEFAULT ")\n"
	"  eif build --kernel=F --cmdline=F --ramdisk=F [--ramdisk=F ...] --out=IMAGE\n"
	"            [--memory-mib=N] [--cpus=N] [--arch=x86_64|aarch64]\n"
	"            [--image-version=TEXT]\n"
	"            [--signing-key=KEY.pem --signing-certificate=CERT.pem]\n"
	"      the image: sections kernel, cmdline (the file, trimmed as nitro-cli\n"
	"      does), metadata, the ramdisks in order (bootstrap first). Prints\n"
	"      {\"Measurements\":{...}} as nitro-cli build-enclave does. Header\n"
	"      defaults: 1024 MiB, 2 cpus, x86_64. Metadata BuildTime is\n"
	"      SOURCE_DATE_EPOCH (or 1970-01-01), ImageVersion defaults to " NS_VERSION ".\n"
	"      With --signing-key and --signing-certificate, the signed image (as\n"
	"      eif sign writes it).\n"
	"  eif sign IMAGE --signing-key=KEY.pem --signing-certificate=CERT.pem --out=SIGNED\n"
	"      adds the signature section to an unsigned image: a COSE_Sign1\n"
	"      (ES384) over its PCR0 and the certificate (ECDSA P-384, valid now,\n"
	"      the key's own), as nitro-cli signs images. Prints the Measurements\n"
	"      with PCR8 (the certificate's measurement). PCRs are reproducible,\n"
	"      the signed file's bytes are not (ECDSA is randomised).\n"
	"  eif describe IMAGE [--measurements]\n"
	"      EifVersion, Measurements (PCR0, PCR1, PCR2, PCR8 when signed),\n"
	"      IsSigned, SigningCertificate, CheckCRC, SignatureCheck and the\n"
	"      metadata, as nitro-cli describe-eif prints them (or only the\n"
	"      Measurements object); exit 1 naming the problem for a bad CRC, a\n"
	"      truncated or malformed image, a signature that does not verify\n"
	"      or that signs another image's PCR0.\n"
	"\n"
	"Output files are written atomically (mode 0644).\n"
	"Exit status: 0 ok, 1 failure, 2 bad usage.\n";

enum {
	F_INIT, F_NSM, F_OUT, F_SIGNER, F_CA, F_ARG, F_ENV, F_FILE, F_KERNEL,
	F_CMDLINE, F_RAMDISK, F_MEMORY, F_CPUS, F_ARCH, F_IMAGE_VERSION,
	F_MEASUREMENTS, F_SIGNING_KEY, F_SIGNING_CERT, F_COUNT
};

#define VALUE(id, n) [id] = {n, ARGS_VALUE, id, 0}
#define LIST(id, n, max) [id] = {n, ARGS_LIST, id, max}
static const struct args_flag FLAGS[F_COUNT] = {
	VALUE(F_INIT, "init"),
	VALUE(F_NSM, "nsm"),
	VALUE(F_OUT, "out"),
	VALUE(F_SIGNER, "signer"),
	VALUE(F_CA, "ca-bundle"),
	LIST(F_ARG, "arg", EIF_ARGS_MAX),
	LIST(F_ENV, "env", EIF_ARGS_MAX),
	LIST(F_FILE, "file", EIF_EXTRA_FILES_MAX),
	VALUE(F_KERNEL, "kernel"),
	VALUE(F_CMDLINE, "cmdline"),
	LIST(F_RAMDISK, "ramdisk", EIF_MAX_SECTIONS - 3),
	VALUE(F_MEMORY, "memory-mib"),
	VALUE(F_CPUS, "cpus"),
	VALUE(F_ARCH, "arch"),
	VALUE(F_IMAGE_VERSION, "image-version"),
	[F_MEASUREMENTS] = {"measurements", ARGS_BOOL, F_MEASUREMENTS, 0},
	VALUE(F_SIGNING_KEY, "signing-key"),
	VALUE(F_SIGNING_CERT, "signing-certificate"),
};
#undef VALUE
#undef LIST

__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd,
							     const char *fmt,
							     ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "nitro-keys %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see --help)\n");
	va_end(ap);
	return EXIT_USAGE;
}

static int fail(const char *cmd, const struct err *e)
{
	fprintf(stderr, "nitro-keys %s: %s\n", cmd, e->msg);
	return EXIT_RUNTIME;
}

/* A file the command reads whole: the path and its bytes. */
struct input {
	char *p;
	size_t len;
};

static int load(const char *path, size_t max, struct input *in, struct err *e)
{
	return file_read_all(path, max, &in->p, &in->len, e);
}

static struct eif_blob blob(const struct input *in)
{
	return (struct eif_blob){(const uint8_t *)in->p, in->len};
}

static int write_out(const char *cmd, const char *path, struct buf *b)
{
	struct err e = {0};
	if (file_write_atomic(path, b->p, b->len, 0644, &e) < 0)
		return fail(cmd, &e);
	return 0;
}

/* ---- ramdisk ------------------------------------------------------------- */

static int cmd_bootstrap(const struct args *a, const char *cmd)
{
	struct input init = {0}, nsm = {0};
	struct buf out = BUF_INIT(RAMDISK_MAX);
	struct err e = {0};
	int status = EXIT_RUNTIME;
	if (load(args_get(a, F_INIT), RAMDISK_MAX / 2, &init, &e) == 0 &&
	    load(args_get(a, F_NSM), RAMDISK_MAX / 2, &nsm, &e) == 0 &&
	    eif_ramdisk_bootstrap(blob(&init), blob(&nsm), &out, &e) == 0)
		status = write_out(cmd, args_get(a, F_OUT), &out);
	else
		fail(cmd, &e);
	buf_free(&out);
	free(init.p);
	free(nsm.p);
	return status;
}

/* --file=/PATH=F: the extra file's place in the enclave and its source. */
static int load_extra(const char *spec, struct eif_extra_file *x,
		      struct input *in, char **dest, struct err *e)
{
	const char *eq = strchr(spec, '=');
	if (!eq || spec[0] != '/' || !eq[1])
		return err_set(e, ERR_USAGE, "--file=%s: expected /PATH=FILE",
			       spec);
	*dest = strndup(spec, (size_t)(eq - spec));
	if (!*dest)
		return err_set(e, ERR_NOMEM, "out of memory");
	TRY(load(eq + 1, SMALL_FILE_MAX, in, e));
	x->path = *dest;
	x->data = blob(in);
	return 0;
}

static int cmd_app(const struct args *a, const char *cmd)
{
	struct eif_app app;
	struct input signer = {0}, ca = {0}, extra[EIF_EXTRA_FILES_MAX] = {{0}};
	char *dests[EIF_EXTRA_FILES_MAX] = {0};
	const char *files[EIF_EXTRA_FILES_MAX];
	struct buf out = BUF_INIT(RAMDISK_MAX);
	struct err e = {0};
	int status = EXIT_RUNTIME;
	memset(&app, 0, sizeof(app));
	app.nargs = args_list(a, F_ARG, app.args, EIF_ARGS_MAX);
	app.nenv = args_list(a, F_ENV, app.env, EIF_ARGS_MAX);
	size_t nfiles = args_list(a, F_FILE, files, EIF_EXTRA_FILES_MAX);
	int rc = load(args_get(a, F_SIGNER), RAMDISK_MAX / 2, &signer, &e);
	if (rc == 0)
		rc = load(args_get(a, F_CA), SMALL_FILE_MAX, &ca, &e);
	for (size_t i = 0; rc == 0 && i < nfiles; i++, app.nextra++)
		rc = load_extra(files[i], &app.extra[i], &extra[i], &dests[i],
				&e);
	app.signer = blob(&signer);
	app.ca_bundle = blob(&ca);
	if (rc == 0)
		rc = eif_ramdisk_app(&app, &out, &e);
	if (rc == 0)
		status = write_out(cmd, args_get(a, F_OUT), &out);
	else if (rc == -ERR_USAGE)
		status = usage_error(cmd, "%s", e.msg);
	else
		fail(cmd, &e);
	buf_free(&out);
	free(signer.p);
	free(ca.p);
	for (size_t i = 0; i < EIF_EXTRA_FILES_MAX; i++) {
		free(extra[i].p);
		free(dests[i]);
	}
	return status;
}

/* ---- build --------------------------------------------------------------- */

/* nitro-cli reads blobs/cmdline and passes cmdline.trim(). */
static void trim(struct input *in)
{
	size_t start = 0, end = in->len;
	while (end > 0 && strchr(" \t\n\r\v\f", in->p[end - 1]) && in->p[end - 1])
		end--;
	while (start < end && strchr(" \t\n\r\v\f", in->p[start]) && in->p[start])
		start++;
	memmove(in->p, in->p + start, end - start);
	in->len = end - start;
	in->p[in->len] = '\0';
}

/* RFC 3339 of SOURCE_DATE_EPOCH (the epoch when unset), as chrono's
 * to_rfc3339 writes UTC. */
static int build_time(const char *cmd, char out[32])
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	uint64_t t = 0;
	struct err e = {0};
	if (s && dec_parse_u64(s, &t, &e, "SOURCE_DATE_EPOCH") < 0)
		return fail(cmd, &e);
	if (t > 253402300799ull) /* 9999-12-31T23:59:59Z */
		return usage_error(cmd, "SOURCE_DATE_EPOCH out of range");
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%S+00:00", &tm) == 0)
		return usage_error(cmd, "SOURCE_DATE_EPOCH out of range");
	return 0;
}

static int parse_header_flags(const struct args *a, const char *cmd,
			      struct eif_build *b)
{
	const char *mem = args_get(a, F_MEMORY), *cpus = args_get(a, F_CPUS);
	const char *arch = args_get(a, F_ARCH);
	uint64_t v;
	b->mem_bytes = EIF_DEFAULT_MEM;
	b->cpus = EIF_DEFAULT_CPUS;
	if (mem && (dec_parse_u64(mem, &v, NULL, "") < 0 ||
		    v < EIF_MEM_MIN >> 20 || v > EIF_MEM_MAX >> 20))
		return usage_error(cmd, "--memory-mib must be %llu..%llu",
				   EIF_MEM_MIN >> 20, EIF_MEM_MAX >> 20);
	if (mem)
		b->mem_bytes = v << 20;
	if (cpus && (dec_parse_u64(cpus, &b->cpus, NULL, "") < 0 ||
		     b->cpus < 1 || b->cpus > EIF_CPUS_MAX))
		return usage_error(cmd, "--cpus must be 1..%d", EIF_CPUS_MAX);
	const char *version = args_get(a, F_IMAGE_VERSION);
	for (size_t i = 0; version && version[i]; i++)
		if (version[i] < 0x20 || version[i] > 0x7e || i >= 64)
			return usage_error(cmd, "--image-version must be 1..64 "
					   "printable ASCII characters");
	if (arch && strcmp(arch, "aarch64") == 0)
		b->flags = EIF_FLAG_ARM64;
	else if (arch && strcmp(arch, "x86_64") != 0)
		return usage_error(cmd, "--arch must be x86_64 or aarch64");
	return 0;
}

static int print_json(json_t *o, const char *cmd)
{
	char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!s) {
		fprintf(stderr, "nitro-keys %s: out of memory\n", cmd);
		return EXIT_RUNTIME;
	}
	printf("%s\n", s);
	fflush(stdout);
	free(s);
	return 0;
}

static int assemble(const struct args *a, const char *cmd, struct eif_build *b,
		    struct input *in, size_t nin, const char *when)
{
	struct err e = {0};
	const char *ramdisks[EIF_MAX_SECTIONS];
	b->nramdisks = args_list(a, F_RAMDISK, ramdisks, EIF_MAX_SECTIONS - 3);
	if (load(args_get(a, F_KERNEL), KERNEL_MAX, &in[0], &e) < 0 ||
	    load(args_get(a, F_CMDLINE), EIF_CMDLINE_MAX * 2, &in[1], &e) < 0)
		return fail(cmd, &e);
	trim(&in[1]);
	b->kernel = blob(&in[0]);
	b->cmdline = blob(&in[1]);
	for (size_t i = 0; i < b->nramdisks && 3 + i < nin; i++) {
		if (load(ramdisks[i], RAMDISK_MAX, &in[3 + i], &e) < 0)
			return fail(cmd, &e);
		b->ramdisks[i] = blob(&in[3 + i]);
	}
	const char *version = args_get(a, F_IMAGE_VERSION);
	in[2].p = eif_metadata_json(version ? version : NS_VERSION, when,
				    b->kernel);
	if (!in[2].p) {
		fprintf(stderr, "nitro-keys %s: out of memory\n", cmd);
		return EXIT_RUNTIME;
	}
	in[2].len = strlen(in[2].p);
	b->metadata = blob(&in[2]);
	return 0;
}

/* ---- signing ------------------------------------------------------------ */

#define PEM_FILE_MAX (64u * 1024)

/* No passphrase prompt: an encrypted key is refused, not asked for. */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf, (void)size, (void)rw, (void)u;
	return 0;
}

struct signer {
	EVP_PKEY *key;
	X509 *cert;
};

static void signer_free(struct signer *s)
{
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	memset(s, 0, sizeof(*s));
}

/* The key (read into secret memory) and the certificate; the checks that
 * need no image: P-384, valid now. The pairing is eif_sign's check. */
static int signer_load(const char *key_path, const char *cert_path,
		       struct signer *s, struct err *e)
{
	struct secret *k = NULL;
	struct input c = {0};
	int rc;
	memset(s, 0, sizeof(*s));
	TRY(secret_read_file(key_path, &k, e));
	BIO *b = BIO_new_mem_buf(k->bytes, (int)k->len);
	s->key = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
	BIO_free(b);
	secret_free(k);
	if (!s->key) {
		rc = err_set(e, ERR_INVALID, "%s: not an unencrypted PEM "
			     "private key", key_path);
		goto out;
	}
	TRY_OUT(load(cert_path, PEM_FILE_MAX, &c, e));
	b = BIO_new_mem_buf(c.p, (int)c.len);
	s->cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!s->cert) {
		rc = err_set(e, ERR_INVALID, "%s: not a PEM certificate",
			     cert_path);
		goto out;
	}
	rc = eif_cert_check_p384(s->cert, e);
	if (rc < 0) {
		err_prefix(e, "%s: ", cert_path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(s->cert)) >= 0) {
		rc = err_set(e, ERR_INVALID, "%s: the certificate is not valid "
			     "yet (nitro-cli run-enclave would refuse the "
			     "image)", cert_path);
		goto out;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(s->cert)) <= 0) {
		rc = err_set(e, ERR_INVALID, "%s: the certificate has expired "
			     "(nitro-cli run-enclave would refuse the image)",
			     cert_path);
		goto out;
	}
	rc = 0;
out:
	free(c.p);
	if (rc < 0)
		signer_free(s);
	return rc;
}

static int print_measurements(const struct eif_pcrs *pcrs, const char *cmd)
{
	json_t *o = json_pack("{s:o}", "Measurements",
			      eif_measurements_json(pcrs));
	int status = print_json(o, cmd);
	json_decref(o);
	return status;
}

/* Signs image[0..len) into out and prints its measurements. */
static int sign_and_write(const char *cmd, const uint8_t *image, size_t len,
			  const struct args *a)
{
	struct signer s;
	struct buf out = BUF_INIT(IMAGE_MAX);
	struct eif_info info;
	struct err e = {0};
	int status = EXIT_RUNTIME;
	if (signer_load(args_get(a, F_SIGNING_KEY), args_get(a, F_SIGNING_CERT),
			&s, &e) < 0)
		return fail(cmd, &e);
	if (eif_sign(image, len, s.key, s.cert, &out, &info, &e) < 0)
		fail(cmd, &e);
	else
		status = write_out(cmd, args_get(a, F_OUT), &out);
	if (status == 0)
		status = print_measurements(&info.pcrs, cmd);
	signer_free(&s);
	buf_free(&out);
	return status;
}

static int cmd_sign(const struct args *a, const char *cmd)
{
	if (a->npositional != 1)
		return usage_error(cmd, "IMAGE is required");
	char *bytes = NULL;
	size_t len;
	struct err e = {0};
	if (file_read_all(a->positional[0], IMAGE_MAX, &bytes, &len, &e) < 0)
		return fail(cmd, &e);
	int status = sign_and_write(cmd, (const uint8_t *)bytes, len, a);
	free(bytes);
	return status;
}

/* ---- build (continued) ---------------------------------------------------- */

static int cmd_build(const struct args *a, const char *cmd)
{
	char when[32];
	struct eif_build b;
	memset(&b, 0, sizeof(b));
	int status = build_time(cmd, when);
	if (status == 0)
		status = parse_header_flags(a, cmd, &b);
	if (status)
		return status;
	bool sign = args_get(a, F_SIGNING_KEY) || args_get(a, F_SIGNING_CERT);
	if (sign && !(args_get(a, F_SIGNING_KEY) && args_get(a, F_SIGNING_CERT)))
		return usage_error(cmd, "--signing-key and --signing-certificate "
				   "go together");
	struct input in[3 + EIF_MAX_SECTIONS] = {{0}};
	struct buf out = BUF_INIT(IMAGE_MAX);
	struct err e = {0};
	struct eif_pcrs pcrs;
	status = assemble(a, cmd, &b, in, sizeof(in) / sizeof(in[0]), when);
	if (status == 0 && (eif_write(&b, &out, &e) < 0 ||
			    eif_measure(&b, &pcrs) < 0))
		status = fail(cmd, &e);
	if (status == 0 && sign)
		status = sign_and_write(cmd, out.p, out.len, a);
	else if (status == 0)
		status = write_out(cmd, args_get(a, F_OUT), &out);
	if (status == 0 && !sign)
		status = print_measurements(&pcrs, cmd);
	buf_free(&out);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		free(in[i].p);
	return status;
}

/* ---- describe ------------------------------------------------------------- */

int eif_cmd_read_image(const char *path, char **bytes, size_t *len,
		       struct eif_info *info, struct err *e)
{
	TRY(file_read_all(path, IMAGE_MAX, bytes, len, e));
	int rc = eif_parse((const uint8_t *)*bytes, *len, info, e);
	if (rc < 0) {
		free(*bytes);
		*bytes = NULL;
		err_prefix(e, "%s: ", path);
	}
	return rc;
}

static int cmd_describe(const struct args *a, const char *cmd)
{
	if (a->npositional != 1)
		return usage_error(cmd, "IMAGE is required");
	char *bytes = NULL;
	size_t len;
	struct eif_info info;
	struct err e = {0};
	json_t *o = NULL;
	int status = EXIT_RUNTIME;
	if (eif_cmd_read_image(a->positional[0], &bytes, &len, &info, &e) < 0 ||
	    eif_describe_json(&info, &o, &e) < 0)
		fail(cmd, &e);
	else if (args_bool(a, F_MEASUREMENTS, false))
		status = print_json(json_object_get(o, "Measurements"), cmd);
	else
		status = print_json(o, cmd);
	json_decref(o);
	free(bytes);
	return status;
}

/* ---- table ------------------------------------------------------------------ */

#define END (-1)
static const struct eif_command {
	const char *name;
	const char *const *flags;
	const int *required;
	size_t positional;
	int (*run)(const struct args *a, const char *cmd);
} COMMANDS[] = {
	{"ramdisk bootstrap", (const char *const[]){"init", "nsm", "out", NULL},
	 (const int[]){F_INIT, F_NSM, F_OUT, END}, 0, cmd_bootstrap},
	{"ramdisk app",
	 (const char *const[]){"signer", "ca-bundle", "arg", "env", "file",
			       "out", NULL},
	 (const int[]){F_SIGNER, F_CA, F_OUT, END}, 0, cmd_app},
	{"build",
	 (const char *const[]){"kernel", "cmdline", "ramdisk", "out",
			       "memory-mib", "cpus", "arch", "image-version",
			       "signing-key", "signing-certificate", NULL},
	 (const int[]){F_KERNEL, F_CMDLINE, F_RAMDISK, F_OUT, END}, 0,
	 cmd_build},
	{"sign", (const char *const[]){"signing-key", "signing-certificate",
				       "out", NULL},
	 (const int[]){F_SIGNING_KEY, F_SIGNING_CERT, F_OUT, END}, 1, cmd_sign},
	{"describe", (const char *const[]){"measurements", NULL},
	 (const int[]){END}, 1,
	 cmd_describe},
};

static bool is_help(const char *s)
{
	return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* argv[2] (and argv[3] for "ramdisk X"): which command, and where its
 * flags start. */
static const struct eif_command *find(int argc, char **argv, int *first)
{
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++) {
		const char *n = COMMANDS[i].name, *sp = strchr(n, ' ');
		if (!sp && strcmp(n, argv[2]) == 0) {
			*first = 3;
			return &COMMANDS[i];
		}
		if (sp && argc > 3 && strncmp(n, argv[2], (size_t)(sp - n)) == 0 &&
		    argv[2][sp - n] == '\0' && strcmp(sp + 1, argv[3]) == 0) {
			*first = 4;
			return &COMMANDS[i];
		}
	}
	return NULL;
}

int nitro_keys_eif_main(int argc, char **argv)
{
	if (argc < 3 || is_help(argv[2])) {
		fputs(usage_text, argc < 3 ? stderr : stdout);
		return argc < 3 ? EXIT_USAGE : 0;
	}
	int first;
	const struct eif_command *c = find(argc, argv, &first);
	if (!c)
		return usage_error("eif", "unknown command %s%s%s", argv[2],
				   argc > 3 && strcmp(argv[2], "ramdisk") == 0
					   ? " " : "",
				   argc > 3 && strcmp(argv[2], "ramdisk") == 0
					   ? argv[3] : "");
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "eif %s", c->name);
	struct args_spec spec = {.cmd = cmd, .flags = FLAGS, .nflags = F_COUNT,
				 .only = c->flags,
				 .max_positional = c->positional};
	struct args a;
	struct err e = {0};
	if (args_parse(&spec, argc - first, argv + first, &a, &e) < 0)
		return usage_error(cmd, "%s", e.msg);
	if (a.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (const int *k = c->required; *k != END; k++)
		if (!args_get(&a, *k))
			return usage_error(cmd, "--%s is required",
					   FLAGS[*k].name);
	return c->run(&a, cmd);
}
