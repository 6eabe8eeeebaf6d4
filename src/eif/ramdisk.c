/*
 * ramdisk.c: the two ramdisks of an image, in the layouts AWS's enclave
 * init (aws-nitro-enclaves-sdk-bootstrap, init/init.c) expects and
 * nitro-cli's builder (enclave_build/src/yaml_generator.rs) writes:
 *
 *   bootstrap:  dev/ init nsm.ko                  (all 0755)
 *   app:        cmd env                           (0644)
 *               rootfs/{dev,proc,run,sys,tmp,var}/ (0755: init mounts on them)
 *               rootfs/usr/bin/nitro-signer        (0755)
 *               rootfs/etc/ssl/certs/ca-certificates.crt and extra files (0644)
 *
 * The kernel unpacks both into one root. init loads /nsm.ko, reads /cmd and
 * /env one entry per line (argv and envp; a trailing "\n" is dropped, so
 * an entry can never hold one), deletes them, chroots into /rootfs and
 * runs argv. cmd and env are measured with the rest of the ramdisk, so the
 * signer's flags are part of PCR0 and PCR2.
 */
#include "eif/eif.h"

#include <stdio.h>
#include <string.h>

#define APP_ENTRIES (6 + 4 + EIF_EXTRA_FILES_MAX)
#define ROOTFS "rootfs"

int eif_ramdisk_bootstrap(struct eif_blob init, struct eif_blob nsm,
			  struct buf *out, struct err *e)
{
	if (!init.len || !nsm.len)
		return err_set(e, ERR_INVALID, "ramdisk: init and nsm.ko must "
			       "not be empty");
	const struct cpio_entry ents[] = {
		{"dev", CPIO_DIR, 0755, NULL, 0},
		{"init", CPIO_FILE, 0755, init.p, init.len},
		{"nsm.ko", CPIO_FILE, 0755, nsm.p, nsm.len},
	};
	return cpio_write(ents, 3, out, e);
}

/* One line of cmd or env: printable ASCII (space included), not empty. */
static int check_line(const char *s, const char *what, struct err *e)
{
	if (!s || !*s)
		return err_set(e, ERR_INVALID, "ramdisk: an empty %s", what);
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			return err_set(e, ERR_INVALID,
				       "ramdisk: %s '%.40s': byte 0x%02x not "
				       "allowed (one per line, printable "
				       "ASCII)", what, s, (unsigned char)*c);
	return 0;
}

static int join_lines(const char *first, const char *const *v, size_t n,
		      const char *what, struct buf *out, struct err *e)
{
	if (first) {
		buf_puts(out, first);
		buf_putc(out, '\n');
	}
	for (size_t i = 0; i < n; i++) {
		TRY(check_line(v[i], what, e));
		buf_puts(out, v[i]);
		buf_putc(out, '\n');
	}
	if (out->failed)
		return err_set(e, ERR_NOMEM, "ramdisk: %s too long", what);
	return 0;
}

/* "/etc/x" -> "rootfs/etc/x" in path (CPIO_PATH_MAX + 1 bytes). */
static int rootfs_path(const char *abs, char *path, struct err *e)
{
	if (abs[0] != '/')
		return err_set(e, ERR_INVALID, "ramdisk: %s: not an absolute "
			       "path", abs);
	if ((size_t)snprintf(path, CPIO_PATH_MAX + 1, ROOTFS "%s", abs) >
	    CPIO_PATH_MAX)
		return err_set(e, ERR_INVALID, "ramdisk: %s: too long", abs);
	return 0;
}

int eif_ramdisk_app(const struct eif_app *a, struct buf *out, struct err *e)
{
	if (!a->signer.len || !a->ca_bundle.len)
		return err_set(e, ERR_INVALID, "ramdisk: the signer and the CA "
			       "bundle must not be empty");
	if (a->nargs > EIF_ARGS_MAX || a->nenv > EIF_ARGS_MAX ||
	    a->nextra > EIF_EXTRA_FILES_MAX)
		return err_set(e, ERR_INVALID, "ramdisk: too many arguments, "
			       "variables or files");
	struct buf cmd = BUF_INIT(64 * 1024), env = BUF_INIT(64 * 1024);
	static const char *const default_env[] = {EIF_ENV_DEFAULT};
	char paths[EIF_EXTRA_FILES_MAX][CPIO_PATH_MAX + 1];
	struct cpio_entry ents[APP_ENTRIES];
	size_t n = 0;
	int rc;
	TRY_OUT(join_lines(EIF_SIGNER_PATH, a->args, a->nargs, "argument",
			   &cmd, e));
	TRY_OUT(join_lines(NULL, a->nenv ? a->env : default_env,
			   a->nenv ? a->nenv : 1, "variable", &env, e));
	/* init mounts proc, tmpfs and sysfs on these after its chroot */
	static const char *const dirs[] = {
		ROOTFS "/dev", ROOTFS "/proc", ROOTFS "/run",
		ROOTFS "/sys", ROOTFS "/tmp", ROOTFS "/var"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		ents[n++] = (struct cpio_entry){dirs[i], CPIO_DIR, 0755, NULL, 0};
	ents[n++] = (struct cpio_entry){"cmd", CPIO_FILE, 0644, cmd.p, cmd.len};
	ents[n++] = (struct cpio_entry){"env", CPIO_FILE, 0644, env.p, env.len};
	ents[n++] = (struct cpio_entry){ROOTFS EIF_SIGNER_PATH, CPIO_FILE, 0755,
					a->signer.p, a->signer.len};
	ents[n++] = (struct cpio_entry){ROOTFS EIF_CA_BUNDLE_PATH, CPIO_FILE,
					0644, a->ca_bundle.p, a->ca_bundle.len};
	for (size_t i = 0; i < a->nextra; i++) {
		TRY_OUT(rootfs_path(a->extra[i].path, paths[i], e));
		ents[n++] = (struct cpio_entry){paths[i], CPIO_FILE, 0644,
						a->extra[i].data.p,
						a->extra[i].data.len};
	}
	rc = cpio_write(ents, n, out, e);
out:
	buf_free(&cmd);
	buf_free(&env);
	return rc;
}
