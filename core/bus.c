/* SPDX-License-Identifier: MIT */
#include "core/bus.h"

#include <errno.h>
#include <string.h>

int bus_add(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops, void *dev,
	    const char *name)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	if (b->n >= BUS_MAX_RANGES)
		return -ENOSPC;
	unsigned i = 0;
	while (i < b->n && b->r[i].base < base)
		i++;
	if (i > 0 && b->r[i - 1].base + b->r[i - 1].len > base)
		return -EINVAL;
	if (i < b->n && base + len > b->r[i].base)
		return -EINVAL;
	memmove(&b->r[i + 1], &b->r[i], (b->n - i) * sizeof(b->r[0]));
	b->r[i] = (struct bus_range){base, len, ops, dev, name};
	b->n++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *b, uint64_t addr, unsigned len)
{
	unsigned lo = 0, hi = b->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->r[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return (len <= r->len - (addr - r->base)) ? r : NULL;
	}
	return NULL;
}

bool bus_read(const struct bus *b, uint64_t addr, uint8_t *data, unsigned len)
{
	const struct bus_range *r = bus_find(b, addr, len);
	if (!r || !r->ops->read) {
		memset(data, 0xff, len);
		return r != NULL;
	}
	r->ops->read(r->dev, addr - r->base, data, len);
	return true;
}

bool bus_write(const struct bus *b, uint64_t addr, const uint8_t *data, unsigned len)
{
	const struct bus_range *r = bus_find(b, addr, len);
	if (!r)
		return false;
	if (r->ops->write)
		r->ops->write(r->dev, addr - r->base, data, len);
	return true;
}
