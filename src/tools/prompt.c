/*
 * prompt.c: operator prompts on the controlling terminal for nitro-keys.
 *
 * Secrets typed by the operator (passwords, a mnemonic) are read from
 * /dev/tty with ECHO off, one byte at a time with read(2) straight into a
 * struct secret, so no stdio buffer ever holds them; the terminal mode is
 * restored on every path (and on SIGINT the shell's `stty sane` is the
 * operator's fallback: we do not install handlers in a CLI). Text shown to
 * the operator (the new mnemonic) goes to /dev/tty only, never to stdout
 * or stderr, which scripts and CI capture.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tools/keys_cli.h"

#define PROMPT_MAX 4096

static int tty_open(struct err *e)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_USAGE, "no terminal to prompt on (%s)",
			       strerror(errno));
	return fd;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -ERR_IO;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

bool prompt_have_tty(void)
{
	if (!isatty(STDIN_FILENO))
		return false;
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int prompt_show(const char *text, struct err *e)
{
	int fd = tty_open(e);
	if (fd < 0)
		return fd;
	int rc = write_all(fd, text, strlen(text));
	close(fd);
	return rc < 0 ? err_set(e, ERR_IO, "cannot write to the terminal") : 0;
}

/* Reads up to a newline into s (without it); returns length or -code. */
static int read_line(int fd, struct secret *s, struct err *e)
{
	size_t n = 0;
	for (;;) {
		uint8_t c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(e, ERR_IO, "cannot read the terminal");
		if (r == 0 || c == '\n')
			break;
		if (n == s->len) {
			OPENSSL_cleanse(&c, 1);
			return err_set(e, ERR_INVALID,
				       "answer longer than %d bytes", PROMPT_MAX);
		}
		s->bytes[n++] = c;
	}
	if (n && s->bytes[n - 1] == '\r')
		n--;
	return (int)n;
}

int prompt_secret(const char *question, struct secret **out, struct err *e)
{
	struct termios old, quiet;
	int fd = tty_open(e);
	if (fd < 0)
		return fd;
	struct secret *s = secret_new(PROMPT_MAX);
	bool restored = true;
	int rc;
	if (!s) {
		rc = err_set(e, ERR_NOMEM, "out of secure memory");
		goto out;
	}
	if (tcgetattr(fd, &old) != 0) {
		rc = err_set(e, ERR_IO, "cannot read the terminal mode");
		goto out;
	}
	quiet = old;
	quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (write_all(fd, question, strlen(question)) < 0 ||
	    tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		rc = err_set(e, ERR_IO, "cannot prompt on the terminal");
		goto out;
	}
	restored = false;
	rc = read_line(fd, s, e);
	restored = tcsetattr(fd, TCSAFLUSH, &old) == 0;
	(void)write_all(fd, "\n", 1);
	if (rc >= 0) {
		secret_truncate(s, (size_t)rc);
		*out = s;
		s = NULL;
		rc = 0;
	}
out:
	if (!restored)
		(void)tcsetattr(fd, TCSAFLUSH, &old);
	secret_free(s);
	close(fd);
	return rc;
}

int prompt_wait_enter(const char *question, struct err *e)
{
	struct secret *s = NULL;
	TRY(prompt_secret(question, &s, e));
	secret_free(s);
	return 0;
}
