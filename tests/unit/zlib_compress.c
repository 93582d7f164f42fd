/*
 * zlib_compress.c - compressed bodies for the HTTP decoder tests.
 */
#include "zlib_compress.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include <string.h>
#include <zlib.h>

size_t zlib_compress(const void *in, size_t n, uint8_t *out, size_t cap, int wbits)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	size_t len = z.total_out;
	deflateEnd(&z);
	return len;
}
