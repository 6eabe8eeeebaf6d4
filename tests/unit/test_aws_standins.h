/*
 * test_aws_standins.h: starts tests/standins/start.mjs (KMS, DynamoDB and
 * IMDS stand-ins on free 127.0.0.1 ports) for a cmocka group, exports the
 * endpoints it writes into this process's environment, and stops it. The
 * child holds a pipe from us on stdin and exits when it closes, so a crashed
 * test leaves nothing running. Also a tiny HTTP helper for the stand-ins'
 * admin routes (faults, stats).
 */
#ifndef TEST_AWS_STANDINS_H
#define TEST_AWS_STANDINS_H

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct standins {
	pid_t pid;
	int lifeline;
	char dir[256];
	char env_path[600];
};

static struct standins g_standins;

/* extra: one more argument for start.mjs (e.g. "--dynamodb-delay-ms=10"),
 * or NULL. */
static int standins_start_with(const char *extra)
{
	struct standins *s = &g_standins;
	const char *src = getenv("NS_SOURCE_DIR");
	if (!src) {
		fprintf(stderr, "NS_SOURCE_DIR is not set\n");
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "/tmp/ns-aws-test-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	snprintf(s->env_path, sizeof(s->env_path), "%.200s/standins.env", s->dir);
	char script[1024], envarg[700], unixarg[700];
	snprintf(script, sizeof(script), "%s/tests/standins/start.mjs", src);
	snprintf(envarg, sizeof(envarg), "--write-env=%.300s", s->env_path);
	snprintf(unixarg, sizeof(unixarg), "--unix-dir=%.200s", s->dir);
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execlp("node", "node", script, envarg, unixarg, "--stdin-lifeline",
		       extra, (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	s->lifeline = fds[1];
	for (int i = 0; i < 300; i++) { /* 15 s */
		struct stat st;
		if (stat(s->env_path, &st) == 0)
			break;
		int status;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			fprintf(stderr, "stand-ins exited early (is tests/js installed? "
					"scripts/deps.sh --test)\n");
			return -1;
		}
		usleep(50000);
	}
	FILE *f = fopen(s->env_path, "r");
	if (!f) {
		fprintf(stderr, "stand-ins did not start\n");
		return -1;
	}
	char line[1024];
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		setenv(line, eq + 1, 1);
	}
	fclose(f);
	return 0;
}

static __attribute__((unused)) int standins_start(void)
{
	return standins_start_with(NULL);
}

static void standins_stop(void)
{
	struct standins *s = &g_standins;
	if (s->pid > 0) {
		close(s->lifeline);
		kill(s->pid, SIGTERM);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
	char path[700];
	snprintf(path, sizeof(path), "%.200s/kms.sock", s->dir);
	unlink(path);
	unlink(s->env_path);
	rmdir(s->dir);
}

struct admin_buf {
	char *p;
	size_t n;
};

static size_t admin_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct admin_buf *b = ud;
	size_t n = size * nmemb;
	char *p = realloc(b->p, b->n + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->n, ptr, n);
	b->p = p;
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* POST (body != NULL) or GET a stand-in admin route; returns parsed JSON. */
static __attribute__((unused)) json_t *standin_admin(const char *endpoint_env, const char *route,
			     const char *body)
{
	char url[512];
	snprintf(url, sizeof(url), "%s/__admin/%s", getenv(endpoint_env), route);
	CURL *h = curl_easy_init();
	struct admin_buf b = {0};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, admin_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	CURLcode rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	json_t *j = rc == CURLE_OK && b.p ? json_loads(b.p, 0, NULL) : NULL;
	free(b.p);
	return j;
}

/* Sets the faults of a stand-in: a JSON array as text. */
static __attribute__((unused)) void standin_faults(const char *endpoint_env, const char *faults_json)
{
	char body[2048];
	snprintf(body, sizeof(body), "{\"faults\":%s}", faults_json);
	json_decref(standin_admin(endpoint_env, "faults", body));
}

/* Requests the stand-in has seen for an operation since its last reset. */
static __attribute__((unused)) long standin_count(const char *endpoint_env, const char *op)
{
	json_t *j = standin_admin(endpoint_env, "stats", NULL);
	long n = (long)json_integer_value(
		json_object_get(json_object_get(j, "requests"), op));
	json_decref(j);
	return n;
}

static __attribute__((unused)) void standin_reset(const char *endpoint_env)
{
	json_decref(standin_admin(endpoint_env, "reset", "{}"));
}

/* A new key in the KMS stand-in under the key policy `policy` (JSON text);
 * its ARN into arn. 0, or -1 when the stand-in gave none. */
static __attribute__((unused)) int
standin_create_key(const char *policy, char *arn, size_t arn_size)
{
	json_t *req = json_pack("{s:s}", "policy", policy);
	char *body = json_dumps(req, 0);
	json_t *k = standin_admin("AWS_ENDPOINT_URL_KMS", "create-key", body);
	free(body);
	json_decref(req);
	const char *a = json_string_value(json_object_get(k, "Arn"));
	if (a)
		snprintf(arn, arn_size, "%s", a);
	json_decref(k);
	return a ? 0 : -1;
}

#endif
