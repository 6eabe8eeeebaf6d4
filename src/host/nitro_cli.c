/*
 * nitro_cli.c: running nitro-cli (or any short helper) as a child process
 * with a deadline, and reading its JSON output.
 *
 * Called on the watchdog's helper thread, never on the event loop:
 * posix_spawn (safe from a threaded process), stdout through a pipe read
 * with poll() until the deadline, then SIGKILL. The child is reaped by
 * pid, so the loop's SIGCHLD handling (which reaps only the local
 * runner's child) never steals it. nitro-cli's output is parsed as
 * untrusted JSON: run-enclave may print progress lines before its object.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host/watchdog.h"

#define MAX_OUTPUT (64 * 1024)

extern char **environ;

static int spawn_piped(char *const argv[], int *rfd, pid_t *pid)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	/* its own process group: a timeout kills whatever it started too */
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETPGROUP);
	int rc = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		errno = rc;
		return -1;
	}
	*rfd = p[0];
	return 0;
}

int host_run_capture(char *const argv[], int timeout_ms, char **out,
		     struct err *e)
{
	*out = NULL;
	int fd;
	pid_t pid;
	if (spawn_piped(argv, &fd, &pid) < 0)
		return err_set(e, ERR_IO, "%s: cannot run: %s", argv[0],
			       strerror(errno));
	char *buf = malloc(MAX_OUTPUT + 1);
	size_t len = 0;
	bool timed_out = false, eof = false;
	int64_t deadline = host_now_ms() + timeout_ms;
	while (buf && !eof) {
		int64_t left = deadline - host_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		char tmp[4096];
		ssize_t r = read(fd, tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			eof = true;
			break;
		}
		size_t take = (size_t)r;
		if (take > MAX_OUTPUT - len)
			take = MAX_OUTPUT - len; /* the rest is dropped */
		memcpy(buf + len, tmp, take);
		len += take;
	}
	close(fd);
	int st = 0;
	if (timed_out || !buf) {
		kill(-pid, SIGKILL);
		waitpid(pid, &st, 0);
		free(buf);
		return err_set(e, ERR_IO, "%s: %s", argv[0], timed_out
			       ? "timed out" : "out of memory");
	}
	/* stdout closed: the child is exiting; wait for it, bounded */
	pid_t w;
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 &&
	       host_now_ms() < deadline)
		usleep(10 * 1000);
	if (w == 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, &st, 0);
		free(buf);
		return err_set(e, ERR_IO, "%s: timed out", argv[0]);
	}
	buf[len] = '\0';
	if (w < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		int code = w > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		free(buf);
		return err_set(e, ERR_IO, "%s %s: exit status %d", argv[0],
			       argv[1] ? argv[1] : "", code);
	}
	*out = buf;
	return 0;
}

/* The first JSON value (object or array) in out, after any text lines. */
static json_t *first_json(const char *out, char open, struct err *e)
{
	const char *p = out;
	for (;;) {
		if (*p == open)
			break;
		const char *nl = strchr(p, '\n');
		if (!nl) {
			err_set(e, ERR_INVALID, "nitro-cli: no JSON in its "
				"output");
			return NULL;
		}
		p = nl + 1;
	}
	json_error_t je;
	json_t *j = json_loads(p, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES,
			       &je);
	if (!j)
		err_set(e, ERR_INVALID, "nitro-cli: output is not JSON: %s",
			je.text);
	return j;
}

int host_nitro_parse_run(const char *out, char *enclave_id, size_t cap,
			 uint32_t *cid, struct err *e)
{
	json_t *j = first_json(out, '{', e);
	if (!j)
		return -ERR_INVALID;
	const json_t *id = json_object_get(j, "EnclaveID");
	const json_t *c = json_object_get(j, "EnclaveCID");
	int rc = 0;
	if (!json_is_string(id) || json_string_length(id) == 0 ||
	    json_string_length(id) >= cap)
		rc = err_set(e, ERR_INVALID, "nitro-cli run-enclave: no "
			     "EnclaveID in its output");
	else if (!json_is_integer(c) || json_integer_value(c) < 0 ||
		 json_integer_value(c) > 0xFFFFFFFFLL)
		rc = err_set(e, ERR_INVALID, "nitro-cli run-enclave: no "
			     "EnclaveCID in its output");
	else {
		snprintf(enclave_id, cap, "%s", json_string_value(id));
		*cid = (uint32_t)json_integer_value(c);
	}
	json_decref(j);
	return rc;
}

int host_nitro_parse_describe(const char *out, const char *enclave_id,
			      char *state, size_t cap, struct err *e)
{
	json_t *j = first_json(out, '[', e);
	if (!j)
		return -ERR_INVALID;
	snprintf(state, cap, "absent");
	int rc = 0;
	for (size_t i = 0; i < json_array_size(j); i++) {
		const json_t *en = json_array_get(j, i);
		const json_t *id = json_object_get(en, "EnclaveID");
		const json_t *s = json_object_get(en, "State");
		if (!json_is_string(id) ||
		    strcmp(json_string_value(id), enclave_id) != 0)
			continue;
		snprintf(state, cap, "%s",
			 json_is_string(s) ? json_string_value(s) : "unknown");
		rc = json_is_string(s) &&
		     strcmp(json_string_value(s), "RUNNING") == 0;
		break;
	}
	json_decref(j);
	return rc;
}
