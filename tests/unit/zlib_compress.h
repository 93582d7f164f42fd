/*
 * zlib_compress.h - compressed bodies for the HTTP decoder tests.
 */
#ifndef FLOWAUDIT_TESTS_ZLIB_COMPRESS_H
#define FLOWAUDIT_TESTS_ZLIB_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* Compresses n bytes into out (cap bytes) with zlib, failing the test if it
   cannot: wbits 31 = gzip, 15 = zlib, -15 = raw deflate. Returns the length. */
size_t zlib_compress(const void *in, size_t n, uint8_t *out, size_t cap, int wbits);

#endif
