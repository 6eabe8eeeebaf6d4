/*
 * cloud_args.c: command-line parsing for the cloud commands of nitro-keys
 * (kms_cmd.c, tls_cmd.c). Same conventions as the rest of nitro-keys:
 * --name=value or --name value, exit 2 with one line naming the flag on bad
 * usage, exit 1 with one line on a runtime failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tools/cloud_cmds.h"

int cloud_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "nitro-keys %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see --help)\n");
	return CLOUD_EXIT_USAGE;
}

int cloud_fail(const char *msg)
{
	fprintf(stderr, "nitro-keys: %s\n", msg);
	return CLOUD_EXIT_RUNTIME;
}

int cloud_parse(int argc, char **argv, struct cloud_flag *flags, size_t n,
		const char *cmd, bool *help)
{
	*help = false;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			*help = true;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0)
			return cloud_usage_error(cmd, "unexpected argument %s", arg);
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		struct cloud_flag *f = NULL;
		for (size_t k = 0; k < n; k++)
			if (strlen(flags[k].name) == nlen &&
			    strncmp(flags[k].name, name, nlen) == 0)
				f = &flags[k];
		if (!f)
			return cloud_usage_error(cmd, "unknown flag %s", arg);
		if (f->value)
			return cloud_usage_error(cmd, "--%s given twice", f->name);
		if (f->bool_flag) {
			if (eq)
				return cloud_usage_error(cmd, "--%s takes no value",
							 f->name);
			f->value = "1";
			continue;
		}
		const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!val || !*val)
			return cloud_usage_error(cmd, "--%s needs a value", f->name);
		f->value = val;
	}
	return 0;
}

const char *cloud_get(const struct cloud_flag *flags, size_t n,
		      const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (strcmp(flags[k].name, name) == 0)
			return flags[k].value;
	return NULL;
}
