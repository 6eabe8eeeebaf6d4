/* nitro-signer: the Web3Signer-compatible signer. Wiring lives in src/signer;
 * `nitro-signer enclave ...` is the enclave runtime (src/enclave). */
#include <string.h>

#include "enclave/enclave.h"
#include "signer/signer.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "enclave") == 0)
		return enclave_main(argc - 1, argv + 1);
	return signer_main(argc, argv);
}
