/*
 * cpio.c: the newc ("070701", SVR4 without CRC) archives the Linux kernel
 * unpacks as an initramfs, written so that the same files give the same
 * bytes anywhere: what would come from the host (owner, times, inode and
 * device numbers, directory order) is fixed instead.
 *
 * Each entry is a 110-byte header of thirteen 8-digit hex fields (ino,
 * mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
 * rdevminor, namesize with its NUL, check), the name and its NUL padded
 * with zeros to a multiple of 4 counted from the header's start, then the
 * data padded to 4. "TRAILER!!!" ends the archive.
 *
 * Fixed here: owner 0:0; mtime 0 (not SOURCE_DATE_EPOCH: the image's bytes
 * and so PCR0 then depend on the files alone, not on when the commit was
 * made); inodes 1, 2, ... in path order; device numbers 0; nlink 1 for
 * files (the kernel only looks for hard links when nlink >= 2) and 2 for
 * directories; entries sorted by path bytes, which puts every directory
 * before what it holds since a parent is a prefix of its children.
 *
 * The reader is strict and exists to check the writer (tests, fuzz_cpio):
 * every byte goes through a struct cursor.
 */
#include "eif/eif.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEWC_MAGIC "070701"
#define NEWC_HEADER_LEN 110
#define TRAILER "TRAILER!!!"
#define S_IFDIR_ 0040000u
#define S_IFREG_ 0100000u
/* Largest file the writer puts in an archive (fits the 8-digit size). */
#define CPIO_FILE_MAX 0xffffffffu

struct node {
	char path[CPIO_PATH_MAX + 1];
	enum cpio_kind kind;
	uint32_t perm;
	bool implied; /* a parent nobody listed: 0755 unless listed later */
	const uint8_t *data;
	size_t len;
};

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("._+@=,-", c) != NULL;
}

static int check_path(const char *p, struct err *e)
{
	size_t n = strlen(p);
	if (n == 0)
		return err_set(e, ERR_INVALID, "cpio: empty path");
	if (n > CPIO_PATH_MAX)
		return err_set(e, ERR_INVALID, "cpio: path over %d bytes",
			       CPIO_PATH_MAX);
	if (p[0] == '/')
		return err_set(e, ERR_INVALID, "cpio: %s: absolute path", p);
	const char *c = p;
	while (*c) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return err_set(e, ERR_INVALID,
				       "cpio: %s: empty, '.' or '..' component",
				       p);
		for (size_t i = 0; i < len; i++)
			if (!path_char_ok(c[i]))
				return err_set(e, ERR_INVALID,
					       "cpio: %s: character 0x%02x not "
					       "allowed", p, (unsigned char)c[i]);
		if (!end)
			break;
		c = end + 1;
		if (!*c)
			return err_set(e, ERR_INVALID,
				       "cpio: %s: trailing '/'", p);
	}
	return 0;
}

static struct node *find(struct node *nodes, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(nodes[i].path, path) == 0)
			return &nodes[i];
	return NULL;
}

/* Adds path's parent directories (implied, 0755) that are not there yet;
 * a parent that is a file is refused. */
static int add_parents(struct node *nodes, size_t *n, const char *path,
		       struct err *e)
{
	char dir[CPIO_PATH_MAX + 1];
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		size_t len = (size_t)(s - path);
		memcpy(dir, path, len);
		dir[len] = '\0';
		struct node *d = find(nodes, *n, dir);
		if (d && d->kind != CPIO_DIR)
			return err_set(e, ERR_INVALID,
				       "cpio: %s: %s is a file", path, dir);
		if (d)
			continue;
		if (*n == CPIO_ENTRIES_MAX)
			return err_set(e, ERR_INVALID,
				       "cpio: more than %d entries",
				       CPIO_ENTRIES_MAX);
		struct node *m = &nodes[(*n)++];
		memset(m, 0, sizeof(*m));
		memcpy(m->path, dir, len + 1);
		m->kind = CPIO_DIR;
		m->perm = 0755;
		m->implied = true;
	}
	return 0;
}

static int add_entry(struct node *nodes, size_t *n, const struct cpio_entry *x,
		     struct err *e)
{
	TRY(check_path(x->path, e));
	if (x->perm & ~0777u)
		return err_set(e, ERR_INVALID,
			       "cpio: %s: mode %o has bits outside 0777",
			       x->path, x->perm);
	if (x->kind != CPIO_FILE && x->kind != CPIO_DIR)
		return err_set(e, ERR_INVALID, "cpio: %s: not a file or a "
			       "directory", x->path);
	if (x->kind == CPIO_FILE && (x->len > CPIO_FILE_MAX ||
				     (x->len && !x->data)))
		return err_set(e, ERR_INVALID, "cpio: %s: bad contents",
			       x->path);
	if (x->kind == CPIO_DIR && x->len)
		return err_set(e, ERR_INVALID, "cpio: %s: a directory with "
			       "contents", x->path);
	TRY(add_parents(nodes, n, x->path, e));
	struct node *d = find(nodes, *n, x->path);
	if (d && !(d->implied && x->kind == CPIO_DIR))
		return err_set(e, ERR_INVALID, "cpio: %s: given twice%s",
			       x->path, d->implied ? " (a file and a parent)"
						   : "");
	if (!d) {
		if (*n == CPIO_ENTRIES_MAX)
			return err_set(e, ERR_INVALID,
				       "cpio: more than %d entries",
				       CPIO_ENTRIES_MAX);
		d = &nodes[(*n)++];
		memset(d, 0, sizeof(*d));
		snprintf(d->path, sizeof(d->path), "%s", x->path);
	}
	d->kind = x->kind;
	d->perm = x->perm;
	d->implied = false;
	d->data = x->data;
	d->len = x->len;
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->path,
		      ((const struct node *)b)->path);
}

static const uint8_t ZEROS[4];

static int pad4(struct buf *out, size_t base)
{
	size_t over = (out->len - base) % 4;
	return over ? buf_append(out, ZEROS, 4 - over) : 0;
}

static int put_entry(struct buf *out, size_t base, uint32_t ino, uint32_t mode,
		     uint32_t nlink, const char *name, const uint8_t *data,
		     size_t len)
{
	char h[NEWC_HEADER_LEN + 1];
	size_t namesize = strlen(name) + 1;
	snprintf(h, sizeof(h),
		 NEWC_MAGIC "%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x"
			    "%08x%08x",
		 ino, mode, 0u, 0u, nlink, 0u, (uint32_t)len, 0u, 0u, 0u, 0u,
		 (uint32_t)namesize, 0u);
	TRY(buf_append(out, h, NEWC_HEADER_LEN));
	TRY(buf_append(out, name, namesize));
	TRY(pad4(out, base));
	TRY(buf_append(out, data, len));
	return pad4(out, base);
}

int cpio_write(const struct cpio_entry *in, size_t n, struct buf *out,
	       struct err *e)
{
	struct node *nodes = calloc(CPIO_ENTRIES_MAX, sizeof(*nodes));
	if (!nodes)
		return err_set(e, ERR_NOMEM, "out of memory");
	size_t count = 0, start = out->len;
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		TRY_OUT(add_entry(nodes, &count, &in[i], e));
	qsort(nodes, count, sizeof(*nodes), by_path);
	for (size_t i = 0; i < count; i++) {
		const struct node *d = &nodes[i];
		bool dir = d->kind == CPIO_DIR;
		rc = put_entry(out, start, (uint32_t)(i + 1),
			       (dir ? S_IFDIR_ : S_IFREG_) | d->perm,
			       dir ? 2 : 1, d->path, dir ? NULL : d->data,
			       dir ? 0 : d->len);
		if (rc < 0)
			break;
	}
	if (rc == 0)
		rc = put_entry(out, start, 0, 0, 1, TRAILER, NULL, 0);
	if (rc < 0) {
		out->len = start;
		if (!e || !e->msg[0])
			err_set(e, ERR_NOMEM, "cpio: archive too large");
	}
out:
	free(nodes);
	return rc;
}

/* ---- reader ---------------------------------------------------------------- */

static int hex8(struct cursor *c, uint32_t *out, const char *field,
		struct err *e)
{
	const uint8_t *p;
	if (cursor_take(c, 8, &p) < 0)
		return err_set(e, ERR_TRUNCATED, "cpio: header cut short");
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t d = p[i];
		uint32_t x;
		if (d >= '0' && d <= '9')
			x = d - '0';
		else if (d >= 'a' && d <= 'f')
			x = d - 'a' + 10;
		else if (d >= 'A' && d <= 'F')
			x = d - 'A' + 10;
		else
			return err_set(e, ERR_INVALID, "cpio: %s is not hex",
				       field);
		v = v << 4 | x;
	}
	*out = v;
	return 0;
}

/* Skips the zero padding up to a multiple of 4 from the archive's start. */
static int skip_pad(struct cursor *c, size_t total, struct err *e)
{
	size_t pos = total - c->left;
	size_t pad = (4 - pos % 4) % 4;
	const uint8_t *p;
	if (cursor_take(c, pad, &p) < 0)
		return err_set(e, ERR_TRUNCATED, "cpio: padding cut short");
	for (size_t i = 0; i < pad; i++)
		if (p[i])
			return err_set(e, ERR_INVALID, "cpio: nonzero padding");
	return 0;
}

static int read_header(struct cursor *c, size_t total, struct cpio_file *f,
		       struct err *e)
{
	static const char *const names[] = {
		"ino", "mode", "uid", "gid", "nlink", "mtime", "filesize",
		"devmajor", "devminor", "rdevmajor", "rdevminor", "namesize",
		"check"};
	uint32_t v[13];
	const uint8_t *p;
	if (cursor_take(c, 6, &p) < 0)
		return err_set(e, ERR_TRUNCATED, "cpio: header cut short");
	if (memcmp(p, NEWC_MAGIC, 6) != 0)
		return err_set(e, ERR_INVALID, "cpio: not a newc header");
	for (int i = 0; i < 13; i++)
		TRY(hex8(c, &v[i], names[i], e));
	if (v[12] != 0)
		return err_set(e, ERR_INVALID, "cpio: check field not 0");
	if (v[11] < 2 || v[11] > CPIO_PATH_MAX + 1)
		return err_set(e, ERR_INVALID, "cpio: namesize %u out of range",
			       v[11]);
	if (cursor_take(c, v[11], &p) < 0)
		return err_set(e, ERR_TRUNCATED, "cpio: name cut short");
	if (p[v[11] - 1] != 0 || memchr(p, 0, v[11] - 1))
		return err_set(e, ERR_INVALID, "cpio: name not NUL-terminated");
	TRY(skip_pad(c, total, e));
	f->name = (const char *)p;
	f->name_len = v[11] - 1;
	f->ino = v[0];
	f->mode = v[1];
	f->uid = v[2];
	f->gid = v[3];
	f->nlink = v[4];
	f->mtime = v[5];
	f->len = v[6];
	if (cursor_take(c, f->len, &f->data) < 0)
		return err_set(e, ERR_TRUNCATED, "cpio: %s: data cut short",
			       f->name);
	return skip_pad(c, total, e);
}

int cpio_read(const uint8_t *p, size_t len,
	      int (*fn)(const struct cpio_file *f, void *ctx), void *ctx,
	      struct err *e)
{
	struct cursor c = cursor_init(p, len);
	for (size_t i = 0; i <= CPIO_ENTRIES_MAX; i++) {
		struct cpio_file f;
		TRY(read_header(&c, len, &f, e));
		if (strcmp(f.name, TRAILER) == 0) {
			if (c.left)
				return err_set(e, ERR_INVALID,
					       "cpio: %zu bytes after the "
					       "trailer", c.left);
			return 0;
		}
		TRY(fn(&f, ctx));
	}
	return err_set(e, ERR_INVALID, "cpio: more than %d entries",
		       CPIO_ENTRIES_MAX);
}
