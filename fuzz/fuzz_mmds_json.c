/* SPDX-License-Identifier: MIT */
/* MMDS's document walker (devices/mmds_json.c) on any text: a path looked
 * up in it and the value found rendered in IMDS form. Input: [0] the
 * path's length (at most the rest), then the path, then the document.
 * Invariants: the value found lies inside the text; in a document
 * mmds_json_valid accepts, a lookup finds or misses but never reports bad
 * JSON, and the value found is valid JSON itself; a rendering never
 * exceeds its buffer. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "devices/mmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t plen = data[0];
	if (plen > size - 1)
		plen = size - 1;
	const char *path = (const char *)data + 1;
	const char *doc = path + plen;
	size_t dlen = size - 1 - plen;
	bool valid = mmds_json_valid(doc, dlen);
	size_t off = 0, vlen = 0;
	int r = mmds_json_lookup(doc, dlen, path, plen, &off, &vlen);
	if (r == 0 && (off > dlen || vlen > dlen - off))
		abort();
	if (valid && r == -EINVAL)
		abort();
	if (valid && r == 0 && !mmds_json_valid(doc + off, vlen))
		abort();
	char out[512];
	long n = mmds_json_imds(r == 0 ? doc + off : doc, r == 0 ? vlen : dlen, out, sizeof(out));
	if (n > (long)sizeof(out))
		abort();
	return 0;
}
