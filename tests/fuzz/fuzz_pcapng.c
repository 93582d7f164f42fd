/*
 * fuzz_pcapng.c - the pcapng reader on its own, over bytes in memory.
 *
 * Input: the bytes of a pcapng file. They go to pcapng_read_open_mem() and
 * every record is read to the end or to the first damage, each packet's and
 * each secret's bytes touched (so that a length the reader got wrong shows
 * as an overread), the interfaces peeked at first as source.c does. What
 * this exercises: block and option lengths, both byte orders, sections that
 * reset the interface table, every time stamp resolution, and the error
 * messages, which must always be one terminated line.
 *
 * fuzz_pcap covers the same reader through a file and source.c.
 */
#include "flowaudit/pcapng_read.h"

#include <stdio.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static volatile unsigned g_sink; /* keeps the reads of the bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcapng_reader *r = NULL;
	char why[320];
	if (pcapng_read_open_mem(data, size, &r, why, sizeof(why)) != FA_OK) {
		if (memchr(why, '\0', sizeof(why)) == NULL || strchr(why, '\n') != NULL)
			__builtin_trap();
		return 0;
	}
	int links[8];
	size_t nl = pcapng_read_peek_links(r, links, 8);
	if (nl > 8)
		__builtin_trap();
	struct pcapng_record rec;
	unsigned sum = 0;
	int k;
	for (int i = 0; i < 100000 && (k = pcapng_read_next(r, &rec)) > 0; i++) {
		if (rec.len > 0)
			sum += rec.data[0] + rec.data[rec.len - 1];
		if (k == PCAPNG_PACKET && rec.ts_nsec >= 1000000000u)
			__builtin_trap();
		if (rec.offset >= size)
			__builtin_trap();
	}
	const char *e = pcapng_read_error(r);
	if (strchr(e, '\n') != NULL)
		__builtin_trap();
	pcapng_read_free(r);
	g_sink = sum;
	return 0;
}
