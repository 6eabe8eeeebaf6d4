/*
 * keys.h: the signer's key registry: every validator key the process can
 * sign with, loaded once from EIP-2335 keystores and Web3Signer YAML key
 * configs, then looked up by public key on every signing request.
 *
 * Threading: a registry is immutable after keys_load() returns, so any
 * number of threads may call keys_find/keys_count/keys_*_at concurrently
 * without locks. Reload builds a new registry and swaps the pointer (the
 * owner's job); keys_free() must wait until no reader holds the old one.
 */
#ifndef NS_SIGNER_KEYS_H
#define NS_SIGNER_KEYS_H

#include "crypto/crypto.h"

struct key_registry;

/*
 * Where keys come from. Any field may be NULL. With keystores_path, exactly
 * one of keystores_passwords_path (a directory holding "<name>.txt" for each
 * "<name>.json") or keystores_password_file (one password for all) is
 * required. key_store_path is a directory of *.yaml / *.yml key configs:
 *   type: file-raw       privateKey: 0x<32 bytes>
 *   type: file-keystore  keystoreFile: F  keystorePasswordFile: P
 * with optional keyType: BLS; several YAML documents per file allowed;
 * relative file names are resolved against the config file's directory.
 * threads: keystore decryption workers; 0 = cpu_count().
 */
struct key_load_opts {
	const char *keystores_path;
	const char *keystores_passwords_path;
	const char *keystores_password_file;
	const char *key_store_path;
	int threads;
	bool progress; /* "keys decrypted N/M" lines on stderr */
};

/*
 * What happened, in the shape of Web3Signer's healthcheck
 * ("keystores-bulk-loading" counts keystores_path, "config-files-loading"
 * counts key configs, one per YAML document). failures[i] reads
 * "<file>: <reason>" and never contains a password or secret. A key found
 * twice counts as loaded each time but is held once (duplicates counts the
 * extra copies).
 */
struct key_load_report {
	int keystores_loaded, keystores_failed;
	int configs_loaded, configs_failed;
	int duplicates;
	char **failures;
	size_t nfailures;
};

struct key_entry {
	struct bls_key *key;
	/* false only for keys from keystores_path (Keymanager may delete). */
	bool readonly;
	/* The keystore's "path" (EIP-2334 derivation path), or NULL. */
	const char *path;
	/* The file the key came from (keystore or YAML config). */
	const char *source;
};

/*
 * Loads every key. Fails (returning NULL registry) only for unusable options:
 * a missing directory, both or neither password options with
 * keystores_path, an unreadable shared password file. Individual bad keys
 * go into *rep (which the caller frees with key_load_report_free) and the
 * rest still load. rep may be NULL.
 */
int keys_load(const struct key_load_opts *opts, struct key_registry **out,
	      struct key_load_report *rep, struct err *e);
void key_load_report_free(struct key_load_report *rep);

/*
 * A registry of keys obtained elsewhere (the enclave's KMS-decrypted
 * records). Takes ownership of keys[0..n) (each freed on failure too; the
 * array itself stays the caller's); entries are read-only and their source
 * is `source`. A key given twice is held once.
 */
int keys_from_list(struct bls_key **keys, size_t n, const char *source,
		   struct key_registry **out, struct err *e);

/*
 * A new registry (the Keymanager API's import and delete): r's entries
 * without those whose pubkey is listed in remove, plus copies of add[]
 * (a pubkey already in r and not removed is held once). Every key is
 * copied, so r stays valid for its readers and the caller keeps add[].
 */
int keys_edit(const struct key_registry *r,
	      const uint8_t (*remove)[BLS_PUBKEY_LEN], size_t nremove,
	      const struct key_entry *add, size_t nadd,
	      struct key_registry **out, struct err *e);

/* O(log n) lookup by compressed pubkey; NULL when unknown. */
const struct bls_key *keys_find(const struct key_registry *r,
				const uint8_t pubkey[BLS_PUBKEY_LEN]);
const struct key_entry *keys_find_entry(const struct key_registry *r,
					const uint8_t pubkey[BLS_PUBKEY_LEN]);

/* Iteration in ascending pubkey order (= sorted lower-case hex). */
size_t keys_count(const struct key_registry *r);
const uint8_t *keys_pubkey_at(const struct key_registry *r, size_t i);
const struct key_entry *keys_entry_at(const struct key_registry *r, size_t i);

/* Wipes and frees every key. NULL-safe. */
void keys_free(struct key_registry *r);

#endif
