/* SPDX-License-Identifier: MIT */
/* snaptool: edits a cvmm snapshot's header for the refusal tests
 * (tests/linux/snap-cases.sh): sets the format version or the architecture
 * field and makes the header's checksum right again, so that what cvmm
 * refuses is the field, not the checksum (docs/snapshot.md: the header).
 *   snaptool version FILE N
 *   snaptool arch FILE N        (1 x86_64, 2 aarch64)
 * Exits 0 when the file was rewritten. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = ~0u;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
	}
	return ~c;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "version") && strcmp(argv[1], "arch"))) {
		fprintf(stderr, "usage: snaptool version|arch FILE N\n");
		return 2;
	}
	int fd = open(argv[2], O_RDWR);
	uint8_t h[48];
	if (fd < 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, "CVMMSNAP", 8)) {
		fprintf(stderr, "snaptool: %s: not a cvmm snapshot\n", argv[2]);
		return 1;
	}
	put32(h + (strcmp(argv[1], "version") ? 12 : 8), (uint32_t)strtoul(argv[3], NULL, 0));
	put32(h + 44, crc32c(h, 44));
	if (pwrite(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		perror("snaptool");
		return 1;
	}
	close(fd);
	return 0;
}
