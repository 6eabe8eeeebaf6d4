/*
 * addr.c: listen addresses. One syntax for the three transports the signer
 * serves on: tcp:HOST:PORT, unix:PATH and vsock:CID:PORT. The same server
 * code runs over all three; only the socket differs.
 */
#include "http/http.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int parse_port(const char *s, uint16_t *out, struct err *e)
{
	uint64_t v;
	if (dec_parse_u64(s, &v, NULL, "port") < 0 || v > 65535)
		return err_set(e, ERR_USAGE, "invalid port '%s'", s);
	*out = (uint16_t)v;
	return 0;
}

int http_addr_parse(const char *s, struct http_addr *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (strncmp(s, "unix:", 5) == 0) {
		out->kind = HTTP_ADDR_UNIX;
		if (!s[5] || strlen(s + 5) >= sizeof(out->path))
			return err_set(e, ERR_USAGE, "invalid unix path in '%s'",
				       s);
		strcpy(out->path, s + 5);
		return 0;
	}
	bool tcp = strncmp(s, "tcp:", 4) == 0;
	bool vsock = strncmp(s, "vsock:", 6) == 0;
	if (!tcp && !vsock)
		return err_set(e, ERR_USAGE,
			       "address '%s' must start with tcp:, unix: or vsock:",
			       s);
	const char *rest = s + (tcp ? 4 : 6);
	const char *colon = strrchr(rest, ':');
	if (!colon || colon == rest)
		return err_set(e, ERR_USAGE, "address '%s' needs HOST:PORT", s);
	size_t hlen = (size_t)(colon - rest);
	char host[256];
	if (hlen >= sizeof(host))
		return err_set(e, ERR_USAGE, "host too long in '%s'", s);
	memcpy(host, rest, hlen);
	host[hlen] = '\0';
	TRY(parse_port(colon + 1, &out->port, e));
	if (tcp) {
		out->kind = HTTP_ADDR_TCP;
		/* [::1]:9000 style */
		if (host[0] == '[' && host[hlen - 1] == ']') {
			memmove(host, host + 1, hlen - 2);
			host[hlen - 2] = '\0';
		}
		strcpy(out->host, host);
		return 0;
	}
	out->kind = HTTP_ADDR_VSOCK;
	if (strcasecmp(host, "ANY") == 0) {
		out->cid = VMADDR_CID_ANY;
		return 0;
	}
	uint64_t cid;
	if (dec_parse_u64(host, &cid, NULL, "cid") < 0 || cid > UINT32_MAX)
		return err_set(e, ERR_USAGE, "invalid vsock CID in '%s'", s);
	out->cid = (uint32_t)cid;
	return 0;
}

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int listen_tcp(const struct http_addr *a, int *fd_out, struct err *e)
{
	struct addrinfo hints = {0}, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	char port[8];
	snprintf(port, sizeof(port), "%u", a->port);
	int gai = getaddrinfo(a->host, port, &hints, &res);
	if (gai != 0)
		return err_set(e, ERR_USAGE, "cannot resolve %s: %s", a->host,
			       gai_strerror(gai));
	int fd = socket(res->ai_family, SOCK_STREAM, 0);
	int one = 1;
	/* TCP_NODELAY on the listener is inherited by accepted sockets: a
	 * reply leaves in one go instead of waiting on the peer's delayed
	 * ACK (40 ms per request otherwise). */
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 512) < 0 ||
	    set_nonblock_cloexec(fd) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return err_set(e, ERR_IO, "cannot listen on %s:%u: %s", a->host,
			       a->port, strerror(saved));
	}
	freeaddrinfo(res);
	*fd_out = fd;
	return 0;
}

bool http_addr_sockaddr(const struct http_addr *a, struct sockaddr_storage *ss,
			socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (a->kind == HTTP_ADDR_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		sun->sun_family = AF_UNIX;
		snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", a->path);
		*len = (socklen_t)sizeof(*sun);
		return true;
	}
	if (a->kind == HTTP_ADDR_VSOCK) {
		struct sockaddr_vm *vm = (struct sockaddr_vm *)ss;
		vm->svm_family = AF_VSOCK;
		vm->svm_cid = a->cid;
		vm->svm_port = a->port;
		*len = (socklen_t)sizeof(*vm);
		return true;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, a->host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(a->port);
		*len = (socklen_t)sizeof(*in);
		return true;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET6, a->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(a->port);
		*len = (socklen_t)sizeof(*in6);
		return true;
	}
	return false;
}

static int listen_unix(const struct http_addr *a, int *fd_out, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	(void)http_addr_sockaddr(a, &ss, &sl);
	struct stat st;
	/* Replace a stale socket, never a regular file. */
	if (lstat(a->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(a->path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    chmod(a->path, 0600) < 0 || listen(fd, 512) < 0 ||
	    set_nonblock_cloexec(fd) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return err_set(e, ERR_IO, "cannot listen on unix:%s: %s",
			       a->path, strerror(saved));
	}
	*fd_out = fd;
	return 0;
}

static int listen_vsock(const struct http_addr *a, int *fd_out, struct err *e)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	(void)http_addr_sockaddr(a, &ss, &sl);
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    listen(fd, 512) < 0 || set_nonblock_cloexec(fd) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		return err_set(e, ERR_IO, "cannot listen on vsock:%u:%u: %s",
			       a->cid, a->port, strerror(saved));
	}
	*fd_out = fd;
	return 0;
}

int http_listen_fd(const struct http_addr *addr, int *fd_out, struct err *e)
{
	switch (addr->kind) {
	case HTTP_ADDR_TCP: return listen_tcp(addr, fd_out, e);
	case HTTP_ADDR_UNIX: return listen_unix(addr, fd_out, e);
	case HTTP_ADDR_VSOCK: return listen_vsock(addr, fd_out, e);
	}
	return err_set(e, ERR_INTERNAL, "unknown address kind");
}

/* "[" host "]" for IPv6 literals. */
static bool needs_brackets(const struct http_addr *a)
{
	return strchr(a->host, ':') != NULL;
}

void http_addr_format(const struct http_addr *a, char *out, size_t len)
{
	switch (a->kind) {
	case HTTP_ADDR_TCP:
		snprintf(out, len, "tcp:%s%s%s:%u", needs_brackets(a) ? "[" : "",
			 a->host, needs_brackets(a) ? "]" : "", a->port);
		return;
	case HTTP_ADDR_UNIX:
		snprintf(out, len, "unix:%s", a->path);
		return;
	case HTTP_ADDR_VSOCK:
		snprintf(out, len, "vsock:%u:%u", a->cid, a->port);
		return;
	}
	snprintf(out, len, "?");
}

void http_addr_describe(const struct http_addr *a, bool tls, char *out,
			size_t len)
{
	if (a->kind != HTTP_ADDR_TCP) {
		http_addr_format(a, out, len);
		return;
	}
	snprintf(out, len, "%s://%s%s%s:%u", tls ? "https" : "http",
		 needs_brackets(a) ? "[" : "", a->host,
		 needs_brackets(a) ? "]" : "", a->port);
}
