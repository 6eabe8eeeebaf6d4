/*
 * json.c: the one entry point for parsing untrusted JSON text (request
 * bodies, keystores, interchange files, evaluate lines, control frames,
 * AWS responses). Duplicate keys are refused: two values for one field
 * would let two parsers of the same bytes disagree.
 */
#include "core.h"

#include <jansson.h>

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
