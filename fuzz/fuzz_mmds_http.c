/* SPDX-License-Identifier: MIT */
/* MMDS's HTTP (devices/mmds_http.c): any bytes as the start of a
 * connection's stream, parsed, and Firecracker's answer to each request
 * in turn from a fixed document. Input: [0] bit 0: V2, bit 1: imds_compat;
 * [1] the answer buffer's size (scaled), then the stream. Invariants: a
 * request's size lies within the bytes; an answer fits its buffer and
 * starts with a status line; a token the answer hands out is valid at once. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/mmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char doc[] = "{\"latest\":{\"api\":{\"token\":\"t\"},\"meta-data\":{\"a\":\"b\","
			  "\"n\":1,\"o\":{}}},\"s\":\"x\\u00e9\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > MMDS_RCV_MAX + 2)
		return 0;
	struct mmds_token_key key = {.k = {7}, .counter = 0};
	struct mmds_view v = {.version = data[0] & 1 ? 2 : 1,
			      .imds_compat = data[0] & 2,
			      .json = doc,
			      .json_len = sizeof(doc) - 1,
			      .key = &key};
	size_t cap = 64 + (size_t)data[1] * 8;
	char *out = malloc(cap);
	if (!out)
		return 0;
	const uint8_t *p = data + 2;
	size_t left = size - 2;
	for (int i = 0; i < 64 && left; i++) {
		struct mmds_req r;
		size_t used = 0;
		int rc = mmds_http_parse(p, left, &r, &used);
		if (rc == 0)
			break;
		if (rc == 1 && (used == 0 || used > left))
			abort();
		size_t n = mmds_http_answer(&r, rc < 0, &v, 1000, out, cap);
		if (n > cap || (n && (n < 9 || memcmp(out, "HTTP/1.", 7))))
			abort();
		if (rc < 0)
			break;
		if (n && r.method == MMDS_PUT && !memcmp(out + 9, "200", 3)) {
			const char *b = memmem(out, n, "\r\n\r\n", 4);
			if (!b || !mmds_token_valid(&key, b + 4, n - (size_t)(b + 4 - out), 1000))
				abort();
		}
		p += used;
		left -= used;
	}
	free(out);
	return 0;
}
