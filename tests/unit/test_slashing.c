/*
 * test_slashing.c: the slashing-protection engine (src/slashing/): every
 * block and attestation rule and its edges (watermark equality, surround in
 * both directions, repeats, source == target, genesis root binding,
 * disabled validators, high watermarks), durability across reopen, pruning
 * that keeps protection with a bounded size, the group commit under
 * concurrent conflicting requests (one handle, and two handles on one
 * store), and the evaluate command. Those run once per backend (a cmocka
 * group each: a real SQLite file per test, then a mem: store), so every
 * backend is held to the same answers. Then what only SQLite has (corrupt,
 * foreign and locked files), what only mem: has (a failed write rolls back)
 * and the table of URL schemes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>

#include "slashing/backend.h" /* slashing_mem_fail_writes, the test hook */
#include "test_slashing_util.h"

#define OK SLASHING_OK
/* What the complete backends (sqlite:, mem:) and the minimal one
 * (dynamodb://: only the newest block and vote) answer, where they differ;
 * docs/slashing.md, "DynamoDB", lists every such case. */
#define BY(complete, minimal) (fx_minimal() ? (minimal) : (complete))
#define BELOW SLASHING_BELOW_LOW_WATERMARK

/* ---- blocks ------------------------------------------------------------ */

static void test_block_first_allowed_and_durable(void **state)
{
	struct fx *f = *state;
	assert_int_equal(blk(f->db, 1, 100, 7), OK);
	fx_reopen(f);
	assert_int_equal(blk(f->db, 1, 100, 8), SLASHING_DOUBLE_PROPOSAL);
	assert_int_equal(blk(f->db, 1, 100, 7), OK); /* exact repeat */
}

static void test_block_double_proposal_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(blk(f->db, 1, 10, 1), OK);
	assert_int_equal(blk(f->db, 1, 11, 1), OK);
	assert_int_equal(blk(f->db, 1, 11, 2), SLASHING_DOUBLE_PROPOSAL);
	/* another validator at the same slot is independent */
	assert_int_equal(blk(f->db, 2, 11, 2), OK);
}

static void test_block_repeat_allowed_many_times(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(blk(f->db, 1, 50, 5), OK);
	assert_int_equal(blk(f->db, 1, 51, 6), OK);
	/* the repeat of an older block: only the newest is kept */
	assert_int_equal(blk(f->db, 1, 50, 5), BY(OK, BELOW));
	assert_int_equal(blk(f->db, 1, 51, 6), OK);
}

static void test_block_below_first_signed_slot_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(blk(f->db, 1, 100, 1), OK);
	assert_int_equal(blk(f->db, 1, 99, 2), SLASHING_BELOW_LOW_WATERMARK);
	assert_int_equal(blk(f->db, 1, 0, 2), SLASHING_BELOW_LOW_WATERMARK);
}

static void test_block_older_slot_above_watermark_allowed(void **state)
{
	/* Complete protection: no "must exceed the last slot" rule. */
	struct fx *f = *state;
	assert_int_equal(blk(f->db, 1, 10, 1), OK);
	assert_int_equal(blk(f->db, 1, 20, 2), OK);
	assert_int_equal(blk(f->db, 1, 15, 3), BY(OK, BELOW));
	assert_int_equal(blk(f->db, 1, 15, 4), BY(SLASHING_DOUBLE_PROPOSAL, BELOW));
}

static void test_block_at_low_watermark_only_exact_repeat(void **state)
{
	struct fx *f = *state;
	assert_int_equal(blk(f->db, 1, 5, 1), OK);
	struct slashing_watermark w = {.has_slot = true, .slot = 100};
	assert_int_equal(slashing_watermark_repair(f->db, &w, NULL), 0);
	assert_int_equal(blk(f->db, 1, 99, 2), SLASHING_BELOW_LOW_WATERMARK);
	assert_int_equal(blk(f->db, 1, 100, 2), SLASHING_BELOW_LOW_WATERMARK);
	assert_int_equal(blk(f->db, 1, 101, 2), OK);
	/* imported record exactly at the watermark: only its repeat passes */
	import_ok(f->db, "1 b200/9");
	assert_int_equal(blk(f->db, 1, 200, 9), OK);
	assert_int_equal(blk(f->db, 1, 200, 8), SLASHING_DOUBLE_PROPOSAL);
	assert_int_equal(blk(f->db, 1, 199, 8), SLASHING_BELOW_LOW_WATERMARK);
}

static void test_block_u64_extremes(void **state)
{
	struct fx *f = *state;
	assert_int_equal(blk(f->db, 1, UINT64_MAX, 1), OK);
	assert_int_equal(blk(f->db, 1, UINT64_MAX, 2), SLASHING_DOUBLE_PROPOSAL);
	assert_int_equal(blk(f->db, 2, 0, 1), OK);
	assert_int_equal(blk(f->db, 2, (uint64_t)INT64_MAX + 1, 1), OK);
	assert_int_equal(blk(f->db, 2, INT64_MAX, 1), BY(OK, BELOW));
	/* ordering holds across the sign bit: validator 1's lw is UINT64_MAX */
	assert_int_equal(blk(f->db, 1, INT64_MAX, 1), SLASHING_BELOW_LOW_WATERMARK);
}

/* ---- attestations ------------------------------------------------------ */

static void test_att_source_after_target_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(att(f->db, 1, 5, 4, 1), SLASHING_SOURCE_AFTER_TARGET);
	/* the refusal recorded nothing: a first vote below is still fine */
	assert_int_equal(att(f->db, 1, 3, 4, 1), OK);
}

static void test_att_source_equal_target_allowed(void **state)
{
	struct fx *f = *state;
	assert_int_equal(att(f->db, 1, 0, 0, 1), OK);
	assert_int_equal(att(f->db, 1, 0, 0, 1), OK);
	assert_int_equal(att(f->db, 1, 0, 0, 2), SLASHING_DOUBLE_VOTE);
	assert_int_equal(att(f->db, 1, 0, 1, 3), OK);
	assert_int_equal(att(f->db, 1, 1, 1, 4), SLASHING_DOUBLE_VOTE);
	assert_int_equal(att(f->db, 1, 2, 2, 4), OK);
}

static void test_att_double_vote_refused(void **state)
{
	struct fx *f = *state;
	assert_int_equal(att(f->db, 1, 2, 3, 1), OK);
	assert_int_equal(att(f->db, 1, 2, 3, 2), SLASHING_DOUBLE_VOTE);
	/* same target and root but another source is not a repeat */
	assert_int_equal(att(f->db, 1, 1, 3, 1), SLASHING_BELOW_LOW_WATERMARK);
	assert_int_equal(att(f->db, 1, 2, 5, 5), OK);
	assert_int_equal(att(f->db, 1, 3, 5, 5), SLASHING_DOUBLE_VOTE);
	/* exact repeat of an older vote */
	assert_int_equal(att(f->db, 1, 2, 3, 1), BY(OK, BELOW));
	assert_int_equal(att(f->db, 1, 2, 5, 5), OK);
}

static void test_att_surround_vote_refused(void **state)
{
	/* new (1, 10) surrounds recorded (3, 4): source < s and target > t */
	struct fx *f = *state;
	assert_int_equal(att(f->db, 1, 0, 1, 1), OK); /* watermark (0, 1) */
	assert_int_equal(att(f->db, 1, 3, 4, 2), OK);
	assert_int_equal(att(f->db, 1, 1, 10, 3), SLASHING_SURROUND_VOTE);
	/* touching bounds do not surround */
	assert_int_equal(att(f->db, 1, 3, 10, 3), OK);
}

static void test_att_surrounded_vote_refused(void **state)
{
	/* new (4, 5) is surrounded by recorded (2, 9) */
	struct fx *f = *state;
	assert_int_equal(att(f->db, 1, 1, 2, 1), OK);
	assert_int_equal(att(f->db, 1, 2, 9, 2), OK);
	assert_int_equal(att(f->db, 1, 4, 5, 3), SLASHING_SURROUNDED_VOTE);
	/* same source: not surrounded, but older than the newest vote */
	assert_int_equal(att(f->db, 1, 2, 5, 3), BY(OK, BELOW));
	assert_int_equal(att(f->db, 1, 4, 9, 4), SLASHING_DOUBLE_VOTE);
}

static void test_att_low_watermark_edges(void **state)
{
	struct fx *f = *state;
	import_ok(f->db, "1 a10-20/7");
	/* the minimal store names what the newest vote, (10, 20), makes of it */
	assert_int_equal(att(f->db, 1, 9, 21, 1), BY(BELOW, SLASHING_SURROUND_VOTE));
	assert_int_equal(att(f->db, 1, 10, 19, 1), SLASHING_BELOW_LOW_WATERMARK);
	/* target equal to the watermark: only the identical vote */
	assert_int_equal(att(f->db, 1, 10, 20, 8), SLASHING_DOUBLE_VOTE);
	assert_int_equal(att(f->db, 1, 10, 20, 7), OK);
	/* source equal to the watermark is fine (EIP-3076 condition 4 is <) */
	assert_int_equal(att(f->db, 1, 10, 21, 1), OK);
	/* a watermark with no record at it refuses the target itself */
	struct slashing_watermark w = {.has_epoch = true, .epoch = 30};
	assert_int_equal(slashing_watermark_repair(f->db, &w, NULL), 0);
	assert_int_equal(att(f->db, 1, 30, 30, 1), SLASHING_BELOW_LOW_WATERMARK);
	assert_int_equal(att(f->db, 1, 29, 31, 1), SLASHING_BELOW_LOW_WATERMARK);
	assert_int_equal(att(f->db, 1, 30, 31, 1), OK);
}

static void test_att_in_batch_sees_earlier_records(void **state)
{
	/* conflicting votes sent back to back: the later one is refused even
	 * when both land in one group commit (see the concurrency test). */
	struct fx *f = *state;
	assert_int_equal(att(f->db, 3, 1, 2, 1), OK);
	assert_int_equal(att(f->db, 3, 1, 2, 2), SLASHING_DOUBLE_VOTE);
}

/* ---- one message for many validators (the batch endpoint) ---------------- */

enum { MANY = 200 }; /* more than one ordinary batch (BATCH_MAX 64) */

static void many_request(uint8_t (*pks)[48], struct eth2_signing *sg,
			 uint64_t source, uint64_t target, uint64_t root)
{
	for (int i = 0; i < MANY; i++)
		pk_of(1000 + i, pks[i]);
	memset(sg, 0, sizeof(*sg));
	sg->type = ETH2_SIGN_ATTESTATION;
	sg->slashable = true;
	memcpy(sg->genesis_validators_root, GVR, 32);
	sg->source_epoch = source;
	sg->target_epoch = target;
	root_of(root, sg->signing_root);
}

static void test_many_decides_each_validator(void **state)
{
	struct fx *f = *state;
	/* three validators already voted in ways the batch's vote conflicts
	 * with; the others have no history */
	assert_int_equal(att(f->db, 1003, 5, 6, 7), OK);  /* double vote */
	assert_int_equal(att(f->db, 1050, 4, 7, 7), OK);  /* 5->6 is below it */
	assert_int_equal(att(f->db, 1199, 5, 6, 9), OK);  /* double vote */
	uint8_t (*pks)[48] = calloc(MANY, 48);
	enum slashing_reason d[MANY];
	struct eth2_signing sg;
	struct err e = {0};
	many_request(pks, &sg, 5, 6, 1);
	assert_int_equal(slashing_check_many(f->db, pks, MANY, &sg, d, &e), 0);
	for (int i = 0; i < MANY; i++) {
		enum slashing_reason want = i == 3 || i == 199 ? SLASHING_DOUBLE_VOTE
					  : i == 50 ? BY(SLASHING_BELOW_LOW_WATERMARK,
							 SLASHING_SURROUNDED_VOTE)
						    : OK;
		if (d[i] != want)
			fail_msg("validator %d: %s, want %s", i,
				 slashing_reason_code(d[i]),
				 slashing_reason_code(want));
	}
	/* recorded for each allowed one, as a single request would be: the
	 * exact repeat passes, a conflicting single vote is refused */
	assert_int_equal(att(f->db, 1000, 5, 6, 1), OK);
	assert_int_equal(att(f->db, 1100, 5, 6, 2), SLASHING_DOUBLE_VOTE);
	assert_int_equal(att(f->db, 1003, 5, 6, 7), OK);
	/* and the same batch again: repeats, the same three refusals */
	assert_int_equal(slashing_check_many(f->db, pks, MANY, &sg, d, &e), 0);
	int refused = 0;
	for (int i = 0; i < MANY; i++)
		refused += d[i] != OK;
	assert_int_equal(refused, 3);
	/* a non-slashable type is the caller's mistake */
	sg.type = ETH2_SIGN_RANDAO_REVEAL;
	assert_int_equal(slashing_check_many(f->db, pks, MANY, &sg, d, &e),
			 -ERR_INTERNAL);
	free(pks);
}

/* ---- database-wide rules ------------------------------------------------ */

static void test_gvr_bound_by_first_request(void **state)
{
	struct fx *f = *state;
	assert_int_equal(att_g(f->db, 1, 1, 2, 1, GVR_OTHER), OK);
	assert_int_equal(att_g(f->db, 2, 1, 2, 1, GVR), SLASHING_GVR_MISMATCH);
	assert_int_equal(blk_g(f->db, 1, 5, 1, GVR), SLASHING_GVR_MISMATCH);
	assert_int_equal(blk_g(f->db, 1, 5, 1, GVR_OTHER), OK);
	/* an import for another chain changes nothing */
	struct err e = {0};
	assert_int_equal(import_g(f->db, GVR, "1 b100", &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "genesis_validators_root"));
	assert_int_equal(blk_g(f->db, 1, 50, 1, GVR_OTHER), OK);
}

static void test_gvr_refusal_does_not_bind(void **state)
{
	struct fx *f = *state;
	/* a refused first request (source > target) binds nothing */
	assert_int_equal(att_g(f->db, 1, 3, 2, 1, GVR_OTHER),
			 SLASHING_SOURCE_AFTER_TARGET);
	assert_int_equal(att_g(f->db, 1, 1, 2, 1, GVR), OK);
	assert_int_equal(att_g(f->db, 1, 2, 3, 1, GVR_OTHER), SLASHING_GVR_MISMATCH);
}

static void test_disabled_validator_refused(void **state)
{
	struct fx *f = *state;
	uint8_t pk[48];
	assert_int_equal(att(f->db, 1, 1, 2, 1), OK);
	pk_of(1, pk);
	assert_int_equal(slashing_set_validator_enabled(f->db, pk, false, NULL), 0);
	assert_int_equal(att(f->db, 1, 2, 3, 1), SLASHING_VALIDATOR_DISABLED);
	assert_int_equal(blk(f->db, 1, 9, 1), SLASHING_VALIDATOR_DISABLED);
	assert_int_equal(att(f->db, 1, 1, 2, 1), SLASHING_VALIDATOR_DISABLED);
	fx_reopen(f); /* it stays refused */
	assert_int_equal(att(f->db, 1, 2, 3, 1), SLASHING_VALIDATOR_DISABLED);
	/* an unknown key disabled before it ever signed */
	pk_of(9, pk);
	assert_int_equal(slashing_set_validator_enabled(f->db, pk, false, NULL), 0);
	assert_int_equal(blk(f->db, 9, 9, 1), SLASHING_VALIDATOR_DISABLED);
	pk_of(1, pk);
	assert_int_equal(slashing_set_validator_enabled(f->db, pk, true, NULL), 0);
	assert_int_equal(att(f->db, 1, 2, 3, 1), OK);
	assert_int_equal(att(f->db, 1, 1, 2, 9), BY(SLASHING_DOUBLE_VOTE, BELOW));
}

static void test_high_watermark(void **state)
{
	struct fx *f = *state;
	struct slashing_watermark hw = {0};
	assert_int_equal(slashing_get_high_watermark(f->db, &hw, NULL), 0);
	assert_false(hw.has_slot || hw.has_epoch);
	struct slashing_watermark half = {.has_slot = true, .slot = 1};
	assert_int_equal(slashing_set_high_watermark(f->db, &half, NULL), -ERR_USAGE);
	struct slashing_watermark w = {true, 1000, true, 40};
	assert_int_equal(slashing_set_high_watermark(f->db, &w, NULL), 0);
	assert_int_equal(slashing_get_high_watermark(f->db, &hw, NULL), 0);
	assert_true(hw.has_slot && hw.slot == 1000 && hw.has_epoch && hw.epoch == 40);
	assert_int_equal(blk(f->db, 1, 999, 1), OK);
	assert_int_equal(blk(f->db, 1, 1000, 1), SLASHING_AT_OR_ABOVE_HIGH_WATERMARK);
	assert_int_equal(att(f->db, 1, 38, 39, 1), OK);
	assert_int_equal(att(f->db, 1, 39, 40, 1), SLASHING_AT_OR_ABOVE_HIGH_WATERMARK);
	assert_int_equal(att(f->db, 1, 40, 41, 1), SLASHING_AT_OR_ABOVE_HIGH_WATERMARK);
	assert_int_equal(slashing_remove_high_watermark(f->db, NULL), 0);
	assert_int_equal(slashing_get_high_watermark(f->db, &hw, NULL), 0);
	assert_false(hw.has_slot || hw.has_epoch);
	assert_int_equal(blk(f->db, 1, 1000, 1), OK);
	assert_int_equal(att(f->db, 1, 39, 40, 1), OK);
}

static void test_watermark_repair_never_lowers(void **state)
{
	struct fx *f = *state;
	assert_int_equal(blk(f->db, 1, 500, 1), OK);
	assert_int_equal(att(f->db, 1, 50, 60, 1), OK);
	struct slashing_watermark w = {true, 100, true, 10};
	assert_int_equal(slashing_watermark_repair(f->db, &w, NULL), 0);
	assert_int_equal(blk(f->db, 1, 499, 2), SLASHING_BELOW_LOW_WATERMARK);
	assert_int_equal(att(f->db, 1, 49, 61, 2), BY(BELOW, SLASHING_SURROUND_VOTE));
	assert_int_equal(att(f->db, 1, 50, 60, 2), SLASHING_DOUBLE_VOTE);
	struct slashing_watermark none = {0};
	assert_int_equal(slashing_watermark_repair(f->db, &none, NULL), -ERR_USAGE);
}

static void test_reason_codes_distinct(void **state)
{
	(void)state;
	for (int i = 0; i < SLASHING_REASON_COUNT; i++) {
		const char *a = slashing_reason_code((enum slashing_reason)i);
		assert_string_not_equal(a, "unknown");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a, slashing_reason_code(
							   (enum slashing_reason)j));
	}
	assert_string_equal(slashing_reason_code(SLASHING_DOUBLE_VOTE), "double_vote");
	assert_string_equal(slashing_reason_code(SLASHING_SURROUND_VOTE), "surround_vote");
	assert_string_equal(slashing_reason_code(SLASHING_BELOW_LOW_WATERMARK),
			    "below_low_watermark");
}

static void test_check_dispatches_signing_types(void **state)
{
	struct fx *f = *state;
	struct eth2_signing sg = {0};
	uint8_t pk[48];
	pk_of(1, pk);
	memcpy(sg.genesis_validators_root, GVR, 32);
	sg.slashable = true;
	sg.type = ETH2_SIGN_BLOCK_V2;
	sg.block_slot = 77;
	sg.signing_root[0] = 1;
	enum slashing_reason d;
	assert_int_equal(slashing_check(f->db, pk, &sg, &d, NULL), 0);
	assert_int_equal(d, OK);
	sg.signing_root[0] = 2;
	sg.type = ETH2_SIGN_BLOCK;
	assert_int_equal(slashing_check(f->db, pk, &sg, &d, NULL), 0);
	assert_int_equal(d, SLASHING_DOUBLE_PROPOSAL);
	sg.type = ETH2_SIGN_ATTESTATION;
	sg.source_epoch = 3;
	sg.target_epoch = 2;
	assert_int_equal(slashing_check(f->db, pk, &sg, &d, NULL), 0);
	assert_int_equal(d, SLASHING_SOURCE_AFTER_TARGET);
	sg.type = ETH2_SIGN_RANDAO_REVEAL;
	assert_int_equal(slashing_check(f->db, pk, &sg, &d, NULL), -ERR_INTERNAL);
}

/* ---- pruning ------------------------------------------------------------ */

static void test_prune_keeps_protection(void **state)
{
	struct fx *f = *state;
	/* an odd history: (40, 41) then (45, 46) ... with one wide vote */
	for (uint64_t t = 1; t <= 100; t++)
		assert_int_equal(att(f->db, 1, t - 1, t, t), OK);
	for (uint64_t s = 0; s < 3200; s += 32)
		assert_int_equal(blk(f->db, 1, s, s + 1), OK);
	assert_int_equal(slashing_prune(f->db, 10, 32, NULL), 0);
	uint64_t blocks, atts;
	fx_records(f->db, &blocks, &atts);
	/* the minimal store holds one of each all along */
	assert_int_equal(atts, BY(10, 1));
	assert_int_equal(blocks, BY(10, 1));
	/* everything pruned stays refused */
	assert_int_equal(att(f->db, 1, 50, 51, 999), SLASHING_BELOW_LOW_WATERMARK);
	/* kept: exact repeat */
	assert_int_equal(att(f->db, 1, 90, 91, 91), BY(OK, BELOW));
	assert_int_equal(att(f->db, 1, 90, 91, 1), BY(SLASHING_DOUBLE_VOTE, BELOW));
	/* surrounding a pruned vote (89, 90) needs source < 89: refused */
	assert_int_equal(att(f->db, 1, 80, 200, 1), BY(BELOW, SLASHING_SURROUND_VOTE));
	assert_int_equal(blk(f->db, 1, 0, 1), SLASHING_BELOW_LOW_WATERMARK);
	assert_int_equal(blk(f->db, 1, 2880, 2881), BY(OK, BELOW));
	assert_int_equal(blk(f->db, 1, 2880, 7), BY(SLASHING_DOUBLE_PROPOSAL, BELOW));
	assert_int_equal(att(f->db, 1, 100, 101, 1), OK);
	/* invalid parameters */
	assert_int_equal(slashing_prune(f->db, 0, 32, NULL), -ERR_INVALID);
}

static void test_prune_folds_wide_pruned_vote_into_source_watermark(void **state)
{
	/* An imported (slashable) history where a pruned vote (70, 62) has a
	 * higher source than the votes kept: (69, 81) would surround it, so
	 * pruning must raise the source watermark to 70 (taking the first kept
	 * vote's source, 61, as Web3Signer does, would allow it). */
	struct fx *f = *state;
	assert_int_equal(att(f->db, 1, 60, 61, 1), OK);
	import_ok(f->db, "1 a50-55 a70-62 a61-79 a61-80");
	assert_int_equal(att(f->db, 1, 69, 81, 1), SLASHING_SURROUND_VOTE);
	assert_int_equal(slashing_prune(f->db, 2, 32, NULL), 0);
	uint64_t blocks, atts;
	fx_records(f->db, &blocks, &atts);
	assert_int_equal(atts, BY(2, 1));
	assert_int_equal(att(f->db, 1, 69, 81, 1), BY(BELOW, SLASHING_SURROUND_VOTE));
	assert_int_equal(att(f->db, 1, 70, 81, 1), OK);
}

static void test_prune_bounds_rows_per_validator(void **state)
{
	struct fx *f = *state;
	slashing_set_pruning(f->db, 20, 4, 0);
	for (uint64_t t = 1; t <= 600; t++) {
		assert_int_equal(att(f->db, 1, t - 1, t, t), OK);
		if (t % 7 == 0)
			assert_int_equal(blk(f->db, 1, t * 4, t), OK);
		if (t % 50 == 0)
			assert_int_equal(slashing_prune(f->db, 20, 4, NULL), 0);
	}
	uint64_t blocks, atts;
	fx_records(f->db, &blocks, &atts);
	assert_true(atts <= 20);
	assert_true(blocks <= 20 * 4 / 28 + 2);
	struct slashing_usage u;
	assert_int_equal(slashing_usage(f->db, &u, NULL), 0);
	if (fx_minimal()) /* a remote store: no byte count */
		assert_true(!u.has_bytes && u.has_records && u.validators == 1);
	else
		assert_true(u.has_bytes && u.bytes > 0 && u.bytes < 200 * 1024);
}

/* ---- failures ------------------------------------------------------------ */

static void test_corrupt_file_refused_at_open(void **state)
{
	struct fx *f = *state;
	assert_int_equal(blk(f->db, 1, 1, 1), OK);
	slashing_close(f->db);
	f->db = NULL;
	char bad[160];
	snprintf(bad, sizeof(bad), "%s/garbage.db", f->dir);
	FILE *g = fopen(bad, "wb");
	for (int i = 0; i < 4096; i++)
		fputc(i * 7 & 0xff, g);
	fclose(g);
	char url[200];
	snprintf(url, sizeof(url), "sqlite:%s", bad);
	struct err e = {0};
	struct slashing_db *db = NULL;
	assert_int_equal(slashing_open(url, NULL, &db, &e), -ERR_UNAVAILABLE);
	assert_null(db);
	assert_non_null(strstr(e.msg, bad));
	fx_open(f);
}

static void test_corrupt_page_refused_at_open(void **state)
{
	struct fx *f = *state;
	for (uint64_t t = 1; t < 400; t++)
		assert_int_equal(att(f->db, 1, t - 1, t, t), OK);
	slashing_close(f->db);
	f->db = NULL;
	/* fold the WAL in, then scribble over an index page */
	sqlite3 *c;
	assert_int_equal(sqlite3_open(f->path, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c, "PRAGMA wal_checkpoint(TRUNCATE); "
					 "PRAGMA journal_mode=DELETE", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(c);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(st.st_size >= 4 * 4096);
	int fd = open(f->path, O_WRONLY);
	char junk[512];
	memset(junk, 0x5a, sizeof(junk));
	for (off_t off = 4096 + 100; off + 512 < st.st_size; off += 4096)
		assert_int_equal(pwrite(fd, junk, sizeof(junk), off), 512);
	close(fd);
	struct err e = {0};
	assert_int_equal(slashing_open(f->url, NULL, &f->db, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "corrupt"));
	unlink(f->path);
	fx_open(f);
}

static void test_not_our_database_refused(void **state)
{
	struct fx *f = *state;
	char other[160], url[200];
	snprintf(other, sizeof(other), "%s/other.db", f->dir);
	sqlite3 *c;
	assert_int_equal(sqlite3_open(other, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c, "CREATE TABLE x(y); PRAGMA user_version=1",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
	snprintf(url, sizeof(url), "sqlite:%s", other);
	struct slashing_db *db = NULL;
	struct err e = {0};
	assert_int_equal(slashing_open(url, NULL, &db, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "not a nitro-signer"));
	assert_int_equal(slashing_open("postgres://x", NULL, &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("sqlite:", NULL, &db, &e), -ERR_USAGE);
	snprintf(url, sizeof(url), "sqlite:%s/no/such/dir/x.db", f->dir);
	assert_int_equal(slashing_open(url, NULL, &db, &e), -ERR_UNAVAILABLE);
}

static void test_locked_database_fails_closed(void **state)
{
	/* Another process holds the write lock past the busy timeout: the
	 * request fails with an error (the signer answers 503), nothing is
	 * allowed, health says why; afterwards everything works again. */
	struct fx *f = *state;
	assert_int_equal(att(f->db, 1, 1, 2, 1), OK);
	sqlite3 *c;
	assert_int_equal(sqlite3_open(f->path, &c), SQLITE_OK);
	assert_int_equal(sqlite3_exec(c, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	uint8_t pk[48], r[32];
	pk_of(1, pk);
	root_of(2, r);
	enum slashing_reason d = SLASHING_REASON_COUNT;
	struct err e = {0};
	assert_int_equal(slashing_check_attestation(f->db, pk, GVR, 2, 3, r, &d, &e),
			 -ERR_UNAVAILABLE);
	assert_int_equal(d, SLASHING_REASON_COUNT);
	assert_non_null(strstr(e.msg, "locked"));
	assert_int_equal(slashing_health(f->db, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "last write failed"));
	assert_int_equal(sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(c);
	assert_int_equal(att(f->db, 1, 2, 3, 2), OK);
	assert_int_equal(slashing_health(f->db, &e), 0);
}

/* ---- concurrency ------------------------------------------------------- */

#define RACERS 64

struct racer {
	struct slashing_db *db;
	int id; /* also makes the root: unique across all races */
	int validator;
	enum slashing_reason d;
	int rc;
};

static void *race_double_vote(void *arg)
{
	struct racer *r = arg;
	uint8_t pk[48], root[32];
	pk_of(r->validator, pk);
	root_of(1000 + (uint64_t)r->id, root);
	r->rc = slashing_check_attestation(r->db, pk, GVR, 10, 11, root, &r->d, NULL);
	return NULL;
}

static void *race_surround(void *arg)
{
	struct racer *r = arg;
	uint8_t pk[48], root[32];
	pk_of(r->validator, pk);
	root_of(1000 + (uint64_t)r->id, root);
	/* nested intervals: every pair surrounds or double-votes */
	uint64_t k = (uint64_t)(r->id % RACERS);
	uint64_t s = 20 + k, t = 200 - k;
	r->rc = slashing_check_attestation(r->db, pk, GVR, s, t, root, &r->d, NULL);
	return NULL;
}

static void *race_many_validators(void *arg)
{
	struct racer *r = arg;
	uint8_t pk[48], root[32];
	pk_of(r->validator, pk);
	root_of(7, root);
	r->rc = slashing_check_attestation(r->db, pk, GVR, 30, 31, root, &r->d, NULL);
	return NULL;
}

static int race_ids;

/* RACERS threads at once, alternating between db and db2 (two handles on
 * one store, or the same handle twice). */
static int run_race2(struct slashing_db *db, struct slashing_db *db2,
		     void *(*fn)(void *), bool same_validator)
{
	pthread_t th[RACERS];
	struct racer r[RACERS];
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){i % 2 ? db2 : db, race_ids++,
				      same_validator ? 1 : 100 + i, 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, fn, &r[i]), 0);
	}
	int allowed = 0;
	for (int i = 0; i < RACERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].rc, 0);
		allowed += r[i].d == OK;
	}
	return allowed;
}

static int run_race(struct slashing_db *db, void *(*fn)(void *), bool same_validator)
{
	return run_race2(db, db, fn, same_validator);
}

static void test_concurrent_conflicting_votes_at_most_one(void **state)
{
	struct fx *f = *state;
	for (int round = 0; round < 5; round++) {
		assert_int_equal(run_race(f->db, race_double_vote, true), round == 0);
	}
	assert_int_equal(run_race(f->db, race_surround, true), 1);
	assert_int_equal(run_race(f->db, race_many_validators, false), RACERS);
	/* and the one that won is durable */
	fx_reopen(f);
	assert_int_equal(run_race(f->db, race_double_vote, true), 0);
}

/* ---- evaluate ---------------------------------------------------------- */

static void test_evaluate_command(void **state)
{
	struct fx *f = *state;
	slashing_close(f->db); /* the command opens its own */
	f->db = NULL;
	char pk[99], pk2[99], r1[67], r2[67];
	uint8_t b[48];
	pk_of(1, b);
	hex_encode(b, 48, pk);
	pk_of(2, b);
	hex_encode(b, 48, pk2);
	uint8_t rb[32];
	root_of(1, rb);
	hex_encode(rb, 32, r1);
	root_of(2, rb);
	hex_encode(rb, 32, r2);
	char in[4096];
	snprintf(in, sizeof(in),
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\",\"block\":{\"slot\":\"5\"}}\n"
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\",\"block\":{\"slot\":\"5\"}}\n"
		 "\n"
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\",\"attestation\":"
		 "{\"source_epoch\":\"1\",\"target_epoch\":\"2\"},\"extra\":1}\n"
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\",\"attestation\":"
		 "{\"source_epoch\":\"0\",\"target_epoch\":\"3\"}}\n"
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\",\"attestation\":"
		 "{\"source_epoch\":\"01\",\"target_epoch\":\"3\"}}\n"
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\",\"block\":{\"slot\":6}}\n"
		 "{\"pubkey\":\"0x12\",\"signing_root\":\"%s\",\"block\":{\"slot\":\"6\"}}\n"
		 "not json\n"
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\"}\n"
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\",\"block\":{\"slot\":\"6\"},"
		 "\"attestation\":{}}\n"
		 "{\"pubkey\":\"%s\",\"signing_root\":\"%s\",\"block\":{\"slot\":\"6\"}}\n",
		 pk, r1, pk, r2, pk, r1, pk, r2, pk, r2, pk2, r1, r1, pk2, r1, pk2,
		 r1, pk2, r1);
	FILE *fin = fmemopen(in, strlen(in), "r");
	char *obuf = NULL;
	size_t olen = 0;
	FILE *fout = open_memstream(&obuf, &olen);
	struct err e = {0};
	assert_int_equal(slashing_cmd_evaluate(f->url, &fx_opts, GVR, false, fin, fout, NULL, &e),
			 0);
	fclose(fin);
	fclose(fout);
	const char *want[] = {
		"{\"allowed\":true}",
		"{\"allowed\":false,\"reason\":\"double_proposal\"}",
		"{\"allowed\":true}",
		fx_minimal() ? "{\"allowed\":false,\"reason\":\"surround_vote\"}"
			     : "{\"allowed\":false,\"reason\":\"below_low_watermark\"}",
		"{\"error\":\"attestation.source_epoch",
		"{\"error\":\"block.slot: expected a decimal string\"}",
		"{\"error\":\"pubkey: expected 48 bytes",
		"{\"error\":\"invalid JSON",
		"{\"error\":\"exactly one of block or attestation",
		"{\"error\":\"exactly one of block or attestation",
		"{\"allowed\":true}", /* nothing was recorded for pk2 before */
	};
	char *save = NULL, *line = strtok_r(obuf, "\n", &save);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_non_null(line);
		if (strncmp(line, want[i], strlen(want[i])) != 0)
			fail_msg("line %zu: got %s, want %s", i, line, want[i]);
		line = strtok_r(NULL, "\n", &save);
	}
	assert_null(line);
	free(obuf);
	fx_open(f);
	/* evaluate recorded through the same transaction as signing */
	assert_int_equal(blk(f->db, 1, 5, 2), SLASHING_DOUBLE_PROPOSAL);
	assert_int_equal(blk(f->db, 1, 5, 1), OK);
}

/* ---- the non-blocking path -------------------------------------------- */

struct async_tally {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	int done, allowed, refused_double, errors;
};

static void async_done(void *arg, int rc, enum slashing_reason d,
		       const struct err *e)
{
	struct async_tally *t = arg;
	pthread_mutex_lock(&t->lock);
	t->done++;
	if (rc < 0)
		t->errors++;
	else if (d == OK)
		t->allowed++;
	else if (d == SLASHING_DOUBLE_VOTE)
		t->refused_double++;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->lock);
}

static void test_async_conflicting_votes_at_most_one(void **state)
{
	struct fx *f = *state;
	struct async_tally t = {PTHREAD_MUTEX_INITIALIZER,
				PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
	uint8_t pk[48];
	pk_of(3, pk);
	enum { N = 200 };
	for (int i = 0; i < N; i++) {
		struct eth2_signing sg = {0};
		memcpy(sg.genesis_validators_root, GVR, 32);
		sg.slashable = true;
		sg.type = ETH2_SIGN_ATTESTATION;
		sg.source_epoch = 10;
		sg.target_epoch = 11;
		sg.signing_root[0] = (uint8_t)i;
		sg.signing_root[1] = (uint8_t)(i >> 8);
		assert_int_equal(slashing_check_async(f->db, pk, &sg, async_done,
						      &t, NULL), 0);
	}
	pthread_mutex_lock(&t.lock);
	while (t.done < N)
		pthread_cond_wait(&t.cv, &t.lock);
	pthread_mutex_unlock(&t.lock);
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.allowed, 1);
	assert_int_equal(t.refused_double, N - 1);
	/* and the decision is durable: the same vote with another root is
	 * still refused through the blocking path */
	enum slashing_reason d;
	uint8_t root[32] = {0xEE};
	assert_int_equal(slashing_check_attestation(f->db, pk, GVR, 10, 11,
						    root, &d, NULL), 0);
	assert_int_equal(d, SLASHING_DOUBLE_VOTE);
}

static void test_async_refuses_non_slashable_type(void **state)
{
	struct fx *f = *state;
	struct eth2_signing sg = {0};
	sg.type = ETH2_SIGN_RANDAO_REVEAL;
	uint8_t pk[48];
	pk_of(4, pk);
	struct err e = {0};
	assert_true(slashing_check_async(f->db, pk, &sg, async_done, NULL, &e) <
		    0);
}

static void async_tally_wait(struct async_tally *t, int n)
{
	pthread_mutex_lock(&t->lock);
	while (t->done < n)
		pthread_cond_wait(&t->cv, &t->lock);
	pthread_mutex_unlock(&t->lock);
}

/* Queues a vote (source 10, target) on db without waiting. */
static void vote_async(struct slashing_db *db, int v, uint64_t target,
		       uint64_t root, struct async_tally *t)
{
	struct eth2_signing sg = {0};
	memcpy(sg.genesis_validators_root, GVR, 32);
	sg.slashable = true;
	sg.type = ETH2_SIGN_ATTESTATION;
	sg.source_epoch = 10;
	sg.target_epoch = target;
	root_of(root, sg.signing_root);
	uint8_t pk[48];
	pk_of(v, pk);
	assert_int_equal(slashing_check_async(db, pk, &sg, async_done, t, NULL), 0);
}

struct round {
	struct slashing_db *db;
	uint64_t target;
	int parity; /* roots: even on one handle, odd on the other */
	struct async_tally *tally;
	pthread_barrier_t *start;
};

enum { PER_HANDLE = 32 };

static void *queue_round(void *arg)
{
	struct round *r = arg;
	pthread_barrier_wait(r->start);
	for (int i = 0; i < PER_HANDLE; i++)
		vote_async(r->db, 3, r->target, 2 * (uint64_t)i + (uint64_t)r->parity,
			   r->tally);
	return NULL;
}

static void test_two_handles_on_one_store_at_most_one_vote(void **state)
{
	/* Two signers on one store (two processes on one SQLite file, two
	 * opens of one mem:NAME): each handle has its own committer, so only
	 * the store keeps their batches apart. Threads racing on both, then
	 * rounds in which two threads queue conflicting votes on the two
	 * handles at once, so that both committers decide them together. */
	struct fx *f = *state;
	struct slashing_db *db2 = NULL;
	struct err e = {0};
	assert_int_equal(slashing_open(f->url, &fx_opts, &db2, &e), 0);
	for (int round = 0; round < 3; round++)
		assert_int_equal(run_race2(f->db, db2, race_double_vote, true),
				 round == 0);
	assert_int_equal(run_race2(f->db, db2, race_surround, true), 1);
	/* each handle sees what the other recorded */
	assert_int_equal(att(db2, 1, 10, 11, 1), BY(SLASHING_DOUBLE_VOTE, BELOW));
	assert_int_equal(att(f->db, 2, 5, 6, 1), OK);
	assert_int_equal(att(db2, 2, 5, 6, 2), SLASHING_DOUBLE_VOTE);
	/* A long history to look through keeps each check busy for a while,
	 * widening the moment in which the batches would overlap. */
	/* (The minimal store has no history to look through.) */
	const uint64_t HISTORY = BY(20000, 200);
	enum { ROUNDS = 100 };
	struct async_tally h = {PTHREAD_MUTEX_INITIALIZER,
				PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
	for (uint64_t t = 0; t < HISTORY; t++)
		vote_async(f->db, 3, 11 + t, 1, &h);
	async_tally_wait(&h, HISTORY);
	assert_int_equal(h.allowed, HISTORY);
	for (uint64_t n = 0; n < ROUNDS; n++) {
		struct async_tally t = {PTHREAD_MUTEX_INITIALIZER,
					PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, 2);
		struct round r[2] = {{f->db, 11 + HISTORY + n, 0, &t, &start},
				     {db2, 11 + HISTORY + n, 1, &t, &start}};
		pthread_t th[2];
		for (int k = 0; k < 2; k++)
			assert_int_equal(pthread_create(&th[k], NULL, queue_round,
							&r[k]), 0);
		for (int k = 0; k < 2; k++)
			pthread_join(th[k], NULL);
		async_tally_wait(&t, 2 * PER_HANDLE);
		pthread_barrier_destroy(&start);
		assert_int_equal(t.errors, 0);
		if (t.allowed != 1)
			fail_msg("round %llu: %d of the conflicting votes allowed",
				 (unsigned long long)n, t.allowed);
	}
	slashing_close(db2);
}

/* ---- mem: only -------------------------------------------------------------- */

static void test_mem_failed_batch_stores_nothing(void **state)
{
	/* The writes fail part way through the first record (after the
	 * validator, the chain binding and the vote were written; before the
	 * watermark): every request fails, none is allowed, and nothing of
	 * the batch stays, not even the chain binding. */
	struct fx *f = *state;
	const char *name = f->url + strlen("mem:");
	assert_int_equal(slashing_mem_fail_writes(name, 3), 0);
	struct async_tally t = {PTHREAD_MUTEX_INITIALIZER,
				PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};
	enum { N = 20 };
	for (int i = 0; i < N; i++) {
		struct eth2_signing sg = {0};
		memcpy(sg.genesis_validators_root, GVR, 32);
		sg.slashable = true;
		sg.type = ETH2_SIGN_ATTESTATION;
		sg.source_epoch = 1;
		sg.target_epoch = 2;
		uint8_t pk[48];
		pk_of(100 + i, pk);
		assert_int_equal(slashing_check_async(f->db, pk, &sg, async_done,
						      &t, NULL), 0);
	}
	async_tally_wait(&t, N);
	assert_int_equal(t.errors, N);
	assert_int_equal(t.allowed, 0);
	struct err e = {0};
	assert_int_equal(slashing_health(f->db, &e), -ERR_UNAVAILABLE);
	assert_non_null(strstr(e.msg, "injected"));
	uint64_t blocks = 1, atts = 1;
	fx_records(f->db, &blocks, &atts);
	assert_int_equal(atts, 0);
	struct slashing_usage u;
	assert_int_equal(slashing_usage(f->db, &u, NULL), 0);
	assert_int_equal(u.validators, 0);
	char *out = NULL;
	assert_int_equal(slashing_export(f->db, NULL, 0, &out, NULL), -ERR_NOT_FOUND);
	/* writes work again: another chain may bind, no vote conflicts */
	assert_int_equal(slashing_mem_fail_writes(name, -1), 0);
	assert_int_equal(att_g(f->db, 100, 1, 2, 99, GVR_OTHER), OK);
	assert_int_equal(slashing_health(f->db, &e), 0);
}

static void test_mem_many_is_one_commit(void **state)
{
	/* A write fails near the end of the group, past several ordinary
	 * batches' worth of messages: had the group been split into commits,
	 * the first ones would have stayed. One transaction: none stays. */
	struct fx *f = *state;
	const char *name = f->url + strlen("mem:");
	uint8_t (*pks)[48] = calloc(MANY, 48);
	enum slashing_reason d[MANY];
	struct eth2_signing sg;
	struct err e = {0};
	many_request(pks, &sg, 1, 2, 1);
	assert_int_equal(slashing_mem_fail_writes(name, 3 * MANY), 0);
	assert_int_equal(slashing_check_many(f->db, pks, MANY, &sg, d, &e),
			 -ERR_UNAVAILABLE);
	uint64_t blocks = 1, atts = 1;
	fx_records(f->db, &blocks, &atts);
	assert_int_equal(atts, 0);
	assert_int_equal(slashing_mem_fail_writes(name, -1), 0);
	assert_int_equal(slashing_check_many(f->db, pks, MANY, &sg, d, &e), 0);
	fx_records(f->db, &blocks, &atts);
	assert_int_equal(atts, MANY);
	free(pks);
}

static void test_mem_failed_import_and_prune_change_nothing(void **state)
{
	struct fx *f = *state;
	const char *name = f->url + strlen("mem:");
	for (uint64_t t = 1; t <= 40; t++)
		assert_int_equal(att(f->db, 1, t - 1, t, t), OK);
	char *before = NULL, *after = NULL;
	assert_int_equal(slashing_export(f->db, NULL, 0, &before, NULL), 0);
	assert_int_equal(slashing_mem_fail_writes(name, 5), 0);
	struct err e = {0};
	assert_int_equal(import_g(f->db, GVR, "1 a50-51 a51-52 a52-53;2 a1-2 a2-3;"
					      "3 b1 b2", &e), -ERR_UNAVAILABLE);
	assert_int_equal(slashing_mem_fail_writes(name, 1), 0);
	assert_int_equal(slashing_prune(f->db, 5, 32, &e), -ERR_UNAVAILABLE);
	assert_int_equal(slashing_mem_fail_writes(name, -1), 0);
	assert_int_equal(slashing_export(f->db, NULL, 0, &after, NULL), 0);
	assert_string_equal(before, after);
	free(before);
	free(after);
	uint64_t blocks, atts;
	fx_records(f->db, &blocks, &atts);
	assert_int_equal(atts, 40);
}

static void test_mem_private_store_dies_with_its_handle(void **state)
{
	(void)state;
	struct slashing_db *a = NULL, *b = NULL;
	assert_int_equal(slashing_open("mem:", &fx_opts, &a, NULL), 0);
	assert_int_equal(slashing_open("mem:", &fx_opts, &b, NULL), 0);
	assert_int_equal(att(a, 1, 1, 2, 1), OK);
	assert_int_equal(att(b, 1, 1, 2, 2), OK); /* another store */
	slashing_close(a);
	assert_int_equal(slashing_open("mem:", &fx_opts, &a, NULL), 0);
	assert_int_equal(att(a, 1, 1, 2, 3), OK);
	slashing_close(a);
	slashing_close(b);
	assert_int_equal(slashing_mem_fail_writes("never-opened", 1),
			 -ERR_NOT_FOUND);
}

/* ---- the table of backends --------------------------------------------------- */

static void test_open_picks_backend_by_scheme(void **state)
{
	(void)state;
	struct slashing_db *db = NULL;
	struct err e = {0};
	assert_int_equal(slashing_open("postgres://x", NULL, &db, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "expected sqlite:PATH, mem:[NAME]"));
	assert_non_null(strstr(e.msg, "dynamodb://TABLE?region=R"));
	assert_int_equal(slashing_url_check("dynamodb://tbl?region=eu-west-1",
					    NULL, &e), 0);
	/* malformed DynamoDB URLs fail at open, naming the problem */
	assert_int_equal(slashing_open("dynamodb:tbl", NULL, &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("dynamodb://a", NULL, &db, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "3..255"));
	assert_int_equal(slashing_open("dynamodb://t/x", NULL, &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("dynamodb://tbl?color=red", NULL, &db, &e),
			 -ERR_USAGE);
	assert_non_null(strstr(e.msg, "color"));
	assert_int_equal(slashing_open("dynamodb://tbl?region=a&region=b", NULL,
				       &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("dynamodb://tbl?region", NULL, &db, &e),
			 -ERR_USAGE);
	assert_int_equal(slashing_url_check("postgres://x", NULL, &e), -ERR_USAGE);
	assert_int_equal(slashing_url_check("sqlite:/x.db", NULL, &e), 0);
	assert_int_equal(slashing_url_check("mem:x", NULL, &e), -ERR_USAGE);
	assert_int_equal(slashing_url_check("mem:x", &fx_opts, &e), 0);
	assert_int_equal(slashing_open(NULL, NULL, &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("sqlite", NULL, &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("SQLITE:/x.db", NULL, &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("sqlite:", NULL, &db, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "sqlite:PATH"));
	/* a store that dies with the process only when asked for */
	assert_int_equal(slashing_open("mem:x", NULL, &db, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "mem:x keeps nothing across a restart"));
	assert_int_equal(slashing_open("mem:", NULL, &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("sqlite::memory:", NULL, &db, &e), -ERR_USAGE);
	assert_non_null(strstr(e.msg, "sqlite::memory: keeps nothing"));
	assert_null(db);
	char long_name[300];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	memcpy(long_name, "mem:", 4);
	assert_int_equal(slashing_open(long_name, &fx_opts, &db, &e), -ERR_USAGE);
	assert_int_equal(slashing_open("sqlite::memory:", &fx_opts, &db, &e), 0);
	assert_int_equal(att(db, 1, 1, 2, 1), OK);
	slashing_close(db);
	/* the commands open with the caller's options too */
	FILE *in = fmemopen((char *)"\n", 1, "r");
	char *obuf = NULL;
	size_t olen = 0;
	FILE *out = open_memstream(&obuf, &olen);
	assert_int_equal(slashing_cmd_evaluate("mem:cmd", NULL, GVR, false, in, out, NULL, &e),
			 -ERR_USAGE);
	assert_int_equal(slashing_cmd_evaluate("mem:cmd", &fx_opts, GVR, false, in,
					       out, NULL, &e), 0);
	fclose(in);
	fclose(out);
	free(obuf);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	/* Every backend gives these the same answers. */
	const struct CMUnitTest on_every_backend[] = {
		T(test_block_first_allowed_and_durable),
		T(test_block_double_proposal_refused),
		T(test_block_repeat_allowed_many_times),
		T(test_block_below_first_signed_slot_refused),
		T(test_block_older_slot_above_watermark_allowed),
		T(test_block_at_low_watermark_only_exact_repeat),
		T(test_block_u64_extremes),
		T(test_att_source_after_target_refused),
		T(test_att_source_equal_target_allowed),
		T(test_att_double_vote_refused),
		T(test_att_surround_vote_refused),
		T(test_att_surrounded_vote_refused),
		T(test_att_low_watermark_edges),
		T(test_att_in_batch_sees_earlier_records),
		T(test_many_decides_each_validator),
		T(test_gvr_bound_by_first_request),
		T(test_gvr_refusal_does_not_bind),
		T(test_disabled_validator_refused),
		T(test_high_watermark),
		T(test_watermark_repair_never_lowers),
		T(test_check_dispatches_signing_types),
		T(test_prune_keeps_protection),
		T(test_prune_folds_wide_pruned_vote_into_source_watermark),
		T(test_prune_bounds_rows_per_validator),
		T(test_concurrent_conflicting_votes_at_most_one),
		T(test_two_handles_on_one_store_at_most_one_vote),
		T(test_async_conflicting_votes_at_most_one),
		T(test_async_refuses_non_slashable_type),
		T(test_evaluate_command),
	};
	const struct CMUnitTest sqlite_only[] = {
		T(test_corrupt_file_refused_at_open),
		T(test_corrupt_page_refused_at_open),
		T(test_not_our_database_refused),
		T(test_locked_database_fails_closed),
	};
	const struct CMUnitTest mem_only[] = {
		T(test_mem_failed_batch_stores_nothing),
		T(test_mem_many_is_one_commit),
		T(test_mem_failed_import_and_prune_change_nothing),
		cmocka_unit_test(test_mem_private_store_dies_with_its_handle),
	};
	const struct CMUnitTest no_backend[] = {
		cmocka_unit_test(test_reason_codes_distinct),
		cmocka_unit_test(test_open_picks_backend_by_scheme),
	};
	int failed = FX_RUN_ON_EVERY_BACKEND(on_every_backend);
	failed += cmocka_run_group_tests_name("sqlite only", sqlite_only,
					      fx_on_sqlite, NULL);
	failed += cmocka_run_group_tests_name("mem only", mem_only, fx_on_mem,
					      NULL);
	failed += cmocka_run_group_tests_name("no backend", no_backend, NULL,
					      NULL);
	return failed;
}
