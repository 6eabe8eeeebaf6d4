/* http_internal.h: helpers shared inside the http module only. */
#ifndef NS_HTTP_INTERNAL_H
#define NS_HTTP_INTERNAL_H

#include <openssl/ssl.h>
#include <stddef.h>

/* The known-client name of the peer certificate, or "" (mTLS only). */
int http_tls_client_name(SSL *ssl, char *out, size_t len);

#endif
