/*
 * replay_main.c - runs fuzz target entry points on files, without libFuzzer.
 *
 * Linked with one tests/fuzz/fuzz_*.c by replay.sh, built with gcc and the
 * sanitizers, so the regression files in tests/fuzz/regressions/ replay
 * wherever the unit tests build, clang or not. Each argument is one input;
 * a file that cannot be read is an error (exit 2); a crash is the
 * sanitizer's report and its exit status.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == NULL) {
			perror(argv[i]);
			return 2;
		}
		size_t cap = 1 << 16, n = 0;
		uint8_t *buf = malloc(cap);
		size_t got;
		while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
			n += got;
			if (n == cap) {
				uint8_t *nb = realloc(buf, cap * 2);
				if (nb == NULL)
					break;
				buf = nb;
				cap *= 2;
			}
		}
		fclose(f);
		if (buf == NULL) {
			fprintf(stderr, "%s: out of memory\n", argv[i]);
			return 2;
		}
		/* An exact-size copy, so a read past the input's end is caught. */
		uint8_t *in = malloc(n ? n : 1);
		if (in == NULL)
			return 2;
		for (size_t k = 0; k < n; k++)
			in[k] = buf[k];
		free(buf);
		LLVMFuzzerTestOneInput(in, n);
		free(in);
	}
	return 0;
}
