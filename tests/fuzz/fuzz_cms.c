/*
 * fuzz_cms.c: KMS CiphertextForRecipient as it arrives (CMS EnvelopedData,
 * BER or DER) through recipient_cms_inspect() and recipient_open() with a
 * fixed test RSA-2048 key, so seeds encrypted to it (corpus/cms/own-*.ber,
 * made with `openssl cms -encrypt ... -keyopt rsa_oaep_md:sha256`) reach
 * the content decryption. The key below is a test key made for this file
 * and protects nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nitro/nitro.h"

static const char test_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDQNCK9CaqU9UtJ\n"
	"9hSUo4T+XyacNnFoiHD6+w+eyIekRSBqT42IEpofqPGktP6DAOU/ttM9DQhzmpo1\n"
	"a7XiKGFtDx5CFXyBA017br4vM4mu+fCtm4iZoD7Xea3hJadVLyij3NKhHuNpbPVm\n"
	"XrTZ1XErFfRZ88Ur+tZJVxx5kt11kjir5cZ6qzkKdJ4csjgfspswE/xpnGWTYfJi\n"
	"rVtY9PiwbNzuiDi1rynJ06NnWXC1wrsfFLlL4mw/Wlf0byAU16+aO+LfMvEa/Smr\n"
	"jJ6u3r9ej5JzyoSB2okaF88SJU1t04OcuSsQRmCsVUQSixgC9dRpp8+7n+CZaujy\n"
	"f2L6jOXRAgMBAAECggEAXaf+MmwNPFmFRx13j49pDWXu/9krtbqem//gvGv3PElO\n"
	"NhRYFaxMgU5leNJkJLj75ufOaQmaUiprEPnFRRkmDkF9Onvg2EYMjig4TBJSbpAH\n"
	"GIk87uJbMmGNepiOB68hiGiWpRy4bp2xXB3hG5Y8hIWpN+eEu+5ng3E4oWWT0kUn\n"
	"Gj+9qBBgS/q039hIHeMY5UJpP7WzCdfTdTIjuevc7X7nwdZjQEBky1lG8AGG10HK\n"
	"4WnSBVtl96+K3Oc7EFeAoZn24xcha/VcjGGwNBM5uQUcZouJc4008Wg3mSp5JoJq\n"
	"D/sBiuu5ZCPApsGzuipw70pEzxMsgo20/h8mimaVewKBgQDpWhrvKmpmscrHiI0R\n"
	"dkF4K6vCZ2+YUEjTWMDUBIFxG9DligsARTO3svgL92FR1xnkwln+wFUGQhv78z1/\n"
	"/gfPAQjGAhM0ojgAChOzel7auJD/W9HRFgISv9okAmkcqoJ2rdjnIVqWaFvBqmav\n"
	"b0gusCq99EqFuMnVK3hiKdGtkwKBgQDkaTEj6gYkifO9/YZeqn2lxftNbbXLNl52\n"
	"XcOntOD0TT5gIzvy2NHtIYZscjxpG9A4moIFM6XbijKKWrsRJnxMAZyZIafXFifR\n"
	"chMaAO17uJePetg+2+73V/f9d2031gMWa8TTHGHdNLP+ahWUyoXsQYaV/4RjuWPW\n"
	"4DIiPQ4diwKBgQDY6oqpEjuwVMtUKipANjZrt+TFJRPGebMIy7MMI1gURbAs/+J0\n"
	"EOAffj04GnCb/CE01jmEJ1OiKqgK0DS2GvU1RxfZwKoLvlPiLXvc1f8AwJsA1WC4\n"
	"RQYOWcs0uAzvuczm93nueMHVmRLad0VXBVILHHXO+ByiK4FrKCqSzZ79AwKBgQCR\n"
	"RybuROdrTiMt8JcKlz4btnVEpkc+3XHvr2vGu5FpUcgetcpnh+jd/rjVOUObRwmF\n"
	"NyED1fnkTV4gCd155xSf81Z7P6DVeU4SNZBYtcZXLu2XYPcx5Al2YQlmuhNJtGF6\n"
	"XUlvTVohrGffpfHcFYRg5LyJo1+9XilWfnrktBjKSQKBgG9qssWlojADVKfwQvhK\n"
	"KXColzuXNq83q59eNmxXngDUVV/K8VvXGIaFOov/CXh6NjkLBgyi/g3KugszJaxR\n"
	"Yg5GjEbSAfozofb2e8Wc2yy3OkbZgfqMrl8gSwLmUAfps6DOM+s/zGv4YxTfdRkn\n"
	"ekB0GW4hL/fRYxfNwvzwJLea\n"
	"-----END PRIVATE KEY-----\n"
;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct recipient *r;
	if (!r) {
		secret_init();
		if (recipient_from_private_pem(test_key_pem, strlen(test_key_pem),
					       &r, NULL) < 0)
			abort();
	}
	struct recipient_cms_info info;
	if (recipient_cms_inspect(data, size, &info, NULL) == 0)
		recipient_cms_info_clear(&info);
	struct secret *pt = NULL;
	if (recipient_open(r, data, size, &pt, NULL) == 0)
		secret_free(pt);
	return 0;
}
