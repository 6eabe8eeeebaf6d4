/*
 * enclave_internal.h: the enclave's state, shared by runtime.c (control
 * server, status, the API gate) and init.c (the `init` boot sequence).
 */
#ifndef NS_ENCLAVE_INTERNAL_H
#define NS_ENCLAVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "aws/aws.h"
#include "enclave/enclave.h"

struct enclave {
	char *nsm_spec;
	char *ca_file;
	size_t max_frame;
	int listen_fd;        /* -1 until enclave_listen */
	int stop_pipe[2];     /* written by enclave_stop */
	uint64_t started_us;  /* clock_mono_us() at enclave_new */
	/* Pushed by init and refreshed by `credentials`. */
	struct aws_creds_provider *creds;
	/* Published once by init (release), read by the API (acquire). */
	_Atomic(struct signer *) signer;
	_Atomic size_t keys_loaded;
};

#endif
