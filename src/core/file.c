/*
 * file.c: whole-file reads with a size cap, and atomic writes (temp file in
 * the same directory, fsync, rename, fsync of the directory) so a crash never
 * leaves a half-written file behind.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_all(const char *path, size_t max_len, char **out, size_t *len,
		  struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, ERR_IO, "cannot open %s: %s", path,
			       strerror(errno));
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	int rc = 0;
	if (!buf) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				rc = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n > max_len) {
			rc = err_set(e, ERR_TOO_LARGE, "%s: larger than %zu bytes",
				     path, max_len);
			goto out;
		}
		if (r == 0) {
			if (ferror(f))
				rc = err_set(e, ERR_IO, "cannot read %s", path);
			break;
		}
	}
out:
	fclose(f);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len,
		      int mode, struct err *e)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	char *dircopy = strdup(path);
	int fd = -1, rc = 0;
	if (!tmp || !dircopy) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = err_set(e, ERR_IO, "cannot create %s: %s", path,
			     strerror(errno));
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) != 0)
		goto io_fail;
	const uint8_t *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto io_fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto io_fail;
	if (close(fd) != 0) {
		fd = -1;
		goto io_fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto io_fail;
	int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	goto out;
io_fail:
	rc = err_set(e, ERR_IO, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(tmp);
out:
	free(tmp);
	free(dircopy);
	return rc;
}
