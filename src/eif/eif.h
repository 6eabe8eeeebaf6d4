/*
 * eif.h: the public header of the eif module: the enclave image (EIF) that
 * nitro-cli runs, written and read in our own code so that anyone can
 * rebuild an image from a commit and compute its PCRs offline
 * (docs/enclave-image.md).
 *
 *   cpio.c     a deterministic newc (SVR4, no CRC) archive writer, and the
 *              strict reader the tests and fuzz targets check it with
 *   ramdisk.c  the two ramdisks AWS's enclave init expects: the bootstrap
 *              one (init, nsm.ko) and the application one (rootfs/, cmd, env)
 *   image.c    the EIF container (AWS's aws-nitro-enclaves-image-format,
 *              version 4): writer, bounds-checked reader, CRC-32, PCR0/1/2
 *   sign.c     the signature section (a COSE_Sign1 over PCR0 and the
 *              signing certificate), PCR8, signing an image
 *
 * Everything works on bytes in memory; the callers (src/tools/eif_cmd.c)
 * read and write the files. Nothing here reads the clock, the host name or
 * the environment: the same inputs give the same bytes on every machine.
 */
#ifndef NS_EIF_H
#define NS_EIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "core/core.h"

/* ---- cpio (newc) ------------------------------------------------------- */

enum cpio_kind { CPIO_FILE, CPIO_DIR };

/* Longest path in an archive (without the NUL). */
#define CPIO_PATH_MAX 255
/* Most entries in one archive (parents included). */
#define CPIO_ENTRIES_MAX 1024

struct cpio_entry {
	const char *path;    /* relative: "rootfs/usr/bin/x"; see cpio.c */
	enum cpio_kind kind;
	uint32_t perm;       /* permission bits only: 0755, 0644, ... */
	const uint8_t *data; /* CPIO_FILE: the contents (NULL when len is 0) */
	size_t len;
};

/*
 * Appends the archive of in[0..n) to out: entries sorted by path, every
 * missing parent directory added (0755), owner 0:0, mtime 0, inodes
 * numbered 1.. in path order, device numbers 0, then TRAILER!!!. Refused
 * (-ERR_INVALID naming the path, out unchanged): a path that is empty,
 * absolute, has an empty, "." or ".." component, a character outside
 * [A-Za-z0-9._+@=,-] and '/', or more than CPIO_PATH_MAX bytes; a path
 * given twice; a file that is also a parent; permission bits outside 0777.
 */
NS_MUST_CHECK
int cpio_write(const struct cpio_entry *in, size_t n, struct buf *out,
	       struct err *e);

/* One entry as the reader found it; name and data point into the archive. */
struct cpio_file {
	const char *name; /* NUL-terminated inside the archive */
	size_t name_len;
	uint32_t mode;    /* type and permission bits, as in st_mode */
	uint32_t ino, uid, gid, nlink, mtime;
	const uint8_t *data;
	size_t len;
};

/*
 * Reads a newc archive strictly (magic 070701, eight hex digits per field,
 * check 0, names NUL-terminated, zero padding to 4 bytes, TRAILER!!! last
 * and nothing after it), calling fn for each entry but the trailer; fn's
 * negative result stops the walk and is returned. At most
 * CPIO_ENTRIES_MAX entries.
 */
NS_MUST_CHECK
int cpio_read(const uint8_t *p, size_t len,
	      int (*fn)(const struct cpio_file *f, void *ctx), void *ctx,
	      struct err *e);

/* ---- the ramdisks nitro-cli's layout has --------------------------------- */

/* Where the signer and the CA bundle are inside the enclave (after init's
 * chroot into /rootfs). */
#define EIF_SIGNER_PATH "/usr/bin/nitro-signer"
#define EIF_CA_BUNDLE_PATH "/etc/ssl/certs/ca-certificates.crt"
/* The environment init gives the signer: its own default, written out. */
#define EIF_ENV_DEFAULT "PATH=/sbin:/usr/sbin:/bin:/usr/bin"
#define EIF_ARGS_MAX 64
#define EIF_EXTRA_FILES_MAX 8

struct eif_blob {
	const uint8_t *p;
	size_t len;
};

/* The bootstrap ramdisk: dev/, init and nsm.ko (what nitro-cli's
 * bootstrap-initrd.img holds), all 0755 as nitro-cli writes them. */
NS_MUST_CHECK
int eif_ramdisk_bootstrap(struct eif_blob init, struct eif_blob nsm,
			  struct buf *out, struct err *e);

struct eif_extra_file {
	const char *path; /* absolute inside the enclave: "/etc/x/y" */
	struct eif_blob data;
};

struct eif_app {
	struct eif_blob signer;    /* the static nitro-signer binary */
	struct eif_blob ca_bundle; /* PEM, at EIF_CA_BUNDLE_PATH */
	const char *args[EIF_ARGS_MAX]; /* after "EIF_SIGNER_PATH" */
	size_t nargs;
	const char *env[EIF_ARGS_MAX];  /* none: EIF_ENV_DEFAULT */
	size_t nenv;
	struct eif_extra_file extra[EIF_EXTRA_FILES_MAX]; /* 0644 */
	size_t nextra;
};

/* The application ramdisk: cmd, env and rootfs/ with the directories init
 * mounts on, the signer, the CA bundle and the extra files. An argument or
 * variable holding a newline, a control character or nothing is refused
 * (init reads one per line). */
NS_MUST_CHECK
int eif_ramdisk_app(const struct eif_app *a, struct buf *out, struct err *e);

/* ---- the image ------------------------------------------------------------ */

#define EIF_MAGIC ".eif"
#define EIF_VERSION 4
#define EIF_HEADER_LEN 548
#define EIF_SECTION_HEADER_LEN 12
#define EIF_MAX_SECTIONS 32
#define EIF_FLAG_ARM64 0x1
#define EIF_PCR_LEN 48
/* kernel, cmdline, then ramdisks (the writer also puts metadata first) */
#define EIF_MAX_RAMDISKS (EIF_MAX_SECTIONS - 2)
#define EIF_CMDLINE_MAX 4096
#define EIF_METADATA_MAX (64 * 1024)
/* nitro-cli's defaults, and the bounds the reader accepts */
#define EIF_DEFAULT_MEM (1024ull * 1024 * 1024)
#define EIF_DEFAULT_CPUS 2
#define EIF_MEM_MIN (1024ull * 1024)
#define EIF_MEM_MAX (1024ull * 1024 * 1024 * 1024)
#define EIF_CPUS_MAX 1024

enum eif_section_type {
	EIF_SECTION_INVALID = 0,
	EIF_SECTION_KERNEL = 1,
	EIF_SECTION_CMDLINE = 2,
	EIF_SECTION_RAMDISK = 3,
	EIF_SECTION_SIGNATURE = 4,
	EIF_SECTION_METADATA = 5,
};

struct eif_build {
	struct eif_blob kernel;
	struct eif_blob cmdline;  /* the kernel command line, no NUL, no "\n" */
	struct eif_blob metadata; /* JSON (eif_metadata_json) */
	struct eif_blob ramdisks[EIF_MAX_RAMDISKS]; /* bootstrap first */
	size_t nramdisks;
	uint64_t mem_bytes; /* header's default memory */
	uint64_t cpus;
	uint16_t flags;     /* EIF_FLAG_ARM64 or 0 */
};

struct eif_pcrs {
	uint8_t pcr0[EIF_PCR_LEN]; /* kernel, cmdline, every ramdisk */
	uint8_t pcr1[EIF_PCR_LEN]; /* kernel, cmdline, first ramdisk */
	uint8_t pcr2[EIF_PCR_LEN]; /* the other ramdisks */
	bool signed_image;         /* then: */
	uint8_t pcr8[EIF_PCR_LEN]; /* the signing certificate (sign.c) */
};

/* The PCRs of an image with these sections, as nitro-cli computes them
 * (PCR0/1/2; signed_image false, pcr8 zero). */
NS_MUST_CHECK
int eif_measure(const struct eif_build *b, struct eif_pcrs *out);

/* Appends the image to out, sections in nitro-cli's order (kernel,
 * cmdline, metadata, ramdisks), CRC-32 in the header. */
NS_MUST_CHECK
int eif_write(const struct eif_build *b, struct buf *out, struct err *e);

struct eif_info {
	uint16_t version, flags;
	uint64_t mem_bytes, cpus;
	uint16_t nsections;
	size_t nramdisks;
	uint32_t crc;
	struct eif_blob kernel, cmdline, metadata; /* point into the image */
	struct eif_blob signature; /* the signature section's data, or empty */
	struct eif_pcrs pcrs;
};

/*
 * Reads an image strictly (header fields range-checked, every section
 * offset and size in the header equal to where and how large the section
 * is, nothing after the last section, the CRC-32 equal to the header's)
 * and measures it. A signed image (the signature section last) is read
 * only when its signature checks out (eif_signature_decode and
 * eif_signature_verify: the certificate's key signed this image's PCR0);
 * then pcrs.signed_image is set and pcrs.pcr8 computed. Failures are -ERR_INVALID or -ERR_TRUNCATED with a message naming the
 * field or the section and its offset.
 */
NS_MUST_CHECK
int eif_parse(const uint8_t *p, size_t len, struct eif_info *out,
	      struct err *e);

/* The header's big-endian integers of 1 to 8 bytes. */
void eif_put_be(uint8_t *p, uint64_t v, int bytes);
uint64_t eif_get_be(const uint8_t *p, int bytes);

/* CRC-32/ISO-HDLC (zlib's crc32, the crc crate's CRC_32_ISO_HDLC), as the
 * EIF header holds it: start with 0, feed the bytes in order. */
uint32_t eif_crc32(uint32_t crc, const void *p, size_t n);

/* {"HashAlgorithm":"Sha384 { ... }","PCR0":..,"PCR1":..,"PCR2":..} as
 * nitro-cli prints it (lowercase hex), and "PCR8" for a signed image. NULL
 * when out of memory. */
struct json_t *eif_measurements_json(const struct eif_pcrs *p);

/* The metadata section: nitro-cli's EifIdentityInfo shape, with only
 * pinned values (docs/enclave-image.md). build_time is RFC 3339 text the
 * caller pins (SOURCE_DATE_EPOCH); kernel is hashed into KernelVersion.
 * malloc'd NUL-terminated JSON, or NULL. */
char *eif_metadata_json(const char *image_version, const char *build_time,
			struct eif_blob kernel);

/* ---- signed images (sign.c) ---------------------------------------------- */

/* Bounds on the untrusted signature section and its fields. */
#define EIF_SIGNATURE_MAX (64 * 1024)
#define EIF_CERT_PEM_MAX (16 * 1024)
#define EIF_COSE_MAX 1024

/* PCR8 = SHA-384(0^48 || SHA-384(der)), der the certificate's DER. */
NS_MUST_CHECK
int eif_pcr8(const uint8_t *der, size_t len, uint8_t out[EIF_PCR_LEN]);

/* Appends the section's data: [{signing_certificate: PEM bytes, signature:
 * COSE_Sign1 bytes}], each byte string as serde_cbor writes a Vec<u8> (an
 * array of integers). */
NS_MUST_CHECK
int eif_signature_encode(struct eif_blob cert_pem, struct eif_blob cose,
			 struct buf *out, struct err *e);

/* A decoded signature section (owns its fields). */
struct eif_signature {
	uint8_t *cert_pem, *cose;
	size_t cert_pem_len, cose_len;
	X509 *cert;                /* parsed from cert_pem, a P-384 key */
	uint8_t pcr8[EIF_PCR_LEN]; /* of its DER */
};

/* Decodes the section strictly (bounds, byte values, exactly the encoding
 * eif_signature_encode writes), parses the certificate and computes PCR8.
 * Nothing is verified yet. -ERR_INVALID naming the field. */
NS_MUST_CHECK
int eif_signature_decode(struct eif_blob section, struct eif_signature *out,
			 struct err *e);
void eif_signature_clear(struct eif_signature *s);

/* The COSE_Sign1 verifies with the certificate's key (ES384) and its
 * payload is PcrInfo {0, pcr0}; else -ERR_INVALID saying which. */
NS_MUST_CHECK
int eif_signature_verify(const struct eif_signature *s,
			 const uint8_t pcr0[EIF_PCR_LEN], struct err *e);

/* The certificate's key is ECDSA P-384, else -ERR_INVALID saying so. */
NS_MUST_CHECK
int eif_cert_check_p384(X509 *cert, struct err *e);

/*
 * Appends to out the image with a signature section added: image must be
 * an unsigned image eif_parse accepts, cert a P-384 certificate and key its
 * private key (both checked, naming the problem). The section carries the
 * certificate as PEM and a COSE_Sign1 (ES384, randomised: the bytes differ
 * on every call, the PCRs do not) over PcrInfo {0, PCR0}; the header gains
 * its slot and a new CRC. *info is the signed image as eif_parse reads it
 * (PCR8 included). Out is unchanged on failure.
 */
NS_MUST_CHECK
int eif_sign(const uint8_t *image, size_t len, EVP_PKEY *key, X509 *cert,
	     struct buf *out, struct eif_info *info, struct err *e);

/* nitro-cli describe-eif's SigningCertificate object: IssuerName (the
 * issuer's attributes by long name, sorted), Algorithm, NotBefore,
 * NotAfter (OpenSSL's text), Signature ("XX:XX:..."). NULL on failure. */
struct json_t *eif_signing_cert_json(const struct eif_signature *s);

/*
 * What `nitro-cli describe-eif` prints for an image eif_parse read, in its
 * field order: EifVersion, Measurements, IsSigned, (SigningCertificate),
 * CheckCRC, (SignatureCheck), then, when
 * the image has a metadata section, ImageName, ImageVersion and Metadata.
 * The metadata section is untrusted JSON: it must have nitro-cli's
 * EifIdentityInfo shape (describe-eif fails on anything else), else
 * -ERR_INVALID naming the field.
 */
NS_MUST_CHECK
int eif_describe_json(const struct eif_info *info, struct json_t **out,
		      struct err *e);

#endif
