/*
 * json.c: the one entry point for parsing untrusted JSON text (request
 * bodies, keystores, interchange files, evaluate lines, control frames,
 * AWS responses). Duplicate keys are refused: two values for one field
 * would let two parsers of the same bytes disagree.
 *
 * json_parse_bounded also bounds the memory a parse may take. jansson
 * allocates through hooks installed before main() (json_set_alloc_funcs, a
 * constructor of this file, which every binary links); they are plain
 * malloc and free, so memory allocated by either is freed by either. While a bounded parse runs, the hooks
 * of that thread (thread-local state) add malloc_usable_size() of every
 * block jansson allocates and subtract what it frees; past the budget the
 * allocation fails, jansson unwinds and frees what it built, and the parse
 * reports -ERR_TOO_LARGE. The count is of usable sizes: the allocator's
 * own headers (a few bytes a block) come on top.
 */
#include "core.h"

#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>

struct parse_budget {
	bool active;
	bool exceeded;
	size_t used;
	size_t max;
};

static _Thread_local struct parse_budget budget;

static void *counting_malloc(size_t n)
{
	if (!budget.active)
		return malloc(n);
	if (budget.used + n > budget.max) {
		budget.exceeded = true;
		return NULL;
	}
	void *p = malloc(n);
	if (p) {
		budget.used += malloc_usable_size(p);
		if (budget.used > budget.max) {
			budget.used -= malloc_usable_size(p);
			free(p);
			budget.exceeded = true;
			return NULL;
		}
	}
	return p;
}

static void counting_free(void *p)
{
	if (p && budget.active) {
		size_t n = malloc_usable_size(p);
		budget.used = n > budget.used ? 0 : budget.used - n;
	}
	free(p);
}

/* Installed before main() runs, so before any thread is inside jansson. */
__attribute__((constructor)) static void install_hooks(void)
{
	json_set_alloc_funcs(counting_malloc, counting_free);
}

int json_parse_strict(const char *text, size_t len, const char *what,
		      json_t **out, struct err *e)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return err_set(e, ERR_INVALID,
			       "%s%sinvalid JSON at line %d column %d: %.120s",
			       what ? what : "", what ? ": " : "", je.line,
			       je.column, je.text);
	*out = j;
	return 0;
}

int json_parse_bounded(const char *text, size_t len, const char *what,
		       size_t max_bytes, json_t **out, struct err *e)
{
	if (max_bytes == 0)
		return json_parse_strict(text, len, what, out, e);
	budget = (struct parse_budget){.active = true, .max = max_bytes};
	struct err pe = {0};
	int rc = json_parse_strict(text, len, what, out, &pe);
	bool exceeded = budget.exceeded;
	budget = (struct parse_budget){0};
	if (rc == 0)
		return 0;
	if (exceeded)
		return err_set(e, ERR_TOO_LARGE,
			       "%s%sthe JSON document needs more than %zu bytes "
			       "of memory", what ? what : "", what ? ": " : "",
			       max_bytes);
	if (e)
		*e = pe;
	return rc;
}
