/* SPDX-License-Identifier: MIT */
/* Firecracker's rate_limiter object, in its API, its config file and
 * cvmm's --config (docs/rate-limiters.md):
 *   {"bandwidth": BUCKET, "ops": BUCKET}
 *   BUCKET: {"size": N, "one_time_burst": N, "refill_time": MS}
 * size and refill_time required in a bucket, one_time_burst optional; a
 * bucket absent or null is not given (none at creation, unchanged by a
 * PATCH); {} or null is no limiter. Pure: json-c objects in, plain data
 * out, so the API's and the config's fuzz targets reach it. */
#ifndef CVMM_CLI_LIMITER_JSON_H
#define CVMM_CLI_LIMITER_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "cvmm/cvmm.h"

struct cli_limiter {
	struct cvmm_rate_limiter rl; /* the buckets given; zeros for the others */
	bool has_bw, has_ops;	     /* which were given */
};

/* v: the value of the field `key` (NULL: absent or null). 1 when it gives
 * a bucket, 0 when none, or -EINVAL with a one-line message naming the
 * field in err. */
__attribute__((warn_unused_result)) int cli_limiter_json(struct json_object *v, const char *key,
							 struct cli_limiter *out, char *err,
							 size_t errlen);
/* A PATCH: the buckets upd gives replace cur's, the others stay. */
void cli_limiter_merge(struct cvmm_rate_limiter *cur, const struct cli_limiter *upd);
/* Whether rl limits anything (a bucket with size and refill time). */
bool cli_limiter_on(const struct cvmm_rate_limiter *rl);
/* A lone token bucket (Firecracker's TokenBucket: size, one_time_burst,
 * refill_time), as PUT /serial's rate_limiter: *out (zeros for v NULL),
 * 0; or -EINVAL with a message naming key and the field. */
int cli_bucket_json(struct json_object *v, const char *key, struct cvmm_token_bucket *out,
		    char *err, size_t errlen);
/* rl as Firecracker's object (GET /vm/config): its buckets that limit;
 * a new reference. */
struct json_object *cli_limiter_to_json(const struct cvmm_rate_limiter *rl);

#endif
