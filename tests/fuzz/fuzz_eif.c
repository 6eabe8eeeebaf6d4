/*
 * fuzz_eif.c: the EIF reader (src/eif/image.c) and the describe output
 * (src/eif/describe.c, which parses the metadata section's JSON) on
 * arbitrary bytes, as `nitro-keys eif describe` reads an image from
 * anywhere. An image that parses must write back to the same bytes from
 * its sections (the reader accepts only what the writer makes) and
 * measure to the same PCRs. Each input is read twice: as it is, and with
 * its CRC field set to the CRC of its bytes, so that mutations reach the
 * section checks behind the CRC. A signed image (seed signed.eif) is read
 * only when its signature section decodes and verifies: the CRC-fixed copy
 * takes mutations of the section to the decoder (src/eif/sign.c), which is
 * also run on the input itself as a section (seed signature-section.bin).
 * An accepted signed image has its signature last, PCR8 set, and the
 * sections before it as the writer makes them.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eif/eif.h"

/* A ramdisk's entries as the strict cpio reader finds them: each within
 * the ramdisk, its name as long as it says. */
static int check_ramdisk(const struct cpio_file *f, void *ctx)
{
	const struct eif_blob *r = ctx;
	if (strlen(f->name) != f->name_len || f->data < r->p ||
	    f->data + f->len > r->p + r->len)
		abort();
	return 0;
}

static int one(const uint8_t *data, size_t size)
{
	struct eif_info info;
	struct err e = {0};
	if (eif_parse(data, size, &info, &e) < 0) {
		if (!e.msg[0])
			abort(); /* every refusal says why */
		return 0;
	}
	json_t *o = NULL;
	if (eif_describe_json(&info, &o, &e) == 0)
		json_decref(o);
	if (info.pcrs.signed_image != (info.signature.len > 0))
		abort();
	/* the sections, found again by walking the offsets the header gave */
	struct eif_build b;
	memset(&b, 0, sizeof(b));
	b.kernel = info.kernel;
	b.cmdline = info.cmdline;
	b.metadata = info.metadata;
	b.mem_bytes = info.mem_bytes;
	b.cpus = info.cpus;
	b.flags = info.flags;
	size_t off = EIF_HEADER_LEN, sig_at = 0;
	for (size_t i = 0; i < info.nsections; i++) {
		uint16_t type = (uint16_t)(data[off] << 8 | data[off + 1]);
		uint64_t len = 0;
		for (int k = 0; k < 8; k++)
			len = len << 8 | data[off + 4 + k];
		if (type == EIF_SECTION_RAMDISK)
			b.ramdisks[b.nramdisks++] =
				(struct eif_blob){data + off + 12, (size_t)len};
		if (type == EIF_SECTION_SIGNATURE) {
			if (i + 1 != info.nsections ||
			    info.signature.p != data + off + 12)
				abort(); /* only last */
			sig_at = off;
		}
		off += 12 + (size_t)len;
	}
	if (off != size || b.nramdisks != info.nramdisks)
		abort();
	/* our cpio reader must not crash on a ramdisk from anywhere */
	for (size_t i = 0; i < b.nramdisks; i++) {
		struct err ce = {0};
		if (cpio_read(b.ramdisks[i].p, b.ramdisks[i].len, check_ramdisk,
			      &b.ramdisks[i], &ce) < 0 && !ce.msg[0])
			abort();
	}
	struct eif_pcrs again;
	if (eif_measure(&b, &again) < 0 ||
	    memcmp(again.pcr0, info.pcrs.pcr0, EIF_PCR_LEN) != 0 ||
	    memcmp(again.pcr1, info.pcrs.pcr1, EIF_PCR_LEN) != 0 ||
	    memcmp(again.pcr2, info.pcrs.pcr2, EIF_PCR_LEN) != 0)
		abort();
	/* with metadata, the writer's order gives back the same bytes (up to
	 * the signature: the header of a signed image has one slot more) */
	if (b.metadata.len && b.cmdline.len <= EIF_CMDLINE_MAX &&
	    b.metadata.len <= EIF_METADATA_MAX &&
	    !memchr(b.cmdline.p, '\n', b.cmdline.len) &&
	    !memchr(b.cmdline.p, 0, b.cmdline.len) &&
	    b.nramdisks <= EIF_MAX_SECTIONS - 3) {
		struct buf out = BUF_INIT(size + 1);
		size_t end = sig_at ? sig_at : size, from = sig_at ? EIF_HEADER_LEN : 0;
		if (eif_write(&b, &out, NULL) < 0 || out.len != end ||
		    memcmp(out.p + from, data + from, end - from) != 0)
			abort();
		buf_free(&out);
	}
	return 0;
}

/* The input as a signature section's data: decoded strictly, or refused
 * with a message; a decoded one re-encodes to the same bytes. */
static void section(const uint8_t *data, size_t size)
{
	struct eif_signature s;
	struct err e = {0};
	if (eif_signature_decode((struct eif_blob){data, size}, &s, &e) < 0) {
		if (!e.msg[0])
			abort();
		return;
	}
	struct buf again = BUF_INIT(EIF_SIGNATURE_MAX);
	if (eif_signature_encode((struct eif_blob){s.cert_pem, s.cert_pem_len},
				 (struct eif_blob){s.cose, s.cose_len}, &again,
				 NULL) < 0 ||
	    again.len != size || memcmp(again.p, data, size) != 0)
		abort();
	uint8_t pcr0[EIF_PCR_LEN] = {0};
	if (eif_signature_verify(&s, pcr0, &e) == 0)
		abort(); /* nobody signed an all-zero PCR0 in the corpus */
	buf_free(&again);
	eif_signature_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	section(data, size);
	one(data, size);
	if (size < EIF_HEADER_LEN)
		return 0;
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	uint32_t crc = eif_crc32(0, copy, EIF_HEADER_LEN - 4);
	crc = eif_crc32(crc, copy + EIF_HEADER_LEN, size - EIF_HEADER_LEN);
	for (int i = 0; i < 4; i++)
		copy[EIF_HEADER_LEN - 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
	one(copy, size);
	free(copy);
	return 0;
}
