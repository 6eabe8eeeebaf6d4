/*
 * describe.c: the JSON `nitro-keys eif describe` prints, field for field
 * what nitro-cli's describe-eif prints (src/common/json_output.rs,
 * EifDescribeInfo and MetadataDescribeInfo), so an operator can compare
 * the two outputs. CheckCRC is always true here: eif_parse refuses an image
 * whose CRC does not match, where nitro-cli prints false; so is
 * SignatureCheck for a signed image (eif_parse refuses one whose signature
 * does not verify or signs another PCR0), after SigningCertificate. One field more:
 * Arch ("x86_64" or "aarch64", from the header's flags), which nitro-cli
 * shows only through the file name of its blobs.
 *
 * The metadata section is untrusted: parsed with a memory budget, and only
 * the shape nitro-cli's serde accepts (EifIdentityInfo: ImageName,
 * ImageVersion, BuildMetadata with five strings, DockerInfo and
 * CustomMetadata of any JSON type) is accepted.
 */
#include "eif/eif.h"

#include <jansson.h>
#include <string.h>

#define METADATA_JSON_BUDGET (4 * 1024 * 1024)

static int need_string(json_t *o, const char *key, const char *where,
		       json_t **out, struct err *e)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v))
		return err_set(e, ERR_INVALID, "eif: metadata: %s%s must be a "
			       "string", where, key);
	*out = v;
	return 0;
}

/* nitro-cli's MetadataDescribeInfo: the build info, DockerInfo, then
 * CustomMetadata's members flattened in (nothing when it is null). */
static int describe_metadata(json_t *m, json_t *info, struct err *e)
{
	static const char *const build_keys[] = {
		"BuildTime", "BuildTool", "BuildToolVersion", "OperatingSystem",
		"KernelVersion"};
	json_t *v = NULL, *bm = json_object_get(m, "BuildMetadata");
	if (!json_is_object(m))
		return err_set(e, ERR_INVALID, "eif: metadata is not a JSON "
			       "object");
	TRY(need_string(m, "ImageName", "", &v, e));
	json_object_set(info, "ImageName", v);
	TRY(need_string(m, "ImageVersion", "", &v, e));
	json_object_set(info, "ImageVersion", v);
	if (!json_is_object(bm))
		return err_set(e, ERR_INVALID, "eif: metadata: BuildMetadata "
			       "must be an object");
	json_t *docker = json_object_get(m, "DockerInfo");
	json_t *custom = json_object_get(m, "CustomMetadata");
	if (!docker || !custom)
		return err_set(e, ERR_INVALID, "eif: metadata: DockerInfo and "
			       "CustomMetadata are required");
	if (!json_is_null(custom) && !json_is_object(custom))
		return err_set(e, ERR_INVALID, "eif: metadata: CustomMetadata "
			       "must be an object or null");
	json_t *out = json_object();
	if (!out)
		return err_set(e, ERR_NOMEM, "out of memory");
	json_object_set_new(info, "Metadata", out);
	for (size_t i = 0; i < sizeof(build_keys) / sizeof(build_keys[0]); i++) {
		TRY(need_string(bm, build_keys[i], "BuildMetadata.", &v, e));
		json_object_set(out, build_keys[i], v);
	}
	json_object_set(out, "DockerInfo", docker);
	const char *k;
	json_object_foreach(custom, k, v)
		json_object_set(out, k, v);
	return 0;
}

int eif_describe_json(const struct eif_info *info, json_t **out,
		      struct err *e)
{
	/* EnclaveBuildInfo is flattened in: its one field, Measurements */
	json_t *cert = NULL;
	if (info->pcrs.signed_image) {
		struct eif_signature s;
		TRY(eif_signature_decode(info->signature, &s, e));
		cert = eif_signing_cert_json(&s);
		eif_signature_clear(&s);
		if (!cert)
			return err_set(e, ERR_NOMEM, "eif: cannot describe the "
				       "signing certificate");
	}
	json_t *o = json_pack("{s:i, s:o, s:b}", "EifVersion",
			      (int)info->version, "Measurements",
			      eif_measurements_json(&info->pcrs), "IsSigned",
			      cert != NULL);
	if (o && cert)
		json_object_set_new(o, "SigningCertificate", cert);
	else
		json_decref(cert);
	if (o)
		json_object_set_new(o, "CheckCRC", json_true());
	/* eif_parse read it only if the signature checked out */
	if (o && info->pcrs.signed_image)
		json_object_set_new(o, "SignatureCheck", json_true());
	if (o)
		json_object_set_new(o, "Arch", json_string(info->flags &
							   EIF_FLAG_ARM64
						   ? "aarch64" : "x86_64"));
	if (!o)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = 0;
	if (info->metadata.len) {
		json_t *meta = NULL;
		rc = json_parse_bounded((const char *)info->metadata.p,
					info->metadata.len, "eif: metadata",
					METADATA_JSON_BUDGET, &meta, e);
		if (rc == 0)
			rc = describe_metadata(meta, o, e);
		json_decref(meta);
	}
	if (rc < 0) {
		json_decref(o);
		return rc;
	}
	*out = o;
	return 0;
}
