/* SPDX-License-Identifier: MIT */
/* Guest memory to and from a snapshot's memory file (vmm/snapmem.h). */
#include "vmm/snapmem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096u

void snapmem_init(struct snapmem *sm)
{
	memset(sm, 0, sizeof(*sm));
	sm->fd = sm->uffd = sm->stop_fd = -1;
}

static bool page_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	uint64_t acc = 0;
	for (unsigned i = 0; i < PAGE / 8; i++)
		acc |= q[i];
	return acc == 0;
}

static int write_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int snapmem_save(const struct guest_mem *m, int fd, unsigned long *const *dirty, struct err *e)
{
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)m->total) < 0)
		return err_set(e, errno, "cannot size the memory file: %s", strerror(errno));
	uint64_t off = 0;
	const unsigned bits = 8 * sizeof(unsigned long);
	for (unsigned i = 0; i < m->n; i++) {
		const struct gm_region *g = &m->r[i];
		uint64_t pages = g->size / PAGE;
		/* runs of pages to write, one pwrite each */
		uint64_t run = 0, nrun = 0;
		for (uint64_t p = 0; p <= pages; p++) {
			bool want = false;
			if (p < pages) {
				if (dirty)
					want = dirty[i] && (dirty[i][p / bits] >> (p % bits)) & 1;
				else
					want = !page_zero(g->host + p * PAGE);
			}
			if (want) {
				if (!nrun)
					run = p;
				nrun++;
				continue;
			}
			if (nrun) {
				int r = write_all(fd, g->host + run * PAGE, nrun * PAGE,
						  (off_t)(off + run * PAGE));
				if (r < 0)
					return err_set(e, -r, "cannot write the memory file: %s",
						       strerror(-r));
				nrun = 0;
			}
		}
		off += g->size;
	}
	if (fsync(fd) < 0)
		return err_set(e, errno, "cannot sync the memory file: %s", strerror(errno));
	return 0;
}

int snapmem_map(struct snapmem *sm, enum snapmem_backend b, const char *path, const uint64_t *gpa,
		const uint64_t *size, unsigned n, struct guest_mem *m, struct err *e)
{
	sm->backend = b;
	if (b != SNAPMEM_FILE)
		return err_set(e, EOPNOTSUPP, "memory backend %d is not built yet", (int)b);
	sm->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (sm->fd < 0)
		return err_set(e, errno, "cannot open memory file '%s': %s", path, strerror(errno));
	struct stat st;
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++)
		total += size[i];
	if (fstat(sm->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(e, EINVAL, "memory file '%s' is not a regular file", path);
	if ((uint64_t)st.st_size != total)
		return err_set(e, EINVAL,
			       "memory file '%s' has %llu bytes, the snapshot's memory is %llu",
			       path, (unsigned long long)st.st_size, (unsigned long long)total);
	uint64_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		void *p = mmap(NULL, size[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
			       sm->fd, (off_t)off);
		if (p == MAP_FAILED)
			return err_set(e, errno, "cannot map memory file '%s': %s", path,
				       strerror(errno));
		sm->map[i] = p;
		sm->len[i] = size[i];
		sm->off[i] = off;
		sm->n = i + 1;
		madvise(p, size[i], MADV_DONTDUMP);
		int r = gm_add(m, gpa[i], size[i], p);
		if (r < 0)
			return err_set(e, -r, "bad memory layout");
		off += size[i];
	}
	return 0;
}

int snapmem_start(struct snapmem *sm, struct err *e)
{
	(void)sm;
	(void)e;
	return 0;
}

void snapmem_destroy(struct snapmem *sm)
{
	if (!sm)
		return;
	for (unsigned i = 0; i < sm->n; i++)
		if (sm->map[i])
			munmap(sm->map[i], sm->len[i]);
	if (sm->fd >= 0)
		close(sm->fd);
	if (sm->uffd >= 0)
		close(sm->uffd);
	if (sm->stop_fd >= 0)
		close(sm->stop_fd);
	snapmem_init(sm);
}

int snapmem_merge(const char *base, const char *diff, struct err *e)
{
	(void)base;
	(void)diff;
	return err_set(e, EOPNOTSUPP, "merging diff snapshots is not built yet");
}
