/* SPDX-License-Identifier: MIT */
/* Firecracker's rate_limiter object <-> struct cvmm_rate_limiter. */
#include "vmm/cli/limiter_json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cvmm's bounds (cvmm.h): a size or burst of 2^62 tokens at most, a
 * refill time of 10^12 ms */
#define LIM_SIZE_MAX   (1LL << 62)
#define LIM_REFILL_MAX 1000000000000LL

/* "'key': 'bucket': 'field' msg" (bucket, field NULL: left out). */
static int bad(char *err, size_t errlen, const char *msg, const char *key, const char *bucket,
	       const char *field)
{
	snprintf(err, errlen, "'%.32s'%s%.32s%s%s%.32s%s %s", key, bucket ? ": '" : "",
		 bucket ? bucket : "", bucket ? "'" : "", field ? ": '" : "", field ? field : "",
		 field ? "'" : "", msg);
	return -EINVAL;
}

/* One bucket: *b filled, 0; or -EINVAL. */
static int bucket(struct json_object *v, const char *key, const char *name,
		  struct cvmm_token_bucket *b, char *err, size_t errlen)
{
	static const char *const fields[] = {"size", "one_time_burst", "refill_time"};
	static const int64_t max[] = {LIM_SIZE_MAX, LIM_SIZE_MAX, LIM_REFILL_MAX};
	if (!json_object_is_type(v, json_type_object))
		return bad(err, errlen, "must be an object", key, name, NULL);
	struct json_object_iterator it = json_object_iter_begin(v);
	struct json_object_iterator end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		if (strcmp(k, fields[0]) && strcmp(k, fields[1]) && strcmp(k, fields[2]))
			return bad(err, errlen,
				   "is an unknown field (size, one_time_burst, refill_time)", key,
				   name, k);
	}
	uint64_t val[3] = {0};
	for (int i = 0; i < 3; i++) {
		struct json_object *f;
		if (!json_object_object_get_ex(v, fields[i], &f) || !f) {
			if (i == 1)
				continue; /* one_time_burst: optional */
			return bad(err, errlen, "is required", key, name, fields[i]);
		}
		errno = 0;
		int64_t x = json_object_is_type(f, json_type_int) ? json_object_get_int64(f) : -1;
		if (!json_object_is_type(f, json_type_int) || errno || x < 0 || x > max[i]) {
			char msg[64];
			snprintf(msg, sizeof(msg), "must be an integer 0..%lld", (long long)max[i]);
			return bad(err, errlen, msg, key, name, fields[i]);
		}
		val[i] = (uint64_t)x;
	}
	*b = (struct cvmm_token_bucket){val[0], val[1], val[2]};
	return 0;
}

int cli_limiter_json(struct json_object *v, const char *key, struct cli_limiter *out, char *err,
		     size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return bad(err, errlen, "must be an object", key, NULL, NULL);
	struct json_object_iterator it = json_object_iter_begin(v);
	struct json_object_iterator end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		if (strcmp(k, "bandwidth") && strcmp(k, "ops"))
			return bad(err, errlen, "is an unknown field (bandwidth, ops)", key, k,
				   NULL);
	}
	struct json_object *b;
	int r;
	if (json_object_object_get_ex(v, "bandwidth", &b) && b) {
		if ((r = bucket(b, key, "bandwidth", &out->rl.bandwidth, err, errlen)) < 0)
			return r;
		out->has_bw = true;
	}
	if (json_object_object_get_ex(v, "ops", &b) && b) {
		if ((r = bucket(b, key, "ops", &out->rl.ops, err, errlen)) < 0)
			return r;
		out->has_ops = true;
	}
	return out->has_bw || out->has_ops;
}

int cli_bucket_json(struct json_object *v, const char *key, struct cvmm_token_bucket *out,
		    char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return v ? bucket(v, key, NULL, out, err, errlen) : 0;
}

void cli_limiter_merge(struct cvmm_rate_limiter *cur, const struct cli_limiter *upd)
{
	if (upd->has_bw)
		cur->bandwidth = upd->rl.bandwidth;
	if (upd->has_ops)
		cur->ops = upd->rl.ops;
}

static bool bucket_on(const struct cvmm_token_bucket *b)
{
	return b->size && b->refill_time_ms;
}

bool cli_limiter_on(const struct cvmm_rate_limiter *rl)
{
	return bucket_on(&rl->bandwidth) || bucket_on(&rl->ops);
}

static void put_bucket(struct json_object *o, const char *name, const struct cvmm_token_bucket *b)
{
	if (!bucket_on(b))
		return;
	struct json_object *j = json_object_new_object();
	json_object_object_add(j, "size", json_object_new_int64((int64_t)b->size));
	if (b->one_time_burst)
		json_object_object_add(j, "one_time_burst",
				       json_object_new_int64((int64_t)b->one_time_burst));
	json_object_object_add(j, "refill_time", json_object_new_int64((int64_t)b->refill_time_ms));
	json_object_object_add(o, name, j);
}

struct json_object *cli_limiter_to_json(const struct cvmm_rate_limiter *rl)
{
	struct json_object *o = json_object_new_object();
	put_bucket(o, "bandwidth", &rl->bandwidth);
	put_bucket(o, "ops", &rl->ops);
	return o;
}
