/*
 * keys.c: the key registry: loads validator keys from disk and answers
 * "which key has this pubkey?" on every signing request.
 *
 * Loading happens in three steps:
 *   1. collect: one job per key source: each *.json in --keystores-path
 *      (password from "<name>.txt" or the shared password file), and each
 *      YAML document in --key-store-path (file-raw: the key is decoded
 *      right away, in secure memory; file-keystore: keystore + password).
 *      A document that cannot be understood becomes a job that has already
 *      failed, so every source is counted exactly once.
 *   2. decrypt: jobs are spread over a pthread pool (cpu_count() threads by
 *      default; scrypt at n=2^18 costs ~0.5 s and 256 MiB per keystore),
 *      each worker taking the next job index from an atomic counter. Jobs
 *      share nothing writable, so no lock is needed.
 *   3. publish: the keys are sorted by pubkey into one array, duplicates
 *      dropped (the first source wins), and the registry never changes
 *      again: lookups are lock-free binary searches (see keys.h).
 *
 * Trust: keystores and YAML files come from the operator's disk but are
 * still parsed as untrusted (sizes capped, every field checked). Secrets
 * (passwords, raw private keys, libyaml's copies of them) are wiped; failure
 * messages name files and fields only.
 */
#include "signer/keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_YAML_FILE (4 * 1024 * 1024)

struct key_registry {
	struct key_entry *v;
	size_t n;
};

enum job_kind { JOB_KEYSTORE, JOB_CONFIG_KEYSTORE, JOB_CONFIG_RAW };

struct job {
	enum job_kind kind;
	char *label;         /* names the source in failures */
	char *keystore_file; /* keystore jobs */
	char *password_file; /* NULL: the shared password */
	/* results */
	struct bls_key *key;
	char *path;
	char *error;
};

struct jobs {
	struct job *v;
	size_t n, cap;
};

/* ---- small helpers ----------------------------------------------------- */

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

static struct job *jobs_add(struct jobs *js, enum job_kind kind)
{
	if (js->n == js->cap) {
		size_t cap = js->cap ? js->cap * 2 : 64;
		struct job *v = realloc(js->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		js->v = v;
		js->cap = cap;
	}
	struct job *j = &js->v[js->n++];
	memset(j, 0, sizeof(*j));
	j->kind = kind;
	return j;
}

static void job_clear(struct job *j)
{
	free(j->label);
	free(j->keystore_file);
	free(j->password_file);
	bls_key_free(j->key);
	free(j->path);
	free(j->error);
}

static void jobs_free(struct jobs *js)
{
	for (size_t i = 0; i < js->n; i++)
		job_clear(&js->v[i]);
	free(js->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && strcmp(s + n - m, suf) == 0;
}

/*
 * Regular files (symlinks followed) in dir whose name ends in one of the
 * suffixes, hidden files skipped, sorted by name so loading is repeatable.
 */
static int list_dir(const char *dir, const char *const *suffixes,
		    char ***out, size_t *nout, struct err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return err_set(e, ERR_IO, "cannot open directory %s: %s", dir,
			       strerror(errno));
	char **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		bool want = false;
		for (const char *const *s = suffixes; *s; s++)
			want = want || has_suffix(de->d_name, *s);
		/* deposit_data-*.json sits beside the keystores that
		 * staking-deposit-cli and nitro-keys write; it is not a key. */
		if (!want || de->d_name[0] == '.' ||
		    strncmp(de->d_name, "deposit_data-", 13) == 0)
			continue;
		char *full = str_printf("%s/%s", dir, de->d_name);
		struct stat st;
		if (full && (stat(full, &st) != 0 || !S_ISREG(st.st_mode))) {
			free(full);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = full ? realloc(v, cap * sizeof(*v)) : NULL;
			if (!nv) {
				free(full);
				rc = err_set(e, ERR_NOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		if (!full) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			break;
		}
		v[n++] = full;
	}
	closedir(d);
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*out = v;
	*nout = n;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A whole file into secure memory (YAML configs may hold raw keys). */
static int read_secret_file(const char *path, size_t max, struct secret **out,
			    struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IO, "cannot open: %s", strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_IO, "not a regular file");
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set(e, ERR_TOO_LARGE, "larger than %zu bytes", max);
	}
	struct secret *s = secret_new((size_t)st.st_size);
	if (!s) {
		close(fd);
		return err_set(e, ERR_NOMEM, "out of secure memory");
	}
	size_t got = 0;
	while (got < s->len) {
		ssize_t r = read(fd, s->bytes + got, s->len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != s->len) {
		secret_free(s);
		return err_set(e, ERR_IO, "short read");
	}
	*out = s;
	return 0;
}

/* ---- step 1a: keystore directory --------------------------------------- */

static int collect_keystores(const struct key_load_opts *o, struct jobs *js,
			     struct err *e)
{
	static const char *const sfx[] = {".json", NULL};
	char **files;
	size_t n;
	TRY(list_dir(o->keystores_path, sfx, &files, &n, e));
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct job *j = jobs_add(js, JOB_KEYSTORE);
		if (!j) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			break;
		}
		j->label = strdup(files[i]);
		j->keystore_file = strdup(files[i]);
		if (o->keystores_passwords_path) {
			const char *base = strrchr(files[i], '/') + 1;
			int blen = (int)(strlen(base) - strlen(".json"));
			j->password_file = str_printf(
				"%s/%.*s.txt", o->keystores_passwords_path,
				blen, base);
			if (!j->password_file)
				rc = err_set(e, ERR_NOMEM, "out of memory");
		}
		if (!j->label || !j->keystore_file)
			rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	strv_free(files, n);
	return rc;
}

/* ---- step 1b: YAML key configs ----------------------------------------- */

/* One YAML document's scalar fields; values may be secret (privateKey). */
#define DOC_MAX_FIELDS 16
struct yaml_doc {
	char *keys[DOC_MAX_FIELDS];
	struct secret *vals[DOC_MAX_FIELDS];
	size_t n;
	char *error; /* first problem found, or NULL */
	bool empty;  /* a bare "---" with no content */
};

static void doc_clear(struct yaml_doc *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->keys[i]);
		secret_free(d->vals[i]);
	}
	free(d->error);
	memset(d, 0, sizeof(*d));
}

static void doc_fail(struct yaml_doc *d, const char *msg)
{
	if (!d->error)
		d->error = strdup(msg);
}

static const char *doc_get(const struct yaml_doc *d, const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->keys[i], key) == 0)
			return (const char *)d->vals[i]->bytes;
	return NULL;
}

/* Wipes what libyaml copied of the file before it frees it. */
static void yaml_wipe_event(yaml_event_t *ev)
{
	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value)
		OPENSSL_cleanse(ev->data.scalar.value, ev->data.scalar.length);
	yaml_event_delete(ev);
}

static void yaml_wipe_parser(yaml_parser_t *p)
{
	if (p->raw_buffer.start)
		OPENSSL_cleanse(p->raw_buffer.start,
				(size_t)(p->raw_buffer.end - p->raw_buffer.start));
	if (p->buffer.start)
		OPENSSL_cleanse(p->buffer.start,
				(size_t)(p->buffer.end - p->buffer.start));
	yaml_parser_delete(p);
}

/* Adds one key or value scalar to the document being read. */
static void doc_scalar(struct yaml_doc *d, const yaml_event_t *ev, bool is_key,
		       char **pending_key)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	if (is_key) {
		if (strlen(v) != len) {
			doc_fail(d, "key contains a NUL byte");
			return;
		}
		*pending_key = strdup(v);
		if (!*pending_key)
			doc_fail(d, "out of memory");
		for (size_t i = 0; *pending_key && i < d->n; i++)
			if (strcmp(d->keys[i], v) == 0)
				doc_fail(d, "duplicate key");
		return;
	}
	if (!*pending_key)
		return;
	if (d->n == DOC_MAX_FIELDS) {
		doc_fail(d, "too many fields");
	} else {
		struct secret *s = secret_new(len + 1);
		if (!s) {
			doc_fail(d, "out of secure memory");
		} else {
			memcpy(s->bytes, v, len);
			s->bytes[len] = '\0';
			if (strlen((char *)s->bytes) != len)
				doc_fail(d, "value contains a NUL byte");
			d->keys[d->n] = *pending_key;
			d->vals[d->n++] = s;
			*pending_key = NULL;
			return;
		}
	}
	free(*pending_key);
	*pending_key = NULL;
}

typedef int (*doc_cb)(struct yaml_doc *d, int index, void *arg);

/*
 * Walks a YAML stream whose documents are flat mappings of scalars, calling
 * cb at the end of each document. Returns an error only when the stream
 * itself is malformed (then no document of the file is used).
 */
static int yaml_for_each_doc(const struct secret *buf, doc_cb cb, void *arg,
			     struct err *e)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct yaml_doc d;
	char *pending = NULL;
	int depth = 0, index = 0, rc = 0;
	bool expect_key = true, done = false;
	memset(&d, 0, sizeof(d));
	if (!yaml_parser_initialize(&p))
		return err_set(e, ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&p, buf->bytes, buf->len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = err_set(e, ERR_INVALID,
				     "invalid YAML (line %zu): %s",
				     p.problem_mark.line + 1,
				     p.problem ? p.problem : "syntax error");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			doc_clear(&d);
			d.empty = true;
			depth = 0;
			expect_key = true;
			break;
		case YAML_DOCUMENT_END_EVENT:
			index++;
			if (!d.empty)
				rc = cb(&d, index, arg);
			doc_clear(&d);
			free(pending);
			pending = NULL;
			done = rc < 0;
			break;
		case YAML_MAPPING_START_EVENT:
			d.empty = false;
			if (++depth > 1)
				doc_fail(&d, "nested mappings are not supported");
			expect_key = true;
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SEQUENCE_START_EVENT:
			d.empty = false;
			depth++;
			doc_fail(&d, depth == 1 ? "document must be a mapping"
						: "sequences are not supported");
			break;
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
			if (depth == 0) {
				/* A document that is only a scalar. */
				if (ev.data.scalar.length) {
					d.empty = false;
					doc_fail(&d, "document must be a mapping");
				}
			} else if (depth == 1) {
				doc_scalar(&d, &ev, expect_key, &pending);
				expect_key = !expect_key;
			}
			break;
		case YAML_ALIAS_EVENT:
			doc_fail(&d, "aliases are not supported");
			expect_key = !expect_key;
			break;
		default:
			break;
		}
		yaml_wipe_event(&ev);
	}
	free(pending);
	doc_clear(&d);
	yaml_wipe_parser(&p);
	return rc;
}

struct config_ctx {
	const char *file;
	struct jobs *js;
};

/* dir-of(file)/name unless name is absolute. */
static char *resolve(const char *file, const char *name)
{
	if (name[0] == '/')
		return strdup(name);
	const char *slash = strrchr(file, '/');
	if (!slash)
		return strdup(name);
	return str_printf("%.*s/%s", (int)(slash - file), file, name);
}

/* Checks one document and turns it into a job (failed or runnable). */
static int config_doc(struct yaml_doc *d, int index, void *arg)
{
	struct config_ctx *c = arg;
	const char *type = doc_get(d, "type");
	const char *key_type = doc_get(d, "keyType");
	struct err e = {0};
	struct job *j = jobs_add(c->js, JOB_CONFIG_RAW);
	if (!j)
		return -ERR_NOMEM;
	j->label = str_printf("%s (document %d)", c->file, index);
	if (!j->label)
		return -ERR_NOMEM;
	if (d->error) {
		err_set(&e, ERR_INVALID, "%s", d->error);
	} else if (!type) {
		err_set(&e, ERR_INVALID, "type: missing");
	} else if (key_type && strcmp(key_type, "BLS") != 0) {
		err_set(&e, ERR_INVALID,
			"keyType: unsupported \"%.32s\" (only BLS)", key_type);
	} else if (strcmp(type, "file-raw") == 0) {
		const char *pk = doc_get(d, "privateKey");
		if (!pk)
			err_set(&e, ERR_INVALID, "privateKey: missing");
		else
			(void)bls_key_from_hex(pk, &j->key, &e, "privateKey");
	} else if (strcmp(type, "file-keystore") == 0) {
		const char *ks = doc_get(d, "keystoreFile");
		const char *pw = doc_get(d, "keystorePasswordFile");
		j->kind = JOB_CONFIG_KEYSTORE;
		if (!ks || !*ks) {
			err_set(&e, ERR_INVALID, "keystoreFile: missing");
		} else if (!pw || !*pw) {
			err_set(&e, ERR_INVALID, "keystorePasswordFile: missing");
		} else {
			j->keystore_file = resolve(c->file, ks);
			j->password_file = resolve(c->file, pw);
			if (!j->keystore_file || !j->password_file)
				return -ERR_NOMEM;
		}
	} else {
		err_set(&e, ERR_INVALID,
			"type: unsupported \"%.32s\" (file-raw or file-keystore)",
			type);
	}
	if (e.code && !(j->error = strdup(e.msg)))
		return -ERR_NOMEM;
	return 0;
}

static int collect_configs(const struct key_load_opts *o, struct jobs *js,
			   struct err *e)
{
	static const char *const sfx[] = {".yaml", ".yml", NULL};
	char **files;
	size_t n;
	TRY(list_dir(o->key_store_path, sfx, &files, &n, e));
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct secret *buf = NULL;
		struct err fe = {0};
		size_t first = js->n;
		struct config_ctx c = {files[i], js};
		int frc = read_secret_file(files[i], MAX_YAML_FILE, &buf, &fe);
		if (frc == 0)
			frc = yaml_for_each_doc(buf, config_doc, &c, &fe);
		secret_free(buf);
		if (frc == -ERR_NOMEM) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			break;
		}
		if (frc < 0) {
			/* The whole file is one failure; drop its documents. */
			for (size_t k = first; k < js->n; k++)
				job_clear(&js->v[k]);
			js->n = first;
			struct job *j = jobs_add(js, JOB_CONFIG_RAW);
			if (!j || !(j->label = strdup(files[i])) ||
			    !(j->error = strdup(fe.msg)))
				rc = err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	strv_free(files, n);
	return rc;
}

/* ---- step 2: decrypt in parallel ----------------------------------------- */

static void job_run(struct job *j, const struct secret *shared)
{
	struct err e = {0};
	char *json = NULL;
	size_t len = 0;
	struct secret *pw = NULL;
	struct keystore_info info;
	if (j->error || j->kind == JOB_CONFIG_RAW)
		return; /* failed already, or file-raw: decoded while parsing */
	if (file_read_all(j->keystore_file, KEYSTORE_MAX_JSON, &json, &len,
			  &e) < 0)
		goto out;
	if (keystore_inspect(json, len, &info, &e) < 0)
		goto out;
	if (j->password_file &&
	    secret_read_file(j->password_file, &pw, &e) < 0) {
		err_prefix(&e, "password file: ");
		goto out;
	}
	if (keystore_decrypt(json, len, pw ? pw : shared, &j->key, &e) < 0)
		goto out;
	if (info.has_path && !(j->path = strdup(info.path)))
		err_set(&e, ERR_NOMEM, "out of memory");
out:
	if (e.code) {
		bls_key_free(j->key);
		j->key = NULL;
		j->error = strdup(e.msg);
		if (!j->error)
			j->error = strdup("failed");
	}
	secret_free(pw);
	free(json);
}

struct pool {
	struct job *jobs;
	const struct secret *shared;
	struct progress progress; /* "keys decrypted n/N" */
};

static void pool_job(void *arg, size_t i)
{
	struct pool *p = arg;
	job_run(&p->jobs[i], p->shared);
	progress_step(&p->progress);
}

static void run_jobs(struct jobs *js, const struct secret *shared, int threads,
		     bool progress)
{
	struct pool p = {.jobs = js->v, .shared = shared};
	progress_start(&p.progress, "", "keys decrypted", js->n, progress);
	parallel_for(js->n, threads, pool_job, &p);
}

/* ---- step 3: publish ----------------------------------------------------- */

struct slot {
	struct key_entry ent;
	size_t order;
};

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = memcmp(x->ent.key->pubkey, y->ent.key->pubkey, BLS_PUBKEY_LEN);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int report_add(struct key_load_report *rep, const struct job *j)
{
	char **v = realloc(rep->failures, (rep->nfailures + 1) * sizeof(*v));
	if (!v)
		return -ERR_NOMEM;
	rep->failures = v;
	v[rep->nfailures] = str_printf("%s: %s", j->label, j->error);
	if (!v[rep->nfailures])
		return -ERR_NOMEM;
	rep->nfailures++;
	return 0;
}

static int publish(struct jobs *js, struct key_registry *r,
		   struct key_load_report *rep, struct err *e)
{
	struct slot *s = calloc(js->n ? js->n : 1, sizeof(*s));
	size_t n = 0;
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < js->n; i++) {
		struct job *j = &js->v[i];
		bool ks = j->kind == JOB_KEYSTORE;
		if (!j->key) {
			*(ks ? &rep->keystores_failed : &rep->configs_failed) += 1;
			if (report_add(rep, j) < 0) {
				free(s);
				return err_set(e, ERR_NOMEM, "out of memory");
			}
			continue;
		}
		*(ks ? &rep->keystores_loaded : &rep->configs_loaded) += 1;
		s[n].ent.key = j->key;
		s[n].ent.readonly = !ks;
		s[n].ent.path = j->path;
		s[n].ent.source = ks ? j->keystore_file : j->label;
		s[n].order = i;
		if (ks)
			j->keystore_file = NULL;
		else
			j->label = NULL;
		j->key = NULL;
		j->path = NULL;
		n++;
	}
	if (n)
		qsort(s, n, sizeof(*s), cmp_slot);
	r->v = calloc(n ? n : 1, sizeof(*r->v));
	if (!r->v) {
		for (size_t i = 0; i < n; i++) {
			bls_key_free(s[i].ent.key);
			free((char *)s[i].ent.path);
			free((char *)s[i].ent.source);
		}
		free(s);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (r->n && memcmp(r->v[r->n - 1].key->pubkey,
				   s[i].ent.key->pubkey, BLS_PUBKEY_LEN) == 0) {
			rep->duplicates++;
			bls_key_free(s[i].ent.key);
			free((char *)s[i].ent.path);
			free((char *)s[i].ent.source);
			continue;
		}
		r->v[r->n++] = s[i].ent;
	}
	free(s);
	return 0;
}

/* ---- public API ------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
	const struct key_entry *x = a, *y = b;
	return memcmp(x->key->pubkey, y->key->pubkey, BLS_PUBKEY_LEN);
}

int keys_from_list(struct bls_key **keys, size_t n, const char *source,
		   struct key_registry **out, struct err *e)
{
	struct key_registry *r = calloc(1, sizeof(*r));
	struct key_entry *v = calloc(n ? n : 1, sizeof(*v));
	size_t i = 0;
	if (!r || !v)
		goto nomem;
	for (; i < n; i++) {
		v[i].key = keys[i];
		v[i].readonly = true;
		v[i].source = strdup(source);
		if (!v[i].source) {
			i++;
			goto nomem;
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_entry);
	r->v = v;
	for (i = 0; i < n; i++) {
		if (r->n && memcmp(r->v[r->n - 1].key->pubkey, v[i].key->pubkey,
				   BLS_PUBKEY_LEN) == 0) {
			bls_key_free(v[i].key);
			free((char *)v[i].source);
			continue;
		}
		r->v[r->n++] = v[i];
	}
	*out = r;
	return 0;
nomem:
	for (size_t j = 0; j < n; j++) {
		bls_key_free(keys[j]);
		if (v && j < i)
			free((char *)v[j].source);
	}
	free(v);
	free(r);
	return err_set(e, ERR_NOMEM, "out of memory");
}

static int check_dir(const char *path, const char *flag, struct err *e)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return err_set(e, ERR_USAGE, "%s: %s is not a directory", flag,
			       path);
	return 0;
}

static int check_opts(const struct key_load_opts *o, struct err *e)
{
	bool dir = o->keystores_passwords_path, file = o->keystores_password_file;
	if (dir && file)
		return err_set(e, ERR_USAGE,
			       "--keystores-passwords-path and "
			       "--keystores-password-file are exclusive");
	if (o->keystores_path) {
		if (!dir && !file)
			return err_set(e, ERR_USAGE,
				       "--keystores-path needs "
				       "--keystores-passwords-path or "
				       "--keystores-password-file");
		TRY(check_dir(o->keystores_path, "--keystores-path", e));
		if (dir)
			TRY(check_dir(o->keystores_passwords_path,
				      "--keystores-passwords-path", e));
	} else if (dir || file) {
		return err_set(e, ERR_USAGE,
			       "keystore passwords given without --keystores-path");
	}
	if (o->key_store_path)
		TRY(check_dir(o->key_store_path, "--key-store-path", e));
	return 0;
}

int keys_load(const struct key_load_opts *opts, struct key_registry **out,
	      struct key_load_report *rep, struct err *e)
{
	struct key_load_report local;
	struct jobs js = {0};
	struct secret *shared = NULL;
	struct key_registry *r = NULL;
	int rc;
	if (!rep)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	TRY_OUT(check_opts(opts, e));
	if (opts->keystores_password_file &&
	    secret_read_file(opts->keystores_password_file, &shared, e) < 0) {
		rc = err_prefix(e, "--keystores-password-file: ");
		goto out;
	}
	if (opts->keystores_path)
		TRY_OUT(collect_keystores(opts, &js, e));
	if (opts->key_store_path)
		TRY_OUT(collect_configs(opts, &js, e));
	run_jobs(&js, shared, opts->threads, opts->progress);
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	TRY_OUT(publish(&js, r, rep, e));
	*out = r;
	r = NULL;
out:
	keys_free(r);
	jobs_free(&js);
	secret_free(shared);
	if (rc < 0 || rep == &local)
		key_load_report_free(rep);
	return rc;
}

void key_load_report_free(struct key_load_report *rep)
{
	if (!rep)
		return;
	strv_free(rep->failures, rep->nfailures);
	rep->failures = NULL;
	rep->nfailures = 0;
}

static int cmp_find(const void *key, const void *elem)
{
	const struct key_entry *ent = elem;
	return memcmp(key, ent->key->pubkey, BLS_PUBKEY_LEN);
}

const struct key_entry *keys_find_entry(const struct key_registry *r,
					const uint8_t pubkey[BLS_PUBKEY_LEN])
{
	if (!r || !r->n)
		return NULL;
	return bsearch(pubkey, r->v, r->n, sizeof(*r->v), cmp_find);
}

const struct bls_key *keys_find(const struct key_registry *r,
				const uint8_t pubkey[BLS_PUBKEY_LEN])
{
	const struct key_entry *ent = keys_find_entry(r, pubkey);
	return ent ? ent->key : NULL;
}

size_t keys_count(const struct key_registry *r)
{
	return r ? r->n : 0;
}

const struct key_entry *keys_entry_at(const struct key_registry *r, size_t i)
{
	return r && i < r->n ? &r->v[i] : NULL;
}

const uint8_t *keys_pubkey_at(const struct key_registry *r, size_t i)
{
	const struct key_entry *ent = keys_entry_at(r, i);
	return ent ? ent->key->pubkey : NULL;
}

void keys_free(struct key_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		bls_key_free(r->v[i].key);
		free((char *)r->v[i].path);
		free((char *)r->v[i].source);
	}
	free(r->v);
	free(r);
}

/* ---- edits (the Keymanager API) ---------------------------------------- */

static int entry_copy(const struct key_entry *from, struct key_entry *to,
		      struct err *e)
{
	struct secret *sk = NULL;
	memset(to, 0, sizeof(*to));
	int rc = bls_key_export(from->key, &sk, e);
	if (rc == 0)
		rc = bls_key_from_bytes(sk->bytes, &to->key, e);
	secret_free(sk);
	if (rc < 0)
		return rc;
	to->readonly = from->readonly;
	to->path = from->path ? strdup(from->path) : NULL;
	to->source = from->source ? strdup(from->source) : NULL;
	if ((from->path && !to->path) || (from->source && !to->source)) {
		bls_key_free(to->key);
		free((char *)to->path);
		free((char *)to->source);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	return 0;
}

static bool listed(const uint8_t (*v)[BLS_PUBKEY_LEN], size_t n,
		   const uint8_t *pk)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(v[i], pk, BLS_PUBKEY_LEN) == 0)
			return true;
	return false;
}

int keys_edit(const struct key_registry *r,
	      const uint8_t (*remove)[BLS_PUBKEY_LEN], size_t nremove,
	      const struct key_entry *add, size_t nadd,
	      struct key_registry **out, struct err *e)
{
	size_t have = keys_count(r);
	struct key_registry *fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return err_set(e, ERR_NOMEM, "out of memory");
	fresh->v = calloc(have + nadd ? have + nadd : 1, sizeof(*fresh->v));
	if (!fresh->v) {
		free(fresh);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	int rc = 0;
	for (size_t i = 0; i < have && rc == 0; i++) {
		const struct key_entry *ent = &r->v[i];
		if (listed(remove, nremove, ent->key->pubkey))
			continue;
		rc = entry_copy(ent, &fresh->v[fresh->n], e);
		fresh->n += rc == 0;
	}
	size_t kept = fresh->n;
	for (size_t i = 0; i < nadd && rc == 0; i++) {
		bool dup = keys_find_entry(r, add[i].key->pubkey) &&
			   !listed(remove, nremove, add[i].key->pubkey);
		for (size_t j = kept; j < fresh->n && !dup; j++)
			dup = memcmp(fresh->v[j].key->pubkey,
				     add[i].key->pubkey, BLS_PUBKEY_LEN) == 0;
		if (dup)
			continue; /* loaded already, or given twice: held once */
		rc = entry_copy(&add[i], &fresh->v[fresh->n], e);
		fresh->n += rc == 0;
	}
	if (rc < 0) {
		keys_free(fresh);
		return rc;
	}
	if (fresh->n)
		qsort(fresh->v, fresh->n, sizeof(*fresh->v), cmp_entry);
	*out = fresh;
	return 0;
}
