/*
 * args.c: the one command-line flag parser of nitro-signer, nitro-host and
 * nitro-keys, so that every binary and subcommand follows the same rules
 * (DESIGN.md section 4):
 *
 *   --name=value and --name value    both, for a flag that takes a value; a
 *                                    separate value may not start with "--"
 *                                    (`--out --kdf=x` is a missing value,
 *                                    not a file named "--kdf=x")
 *   --name, --name=true|false        a boolean flag (never a separate value)
 *   a flag given twice               refused naming it, unless it is declared
 *                                    ARGS_LIST (every value kept, in order)
 *   an unknown flag, an empty value  refused naming the flag
 *   positional arguments             only as many as the command declares,
 *                                    anywhere among the flags; or, with
 *                                    stop_at_positional, the first one ends
 *                                    the flags (a subcommand follows)
 *   --                               ends the flags
 *   --help, -h                       stop parsing and set args.help
 *
 * A table of struct args_flag describes a command; the result is the flags
 * in command-line order (so a caller can validate them as a getopt loop
 * would) plus lookups by id. Nothing is allocated and nothing printed: an
 * error is -ERR_USAGE with one line in struct err, which the caller prints
 * after its program name and exits 2 with. Arguments are operator input,
 * not secrets, but messages quote only flag names and short positional
 * arguments, never a flag's value.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Long enough for any flag we have, short enough to keep one line. */
#define NAME_SHOWN 64

static bool is_allowed(const struct args_spec *s, const char *name)
{
	if (!s->only)
		return true;
	for (const char *const *p = s->only; *p; p++)
		if (strcmp(*p, name) == 0)
			return true;
	return false;
}

static const struct args_flag *find_flag(const struct args_spec *s,
					 const char *name, size_t len)
{
	for (size_t i = 0; i < s->nflags; i++) {
		const struct args_flag *f = &s->flags[i];
		if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
			return is_allowed(s, f->name) ? f : NULL;
	}
	return NULL;
}

static const struct args_item *find_item(const struct args *a, int id)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->item[i].id == id)
			return &a->item[i];
	return NULL;
}

static size_t count_items(const struct args *a, int id)
{
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++)
		n += a->item[i].id == id;
	return n;
}

/* A boolean's value, normalised to "true" or "false". */
static int bool_value(const struct args_flag *f, const char *eq,
		      const char **val, struct err *e)
{
	if (!eq || strcasecmp(eq + 1, "true") == 0)
		*val = "true";
	else if (strcasecmp(eq + 1, "false") == 0)
		*val = "false";
	else
		return err_set(e, ERR_USAGE, "--%s: expected true or false, "
			       "got '%.*s'", f->name, NAME_SHOWN, eq + 1);
	return 0;
}

/* The value after '=', else the next argument unless it is a flag. */
static int flag_value(const struct args_flag *f, const char *eq, int argc,
		      char **argv, int *i, const char **val, struct err *e)
{
	*val = NULL;
	if (eq)
		*val = eq + 1;
	else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
		*val = argv[++*i];
	if (!*val || !**val)
		return err_set(e, ERR_USAGE, "--%s: expected a value", f->name);
	return 0;
}

/* Records one occurrence, refusing a second of a single-valued flag. */
static int add_item(struct args *a, const struct args_flag *f,
		    const char *val, struct err *e)
{
	const struct args_item *prev = find_item(a, f->id);
	if (prev && f->kind != ARGS_LIST) {
		if (strcmp(prev->name, f->name) != 0)
			return err_set(e, ERR_USAGE, "--%s given twice (--%s is the "
			       "same flag)", f->name, prev->name);
		return err_set(e, ERR_USAGE, "--%s given twice", f->name);
	}
	size_t max = f->max ? f->max : ARGS_MAX_ITEMS;
	if (f->kind == ARGS_LIST && count_items(a, f->id) >= max)
		return err_set(e, ERR_USAGE, "--%s: more than %zu values",
			       f->name, max);
	if (a->n == ARGS_MAX_ITEMS)
		return err_set(e, ERR_USAGE, "more than %d flags",
			       ARGS_MAX_ITEMS);
	a->item[a->n++] = (struct args_item){f->id, f->name, val};
	return 0;
}

static int one_flag(const struct args_spec *s, int argc, char **argv, int *i,
		    struct args *a, struct err *e)
{
	const char *arg = argv[*i];
	bool dashes = arg[1] == '-'; /* one dash: never a flag but -h */
	const char *name = dashes ? arg + 2 : arg + 1;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct args_flag *f = dashes ? find_flag(s, name, len) : NULL;
	if (!f)
		return err_set(e, ERR_USAGE, "%.*s is not a flag of %s",
			       (int)(name - arg) +
				       (int)(len < NAME_SHOWN ? len : NAME_SHOWN),
			       arg, s->cmd);
	const char *val = NULL;
	if (f->kind == ARGS_BOOL)
		TRY(bool_value(f, eq, &val, e));
	else
		TRY(flag_value(f, eq, argc, argv, i, &val, e));
	return add_item(a, f, val, e);
}

int args_parse(const struct args_spec *s, int argc, char **argv,
	       struct args *a, struct err *e)
{
	memset(a, 0, sizeof(*a));
	a->next = argc;
	bool flags_over = false;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		bool flag = !flags_over && arg[0] == '-' && arg[1] != '\0';
		if (flag && strcmp(arg, "--") == 0) {
			flags_over = true;
			if (s->stop_at_positional) {
				a->next = i + 1;
				return 0;
			}
			continue;
		}
		if (flag && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
			a->help = true;
			a->next = i + 1;
			return 0;
		}
		if (flag) {
			TRY(one_flag(s, argc, argv, &i, a, e));
			continue;
		}
		if (s->stop_at_positional) {
			a->next = i;
			return 0;
		}
		if (a->npositional >= s->max_positional ||
		    a->npositional >= ARGS_MAX_POSITIONAL)
			return err_set(e, ERR_USAGE, "unexpected argument '%.*s'",
				       NAME_SHOWN, arg);
		a->positional[a->npositional++] = arg;
	}
	return 0;
}

const char *args_get(const struct args *a, int id)
{
	const struct args_item *it = find_item(a, id);
	return it ? it->value : NULL;
}

bool args_bool(const struct args *a, int id, bool dflt)
{
	const char *v = args_get(a, id);
	return v ? strcmp(v, "true") == 0 : dflt;
}

size_t args_list(const struct args *a, int id, const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (a->item[i].id != id)
			continue;
		if (n < max)
			out[n] = a->item[i].value;
		n++;
	}
	return n;
}

int args_fail(const char *prog, const struct err *e)
{
	fprintf(stderr, "%s: %s\n", prog, e->msg);
	return e->code == ERR_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
}
