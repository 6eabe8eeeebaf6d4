/*
 * fuzz_cpio.c: the cpio writer (src/eif/cpio.c) on arbitrary entries: the
 * input is split at newlines into lines "<kind><perm octal 3>PATH" (kind
 * 'f' file, 'd' directory; a file's contents are its own line). Whatever
 * the writer accepts must read back with the strict reader: sorted, every
 * parent present before its children, owner 0:0, mtime 0, each listed
 * entry there with its mode and bytes; whatever it refuses must leave the
 * output untouched and say why. The same entries in reverse order must
 * give the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eif/eif.h"

#define MAX_IN 64

struct seen {
	const struct cpio_entry *in;
	size_t n;
	size_t found;
	char last[CPIO_PATH_MAX + 1];
	char names[CPIO_ENTRIES_MAX][CPIO_PATH_MAX + 1];
	size_t count;
};

static int check(const struct cpio_file *f, void *ctx)
{
	struct seen *s = ctx;
	if (f->uid || f->gid || f->mtime || f->name_len > CPIO_PATH_MAX ||
	    (s->count && strcmp(s->last, f->name) >= 0))
		abort();
	/* the parent came before */
	const char *slash = strrchr(f->name, '/');
	if (slash) {
		size_t plen = (size_t)(slash - f->name);
		bool ok = false;
		for (size_t i = 0; i < s->count && !ok; i++)
			ok = strlen(s->names[i]) == plen &&
			     memcmp(s->names[i], f->name, plen) == 0;
		if (!ok)
			abort();
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct cpio_entry *x = &s->in[i];
		if (strcmp(x->path, f->name) != 0)
			continue;
		uint32_t type = x->kind == CPIO_DIR ? 0040000u : 0100000u;
		if (f->mode != (type | x->perm) || f->len != x->len ||
		    (x->len && memcmp(f->data, x->data, x->len) != 0))
			abort();
		s->found++;
	}
	snprintf(s->last, sizeof(s->last), "%s", f->name);
	snprintf(s->names[s->count++], sizeof(s->names[0]), "%s", f->name);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct cpio_entry in[MAX_IN], rev[MAX_IN];
	size_t n = 0;
	for (char *line = text, *next; line && n < MAX_IN; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strlen(line) < 4)
			continue;
		char oct[4] = {line[1], line[2], line[3], 0};
		in[n].kind = line[0] == 'd' ? CPIO_DIR : CPIO_FILE;
		in[n].perm = (uint32_t)strtoul(oct, NULL, 8);
		if (line[1] == '9') /* something outside 0777 */
			in[n].perm |= 04000;
		in[n].path = line + 4;
		in[n].data = in[n].kind == CPIO_FILE ? (const uint8_t *)line : NULL;
		in[n].len = in[n].kind == CPIO_FILE ? strlen(line) : 0;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		rev[i] = in[n - 1 - i];
	struct buf out = BUF_INIT(1 << 24), out2 = BUF_INIT(1 << 24);
	struct err e = {0};
	int rc = cpio_write(in, n, &out, &e);
	if (rc < 0) {
		if (out.len || !e.msg[0] || cpio_write(rev, n, &out2, NULL) == 0)
			abort();
	} else {
		struct seen *s = calloc(1, sizeof(*s));
		if (!s)
			abort();
		s->in = in;
		s->n = n;
		if (cpio_read(out.p, out.len, check, s, NULL) < 0 ||
		    s->found != n)
			abort();
		free(s);
		if (cpio_write(rev, n, &out2, NULL) < 0 || out2.len != out.len ||
		    memcmp(out.p, out2.p, out.len) != 0)
			abort();
	}
	buf_free(&out);
	buf_free(&out2);
	free(text);
	return 0;
}
