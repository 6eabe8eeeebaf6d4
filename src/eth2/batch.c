/*
 * batch.c: the body of the batch endpoint, POST /api/v1/eth2/sign, as the
 * remote-signing-api proposal has it (ethereum/remote-signing-api PR #29,
 * "Add generic, batch, and distributed signing profiles", open):
 *   {"identifiers": ["0x<pubkey>", ...], "signing_request": {<one request>}}
 * One signing request for every listed key. The request is parsed and its
 * signing root computed once, by the same code as the single-key route
 * (signing.c); the signer then treats each key as its own request.
 *
 * Refused (-ERR_INVALID, the field named): not a JSON object; identifiers
 * missing, not an array, empty, or more than ETH2_BATCH_MAX_IDS; an
 * identifier that is not a 48-byte hex key ("0x" optional, as on the
 * single-key route's path); the same key twice (compared decoded, so case
 * and prefix do not hide a duplicate: the proposal's rule); a type outside
 * the proposal's list (the types whose message does not name the
 * validator: AGGREGATION_SLOT, ATTESTATION, RANDAO_REVEAL,
 * SYNC_COMMITTEE_MESSAGE, SYNC_COMMITTEE_SELECTION_PROOF; its GENERIC is
 * not implemented); and everything the single-key parser refuses in
 * signing_request, its message prefixed "signing_request.". Unknown keys
 * are ignored, as in a signing request.
 *
 * Trusts: nothing in the body. Memory: the parse has a budget, on top of
 * the HTTP server's body cap.
 */
#include "eth2_internal.h"

#include <stdlib.h>
#include <string.h>

/* jansson costs about 50 times the text for tiny values: 1 MiB of body
 * stays well inside this. */
#define BATCH_PARSE_BUDGET (64u * 1024 * 1024)

#define BIT(t) (UINT32_C(1) << (t))
static const uint32_t BATCH_TYPES =
	BIT(ETH2_SIGN_AGGREGATION_SLOT) | BIT(ETH2_SIGN_ATTESTATION) |
	BIT(ETH2_SIGN_RANDAO_REVEAL) | BIT(ETH2_SIGN_SYNC_COMMITTEE_MESSAGE) |
	BIT(ETH2_SIGN_SYNC_COMMITTEE_SELECTION_PROOF);

bool eth2_batch_type_allowed(enum eth2_sign_type t)
{
	return (unsigned)t < ETH2_SIGN_COUNT && (BATCH_TYPES & BIT(t));
}

void eth2_batch_free(struct eth2_batch *b)
{
	if (!b)
		return;
	free(b->pubkeys);
	free(b->ids);
	b->pubkeys = NULL;
	b->ids = NULL;
	b->n = 0;
}

/* identifiers[i]: "0x" (or "0X") optional, then exactly 96 hex digits. */
static int decode_id(json_t *v, size_t i, uint8_t pk[BLS_PUBKEY_LEN],
		     char id[ETH2_BATCH_ID_MAX + 1], struct err *e)
{
	const char *s = json_string_value(v);
	const char *hex = s && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
				  ? s + 2 : s;
	char buf[ETH2_BATCH_ID_MAX + 1];
	if (!s || strlen(hex) != 2 * BLS_PUBKEY_LEN)
		return err_set(e, ERR_INVALID,
			       "identifiers[%zu]: expected a public key, 0x and "
			       "96 hex digits", i);
	snprintf(buf, sizeof(buf), "0x%s", hex);
	if (hex_decode_exact(buf, pk, BLS_PUBKEY_LEN, NULL, "identifier") < 0)
		return err_set(e, ERR_INVALID,
			       "identifiers[%zu]: expected a public key, 0x and "
			       "96 hex digits", i);
	snprintf(id, ETH2_BATCH_ID_MAX + 1, "%s", s);
	return 0;
}

static int by_key_then_index(const void *a, const void *b, void *arg)
{
	const uint8_t (*keys)[BLS_PUBKEY_LEN] = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = memcmp(keys[x], keys[y], BLS_PUBKEY_LEN);
	return c ? c : x < y ? -1 : x > y;
}

/* The first repeated key, named by its later position. */
static int refuse_duplicates(const struct eth2_batch *b, struct err *e)
{
	size_t *order = malloc(b->n * sizeof(*order));
	if (!order)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < b->n; i++)
		order[i] = i;
	qsort_r(order, b->n, sizeof(*order), by_key_then_index, b->pubkeys);
	size_t first = SIZE_MAX, again = SIZE_MAX;
	for (size_t i = 1; i < b->n; i++) {
		if (memcmp(b->pubkeys[order[i - 1]], b->pubkeys[order[i]],
			   BLS_PUBKEY_LEN) != 0 || order[i] >= again)
			continue;
		first = order[i - 1];
		again = order[i];
	}
	free(order);
	if (again == SIZE_MAX)
		return 0;
	return err_set(e, ERR_INVALID,
		       "identifiers[%zu]: the same public key as "
		       "identifiers[%zu]", again, first);
}

static int parse_ids(json_t *body, struct eth2_batch *b, struct err *e)
{
	json_t *ids = json_object_get(body, "identifiers");
	if (!ids || json_is_null(ids))
		return err_set(e, ERR_INVALID, "identifiers: missing");
	if (!json_is_array(ids))
		return err_set(e, ERR_INVALID,
			       "identifiers: expected an array of public keys");
	size_t n = json_array_size(ids);
	if (n == 0)
		return err_set(e, ERR_INVALID, "identifiers: empty");
	if (n > ETH2_BATCH_MAX_IDS)
		return err_set(e, ERR_INVALID,
			       "identifiers: %zu public keys, at most %d in one "
			       "batch", n, ETH2_BATCH_MAX_IDS);
	b->pubkeys = malloc(n * sizeof(*b->pubkeys));
	b->ids = malloc(n * sizeof(*b->ids));
	if (!b->pubkeys || !b->ids)
		return err_set(e, ERR_NOMEM, "out of memory");
	b->n = n;
	for (size_t i = 0; i < n; i++)
		TRY(decode_id(json_array_get(ids, i), i, b->pubkeys[i], b->ids[i],
			      e));
	return refuse_duplicates(b, e);
}

static int parse_request(const struct eth2_network *net, json_t *body,
			 struct eth2_signing *sg, struct err *e)
{
	char p[J_PATH];
	json_t *req;
	TRY(j_object(body, "", "signing_request", &req, p, e));
	/* from here on the messages name fields inside signing_request */
	enum eth2_sign_type t;
	int rc = eth2_signing_type(req, &t, e);
	if (rc == 0 && !eth2_batch_type_allowed(t))
		rc = err_set(e, ERR_INVALID,
			     "type: %s is not signed in a batch (only "
			     "AGGREGATION_SLOT, ATTESTATION, RANDAO_REVEAL, "
			     "SYNC_COMMITTEE_MESSAGE and "
			     "SYNC_COMMITTEE_SELECTION_PROOF are)",
			     eth2_sign_type_name(t));
	if (rc == 0)
		rc = eth2_signing_from_json(net, req, sg, e);
	if (rc < 0 && e)
		err_prefix(e, "signing_request.");
	return rc;
}

int eth2_batch_parse(const struct eth2_network *net, const char *text,
		     size_t len, struct eth2_batch *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	json_t *body = NULL;
	int rc = json_parse_bounded(text, len, "body", BATCH_PARSE_BUDGET, &body,
				    e);
	if (rc == -ERR_TOO_LARGE) { /* the client's document, not our state */
		char msg[sizeof(e->msg)];
		snprintf(msg, sizeof(msg), "%s", e ? e->msg : "body: too large");
		rc = err_set(e, ERR_INVALID, "%s", msg);
	}
	if (rc < 0)
		return rc;
	if (!json_is_object(body))
		rc = err_set(e, ERR_INVALID, "body: expected a JSON object");
	if (rc == 0)
		rc = parse_ids(body, out, e);
	if (rc == 0)
		rc = parse_request(net, body, &out->sg, e);
	json_decref(body);
	if (rc < 0)
		eth2_batch_free(out);
	return rc;
}
