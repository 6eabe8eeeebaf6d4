/*
 * network.c: the networks a signer can serve (--network) and their fork
 * schedules, presets and genesis validators roots.
 *
 * Built in: mainnet, hoodi, sepolia, holesky (fork versions and epochs from
 * Teku's network configs; GLOAS versions from consensus-specs' mainnet config
 * and Lodestar's network configs, hoodi's by its pattern; genesis validators
 * roots from ethstaker-deposit-cli;
 * see reference/web3signer-eth2-api.md section 13; genesis times from the
 * eth-clients network metadata, 12-second slots) and "minimal". Presets are
 * consensus-specs presets/{mainnet,minimal}/{phase0,altair}.yaml plus the
 * constants SYNC_COMMITTEE_SUBNET_COUNT and DEPOSIT_CONTRACT_TREE_DEPTH.
 * GLOAS is unscheduled (FAR) on every built-in network until a date is set:
 * the version of an unscheduled fork is never used, so scheduling Gloas on a
 * public network is an epoch in the table below, and on a devnet a config
 * file with GLOAS_FORK_VERSION and GLOAS_FORK_EPOCH.
 *
 * Anything else is read as a consensus-spec config YAML file (libyaml's
 * document loader; only top-level scalar keys we know are read, the rest,
 * including nested values such as BLOB_SCHEDULE, is ignored). Such a file
 * has a clock (the clock guard's) only when it says GENESIS_TIME, our key.
 *
 * eth2_clock_check is the clock guard's rule, pure arithmetic on the
 * network's clock; where "now" comes from is the caller's business.
 *
 * Trusts: the operator's config file for values, not for syntax: every value
 * goes through the strict hex/decimal parsers, and fork epochs must not
 * decrease.
 */
#include "eth2_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define CONFIG_MAX_BYTES (1024 * 1024)
#define FAR ETH2_FAR_FUTURE_EPOCH

static const char *const fork_names[ETH2_FORK_COUNT] = {
	"PHASE0", "ALTAIR", "BELLATRIX", "CAPELLA", "DENEB", "ELECTRA", "FULU",
	"GLOAS",
};

const char *eth2_fork_name(enum eth2_fork f)
{
	return (unsigned)f < ETH2_FORK_COUNT ? fork_names[f] : "UNKNOWN";
}

int eth2_fork_from_name(const char *s, enum eth2_fork *out)
{
	for (int f = 0; f < ETH2_FORK_COUNT; f++) {
		if (strcmp(s, fork_names[f]) == 0) {
			*out = (enum eth2_fork)f;
			return 0;
		}
	}
	return -ERR_INVALID;
}

enum eth2_fork eth2_fork_at_epoch(const struct eth2_network *n, uint64_t epoch)
{
	for (int f = ETH2_FORK_COUNT - 1; f > ETH2_FORK_PHASE0; f--) {
		uint64_t at = n->forks[f].epoch;
		if (at != FAR && at <= epoch)
			return (enum eth2_fork)f;
	}
	return ETH2_FORK_PHASE0;
}

enum eth2_fork eth2_fork_at_slot(const struct eth2_network *n, uint64_t slot)
{
	return eth2_fork_at_epoch(n, slot / n->preset.slots_per_epoch);
}

int eth2_epoch_at_time(const struct eth2_network *n, uint64_t now,
		       uint64_t *epoch, struct err *e)
{
	if (n->genesis_time == 0 || n->seconds_per_slot == 0)
		return err_set(e, ERR_INVALID,
			       "network %s: genesis time unknown", n->name);
	if (now < n->genesis_time)
		return err_set(e, ERR_INVALID,
			       "network %s: the clock (%llu) is before genesis (%llu)",
			       n->name, (unsigned long long)now,
			       (unsigned long long)n->genesis_time);
	*epoch = (now - n->genesis_time) / n->seconds_per_slot /
		 n->preset.slots_per_epoch;
	return 0;
}

/* The current epoch at `now`, 0 before genesis; the genesis time is known. */
static uint64_t current_epoch(const struct eth2_network *n, uint64_t now)
{
	if (now < n->genesis_time)
		return 0;
	return (now - n->genesis_time) / n->seconds_per_slot /
	       n->preset.slots_per_epoch;
}

int eth2_clock_check(const struct eth2_network *n,
		     const struct eth2_signing *sg, uint64_t now,
		     uint64_t window, struct eth2_clock_verdict *out,
		     struct err *e)
{
	memset(out, 0, sizeof(*out));
	if (n->genesis_time == 0 || n->seconds_per_slot == 0)
		return err_set(e, ERR_INVALID,
			       "network %s: genesis time unknown", n->name);
	switch (sg->type) {
	case ETH2_SIGN_BLOCK:
	case ETH2_SIGN_BLOCK_V2:
		out->message_epoch = sg->block_slot / n->preset.slots_per_epoch;
		break;
	case ETH2_SIGN_ATTESTATION:
		out->message_epoch = sg->target_epoch;
		break;
	default:
		return err_set(e, ERR_INVALID, "%s is not a slashable type",
			       eth2_sign_type_name(sg->type));
	}
	out->current_epoch = current_epoch(n, now);
	out->future = out->message_epoch > out->current_epoch;
	out->distance = out->future ? out->message_epoch - out->current_epoch
				    : out->current_epoch - out->message_epoch;
	out->other_chain = n->has_genesis_validators_root &&
			   memcmp(n->genesis_validators_root,
				  sg->genesis_validators_root, 32) != 0;
	out->allowed = !out->other_chain && out->distance <= window;
	return 0;
}

/* ---- presets ------------------------------------------------------------ */

static const struct eth2_preset preset_mainnet = {
	.name = "mainnet",
	.slots_per_epoch = 32,
	.max_validators_per_committee = 2048,
	.max_committees_per_slot = 64,
	.sync_committee_size = 512,
	.sync_committee_subnet_count = 4,
	.max_proposer_slashings = 16,
	.max_attester_slashings = 2,
	.max_attestations = 128,
	.max_deposits = 16,
	.max_voluntary_exits = 16,
	.deposit_contract_tree_depth = 32,
};

static const struct eth2_preset preset_minimal = {
	.name = "minimal",
	.slots_per_epoch = 8,
	.max_validators_per_committee = 2048,
	.max_committees_per_slot = 4,
	.sync_committee_size = 32,
	.sync_committee_subnet_count = 4,
	.max_proposer_slashings = 16,
	.max_attester_slashings = 2,
	.max_attestations = 128,
	.max_deposits = 16,
	.max_voluntary_exits = 16,
	.deposit_contract_tree_depth = 32,
};

/* ---- built-in networks ---------------------------------------------- */

struct builtin {
	const char *name;
	const struct eth2_preset *preset;
	uint32_t versions[ETH2_FORK_COUNT]; /* big-endian as written */
	uint64_t epochs[ETH2_FORK_COUNT];
	const char *gvr; /* NULL: none known */
	uint64_t genesis_time, seconds_per_slot; /* 0: unknown */
};

/*
 * "minimal" is for tests and local devnets. consensus-specs'
 * configs/minimal.yaml leaves ALTAIR..GLOAS unscheduled (FAR_FUTURE); we
 * schedule every released fork (through FULU) at epoch 0 instead, so a
 * minimal-preset chain runs the newest released fork from genesis, as local
 * devnets do; GLOAS stays unscheduled like everywhere else. A minimal chain
 * with another schedule (a Gloas devnet) is a config file away
 * (PRESET_BASE: 'minimal').
 */
static const struct builtin builtins[] = {
	{"mainnet", &preset_mainnet,
	 {0x00000000, 0x01000000, 0x02000000, 0x03000000, 0x04000000,
	  0x05000000, 0x06000000, 0x07000000},
	 {0, 74240, 144896, 194048, 269568, 364032, 411392, FAR},
	 "0x4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
	 1606824023, 12},
	{"sepolia", &preset_mainnet,
	 {0x90000069, 0x90000070, 0x90000071, 0x90000072, 0x90000073,
	  0x90000074, 0x90000075, 0x90000076},
	 {0, 50, 100, 56832, 132608, 222464, 272640, FAR},
	 "0xd8ea171f3c94aea21ebc42a1ed61052acf3f9209c00e4efbaaddac09ed9b8078",
	 1655733600, 12},
	{"holesky", &preset_mainnet,
	 {0x01017000, 0x02017000, 0x03017000, 0x04017000, 0x05017000,
	  0x06017000, 0x07017000, 0x08017000},
	 {0, 0, 0, 256, 29696, 115968, 165120, FAR},
	 "0x9143aa7c615a7f7115e2b6aac319c03529df8242ae705fba9df39b79c59fa8b1",
	 1695902400, 12},
	{"hoodi", &preset_mainnet,
	 {0x10000910, 0x20000910, 0x30000910, 0x40000910, 0x50000910,
	  0x60000910, 0x70000910, 0x80000910},
	 {0, 0, 0, 0, 0, 2048, 50688, FAR},
	 "0x212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f",
	 1742213400, 12},
	{"minimal", &preset_minimal,
	 {0x00000001, 0x01000001, 0x02000001, 0x03000001, 0x04000001,
	  0x05000001, 0x06000001, 0x07000001},
	 {0, 0, 0, 0, 0, 0, 0, FAR},
	 NULL, 0, 0},
};

static int load_builtin(const struct builtin *b, struct eth2_network *out,
			struct err *e)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", b->name);
	out->preset = *b->preset;
	for (int f = 0; f < ETH2_FORK_COUNT; f++) {
		for (int i = 0; i < 4; i++)
			out->forks[f].version[i] =
				(uint8_t)(b->versions[f] >> (24 - 8 * i));
		out->forks[f].epoch = b->epochs[f];
	}
	if (b->gvr) {
		TRY(hex_decode_exact(b->gvr, out->genesis_validators_root, 32,
				     e, "genesis_validators_root"));
		out->has_genesis_validators_root = true;
	}
	out->genesis_time = b->genesis_time;
	out->seconds_per_slot = b->seconds_per_slot;
	return 0;
}

/* ---- config YAML ---------------------------------------------------- */

struct config_seen {
	bool version[ETH2_FORK_COUNT];
	bool epoch[ETH2_FORK_COUNT];
	bool preset, name, genesis_time, seconds_per_slot;
};

/* "ALTAIR_FORK_VERSION" -> (ALTAIR, is_version); GENESIS_FORK_VERSION is phase0. */
static int fork_key(const char *key, int *fork, bool *is_version)
{
	if (strcmp(key, "GENESIS_FORK_VERSION") == 0) {
		*fork = ETH2_FORK_PHASE0;
		*is_version = true;
		return 0;
	}
	for (int f = ETH2_FORK_ALTAIR; f < ETH2_FORK_COUNT; f++) {
		size_t n = strlen(fork_names[f]);
		if (strncmp(key, fork_names[f], n) != 0)
			continue;
		if (strcmp(key + n, "_FORK_VERSION") == 0 ||
		    strcmp(key + n, "_FORK_EPOCH") == 0) {
			*fork = f;
			*is_version = strcmp(key + n, "_FORK_VERSION") == 0;
			return 0;
		}
	}
	return -1;
}

static int config_fork_value(struct eth2_network *n, struct config_seen *s,
			     int f, bool is_version, const char *key,
			     const char *val, struct err *e)
{
	bool *seen = is_version ? &s->version[f] : &s->epoch[f];
	if (*seen)
		return err_set(e, ERR_INVALID, "%s: duplicate key", key);
	*seen = true;
	if (is_version)
		return hex_decode_exact(val, n->forks[f].version, 4, e, key);
	return dec_parse_u64(val, &n->forks[f].epoch, e, key);
}

static int config_preset(struct eth2_network *n, const char *val,
			 struct err *e)
{
	char q[J_QUOTE];
	if (strcmp(val, "mainnet") == 0)
		n->preset = preset_mainnet;
	else if (strcmp(val, "minimal") == 0)
		n->preset = preset_minimal;
	else
		return err_set(e, ERR_INVALID,
			       "PRESET_BASE: unknown preset '%s' (mainnet or minimal)",
			       j_quote(val, q));
	return 0;
}

/*
 * GENESIS_TIME (not a consensus-spec config key: the genesis time is in the
 * genesis state; ours, for the clock guard) and SECONDS_PER_SLOT, each once
 * and non-zero.
 */
static int config_time(struct eth2_network *n, struct config_seen *s,
		       const char *key, const char *val, struct err *e)
{
	bool genesis = strcmp(key, "GENESIS_TIME") == 0;
	bool *seen = genesis ? &s->genesis_time : &s->seconds_per_slot;
	uint64_t *to = genesis ? &n->genesis_time : &n->seconds_per_slot;
	if (*seen)
		return err_set(e, ERR_INVALID, "%s: duplicate key", key);
	*seen = true;
	TRY(dec_parse_u64(val, to, e, key));
	if (*to == 0)
		return err_set(e, ERR_INVALID, "%s: must not be 0", key);
	return 0;
}

static int config_pair(struct eth2_network *n, struct config_seen *s,
		       const char *key, yaml_node_t *v, struct err *e)
{
	int f = 0;
	bool is_version = false;
	bool time_key = strcmp(key, "GENESIS_TIME") == 0 ||
			strcmp(key, "SECONDS_PER_SLOT") == 0;
	bool known = strcmp(key, "PRESET_BASE") == 0 ||
		     strcmp(key, "CONFIG_NAME") == 0 || time_key ||
		     fork_key(key, &f, &is_version) == 0;
	if (!known)
		return 0;
	if (v->type != YAML_SCALAR_NODE)
		return err_set(e, ERR_INVALID, "%s: expected a scalar value",
			       key);
	const char *val = (const char *)v->data.scalar.value;
	if (strlen(val) != v->data.scalar.length)
		return err_set(e, ERR_INVALID, "%s: NUL in value", key);
	if (strcmp(key, "PRESET_BASE") == 0) {
		if (s->preset)
			return err_set(e, ERR_INVALID, "%s: duplicate key", key);
		s->preset = true;
		return config_preset(n, val, e);
	}
	if (time_key)
		return config_time(n, s, key, val, e);
	if (strcmp(key, "CONFIG_NAME") == 0) {
		if (s->name)
			return err_set(e, ERR_INVALID, "%s: duplicate key", key);
		s->name = true;
		snprintf(n->name, sizeof(n->name), "%s", val);
		return 0;
	}
	return config_fork_value(n, s, f, is_version, key, val, e);
}

/* Every scheduled fork needs a version, and epochs never go backwards. */
static int config_check(struct eth2_network *n, const struct config_seen *s,
			struct err *e)
{
	if (!s->preset)
		return err_set(e, ERR_INVALID, "PRESET_BASE: missing");
	if (!s->version[ETH2_FORK_PHASE0])
		return err_set(e, ERR_INVALID, "GENESIS_FORK_VERSION: missing");
	if (s->genesis_time && !s->seconds_per_slot)
		return err_set(e, ERR_INVALID, "SECONDS_PER_SLOT: missing (GENESIS_TIME "
			       "needs it)");
	if (!s->genesis_time)
		n->seconds_per_slot = 0; /* no clock without a genesis time */
	uint64_t prev = 0;
	for (int f = ETH2_FORK_ALTAIR; f < ETH2_FORK_COUNT; f++) {
		if (!s->epoch[f])
			n->forks[f].epoch = FAR;
		if (n->forks[f].epoch != FAR && !s->version[f])
			return err_set(e, ERR_INVALID,
				       "%s_FORK_VERSION: missing for a scheduled fork",
				       fork_names[f]);
		if (n->forks[f].epoch < prev)
			return err_set(e, ERR_INVALID,
				       "%s_FORK_EPOCH: earlier than the previous fork",
				       fork_names[f]);
		prev = n->forks[f].epoch;
	}
	return 0;
}

static int config_document(yaml_document_t *doc, struct eth2_network *n,
			   struct err *e)
{
	struct config_seen s = {0};
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		return err_set(e, ERR_INVALID, "config: expected a mapping");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		if (!k || !v || k->type != YAML_SCALAR_NODE)
			continue;
		TRY(config_pair(n, &s, (const char *)k->data.scalar.value, v,
				e));
	}
	return config_check(n, &s, e);
}

static int load_config_file(const char *path, struct eth2_network *out,
			    struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc;
	TRY(file_read_all(path, CONFIG_MAX_BYTES, &text, &len, e));
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "custom");
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return err_set(e, ERR_NOMEM, "yaml: out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = err_set(e, ERR_INVALID, "%s: YAML error at line %zu: %s",
			     path, parser.problem_mark.line + 1,
			     parser.problem ? parser.problem : "unknown");
		goto out_parser;
	}
	rc = config_document(&doc, out, e);
	if (rc < 0)
		err_prefix(e, "%s: ", path);
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	free(text);
	return rc;
}

int eth2_network_load(const char *name_or_path, struct eth2_network *out,
		      struct err *e)
{
	if (!name_or_path || !*name_or_path)
		return err_set(e, ERR_INVALID, "network: empty name");
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcasecmp(name_or_path, builtins[i].name) == 0)
			return load_builtin(&builtins[i], out, e);
	size_t n = strlen(name_or_path);
	bool is_path = strchr(name_or_path, '/') ||
		       (n > 5 && strcmp(name_or_path + n - 5, ".yaml") == 0) ||
		       (n > 4 && strcmp(name_or_path + n - 4, ".yml") == 0);
	if (!is_path)
		return err_set(e, ERR_INVALID,
			       "network: unknown network '%s' (mainnet, hoodi, sepolia, holesky, minimal, or a config .yaml path)",
			       name_or_path);
	return load_config_file(name_or_path, out, e);
}
