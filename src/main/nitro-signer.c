/* nitro-signer: the Web3Signer-compatible signer. Wiring lives in src/signer. */
#include "signer/signer.h"

int main(int argc, char **argv)
{
	return signer_main(argc, argv);
}
