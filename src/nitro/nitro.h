/*
 * nitro.h: the public header of the nitro module (DESIGN.md sections 7-8).
 *
 *   nsm.c          the NSM client: CBOR requests/responses over a backend,
 *                  and the real /dev/nsm ioctl backend
 *   nsm_sim.c      the simulator backend (only when NS_NSM_SIMULATOR): PCRs
 *                  and attestation documents signed by a test CA chain shaped
 *                  like AWS's (P-384 root -> 3 CAs -> leaf, COSE ES384)
 *   cbor_decode.c  our bounded CBOR decoder (size, nesting, counts checked
 *                  before anything is allocated; no CBOR library linked)
 *   cbor_util.c    typed reads from the decoded tree, a small checked encoder
 *   cose.c         COSE_Sign1 ES384: decode, Sig_structure, sign, verify
 *   attestation.c  attestation document payload: strict parse, encode,
 *                  certificate chain to a pinned root at a chosen time
 *   aws_root.c     the AWS Nitro Enclaves root certificate (G1), embedded
 *   expect.c       a client's expectations of a verified document (PCR0,
 *                  nonce, user_data)
 *   recipient.c    the ephemeral RSA-2048 Recipient key and the opening of
 *                  KMS CiphertextForRecipient (CMS EnvelopedData)
 *
 * Everything these functions read from outside (NSM replies, documents, CMS)
 * is untrusted and size-limited. Plaintext from KMS lands in struct secret.
 */
#ifndef NS_NITRO_H
#define NS_NITRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- limits ----------------------------------------------------------- */

#define NITRO_DOC_MAX (16 * 1024)   /* an attestation document, whole */
#define NITRO_PCR_COUNT 32          /* PCR indexes 0..31 */
#define NITRO_PCR_LEN_MAX 64
#define NITRO_CABUNDLE_MAX 8
#define NITRO_CERT_MAX 1024         /* per certificate, DER */
#define NITRO_PUBLIC_KEY_MAX 1024   /* public_key: 1..1024 bytes */
#define NITRO_USER_DATA_MAX 1024    /* user_data, nonce: 0..1024 (verify) */
#define NITRO_NSM_FIELD_MAX 512     /* user_data, nonce we ask the NSM for */
#define NITRO_MODULE_ID_MAX 256
#define NITRO_CMS_MAX (16 * 1024)   /* a CiphertextForRecipient, whole */
#define NITRO_PLAINTEXT_MAX 8192    /* KMS plaintext is <= 4096 bytes */

/* ---- NSM ---------------------------------------------------------------- */

struct nsm;

/*
 * spec: "/dev/nsm" (or another device path) for the real device, or
 * "sim:DIR" for the simulator (DIR/root.key.pem + DIR/root.pem hold its CA,
 * created when missing; DIR/pcr0.hex, if present, sets PCR0..2), or "sim:"
 * for a simulator whose CA lives only in memory. A missing device fails
 * cleanly (ERR_UNAVAILABLE); "sim:" in a build without the simulator is
 * ERR_USAGE. Calls on one struct nsm are serialised.
 */
int nsm_open(const char *spec, struct nsm **out, struct err *e);
void nsm_close(struct nsm *n);
bool nsm_is_simulator(const struct nsm *n);

struct nsm_description {
	uint16_t version_major, version_minor, version_patch;
	char module_id[NITRO_MODULE_ID_MAX + 1];
	uint16_t max_pcrs;
	uint16_t locked_pcrs[NITRO_PCR_COUNT];
	size_t n_locked_pcrs;
	char digest[8]; /* "SHA384" */
};

int nsm_describe(struct nsm *n, struct nsm_description *out, struct err *e);
/* out must hold NITRO_PCR_LEN_MAX bytes; *len is set (48 on Nitro). */
int nsm_describe_pcr(struct nsm *n, uint16_t index, bool *locked,
		     uint8_t *out, size_t *len, struct err *e);
/* new = SHA384(old || data); the new value is written to out (may be NULL). */
int nsm_extend_pcr(struct nsm *n, uint16_t index, const uint8_t *data,
		   size_t data_len, uint8_t *out, size_t *out_len,
		   struct err *e);
int nsm_lock_pcr(struct nsm *n, uint16_t index, struct err *e);
/* Locks [0, range). */
int nsm_lock_pcrs(struct nsm *n, uint16_t range, struct err *e);
/* Fills buf entirely, asking in chunks of at most 256 bytes. */
int nsm_get_random(struct nsm *n, uint8_t *buf, size_t len, struct err *e);

/*
 * An attestation document binding the given fields. NULL pointer = CBOR null
 * (absent); user_data and nonce at most NITRO_NSM_FIELD_MAX bytes,
 * public_key at most NITRO_PUBLIC_KEY_MAX. *doc is malloc'd.
 */
struct nsm_attest_req {
	const uint8_t *user_data;
	size_t user_data_len;
	const uint8_t *nonce;
	size_t nonce_len;
	const uint8_t *public_key;
	size_t public_key_len;
};
int nsm_attest(struct nsm *n, const struct nsm_attest_req *req,
	       uint8_t **doc, size_t *doc_len, struct err *e);

#ifdef NS_NSM_SIMULATOR
/* The simulator's root certificate (DER or PEM, malloc'd), for verifiers
 * and the KMS stand-in. ERR_INVALID on a real device. */
int nsm_sim_root_der(struct nsm *n, uint8_t **der, size_t *len,
		     struct err *e);
int nsm_sim_root_pem(struct nsm *n, char **pem, struct err *e);
/* Tests: sign an arbitrary payload with the simulator's leaf key as a
 * COSE_Sign1 ES384 document (to build malformed or expired documents). */
int nsm_sim_sign_payload(struct nsm *n, const uint8_t *payload, size_t len,
			 uint8_t **doc, size_t *doc_len, struct err *e);
/* Tests: the leaf certificate's notAfter, seconds since the epoch. */
int64_t nsm_sim_leaf_not_after(struct nsm *n);
#endif

/* ---- attestation documents --------------------------------------------- */

struct nitro_bytes {
	uint8_t *p; /* malloc'd; NULL when absent */
	size_t len;
	bool present; /* false: the field was CBOR null or missing */
};

struct attestation_doc {
	char *module_id;
	char digest[8];
	uint64_t timestamp_ms;
	uint32_t pcr_mask; /* bit i set: pcrs[i] present */
	size_t pcr_len;    /* 32, 48 or 64; the same for every PCR */
	uint8_t pcrs[NITRO_PCR_COUNT][NITRO_PCR_LEN_MAX];
	struct nitro_bytes certificate;
	struct nitro_bytes cabundle[NITRO_CABUNDLE_MAX];
	size_t n_cabundle;
	struct nitro_bytes public_key, user_data, nonce;
};

struct attestation_verify_opts {
	/* Trust anchor (DER). NULL: the embedded AWS root, checked against its
	 * pinned SHA-256 fingerprint. */
	const uint8_t *root_der;
	size_t root_der_len;
	/* Check validity at this time (seconds since the epoch); 0: at the
	 * document's own timestamp (stored documents). */
	int64_t at_unix;
	/* With at_unix: refuse documents older than this (0: no limit) or more
	 * than a minute in the future. */
	uint64_t max_age_s;
};

/* Structure and field rules only (no signature, no chain). */
int attestation_parse(const uint8_t *doc, size_t len,
		      struct attestation_doc **out, struct err *e);
/* COSE ES384 signature by the leaf, chain leaf <- cabundle[n-1] <- ... <-
 * cabundle[1] <- root (cabundle[0] must be the root), field rules. */
int attestation_verify(const uint8_t *doc, size_t len,
		       const struct attestation_verify_opts *opts,
		       struct attestation_doc **out, struct err *e);
void attestation_doc_free(struct attestation_doc *d);
/* Encodes a payload map (the simulator's, and tests' malformed ones). */
int attestation_payload_encode(const struct attestation_doc *d, uint8_t **out,
			       size_t *len, struct err *e);

/* The embedded AWS Nitro Enclaves root G1 (DER, 533 bytes). */
const uint8_t *attestation_aws_root_der(size_t *len);
#define ATTESTATION_AWS_ROOT_SHA256                                           \
	"641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
/* Reads one PEM certificate (a --root=PEM file) as DER, malloc'd. */
int attestation_root_from_pem_file(const char *path, uint8_t **der,
				   size_t *len, struct err *e);

/* ---- a client's expectations of a verified document (expect.c) ---------- */

#define NITRO_PCR0_LEN 48 /* SHA-384 */

/* Each non-NULL field must hold; NULL ones are not checked. */
struct attestation_expect {
	const uint8_t *pcr0; /* NITRO_PCR0_LEN bytes: the trusted image */
	/* NITRO_PCR0_LEN bytes: the signing certificate of a signed image
	 * (docs/enclave-image.md). A document without PCR8, or with the zeros
	 * every unsigned image reports, never matches it. */
	const uint8_t *pcr8;
	const uint8_t *nonce; /* the nonce the client sent */
	size_t nonce_len;
	const uint8_t *user_data; /* e.g. SHA-256 of the TLS certificate's SPKI */
	size_t user_data_len;
};

enum attestation_mismatch {
	ATTESTATION_MATCH = 0,
	ATTESTATION_MISMATCH_PCR0,
	ATTESTATION_MISMATCH_PCR8,
	ATTESTATION_MISMATCH_NONCE,
	ATTESTATION_MISMATCH_USER_DATA,
};

/* A PCR value of len bytes is all zeros: what an enclave reports for a PCR
 * it does not use (PCR8 of every unsigned image), and PCR0 of a debug-mode
 * enclave; such a value identifies nothing. */
bool nitro_pcr_is_zero(const uint8_t *p, size_t len);

/* A PCR value as operators write it: the first len bytes of v are 96 hex
 * digits (any case), "0x" before them optional. False when not. */
bool nitro_pcr_from_hex(const char *v, size_t len,
			uint8_t out[NITRO_PCR0_LEN]);

/* The first expectation d (from attestation_verify) fails, in the order
 * above, or ATTESTATION_MATCH. */
enum attestation_mismatch
attestation_check_expect(const struct attestation_doc *d,
			 const struct attestation_expect *x);

/* ---- Recipient: KMS CiphertextForRecipient ------------------------------- */

struct recipient;

/* A fresh RSA-2048 (e = 65537) key, as kmstool-enclave-cli makes per boot. */
int recipient_new(struct recipient **out, struct err *e);
/* Tests and fuzzing: a fixed key from a PEM private key. */
int recipient_from_private_pem(const char *pem, size_t len,
			       struct recipient **out, struct err *e);
/* SubjectPublicKeyInfo DER, for the attestation request's public_key. */
const uint8_t *recipient_public_key(const struct recipient *r, size_t *len);
/*
 * Opens a CMS EnvelopedData (BER or DER) addressed to r: exactly one
 * KeyTransRecipientInfo with RSAES-OAEP SHA-256/MGF1-SHA-256 (no label) and
 * AES-256-CBC content. The plaintext is returned in secure memory.
 */
int recipient_open(const struct recipient *r, const uint8_t *cms, size_t len,
		   struct secret **plaintext, struct err *e);
/* Frees the key (OpenSSL wipes RSA private material). NULL-safe. */
void recipient_free(struct recipient *r);

/* What a CMS blob carries, read with OpenSSL's ASN.1 decoder; the policy
 * checks of recipient_open() run on this. */
struct recipient_cms_info {
	int ktri_version;
	int oaep_hash_nid, oaep_mgf1_nid; /* NID_undef when absent (SHA-1) */
	bool oaep_label;                  /* a pSourceFunc was present */
	int content_cipher_nid;
	uint8_t encrypted_key[512];
	size_t encrypted_key_len;
	uint8_t iv[16];
	size_t iv_len;
	uint8_t *ciphertext; /* malloc'd */
	size_t ciphertext_len;
};
int recipient_cms_inspect(const uint8_t *cms, size_t len,
			  struct recipient_cms_info *out, struct err *e);
void recipient_cms_info_clear(struct recipient_cms_info *info);

#endif
