/*
 * fuzz_control.c: the control-frame decoder on arbitrary byte streams, as
 * the host (or a compromised host) could send them to the enclave. The
 * first byte picks a chunk size so that frames split at every kind of
 * boundary; every frame that decodes must re-encode and decode to an equal
 * message, and once the decoder refuses, it must keep refusing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"

static void check_round_trip(const struct control_msg *m)
{
	uint8_t *buf;
	size_t n;
	if (control_encode(m->json, &buf, &n, NULL) < 0)
		abort();
	struct control_decoder d;
	control_decoder_init(&d, 0);
	const uint8_t *p = buf;
	struct control_msg back;
	if (control_decode(&d, &p, &n, &back, NULL) != 1 || n != 0 ||
	    back.type != m->type || !json_equal(back.json, m->json))
		abort();
	json_decref(back.json);
	control_decoder_free(&d);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)(data[0] & 0x3f) + 1;
	data++;
	size--;
	struct control_decoder d;
	control_decoder_init(&d, 1 << 16);
	size_t off = 0;
	bool refused = false;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		const uint8_t *p = data + off;
		size_t left = n;
		struct control_msg m;
		int rc;
		while ((rc = control_decode(&d, &p, &left, &m, NULL)) > 0) {
			if (refused)
				abort();
			check_round_trip(&m);
			json_decref(m.json);
		}
		if (rc < 0) {
			refused = true;
			if (!control_decoder_dead(&d))
				abort();
		} else if (left != 0) {
			abort();
		}
		off += n;
	}
	control_decoder_free(&d);
	return 0;
}
