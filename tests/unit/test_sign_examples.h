/*
 * test_sign_examples.h: Web3Signer's sign request examples
 * (tests/unit/vectors/web3signer_sign_examples.json, Apache-2.0; see
 * test_eth2.c for their source), shared by the tests that need real
 * request bodies. Include after cmocka.h.
 */
#ifndef NS_TEST_SIGN_EXAMPLES_H
#define NS_TEST_SIGN_EXAMPLES_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file, or NULL (NS_SOURCE_DIR names the source tree). */
static json_t *sign_examples_load(void)
{
	char path[512];
	const char *src = getenv("NS_SOURCE_DIR");
	snprintf(path, sizeof(path),
		 "%s/tests/unit/vectors/web3signer_sign_examples.json",
		 src ? src : ".");
	return json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
}

/* A fresh copy of the named example request; fails the test if absent. */
static json_t *sign_example(const json_t *examples, const char *name)
{
	const json_t *arr = json_object_get(examples, "examples");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		const json_t *ex = json_array_get(arr, i);
		if (strcmp(json_string_value(json_object_get(ex, "name")),
			   name) == 0)
			return json_deep_copy(json_object_get(ex, "request"));
	}
	fail_msg("no example %s", name);
	return NULL;
}

#endif
