/* SPDX-License-Identifier: MIT */
/* Token buckets (ratelimit.h). Tokens come at size per refill time, counted
 * in whole tokens: the time a partial token has accrued is kept (last_ns
 * moves on only by the time the whole tokens took), so nothing is lost to
 * rounding however often the bucket is asked. */
#include "core/ratelimit.h"

#include <errno.h>
#include <string.h>

#define NS_PER_MS 1000000ULL

bool rl_bucket_on(const struct rl_bucket_cfg *c)
{
	return c->size && c->refill_ms;
}

bool rl_cfg_on(const struct rl_cfg *c)
{
	return rl_bucket_on(&c->bw) || rl_bucket_on(&c->ops);
}

static int bucket_check(const struct rl_bucket_cfg *c)
{
	return c->size > RL_SIZE_MAX || c->one_time_burst > RL_SIZE_MAX ||
			       c->refill_ms > RL_REFILL_MAX
		       ? -EINVAL
		       : 0;
}

int rl_cfg_check(const struct rl_cfg *c)
{
	return bucket_check(&c->bw) < 0 || bucket_check(&c->ops) < 0 ? -EINVAL : 0;
}

static void bucket_init(struct rl_bucket *b, const struct rl_bucket_cfg *c)
{
	memset(b, 0, sizeof(*b));
	if (!rl_bucket_on(c))
		return; /* off: its cfg says so, the rest unused */
	b->cfg = *c;
	b->burst = c->one_time_burst;
	b->budget = (int64_t)c->size;
}

void rl_init(struct rl *l, const struct rl_cfg *c)
{
	bucket_init(&l->bw, &c->bw);
	bucket_init(&l->ops, &c->ops);
}

static bool same(const struct rl_bucket_cfg *a, const struct rl_bucket_cfg *b)
{
	if (!rl_bucket_on(a) && !rl_bucket_on(b))
		return true;
	return a->size == b->size && a->refill_ms == b->refill_ms &&
	       a->one_time_burst == b->one_time_burst;
}

void rl_update(struct rl *l, const struct rl_cfg *c)
{
	if (!same(&l->bw.cfg, &c->bw))
		bucket_init(&l->bw, &c->bw);
	if (!same(&l->ops.cfg, &c->ops))
		bucket_init(&l->ops, &c->ops);
}

/* Brings the budget up to now: the whole tokens accrued since last_ns. */
static void refill(struct rl_bucket *b, uint64_t now)
{
	if (!b->started || now < b->last_ns) {
		b->started = true;
		b->last_ns = now;
		return;
	}
	int64_t size = (int64_t)b->cfg.size;
	if (b->budget >= size) {
		b->last_ns = now; /* full: time passing adds nothing */
		return;
	}
	unsigned __int128 refill_ns = (unsigned __int128)b->cfg.refill_ms * NS_PER_MS;
	unsigned __int128 elapsed = now - b->last_ns;
	unsigned __int128 tokens = elapsed * b->cfg.size / refill_ns;
	if (tokens == 0)
		return;
	if (tokens >= (unsigned __int128)(size - b->budget)) {
		b->budget = size;
		b->last_ns = now;
		return;
	}
	b->budget += (int64_t)tokens;
	/* the time those tokens took, rounded up: the rest carries over */
	b->last_ns += (uint64_t)((tokens * refill_ns + b->cfg.size - 1) / b->cfg.size);
}

/* The tokens of `want` the bucket itself must give (the burst goes first). */
static uint64_t from_bucket(const struct rl_bucket *b, uint64_t want)
{
	return want > b->burst ? want - b->burst : 0;
}

/* 0 if the bucket can give want now, else the nanoseconds until it can. */
static uint64_t bucket_wait(struct rl_bucket *b, uint64_t want, uint64_t now)
{
	if (!rl_bucket_on(&b->cfg))
		return 0;
	refill(b, now);
	uint64_t rem = from_bucket(b, want);
	int64_t size = (int64_t)b->cfg.size;
	if (rem == 0 || (b->budget >= 0 && rem <= (uint64_t)b->budget) || b->budget >= size)
		return 0;
	/* until it holds rem, or is full for a request larger than itself */
	uint64_t target = rem < b->cfg.size ? rem : b->cfg.size;
	unsigned __int128 missing = (unsigned __int128)((__int128)target - b->budget);
	unsigned __int128 refill_ns = (unsigned __int128)b->cfg.refill_ms * NS_PER_MS;
	unsigned __int128 need = (missing * refill_ns + b->cfg.size - 1) / b->cfg.size;
	unsigned __int128 due = (unsigned __int128)b->last_ns + need;
	if (due <= now)
		return 1; /* (cannot happen: refill took what had accrued) */
	unsigned __int128 wait = due - now;
	return wait > UINT64_MAX ? UINT64_MAX : (uint64_t)wait;
}

static void bucket_take(struct rl_bucket *b, uint64_t want)
{
	if (!rl_bucket_on(&b->cfg))
		return;
	uint64_t rem = from_bucket(b, want);
	b->burst -= want - rem;
	b->budget -= (int64_t)rem;
}

uint64_t rl_take(struct rl *l, uint64_t bytes, uint64_t ops, uint64_t now_ns)
{
	/* (no request is that large; keeps every budget within 64 bits) */
	bytes = bytes > RL_SIZE_MAX ? RL_SIZE_MAX : bytes;
	ops = ops > RL_SIZE_MAX ? RL_SIZE_MAX : ops;
	uint64_t w1 = bucket_wait(&l->bw, bytes, now_ns);
	uint64_t w2 = bucket_wait(&l->ops, ops, now_ns);
	if (w1 || w2)
		return w1 > w2 ? w1 : w2;
	bucket_take(&l->bw, bytes);
	bucket_take(&l->ops, ops);
	return 0;
}
