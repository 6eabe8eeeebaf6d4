/*
 * core.h: the public header of the core module.
 *
 * Everything else stands on this: one error convention (struct err + TRY), the
 * secure allocator for secret bytes (struct secret), strict hex/decimal/base64
 * parsing, the bounds-checked reader of untrusted bytes (struct cursor) and
 * its bounded writer (struct buf), file helpers and logging. Nothing here
 * knows about Ethereum, sockets or AWS.
 */
#ifndef NS_CORE_H
#define NS_CORE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NS_VERSION "0.1.0"

/*
 * On a function whose result is an error code or an owned pointer: a caller
 * that drops it fails the build (-Werror=unused-result). A (void) cast does
 * not silence it in gcc; where ignoring a result is right, test it in an
 * if and say why in a comment.
 */
#define NS_MUST_CHECK __attribute__((warn_unused_result))

/* ---- errors --------------------------------------------------------- */

enum err_code {
	ERR_OK = 0,
	ERR_INVALID = 1,   /* malformed input from a client or operator (400) */
	ERR_NOT_FOUND = 2, /* unknown key or resource (404) */
	ERR_REFUSED = 3,   /* slashing protection refused (412) */
	ERR_TOO_LARGE = 4, /* body or field over a size limit (413) */
	ERR_MEDIA = 5,     /* wrong content type (415) */
	ERR_UNAVAILABLE = 6, /* not ready (503) */
	ERR_INTERNAL = 7,  /* our fault (500) */
	ERR_NOMEM = 8,
	ERR_IO = 9,
	ERR_CRYPTO = 10,
	ERR_TRUNCATED = 11,
	ERR_USAGE = 12,    /* bad command line (exit 2) */
};

/*
 * An error travels as a negative return code plus, when the caller passed a
 * struct err, a message meant for the user (which field, what was wrong).
 * Messages never contain secret material.
 */
struct err {
	int code;
	char msg[256];
};

#define TRY(expr)                                                              \
	do {                                                                   \
		int rc_ = (expr);                                              \
		if (rc_ < 0)                                                   \
			return rc_;                                            \
	} while (0)

/* Jump to `out` with rc set, for functions that own resources. */
#define TRY_OUT(expr)                                                          \
	do {                                                                   \
		rc = (expr);                                                   \
		if (rc < 0)                                                    \
			goto out;                                              \
	} while (0)

/* Sets e (if non-NULL) and returns -code, so `return err_set(...)` reads well. */
int err_set(struct err *e, enum err_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix an existing message: "field: " + old message. */
int err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *err_code_name(int code);

/* ---- secrets -------------------------------------------------------- */

/*
 * Secret bytes live only here: memory from mlock'd, MADV_DONTDUMP pages,
 * wiped with OPENSSL_cleanse when freed. secret_init() also sets the process
 * non-dumpable. Thread-safe.
 */
struct secret {
	uint8_t *bytes;
	size_t len;
	size_t cap; /* allocator's business */
};

void secret_init(void);
NS_MUST_CHECK
struct secret *secret_new(size_t len);
NS_MUST_CHECK
struct secret *secret_from(const void *src, size_t len);
/* Shrink the logical length (capacity unchanged; the tail is wiped). */
void secret_truncate(struct secret *s, size_t len);
void secret_free(struct secret *s);
/* Reads a whole file into a secret, stripping one trailing "\n" or "\r\n". */
NS_MUST_CHECK
int secret_read_file(const char *path, struct secret **out, struct err *e);
/* Secret buffers released so far (for tests: proves wipes happen). */
uint64_t secret_stats_live(void);
/*
 * Tests only: hook(bytes, cap) runs inside secret_free after the wipe and
 * before the memory goes back to a free list or is unmapped, so a test can
 * see what a freed secret leaves behind. NULL removes it.
 */
void secret_set_free_hook(void (*hook)(const uint8_t *bytes, size_t cap));

/* ---- hex, decimal, base64 ------------------------------------------- */

/*
 * Strict hex: `0x` prefix required when want_prefix, lower or upper case,
 * exact length `len` bytes. No spaces, no odd digits, no padding.
 */
NS_MUST_CHECK
int hex_decode_exact(const char *s, uint8_t *out, size_t len, struct err *e,
		     const char *field);
/* Variable length hex with 0x prefix; *out malloc'd. max_len bytes. */
NS_MUST_CHECK
int hex_decode_alloc(const char *s, size_t max_len, uint8_t **out,
		     size_t *out_len, struct err *e, const char *field);
/* Lower-case, with "0x"; out must hold 2 + 2*len + 1 bytes. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decimal uint64: digits only, no sign, no leading zeros except "0", no overflow. */
NS_MUST_CHECK
int dec_parse_u64(const char *s, uint64_t *out, struct err *e,
		  const char *field);
/* The same rules for a uint256 (SSZ Uint256: base_fee_per_gas), little-endian. */
NS_MUST_CHECK
int dec_parse_u256(const char *s, uint8_t out[32], struct err *e,
		   const char *field);
/*
 * Standard base64 (RFC 4648 section 4, padded), as KMS and DynamoDB carry
 * binary fields and the control channel carries blobs. Decoding is strict:
 * whitespace, missing padding and non-canonical trailing bits are refused
 * with "<field>: ..." messages.
 */
/* malloc'd, NUL-terminated; NULL on allocation failure. */
NS_MUST_CHECK
char *b64_encode(const uint8_t *in, size_t len);
NS_MUST_CHECK
int b64_decode(const char *s, uint8_t **out, size_t *out_len, struct err *e,
	       const char *field);
/* Same, into secure memory (KMS plaintext, data keys). */
NS_MUST_CHECK
int b64_decode_secret(const char *s, struct secret **out, struct err *e,
		      const char *field);
/* Base64 of a secret, into a NUL-terminated secret. */
NS_MUST_CHECK
int b64_encode_secret(const uint8_t *in, size_t len, struct secret **out,
		      struct err *e);

/* ---- cursor: the one reader of untrusted bytes ----------------------- */

struct cursor {
	const uint8_t *p;
	size_t left;
};

static inline struct cursor cursor_init(const void *p, size_t n)
{
	struct cursor c = {(const uint8_t *)p, n};
	return c;
}
NS_MUST_CHECK
int cursor_take(struct cursor *c, size_t n, const uint8_t **out);
NS_MUST_CHECK
int cursor_u8(struct cursor *c, uint8_t *out);
NS_MUST_CHECK
int cursor_u32be(struct cursor *c, uint32_t *out);
NS_MUST_CHECK
int cursor_u64le(struct cursor *c, uint64_t *out);

/* ---- buf: the one writer of bytes ------------------------------------ */

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max;  /* never grows past this many bytes */
	bool wipe;   /* holds secrets: cleansed before release or reuse */
	bool fixed;  /* the caller's memory: never grows, never freed */
	bool failed; /* the text writers below: the first failure sticks */
};

/* An empty heap buffer growing on demand up to max bytes. */
void buf_init(struct buf *b, size_t max, bool wipe);
/* The same as an initialiser: struct buf b = BUF_INIT(4096); */
#define BUF_INIT(m) {.max = (m)}
/* Writes into mem[0..cap): for output of a known size (a struct secret). */
void buf_init_fixed(struct buf *b, void *mem, size_t cap);
/* Room for n more bytes: -ERR_TOO_LARGE past max, -ERR_NOMEM. */
NS_MUST_CHECK
int buf_reserve(struct buf *b, size_t n);
/* Each appends all or nothing, with buf_reserve's errors. */
NS_MUST_CHECK
int buf_append(struct buf *b, const void *p, size_t n);
NS_MUST_CHECK
int buf_u8(struct buf *b, uint8_t v);
NS_MUST_CHECK
int buf_u32be(struct buf *b, uint32_t v);
/* Empties the buffer (wiping its bytes if b->wipe), keeping its memory. */
void buf_clear(struct buf *b);
/* Wipes (if b->wipe) and releases the memory; b stays usable, empty. */
void buf_free(struct buf *b);
/* Hands the bytes over (malloc'd; NULL when empty) and leaves b empty. Not
 * for fixed buffers. */
uint8_t *buf_take(struct buf *b, size_t *len);

/* Text on a buf, for builders of requests and documents: each call appends
 * all or nothing, keeps the bytes NUL-terminated (the NUL is not counted in
 * len, but counts against max), and latches its first failure in b->failed,
 * after which the text calls do nothing; the builder checks once, at
 * buf_take_str or b->failed. buf_text returns the failure as well. */
int buf_text(struct buf *b, const void *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The text so far: "" when nothing was written. */
const char *buf_str(const struct buf *b);
/* Hands the text over (malloc'd, NUL-terminated, "" when empty), or NULL if
 * a text call failed (the bytes are released); b is left empty either way. */
NS_MUST_CHECK
char *buf_take_str(struct buf *b);

/* ---- files ---------------------------------------------------------- */

/* Reads a whole file (max_len cap) into a NUL-terminated malloc'd buffer. */
NS_MUST_CHECK
int file_read_all(const char *path, size_t max_len, char **out, size_t *len,
		  struct err *e);
/* Writes atomically: temp file in the same directory, fsync, rename. */
NS_MUST_CHECK
int file_write_atomic(const char *path, const void *data, size_t len,
		      int mode, struct err *e);

/* ---- JSON ------------------------------------------------------------ */

struct json_t;
/*
 * The one way untrusted JSON text is parsed: jansson with duplicate keys
 * refused. On failure: -ERR_INVALID and "<what>: invalid JSON at line L
 * column C: <jansson's reason>" (no prefix when what is NULL).
 */
NS_MUST_CHECK
int json_parse_strict(const char *text, size_t len, const char *what,
		      struct json_t **out, struct err *e);
/*
 * json_parse_strict with a memory budget: the parse (jansson's own
 * allocations on this thread, net of what it frees) may use at most
 * max_bytes of heap, else it stops and fails with -ERR_TOO_LARGE ("<what>:
 * the JSON document needs more than N bytes of memory"). A document of
 * many tiny values costs jansson about 50 times its text, so a size cap
 * alone does not bound memory. max_bytes 0 means no budget.
 */
NS_MUST_CHECK
int json_parse_bounded(const char *text, size_t len, const char *what,
		       size_t max_bytes, struct json_t **out, struct err *e);

/* ---- logging -------------------------------------------------------- */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_setup(enum log_level level, enum log_format format);
NS_MUST_CHECK
int log_parse_level(const char *s, enum log_level *out);
/* Plain message; never pass secrets. Thread-safe, one line per call. */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A printable, bounded copy of an untrusted string for a log line or an
 * error message: other bytes become '?', a longer one ends in "...". */
void log_printable(const char *s, char *out, size_t cap);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* ---- command lines (args.c) ------------------------------------------- */

/* Exit statuses of every binary (DESIGN.md section 4); 0 is success. */
#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

enum args_kind {
	ARGS_VALUE, /* --name=value or --name value, at most once */
	ARGS_BOOL,  /* --name, --name=true or --name=false, at most once */
	ARGS_LIST,  /* a value, repeatable: every value kept in order */
};

struct args_flag {
	const char *name;    /* without the leading "--" */
	enum args_kind kind;
	int id;              /* the caller's; aliases share one (one flag) */
	size_t max;          /* ARGS_LIST: most values (0: ARGS_MAX_ITEMS) */
};

struct args_spec {
	const char *cmd;     /* in "--x is not a flag of CMD" */
	const struct args_flag *flags;
	size_t nflags;
	/* NULL, or the names (NULL-terminated) of the flags of `flags` this
	 * command takes: one table can serve several subcommands. */
	const char *const *only;
	size_t max_positional;  /* positional arguments taken (anywhere) */
	bool stop_at_positional; /* the first one ends the flags: see next */
};

#define ARGS_MAX_ITEMS 128
#define ARGS_MAX_POSITIONAL 4

struct args_item {
	int id;
	const char *name;  /* the flag's (or alias's) name, without "--" */
	const char *value; /* never empty; booleans "true" or "false" */
};

struct args {
	struct args_item item[ARGS_MAX_ITEMS]; /* in command-line order */
	size_t n;
	const char *positional[ARGS_MAX_POSITIONAL];
	size_t npositional;
	int next;  /* argv index where parsing stopped (argc: all was read) */
	bool help; /* --help or -h was given (parsing stopped after it) */
};

/*
 * Parses argv[0..argc) (no program name) by spec's rules (args.c): both
 * --name=value and --name value, booleans as --name[=true|false], a
 * repeated single-valued flag, an unknown flag, an empty or missing value
 * and a positional argument the command does not take are -ERR_USAGE with
 * one line naming the flag ("--x given twice", "--x is not a flag of
 * CMD", "--x: expected a value", "unexpected argument 'y'"); `--` ends the
 * flags; --help/-h stop at once with out->help set. Values point into argv.
 */
NS_MUST_CHECK
int args_parse(const struct args_spec *spec, int argc, char **argv,
	       struct args *out, struct err *e);
/* The value of flag `id`, or NULL when it was not given. */
const char *args_get(const struct args *a, int id);
/* A boolean flag: its value when given, else dflt. */
bool args_bool(const struct args *a, int id, bool dflt);
/* An ARGS_LIST flag's values in order: how many were given; the first
 * `max` of them are stored in out. */
size_t args_list(const struct args *a, int id, const char **out, size_t max);
/* Prints "PROG: MESSAGE" on stderr; returns the exit status for e:
 * EXIT_USAGE for ERR_USAGE, else EXIT_RUNTIME. */
int args_fail(const char *prog, const struct err *e);

/* ---- misc ----------------------------------------------------------- */

int cpu_count(void);
/* Lets the calling thread run on every core again (threads started from a
 * pinned event loop inherit its single core). */
void cpu_unpin_thread(void);
uint64_t clock_mono_us(void);

/* Progress of long work on stderr (progress.c): "<prefix><what> n/N (R/s,
 * about T s left)", at most every 200 ms and the last one; on == false
 * prints nothing. progress_step may be called from several threads. */
struct progress {
	const char *prefix, *what;
	size_t total;
	bool on;
	uint64_t start_us;
	atomic_size_t done;
	atomic_uint_fast64_t last_us;
};
void progress_start(struct progress *p, const char *prefix, const char *what,
		    size_t total, bool on);
void progress_step(struct progress *p);

/*
 * Runs fn(arg, i) once for every i in [0, n) on at most `threads` threads
 * (0: cpu_count()), the calling thread among them; returns when all are
 * done. Started threads run on every core (cpu_unpin_thread). fn must be
 * safe to run concurrently for different i.
 */
void parallel_for(size_t n, int threads, void (*fn)(void *arg, size_t i),
		  void *arg);

#endif
