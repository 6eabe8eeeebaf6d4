/* nitro-host: the parent-instance process. Argument handling lives in src/host. */
#include "host/host.h"

int main(int argc, char **argv)
{
	return nitro_host_main(argc, argv);
}
