/* http_internal.h: helpers shared inside the http module only. */
#ifndef NS_HTTP_INTERNAL_H
#define NS_HTTP_INTERNAL_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

/* What the TLS peer showed: *cert whether it presented a certificate, name
 * the known-client name of that certificate when ssl's context lists it,
 * else "". Resumed sessions answer as their full handshake did. */
void http_tls_peer(SSL *ssl, bool *cert, char *name, size_t len);

#endif
