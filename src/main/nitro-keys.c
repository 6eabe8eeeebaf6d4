/* nitro-keys: the operator's key tool. Argument handling lives in src/tools. */
#include "tools/tools.h"

int main(int argc, char **argv)
{
	return nitro_keys_main(argc, argv);
}
