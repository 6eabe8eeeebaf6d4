/*
 * dynamodb.c: the DynamoDB calls nitro-signer makes (JSON 1.0, X-Amz-Target
 * DynamoDB_20120810.<Op>): GetItem, PutItem, UpdateItem, DeleteItem (with
 * condition expressions), Query and Scan (with LastEvaluatedKey pagination),
 * BatchWriteItem (with UnprocessedItems retried, bounded), DescribeTable
 * and CreateTable.
 *
 * Items stay in DynamoDB's own JSON ({"attr": {"S": ".."}}) as jansson
 * values; callers own the attribute vocabulary. What comes back is untrusted:
 * Items must be an array of objects, keys objects, counts integers.
 */
#include "aws_internal.h"

#include <stdio.h>
#include <string.h>

#define BATCH_MAX 25
#define BATCH_ROUNDS 8

static int call(struct aws_client *c, const char *op, json_t *req,
		json_t **resp, struct err *e)
{
	int rc = aws_client_call(c, AWS_SVC_DYNAMODB, op, req, resp, e);
	json_decref(req);
	return rc;
}

static int set(json_t *o, const char *k, json_t *v, struct err *e)
{
	if (!v || json_object_set_new(o, k, v) != 0)
		return err_set(e, ERR_INVALID, "DynamoDB: cannot set %s", k);
	return 0;
}

static int set_copy(json_t *o, const char *k, const json_t *v, struct err *e)
{
	return set(o, k, json_deep_copy(v), e);
}

static json_t *base_req(const char *table, struct err *e)
{
	if (!table || !*table || strlen(table) > 255) {
		err_set(e, ERR_USAGE, "DynamoDB: table name must be 1..255 characters");
		return NULL;
	}
	json_t *r = json_pack("{s:s}", "TableName", table);
	if (!r)
		err_set(e, ERR_INVALID, "DynamoDB: table name is not valid UTF-8");
	return r;
}

static int set_expr(json_t *req, const char *field,
		    const struct aws_ddb_expr *x, struct err *e)
{
	if (!x)
		return 0;
	if (x->expr)
		TRY(set(req, field, json_string(x->expr), e));
	if (x->names)
		TRY(set_copy(req, "ExpressionAttributeNames", x->names, e));
	if (x->values)
		TRY(set_copy(req, "ExpressionAttributeValues", x->values, e));
	return 0;
}

int aws_ddb_get_item(struct aws_client *c, const char *table,
		     const json_t *key, bool consistent, json_t **item,
		     struct err *e)
{
	*item = NULL;
	json_t *req = base_req(table, e), *resp = NULL;
	if (!req)
		return -ERR_USAGE;
	int rc = set_copy(req, "Key", key, e);
	if (rc == 0)
		rc = set(req, "ConsistentRead", json_boolean(consistent), e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	TRY(call(c, "GetItem", req, &resp, e));
	json_t *it = json_object_get(resp, "Item");
	if (it && !json_is_object(it))
		rc = err_set(e, ERR_INVALID, "DynamoDB GetItem: Item is not an object");
	else if (it)
		*item = json_incref(it);
	json_decref(resp);
	return rc;
}

/* PutItem and DeleteItem: the table, one object field, a condition. */
static int write_one(struct aws_client *c, const char *op, const char *table,
		     const char *field, const json_t *obj,
		     const struct aws_ddb_expr *cond, struct err *e)
{
	json_t *req = base_req(table, e), *resp = NULL;
	if (!req)
		return -ERR_USAGE;
	int rc = set_copy(req, field, obj, e);
	if (rc == 0)
		rc = set_expr(req, "ConditionExpression", cond, e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	TRY(call(c, op, req, &resp, e));
	json_decref(resp);
	return 0;
}

int aws_ddb_put_item(struct aws_client *c, const char *table,
		     const json_t *item, const struct aws_ddb_expr *cond,
		     struct err *e)
{
	return write_one(c, "PutItem", table, "Item", item, cond, e);
}

int aws_ddb_update_item(struct aws_client *c, const char *table,
			const json_t *key, const struct aws_ddb_expr *update,
			const char *condition, json_t **attrs, struct err *e)
{
	if (attrs)
		*attrs = NULL;
	json_t *req = base_req(table, e), *resp = NULL;
	if (!req)
		return -ERR_USAGE;
	int rc = set_copy(req, "Key", key, e);
	if (rc == 0)
		rc = set_expr(req, "UpdateExpression", update, e);
	if (rc == 0 && condition)
		rc = set(req, "ConditionExpression", json_string(condition), e);
	if (rc == 0 && attrs)
		rc = set(req, "ReturnValues", json_string("ALL_NEW"), e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	TRY(call(c, "UpdateItem", req, &resp, e));
	json_t *a = json_object_get(resp, "Attributes");
	if (attrs && a && !json_is_object(a))
		rc = err_set(e, ERR_INVALID,
			     "DynamoDB UpdateItem: Attributes is not an object");
	else if (attrs && a)
		*attrs = json_incref(a);
	json_decref(resp);
	return rc;
}

int aws_ddb_delete_item(struct aws_client *c, const char *table,
			const json_t *key, const struct aws_ddb_expr *cond,
			struct err *e)
{
	return write_one(c, "DeleteItem", table, "Key", key, cond, e);
}

/* ---- Query ---------------------------------------------------------------- */

static bool items_ok(const json_t *items)
{
	if (!json_is_array(items))
		return false;
	size_t i;
	const json_t *it;
	json_array_foreach(items, i, it) if (!json_is_object(it)) return false;
	return true;
}

int aws_ddb_query_page(struct aws_client *c, const struct aws_ddb_query *q,
		       const json_t *start, json_t **items, json_t **last_key,
		       struct err *e)
{
	*items = NULL;
	*last_key = NULL;
	json_t *req = base_req(q->table, e), *resp = NULL;
	if (!req)
		return -ERR_USAGE;
	int rc = set_expr(req, "KeyConditionExpression", &q->key_condition, e);
	if (rc == 0 && q->scan && q->key_condition.expr)
		rc = err_set(e, ERR_USAGE, "DynamoDB Scan: no key condition");
	if (rc == 0 && q->index)
		rc = set(req, "IndexName", json_string(q->index), e);
	if (rc == 0 && q->filter)
		rc = set(req, "FilterExpression", json_string(q->filter), e);
	if (rc == 0 && q->page_size)
		rc = set(req, "Limit", json_integer(q->page_size), e);
	if (rc == 0 && q->consistent)
		rc = set(req, "ConsistentRead", json_true(), e);
	if (rc == 0 && start)
		rc = set_copy(req, "ExclusiveStartKey", start, e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	const char *op = q->scan ? "Scan" : "Query";
	TRY(call(c, op, req, &resp, e));
	json_t *it = json_object_get(resp, "Items");
	json_t *lk = json_object_get(resp, "LastEvaluatedKey");
	if (!items_ok(it))
		rc = err_set(e, ERR_INVALID, "DynamoDB %s: Items is not an array "
			     "of items", op);
	else if (lk && !json_is_object(lk))
		rc = err_set(e, ERR_INVALID,
			     "DynamoDB %s: LastEvaluatedKey is not an object", op);
	if (rc == 0) {
		*items = json_incref(it);
		*last_key = lk ? json_incref(lk) : NULL;
	}
	json_decref(resp);
	return rc;
}

#define QUERY_MAX_PAGES 100000

int aws_ddb_query_all(struct aws_client *c, const struct aws_ddb_query *q,
		      json_t **items, unsigned *pages, struct err *e)
{
	*items = json_array();
	if (pages)
		*pages = 0;
	if (!*items)
		return err_set(e, ERR_NOMEM, "out of memory");
	json_t *start = NULL;
	int rc = 0;
	for (unsigned p = 0;; p++) {
		if (p >= QUERY_MAX_PAGES) {
			rc = err_set(e, ERR_TOO_LARGE, "DynamoDB Query: over %d pages",
				     QUERY_MAX_PAGES);
			break;
		}
		json_t *page = NULL, *next = NULL;
		rc = aws_ddb_query_page(c, q, start, &page, &next, e);
		json_decref(start);
		start = NULL;
		if (rc < 0)
			break;
		if (pages)
			(*pages)++;
		json_array_extend(*items, page);
		json_decref(page);
		if (q->max_items && json_array_size(*items) > q->max_items) {
			json_decref(next);
			rc = err_set(e, ERR_TOO_LARGE,
				     "DynamoDB Query: more than %zu items", q->max_items);
			break;
		}
		if (!next)
			break;
		start = next;
	}
	if (rc < 0) {
		json_decref(*items);
		*items = NULL;
	}
	return rc;
}

/* ---- BatchWriteItem ------------------------------------------------------------- */

static int batch_once(struct aws_client *c, const char *table, json_t *chunk,
		      json_t **unprocessed, struct err *e)
{
	*unprocessed = NULL;
	json_t *req = json_object(), *ri = json_object(), *resp = NULL;
	if (!req || !ri || json_object_set_new(req, "RequestItems", ri) != 0 ||
	    json_object_set(ri, table, chunk) != 0) {
		json_decref(req);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	TRY(call(c, "BatchWriteItem", req, &resp, e));
	const json_t *un = json_object_get(resp, "UnprocessedItems");
	int rc = 0;
	if (un && !json_is_object(un)) {
		rc = err_set(e, ERR_INVALID,
			     "DynamoDB BatchWriteItem: UnprocessedItems is not an object");
	} else if (un) {
		const json_t *mine = json_object_get(un, table);
		if (mine && !items_ok(mine))
			rc = err_set(e, ERR_INVALID, "DynamoDB BatchWriteItem: "
				     "UnprocessedItems is malformed");
		else if (mine && json_array_size(mine))
			*unprocessed = json_deep_copy(mine);
		if (mine && json_array_size(mine) > json_array_size(chunk))
			rc = err_set(e, ERR_INVALID, "DynamoDB BatchWriteItem: more "
				     "unprocessed items than sent");
	}
	json_decref(resp);
	if (rc < 0) {
		json_decref(*unprocessed);
		*unprocessed = NULL;
	}
	return rc;
}

/*
 * One chunk of up to 25 requests: sent, and what comes back unprocessed is
 * sent again after a jittered pause, BATCH_ROUNDS times at most. A failed
 * call (after the client's own retries) fails the whole chunk.
 */
static int batch_chunk(struct aws_client *c, const char *table, json_t *chunk,
		       json_t *failed, struct err *e)
{
	json_t *todo = json_incref(chunk);
	int rc = 0;
	for (unsigned round = 0; todo && round < BATCH_ROUNDS; round++) {
		if (round)
			aws_sleep_ms(aws_backoff_ms(round - 1, 50, 1000));
		json_t *left = NULL;
		rc = batch_once(c, table, todo, &left, e);
		if (rc < 0)
			break;
		json_decref(todo);
		todo = left;
	}
	if (todo) {
		json_array_extend(failed, todo);
		json_decref(todo);
		if (rc == 0)
			rc = err_set(e, ERR_UNAVAILABLE,
				     "DynamoDB BatchWriteItem: items still "
				     "unprocessed after %d rounds", BATCH_ROUNDS);
	}
	return rc;
}

int aws_ddb_batch_write(struct aws_client *c, const char *table,
			const json_t *requests, json_t **failed,
			struct err *e)
{
	*failed = json_array();
	if (!*failed)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (!items_ok(requests))
		return err_set(e, ERR_INVALID, "DynamoDB BatchWriteItem: requests must "
			       "be an array of objects");
	if (!table || !*table)
		return err_set(e, ERR_USAGE, "DynamoDB: a table name is required");
	size_t n = json_array_size(requests);
	int first_rc = 0;
	struct err first = {0};
	for (size_t i = 0; i < n; i += BATCH_MAX) {
		json_t *chunk = json_array();
		if (!chunk)
			return err_set(e, ERR_NOMEM, "out of memory");
		for (size_t k = i; k < n && k < i + BATCH_MAX; k++)
			json_array_append(chunk, json_array_get(requests, k));
		struct err ce = {0};
		int rc = batch_chunk(c, table, chunk, *failed, &ce);
		/* Keep going: every chunk gets its chance, failures are listed. */
		if (rc < 0 && first_rc == 0) {
			first_rc = rc;
			first = ce;
		}
		json_decref(chunk);
	}
	if (first_rc < 0 && e)
		*e = first;
	return first_rc;
}

/* ---- tables ------------------------------------------------------------------------ */

int aws_ddb_describe_table(struct aws_client *c, const char *table,
			   struct aws_ddb_table_info *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	json_t *req = base_req(table, e), *resp = NULL;
	if (!req)
		return -ERR_USAGE;
	TRY(call(c, "DescribeTable", req, &resp, e));
	const char *ctx = "DynamoDB DescribeTable";
	const json_t *t = json_object_get(resp, "Table");
	const json_t *ks = json_object_get(t, "KeySchema");
	const json_t *ad = json_object_get(t, "AttributeDefinitions");
	int rc = 0;
	if (!json_is_object(t) || !json_is_array(ks) || !json_is_array(ad))
		rc = err_set(e, ERR_INVALID, "%s: response has no Table/KeySchema", ctx);
	if (rc == 0)
		rc = aws_json_str(t, "TableStatus", false, out->status,
				  sizeof(out->status), e, ctx);
	size_t i;
	const json_t *k;
	json_array_foreach(ks, i, k) {
		if (rc < 0)
			break;
		char name[256], type[16];
		rc = aws_json_str(k, "AttributeName", true, name, sizeof(name), e, ctx);
		if (rc == 0)
			rc = aws_json_str(k, "KeyType", true, type, sizeof(type), e, ctx);
		if (rc < 0)
			break;
		if (strcmp(type, "HASH") == 0)
			snprintf(out->hash_key, sizeof(out->hash_key), "%s", name);
		else if (strcmp(type, "RANGE") == 0)
			snprintf(out->range_key, sizeof(out->range_key), "%s", name);
	}
	const json_t *d;
	json_array_foreach(ad, i, d) {
		if (rc < 0)
			break;
		char name[256], type[4];
		rc = aws_json_str(d, "AttributeName", true, name, sizeof(name), e, ctx);
		if (rc == 0)
			rc = aws_json_str(d, "AttributeType", true, type, sizeof(type),
					  e, ctx);
		if (rc < 0)
			break;
		if (strcmp(name, out->hash_key) == 0)
			snprintf(out->hash_type, sizeof(out->hash_type), "%s", type);
		if (out->range_key[0] && strcmp(name, out->range_key) == 0)
			snprintf(out->range_type, sizeof(out->range_type), "%s", type);
	}
	const json_t *cnt = json_object_get(t, "ItemCount");
	if (rc == 0 && json_is_integer(cnt) && json_integer_value(cnt) >= 0)
		out->item_count = (uint64_t)json_integer_value(cnt);
	if (rc == 0 && !out->hash_key[0])
		rc = err_set(e, ERR_INVALID, "%s: table has no HASH key", ctx);
	json_decref(resp);
	return rc;
}

static bool attr_type_ok(const char *t)
{
	return t && (strcmp(t, "S") == 0 || strcmp(t, "N") == 0 ||
		     strcmp(t, "B") == 0);
}

int aws_ddb_create_table(struct aws_client *c, const char *table,
			 const char *hash_key, const char *hash_type,
			 const char *range_key, const char *range_type,
			 struct err *e)
{
	if (!hash_key || !attr_type_ok(hash_type) ||
	    (range_key && !attr_type_ok(range_type)))
		return err_set(e, ERR_USAGE, "DynamoDB CreateTable: key attributes "
			       "need a name and a type S, N or B");
	json_t *req = base_req(table, e), *resp = NULL;
	if (!req)
		return -ERR_USAGE;
	json_t *ks = json_pack("[{s:s,s:s}]", "AttributeName", hash_key,
			       "KeyType", "HASH");
	json_t *ad = json_pack("[{s:s,s:s}]", "AttributeName", hash_key,
			       "AttributeType", hash_type);
	if (ks && ad && range_key) {
		json_array_append_new(ks, json_pack("{s:s,s:s}", "AttributeName",
						    range_key, "KeyType", "RANGE"));
		json_array_append_new(ad, json_pack("{s:s,s:s}", "AttributeName",
						    range_key, "AttributeType",
						    range_type));
	}
	int rc = set(req, "KeySchema", ks, e);
	if (rc == 0)
		rc = set(req, "AttributeDefinitions", ad, e);
	else
		json_decref(ad);
	if (rc == 0)
		rc = set(req, "BillingMode", json_string("PAY_PER_REQUEST"), e);
	if (rc < 0) {
		json_decref(req);
		return rc;
	}
	TRY(call(c, "CreateTable", req, &resp, e));
	json_decref(resp);
	return 0;
}

int aws_ddb_wait_active(struct aws_client *c, const char *table,
			long timeout_ms, struct err *e)
{
	uint64_t deadline = clock_mono_us() + (uint64_t)timeout_ms * 1000;
	for (unsigned i = 0;; i++) {
		struct aws_ddb_table_info ti;
		TRY(aws_ddb_describe_table(c, table, &ti, e));
		if (strcmp(ti.status, "ACTIVE") == 0)
			return 0;
		if (clock_mono_us() >= deadline)
			return err_set(e, ERR_UNAVAILABLE,
				       "DynamoDB table %s is still %s", table,
				       ti.status);
		aws_sleep_ms(i < 10 ? 50 : 500);
	}
}
