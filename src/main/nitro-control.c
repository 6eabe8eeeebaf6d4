/*
 * nitro-control: the control AWS Lambda function (custom runtime, packaged
 * as `bootstrap`): status, public keys, attestation and the TLS certificate
 * of a deployed signer. src/lambda does the work; docs/lambda.md.
 */
#include <stdio.h>
#include <string.h>

#include "lambda/lambda.h"

static const char usage_text[] =
	"usage: nitro-control\n"
	"\n"
	"The control function of a nitro-signer deployment, run by AWS Lambda\n"
	"(runtime provided.al2023, handler bootstrap). It reads its settings\n"
	"from the environment: AWS_LAMBDA_RUNTIME_API (Lambda's), SIGNER_URL,\n"
	"KEY_TABLE, SIGNER_ID, EXPECTED_PCR0, optionally ATTESTATION_ROOT_PEM,\n"
	"and the AWS_* credentials and region Lambda provides. Events:\n"
	"{\"operation\": \"status\" | \"public_keys\" | \"attest\" | \"get_tls_cert\"}\n"
	"(docs/lambda.md).\n";

int main(int argc, char **argv)
{
	if (argc > 1) {
		bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fputs(usage_text, help ? stdout : stderr);
		return help ? 0 : 2;
	}
	return lambda_main();
}
