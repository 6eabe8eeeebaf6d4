/*
 * tools.h: the public header of the tools module: operator command lines
 * (nitro-keys), reachable as functions so tests can drive them in-process.
 */
#ifndef NS_TOOLS_H
#define NS_TOOLS_H

int nitro_keys_main(int argc, char **argv);

#endif
