/*
 * image.c: the EIF container nitro-cli builds and runs, as AWS's
 * aws-nitro-enclaves-image-format crate defines it (src/defs/mod.rs,
 * src/utils/mod.rs, src/utils/eif_reader.rs), version 4.
 *
 * Layout, all integers big-endian:
 *
 *   header (548 bytes): magic ".eif", u16 version, u16 flags (bit 0:
 *     aarch64), u64 default memory (bytes), u64 default cpus, u16 reserved,
 *     u16 section count, u64 offsets[32], u64 sizes[32], u32 unused, u32
 *     CRC-32
 *   sections, back to back from offset 548: a 12-byte section header (u16
 *     type, u16 flags, u64 size) then size bytes. offsets[i] is where
 *     section i's header starts, sizes[i] its data's size. nitro-cli's
 *     order: kernel, cmdline, metadata, ramdisks (bootstrap first), then a
 *     signature when signed (sign.c: its format, PCR8 and the checks).
 *
 * CRC-32/ISO-HDLC over the header without its last 4 bytes, then every
 * section header and its data in file order.
 *
 * PCRs are SHA-384 "extends" from 48 zero bytes of the section *data*
 * (never headers, never metadata): PCRn = SHA-384(0^48 || SHA-384(data)),
 * where data is kernel || cmdline || every ramdisk for PCR0, kernel ||
 * cmdline || first ramdisk for PCR1, the other ramdisks for PCR2.
 *
 * The reader trusts nothing: every field is range-checked, every offset and
 * size must equal the section actually found there, bytes after the last
 * section are refused, and the CRC must match. Every read goes through a
 * struct cursor. A signature section is read only when it is the last one
 * and its signature verifies against this image's PCR0 (sign.c).
 */
#include "eif/eif.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CRC-32 (reflected, polynomial 0xEDB88320, init and xorout ~0) ------ */

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

uint32_t eif_crc32(uint32_t crc, const void *p, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, crc_init);
	const uint8_t *b = p;
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* ---- measurements ----------------------------------------------------------- */

struct pcr_hash {
	EVP_MD_CTX *ctx;
};

static int extend(EVP_MD_CTX *ctx, uint8_t out[EIF_PCR_LEN])
{
	uint8_t inner[EIF_PCR_LEN], zero[EIF_PCR_LEN] = {0};
	unsigned int n;
	if (EVP_DigestFinal_ex(ctx, inner, &n) != 1 || n != EIF_PCR_LEN ||
	    EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, zero, sizeof(zero)) != 1 ||
	    EVP_DigestUpdate(ctx, inner, sizeof(inner)) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		return -ERR_CRYPTO;
	return 0;
}

int eif_measure(const struct eif_build *b, struct eif_pcrs *out)
{
	EVP_MD_CTX *h[3] = {EVP_MD_CTX_new(), EVP_MD_CTX_new(),
			    EVP_MD_CTX_new()};
	int rc = -ERR_CRYPTO;
	memset(out, 0, sizeof(*out));
	bool ok = h[0] && h[1] && h[2];
	for (int i = 0; ok && i < 3; i++)
		ok = EVP_DigestInit_ex(h[i], EVP_sha384(), NULL) == 1;
	const struct eif_blob *boot[] = {&b->kernel, &b->cmdline};
	for (size_t i = 0; ok && i < 2; i++)
		ok = EVP_DigestUpdate(h[0], boot[i]->p, boot[i]->len) == 1 &&
		     EVP_DigestUpdate(h[1], boot[i]->p, boot[i]->len) == 1;
	for (size_t i = 0; ok && i < b->nramdisks; i++) {
		const struct eif_blob *r = &b->ramdisks[i];
		ok = EVP_DigestUpdate(h[0], r->p, r->len) == 1 &&
		     EVP_DigestUpdate(h[i == 0 ? 1 : 2], r->p, r->len) == 1;
	}
	if (ok && extend(h[0], out->pcr0) == 0 && extend(h[1], out->pcr1) == 0 &&
	    extend(h[2], out->pcr2) == 0)
		rc = 0;
	for (int i = 0; i < 3; i++)
		EVP_MD_CTX_free(h[i]);
	return rc;
}

/* ---- writer ------------------------------------------------------------------ */

void eif_put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

uint64_t eif_get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_u16(uint8_t *p, uint16_t v) { eif_put_be(p, v, 2); }
static void put_u32(uint8_t *p, uint32_t v) { eif_put_be(p, v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { eif_put_be(p, v, 8); }

/* The sections in nitro-cli's order. */
static size_t section_list(const struct eif_build *b, uint16_t *types,
			   const struct eif_blob **blobs)
{
	size_t n = 0;
	types[n] = EIF_SECTION_KERNEL, blobs[n++] = &b->kernel;
	types[n] = EIF_SECTION_CMDLINE, blobs[n++] = &b->cmdline;
	types[n] = EIF_SECTION_METADATA, blobs[n++] = &b->metadata;
	for (size_t i = 0; i < b->nramdisks; i++)
		types[n] = EIF_SECTION_RAMDISK, blobs[n++] = &b->ramdisks[i];
	return n;
}

static int check_build(const struct eif_build *b, struct err *e)
{
	if (!b->kernel.len)
		return err_set(e, ERR_INVALID, "eif: the kernel is empty");
	if (!b->cmdline.len || b->cmdline.len > EIF_CMDLINE_MAX ||
	    memchr(b->cmdline.p, 0, b->cmdline.len) ||
	    memchr(b->cmdline.p, '\n', b->cmdline.len))
		return err_set(e, ERR_INVALID, "eif: the kernel command line "
			       "must be 1..%d bytes without NUL or newline",
			       EIF_CMDLINE_MAX);
	if (!b->metadata.len || b->metadata.len > EIF_METADATA_MAX)
		return err_set(e, ERR_INVALID, "eif: metadata must be 1..%d "
			       "bytes", EIF_METADATA_MAX);
	if (b->nramdisks < 1 || b->nramdisks > EIF_MAX_SECTIONS - 3)
		return err_set(e, ERR_INVALID, "eif: 1..%d ramdisks",
			       EIF_MAX_SECTIONS - 3);
	for (size_t i = 0; i < b->nramdisks; i++)
		if (!b->ramdisks[i].len)
			return err_set(e, ERR_INVALID, "eif: ramdisk %zu is "
				       "empty", i + 1);
	if (b->mem_bytes < EIF_MEM_MIN || b->mem_bytes > EIF_MEM_MAX)
		return err_set(e, ERR_INVALID, "eif: memory out of range");
	if (b->cpus < 1 || b->cpus > EIF_CPUS_MAX)
		return err_set(e, ERR_INVALID, "eif: cpus must be 1..%d",
			       EIF_CPUS_MAX);
	if (b->flags & ~EIF_FLAG_ARM64)
		return err_set(e, ERR_INVALID, "eif: unknown header flags");
	return 0;
}

int eif_write(const struct eif_build *b, struct buf *out, struct err *e)
{
	TRY(check_build(b, e));
	uint16_t types[EIF_MAX_SECTIONS];
	const struct eif_blob *blobs[EIF_MAX_SECTIONS];
	size_t n = section_list(b, types, blobs);
	uint8_t h[EIF_HEADER_LEN] = {0};
	memcpy(h, EIF_MAGIC, 4);
	put_u16(h + 4, EIF_VERSION);
	put_u16(h + 6, b->flags);
	put_u64(h + 8, b->mem_bytes);
	put_u64(h + 16, b->cpus);
	put_u16(h + 26, (uint16_t)n);
	uint64_t off = EIF_HEADER_LEN;
	for (size_t i = 0; i < n; i++) {
		put_u64(h + 28 + 8 * i, off);
		put_u64(h + 28 + 8 * EIF_MAX_SECTIONS + 8 * i, blobs[i]->len);
		off += EIF_SECTION_HEADER_LEN + blobs[i]->len;
	}
	size_t start = out->len;
	uint32_t crc = eif_crc32(0, h, EIF_HEADER_LEN - 4);
	int rc = buf_reserve(out, (size_t)off);
	if (rc == 0)
		rc = buf_append(out, h, EIF_HEADER_LEN);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint8_t sh[EIF_SECTION_HEADER_LEN] = {0};
		put_u16(sh, types[i]);
		put_u64(sh + 4, blobs[i]->len);
		crc = eif_crc32(crc, sh, sizeof(sh));
		crc = eif_crc32(crc, blobs[i]->p, blobs[i]->len);
		rc = buf_append(out, sh, sizeof(sh));
		if (rc == 0)
			rc = buf_append(out, blobs[i]->p, blobs[i]->len);
	}
	if (rc < 0) {
		out->len = start;
		return err_set(e, -rc, "eif: image too large");
	}
	put_u32(out->p + start + EIF_HEADER_LEN - 4, crc);
	return 0;
}

/* ---- reader ------------------------------------------------------------------ */

static int read_u16(struct cursor *c, uint16_t *v)
{
	const uint8_t *p;
	TRY(cursor_take(c, 2, &p));
	*v = (uint16_t)(p[0] << 8 | p[1]);
	return 0;
}

static int read_u64(struct cursor *c, uint64_t *v)
{
	uint32_t hi, lo;
	TRY(cursor_u32be(c, &hi));
	TRY(cursor_u32be(c, &lo));
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

struct header {
	uint16_t version, flags, reserved, nsections;
	uint64_t mem, cpus;
	uint64_t offsets[EIF_MAX_SECTIONS], sizes[EIF_MAX_SECTIONS];
	uint32_t unused, crc;
};

static int read_header(struct cursor *c, struct header *h, struct err *e)
{
	const uint8_t *magic;
	if (c->left < EIF_HEADER_LEN)
		return err_set(e, ERR_TRUNCATED, "eif: %zu bytes, shorter than "
			       "the %d-byte header", c->left, EIF_HEADER_LEN);
	TRY(cursor_take(c, 4, &magic));
	if (memcmp(magic, EIF_MAGIC, 4) != 0)
		return err_set(e, ERR_INVALID, "eif: magic is not \".eif\"");
	TRY(read_u16(c, &h->version));
	TRY(read_u16(c, &h->flags));
	TRY(read_u64(c, &h->mem));
	TRY(read_u64(c, &h->cpus));
	TRY(read_u16(c, &h->reserved));
	TRY(read_u16(c, &h->nsections));
	for (int i = 0; i < EIF_MAX_SECTIONS; i++)
		TRY(read_u64(c, &h->offsets[i]));
	for (int i = 0; i < EIF_MAX_SECTIONS; i++)
		TRY(read_u64(c, &h->sizes[i]));
	TRY(cursor_u32be(c, &h->unused));
	TRY(cursor_u32be(c, &h->crc));
	return 0;
}

static int check_header(const struct header *h, struct err *e)
{
	if (h->version != EIF_VERSION)
		return err_set(e, ERR_INVALID, "eif: version %u (only %d is "
			       "read)", h->version, EIF_VERSION);
	if (h->flags & ~EIF_FLAG_ARM64)
		return err_set(e, ERR_INVALID, "eif: flags 0x%04x: unknown "
			       "bits", h->flags);
	if (h->mem < EIF_MEM_MIN || h->mem > EIF_MEM_MAX)
		return err_set(e, ERR_INVALID, "eif: default memory %llu out "
			       "of range", (unsigned long long)h->mem);
	if (h->cpus < 1 || h->cpus > EIF_CPUS_MAX)
		return err_set(e, ERR_INVALID, "eif: default cpus %llu out of "
			       "range 1..%d", (unsigned long long)h->cpus,
			       EIF_CPUS_MAX);
	if (h->reserved != 0)
		return err_set(e, ERR_INVALID, "eif: reserved field not 0");
	if (h->unused != 0)
		return err_set(e, ERR_INVALID, "eif: unused field not 0");
	if (h->nsections < 3 || h->nsections > EIF_MAX_SECTIONS)
		return err_set(e, ERR_INVALID, "eif: section count %u out of "
			       "range 3..%d", h->nsections, EIF_MAX_SECTIONS);
	for (int i = h->nsections; i < EIF_MAX_SECTIONS; i++)
		if (h->offsets[i] || h->sizes[i])
			return err_set(e, ERR_INVALID, "eif: offset or size of "
				       "unused section slot %d not 0", i);
	return 0;
}

static const char *type_name(uint16_t t)
{
	static const char *const names[] = {"invalid", "kernel", "cmdline",
					    "ramdisk", "signature", "metadata"};
	return t < 6 ? names[t] : "unknown";
}

/* What may come at position i, given what came before: kernel, cmdline,
 * metadata (optional, once), ramdisks, signature (optional, last). */
static int check_order(size_t i, uint16_t type, size_t nramdisks,
		       bool metadata, bool last, struct err *e)
{
	bool ok;
	switch (type) {
	case EIF_SECTION_KERNEL: ok = i == 0; break;
	case EIF_SECTION_CMDLINE: ok = i == 1; break;
	case EIF_SECTION_METADATA: ok = i >= 2 && !metadata && !nramdisks; break;
	case EIF_SECTION_RAMDISK: ok = i >= 2; break;
	case EIF_SECTION_SIGNATURE: ok = nramdisks && last; break;
	default:
		return err_set(e, ERR_INVALID, "eif: section %zu: type %u is "
			       "not a section type", i, type);
	}
	if (!ok)
		return err_set(e, ERR_INVALID, "eif: section %zu: %s out of "
			       "place (kernel, cmdline, metadata, ramdisks, "
			       "signature)", i,
			       type_name(type));
	return 0;
}

static int read_sections(struct cursor *c, size_t total, const struct header *h,
			 struct eif_info *out, struct eif_build *b,
			 struct err *e)
{
	bool metadata = false;
	for (size_t i = 0; i < h->nsections; i++) {
		size_t at = total - c->left;
		uint16_t type, flags;
		uint64_t size;
		const uint8_t *data;
		if (h->offsets[i] != at)
			return err_set(e, ERR_INVALID, "eif: section %zu: header "
				       "says offset %llu, it is at %zu", i,
				       (unsigned long long)h->offsets[i], at);
		if (c->left < EIF_SECTION_HEADER_LEN)
			return err_set(e, ERR_TRUNCATED, "eif: section %zu: "
				       "header cut short at %zu", i, at);
		TRY(read_u16(c, &type));
		TRY(read_u16(c, &flags));
		TRY(read_u64(c, &size));
		TRY(check_order(i, type, b->nramdisks, metadata,
				i + 1 == h->nsections, e));
		if (flags)
			return err_set(e, ERR_INVALID, "eif: section %zu: flags "
				       "not 0", i);
		if (size != h->sizes[i])
			return err_set(e, ERR_INVALID, "eif: section %zu: size "
				       "%llu, header says %llu", i,
				       (unsigned long long)size,
				       (unsigned long long)h->sizes[i]);
		if (size > c->left)
			return err_set(e, ERR_TRUNCATED, "eif: section %zu (%s): "
				       "%llu bytes, %zu left", i,
				       type_name(type), (unsigned long long)size,
				       c->left);
		TRY(cursor_take(c, (size_t)size, &data));
		struct eif_blob blob = {data, (size_t)size};
		if (size == 0)
			return err_set(e, ERR_INVALID, "eif: section %zu (%s) is "
				       "empty", i, type_name(type));
		if (type == EIF_SECTION_KERNEL)
			b->kernel = blob;
		else if (type == EIF_SECTION_CMDLINE)
			b->cmdline = blob;
		else if (type == EIF_SECTION_METADATA)
			b->metadata = blob, metadata = true;
		else if (type == EIF_SECTION_SIGNATURE)
			out->signature = blob;
		else
			b->ramdisks[b->nramdisks++] = blob;
	}
	if (!b->nramdisks)
		return err_set(e, ERR_INVALID, "eif: no ramdisk");
	if (c->left)
		return err_set(e, ERR_INVALID, "eif: %zu bytes after the last "
			       "section", c->left);
	out->kernel = b->kernel;
	out->cmdline = b->cmdline;
	out->metadata = b->metadata;
	out->nramdisks = b->nramdisks;
	return 0;
}

static int check_signature(struct eif_info *out, struct err *e)
{
	struct eif_signature s;
	TRY(eif_signature_decode(out->signature, &s, e));
	int rc = eif_signature_verify(&s, out->pcrs.pcr0, e);
	if (rc == 0) {
		out->pcrs.signed_image = true;
		memcpy(out->pcrs.pcr8, s.pcr8, EIF_PCR_LEN);
	}
	eif_signature_clear(&s);
	return rc;
}

int eif_parse(const uint8_t *p, size_t len, struct eif_info *out,
	      struct err *e)
{
	struct cursor c = cursor_init(p, len);
	struct header h;
	struct eif_build b;
	memset(out, 0, sizeof(*out));
	memset(&b, 0, sizeof(b));
	TRY(read_header(&c, &h, e));
	TRY(check_header(&h, e));
	TRY(read_sections(&c, len, &h, out, &b, e));
	uint32_t crc = eif_crc32(0, p, EIF_HEADER_LEN - 4);
	crc = eif_crc32(crc, p + EIF_HEADER_LEN, len - EIF_HEADER_LEN);
	if (crc != h.crc)
		return err_set(e, ERR_INVALID, "eif: CRC-32 is %08x, header "
			       "says %08x", crc, h.crc);
	out->version = h.version;
	out->flags = h.flags;
	out->mem_bytes = h.mem;
	out->cpus = h.cpus;
	out->nsections = h.nsections;
	out->crc = h.crc;
	if (eif_measure(&b, &out->pcrs) < 0)
		return err_set(e, ERR_CRYPTO, "eif: SHA-384 failed");
	if (out->signature.len)
		TRY(check_signature(out, e));
	return 0;
}

/* ---- JSON ------------------------------------------------------------------------ */

static json_t *hex_json(const uint8_t *p, size_t n)
{
	char s[2 * EIF_PCR_LEN + 3];
	hex_encode(p, n, s);
	return json_string(s + 2);
}

json_t *eif_measurements_json(const struct eif_pcrs *p)
{
	/* Rust's Debug of sha2::Sha384, which nitro-cli prints verbatim. */
	json_t *o = json_pack("{s:s, s:o, s:o, s:o}", "HashAlgorithm",
			      "Sha384 { ... }", "PCR0",
			      hex_json(p->pcr0, EIF_PCR_LEN), "PCR1",
			      hex_json(p->pcr1, EIF_PCR_LEN), "PCR2",
			      hex_json(p->pcr2, EIF_PCR_LEN));
	if (o && p->signed_image &&
	    json_object_set_new(o, "PCR8", hex_json(p->pcr8, EIF_PCR_LEN)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *eif_metadata_json(const char *image_version, const char *build_time,
			struct eif_blob kernel)
{
	uint8_t md[32];
	unsigned int n;
	char hex[2 * 32 + 3], kv[80];
	if (EVP_Digest(kernel.p, kernel.len, md, &n, EVP_sha256(), NULL) != 1)
		return NULL;
	hex_encode(md, sizeof(md), hex);
	snprintf(kv, sizeof(kv), "sha256:%s", hex + 2);
	json_t *o = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:n, s:n}",
		"ImageName", "nitro-signer", "ImageVersion", image_version,
		"BuildMetadata", "BuildTime", build_time, "BuildTool",
		"nitro-keys", "BuildToolVersion", NS_VERSION,
		"OperatingSystem", "Linux", "KernelVersion", kv,
		"DockerInfo", "CustomMetadata");
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return s;
}
