/* nitro-signer: placeholder main until the signer module lands. */
#include <stdio.h>
#include "core/core.h"
int main(void)
{
	printf("nitro-signer %s\n", NS_VERSION);
	return 0;
}
