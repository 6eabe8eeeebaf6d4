/*
 * test_args.c: core/args.c, the flag parser every binary uses: both
 * syntaxes, repeats refused naming the flag (repeatable flags kept in
 * order), unknown flags, missing and empty values, booleans, positional
 * arguments, `--`, --help, and a subcommand after the flags.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/core.h"

enum { T_OUT, T_KDF, T_FORCE, T_ALLOW, T_PATH, T_SECRET };

static const struct args_flag FLAGS[] = {
	{"out", ARGS_VALUE, T_OUT, 0},
	{"kdf", ARGS_VALUE, T_KDF, 0},
	{"force", ARGS_BOOL, T_FORCE, 0},
	{"allow", ARGS_LIST, T_ALLOW, 3},
	{"key-store-path", ARGS_VALUE, T_PATH, 0},
	{"key-config-path", ARGS_VALUE, T_PATH, 0}, /* an alias */
	{"secret-thing", ARGS_VALUE, T_SECRET, 0},
};

static struct args_spec spec(size_t max_positional)
{
	return (struct args_spec){.cmd = "test", .flags = FLAGS,
				  .nflags = sizeof(FLAGS) / sizeof(FLAGS[0]),
				  .max_positional = max_positional};
}

/* args_parse over a NULL-terminated list. */
static int parse(const struct args_spec *s, struct args *a, struct err *e,
		 ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, e);
	for (char *p; (p = va_arg(ap, char *));)
		argv[argc++] = p;
	va_end(ap);
	argv[argc] = NULL;
	memset(e, 0, sizeof(*e));
	return args_parse(s, argc, argv, a, e);
}

/* Refused as bad usage, with a message containing want. */
static void refused(const char *want, int rc, const struct err *e)
{
	assert_int_equal(rc, -ERR_USAGE);
	assert_int_equal(e->code, ERR_USAGE);
	if (!strstr(e->msg, want))
		fail_msg("message '%s' lacks '%s'", e->msg, want);
	assert_null(strchr(e->msg, '\n'));
}

static void test_both_syntaxes_give_the_value(void **state)
{
	struct args_spec s = spec(0);
	struct args a;
	struct err e;
	assert_int_equal(parse(&s, &a, &e, "--out=dir", "--kdf", "pbkdf2", NULL), 0);
	assert_string_equal(args_get(&a, T_OUT), "dir");
	assert_string_equal(args_get(&a, T_KDF), "pbkdf2");
	assert_null(args_get(&a, T_PATH));
	assert_int_equal(a.n, 2);
	assert_int_equal(a.item[0].id, T_OUT); /* command-line order */
	assert_string_equal(a.item[1].name, "kdf");
	assert_int_equal(a.next, 3);
	/* '=' inside a value, and a value that starts with one dash */
	assert_int_equal(parse(&s, &a, &e, "--out=a=b", "--kdf", "-", NULL), 0);
	assert_string_equal(args_get(&a, T_OUT), "a=b");
	assert_string_equal(args_get(&a, T_KDF), "-");
}

static void test_boolean_flags(void **state)
{
	struct args_spec s = spec(1);
	struct args a;
	struct err e;
	assert_int_equal(parse(&s, &a, &e, NULL), 0);
	assert_false(args_bool(&a, T_FORCE, false));
	assert_true(args_bool(&a, T_FORCE, true)); /* the default stands */
	assert_int_equal(parse(&s, &a, &e, "--force", NULL), 0);
	assert_true(args_bool(&a, T_FORCE, false));
	assert_int_equal(parse(&s, &a, &e, "--force=FALSE", NULL), 0);
	assert_false(args_bool(&a, T_FORCE, true));
	assert_string_equal(args_get(&a, T_FORCE), "false");
	assert_int_equal(parse(&s, &a, &e, "--force=true", NULL), 0);
	assert_true(args_bool(&a, T_FORCE, false));
	refused("--force: expected true or false, got 'maybe'",
		parse(&s, &a, &e, "--force=maybe", NULL), &e);
	/* A boolean never takes the next argument: it is a positional. */
	assert_int_equal(parse(&s, &a, &e, "--force", "false", NULL), 0);
	assert_true(args_bool(&a, T_FORCE, false));
	assert_string_equal(a.positional[0], "false");
}

static void test_repeated_single_flag_refused_naming_it(void **state)
{
	struct args_spec s = spec(0);
	struct args a;
	struct err e;
	refused("--out given twice",
		parse(&s, &a, &e, "--out=a", "--out=b", NULL), &e);
	refused("--out given twice",
		parse(&s, &a, &e, "--out=a", "--out", "a", NULL), &e);
	refused("--kdf given twice",
		parse(&s, &a, &e, "--kdf", "x", "--out=o", "--kdf=x", NULL), &e);
	refused("--force given twice",
		parse(&s, &a, &e, "--force", "--force=false", NULL), &e);
	/* Two names of one flag are one flag. */
	refused("--key-config-path given twice (--key-store-path is the same "
		"flag)",
		parse(&s, &a, &e, "--key-store-path=a", "--key-config-path=b",
		      NULL), &e);
}

static void test_repeatable_flag_collected_in_order(void **state)
{
	struct args_spec s = spec(0);
	struct args a;
	struct err e;
	const char *v[3] = {0};
	assert_int_equal(parse(&s, &a, &e, "--allow=h:1", "--out=o", "--allow",
			       "h:2", "--allow=h:1", NULL), 0);
	assert_int_equal(args_list(&a, T_ALLOW, v, 3), 3);
	assert_string_equal(v[0], "h:1");
	assert_string_equal(v[1], "h:2");
	assert_string_equal(v[2], "h:1");
	assert_string_equal(args_get(&a, T_ALLOW), "h:1");
	/* a short out array: the count is still the whole */
	v[1] = NULL;
	assert_int_equal(args_list(&a, T_ALLOW, v, 1), 3);
	assert_null(v[1]);
	assert_int_equal(args_list(&a, T_KDF, v, 3), 0);
	refused("--allow: more than 3 values",
		parse(&s, &a, &e, "--allow=1", "--allow=2", "--allow=3",
		      "--allow=4", NULL), &e);
}

static void test_unknown_flag_refused_naming_it(void **state)
{
	struct args_spec s = spec(0);
	struct args a;
	struct err e;
	refused("--nope is not a flag of test",
		parse(&s, &a, &e, "--nope", NULL), &e);
	/* named without its value (a value may be anything) */
	refused("--nope is not a flag of test",
		parse(&s, &a, &e, "--nope=hunter2", NULL), &e);
	assert_null(strstr(e.msg, "hunter2"));
	refused("-x is not a flag of test", parse(&s, &a, &e, "-x", NULL), &e);
	/* no prefixes, no single-dash long flags */
	refused("--ou is not a flag", parse(&s, &a, &e, "--ou=x", NULL), &e);
	refused("-out is not a flag", parse(&s, &a, &e, "-out=x", NULL), &e);
	/* a flag of the table that this command does not take */
	static const char *const only[] = {"out", NULL};
	s.only = only;
	refused("--kdf is not a flag of test",
		parse(&s, &a, &e, "--out=o", "--kdf=x", NULL), &e);
	assert_int_equal(parse(&s, &a, &e, "--out=o", NULL), 0);
}

static void test_missing_or_empty_value_refused(void **state)
{
	struct args_spec s = spec(1);
	struct args a;
	struct err e;
	refused("--out: expected a value", parse(&s, &a, &e, "--out", NULL), &e);
	refused("--out: expected a value",
		parse(&s, &a, &e, "--out=", NULL), &e);
	refused("--out: expected a value",
		parse(&s, &a, &e, "--out", "", NULL), &e);
	/* the next flag is not taken for the value */
	refused("--out: expected a value",
		parse(&s, &a, &e, "--out", "--kdf=x", NULL), &e);
	refused("--out: expected a value",
		parse(&s, &a, &e, "--out", "--", "x", NULL), &e);
}

static void test_positional_arguments(void **state)
{
	struct args_spec s = spec(2);
	struct args a;
	struct err e;
	assert_int_equal(parse(&s, &a, &e, "f1", "--out", "o", "f2", NULL), 0);
	assert_int_equal(a.npositional, 2);
	assert_string_equal(a.positional[0], "f1");
	assert_string_equal(a.positional[1], "f2");
	assert_string_equal(args_get(&a, T_OUT), "o");
	refused("unexpected argument 'f3'",
		parse(&s, &a, &e, "f1", "f2", "f3", NULL), &e);
	s = spec(0);
	refused("unexpected argument 'now'",
		parse(&s, &a, &e, "--out=o", "now", NULL), &e);
	/* a lone dash is an argument (stdin, by convention) */
	s = spec(1);
	assert_int_equal(parse(&s, &a, &e, "-", NULL), 0);
	assert_string_equal(a.positional[0], "-");
}

static void test_double_dash_ends_the_flags(void **state)
{
	struct args_spec s = spec(2);
	struct args a;
	struct err e;
	assert_int_equal(parse(&s, &a, &e, "--out=o", "--", "--kdf=x", "--",
			       NULL), 0);
	assert_null(args_get(&a, T_KDF));
	assert_int_equal(a.npositional, 2);
	assert_string_equal(a.positional[0], "--kdf=x");
	assert_string_equal(a.positional[1], "--");
}

static void test_help_stops_parsing(void **state)
{
	struct args_spec s = spec(0);
	struct args a;
	struct err e;
	assert_int_equal(parse(&s, &a, &e, "--out=o", "--help", "--nope", NULL), 0);
	assert_true(a.help);
	assert_int_equal(a.next, 2);
	assert_int_equal(parse(&s, &a, &e, "-h", NULL), 0);
	assert_true(a.help);
	/* an error before --help still counts */
	refused("--nope is not a flag",
		parse(&s, &a, &e, "--nope", "--help", NULL), &e);
	assert_int_equal(parse(&s, &a, &e, "--out=o", NULL), 0);
	assert_false(a.help);
}

static void test_stop_at_positional_leaves_the_subcommand(void **state)
{
	struct args_spec s = spec(0);
	s.stop_at_positional = true;
	struct args a;
	struct err e;
	assert_int_equal(parse(&s, &a, &e, "--out", "o", "eth2", "--out=x", NULL), 0);
	assert_int_equal(a.next, 2);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.npositional, 0);
	assert_int_equal(parse(&s, &a, &e, "--out=o", NULL), 0);
	assert_int_equal(a.next, 1);
	assert_int_equal(parse(&s, &a, &e, "--", "--out=x", NULL), 0);
	assert_int_equal(a.next, 1);
	assert_int_equal(a.n, 0);
}

static void test_item_count_bounded(void **state)
{
	static const struct args_flag many[] = {{"v", ARGS_LIST, 0, 0}};
	struct args_spec s = {.cmd = "test", .flags = many, .nflags = 1};
	static char *argv[ARGS_MAX_ITEMS + 1];
	for (int i = 0; i <= ARGS_MAX_ITEMS; i++)
		argv[i] = "--v=x";
	struct args a;
	struct err e = {0};
	assert_int_equal(args_parse(&s, ARGS_MAX_ITEMS, argv, &a, &e), 0);
	assert_int_equal(args_list(&a, 0, NULL, 0), ARGS_MAX_ITEMS);
	refused("--v: more than",
		args_parse(&s, ARGS_MAX_ITEMS + 1, argv, &a, &e), &e);
}

static void test_fail_exit_status(void **state)
{
	struct err usage = {.code = ERR_USAGE, .msg = "--x given twice"};
	struct err io = {.code = ERR_IO, .msg = "cannot read"};
	assert_int_equal(args_fail("test_args", &usage), EXIT_USAGE);
	assert_int_equal(args_fail("test_args", &io), EXIT_RUNTIME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_syntaxes_give_the_value),
		cmocka_unit_test(test_boolean_flags),
		cmocka_unit_test(test_repeated_single_flag_refused_naming_it),
		cmocka_unit_test(test_repeatable_flag_collected_in_order),
		cmocka_unit_test(test_unknown_flag_refused_naming_it),
		cmocka_unit_test(test_missing_or_empty_value_refused),
		cmocka_unit_test(test_positional_arguments),
		cmocka_unit_test(test_double_dash_ends_the_flags),
		cmocka_unit_test(test_help_stops_parsing),
		cmocka_unit_test(test_stop_at_positional_leaves_the_subcommand),
		cmocka_unit_test(test_item_count_bounded),
		cmocka_unit_test(test_fail_exit_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
