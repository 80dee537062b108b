/* SPDX-License-Identifier: MIT */
/* Guest memory to and from a snapshot's memory file (vmm/snapmem.h). */
#include "vmm/snapmem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "core/thread.h"
#include "cvmm/cvmm.h"
#include "vmm/jail.h"

#define PAGE  4096u
#define CHUNK (64u * PAGE) /* LAZY: what one prefetch step loads */

void snapmem_init(struct snapmem *sm)
{
	memset(sm, 0, sizeof(*sm));
	sm->fd = sm->uffd = sm->stop_fd = sm->sock = sm->fail_fd = -1;
	sm->jail = JAIL_ON;
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

/* Makes len bytes at off read as zeros: a hole where the file system
 * punches one, zeros written where it cannot. */
static int clear_range(int fd, uint64_t off, uint64_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	static const uint8_t zero[PAGE];
	for (uint64_t done = 0; done < len; done += PAGE) {
		int r = write_all(fd, zero, PAGE, (off_t)(off + done));
		if (r < 0)
			return r;
	}
	return 0;
}

int snapmem_save(const struct guest_mem *m, int fd, unsigned long *const *dirty, struct err *e)
{
	/* A file of the memory's size is written over, not truncated (as
	 * Firecracker does): it may be the file this VM was restored from,
	 * whose pages the guest has not written are still read from it, so a
	 * truncation would zero them in the guest and in this snapshot; and a
	 * diff written onto its base's file merges into it. */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_set(e, errno, "cannot stat the memory file: %s", strerror(errno));
	bool fresh = (uint64_t)st.st_size != m->total;
	if (fresh && (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)m->total) < 0))
		return err_set(e, errno, "cannot size the memory file: %s", strerror(errno));
	uint64_t off = 0;
	const unsigned bits = 8 * sizeof(unsigned long);
	enum { SKIP, WRITE, CLEAR };
	for (unsigned i = 0; i < m->n; i++) {
		const struct gm_region *g = &m->r[i];
		uint64_t pages = g->size / PAGE;
		/* runs of pages to write (or, over an old file, to clear): one
		 * call each */
		uint64_t run = 0, nrun = 0;
		int kind = SKIP;
		for (uint64_t p = 0; p <= pages; p++) {
			int k = SKIP;
			if (p < pages) {
				if (dirty)
					k = dirty[i] && (dirty[i][p / bits] >> (p % bits)) & 1
						    ? WRITE
						    : SKIP;
				else
					k = !page_zero(g->host + p * PAGE) ? WRITE
					    : fresh			   ? SKIP
									   : CLEAR;
			}
			if (k != SKIP && k == kind) {
				nrun++;
				continue;
			}
			if (nrun) {
				uint64_t at = off + run * PAGE;
				int r = kind == WRITE ? write_all(fd, g->host + run * PAGE,
								  nrun * PAGE, (off_t)at)
						      : clear_range(fd, at, nrun * PAGE);
				if (r < 0)
					return err_set(e, -r, "cannot write the memory file: %s",
						       strerror(-r));
			}
			kind = k;
			run = p;
			nrun = k != SKIP;
		}
		off += g->size;
	}
	if (fsync(fd) < 0)
		return err_set(e, errno, "cannot sync the memory file: %s", strerror(errno));
	return 0;
}

/* Opens the memory file and checks its size against the regions. */
static int memfile_open(struct snapmem *sm, const char *path, const uint64_t *size, unsigned n,
			struct err *e)
{
	sm->fd = file_open_nowait(path, O_RDONLY | O_CLOEXEC);
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
	return 0;
}

/* A userfaultfd that also reports the kernel's own faults on guest RAM:
 * KVM reaches guest memory with get_user_pages from the vCPU thread's
 * KVM_RUN, and io_uring and syscalls copy into guest buffers, all in
 * kernel mode. UFFD_USER_MODE_ONLY (what an unprivileged process may
 * create when vm.unprivileged_userfaultfd is 0) does not deliver those:
 * the kernel fails them (EFAULT; tests/unit/test_snapmem.c shows it with
 * a pread into a registered page), so the guest could not run. As
 * Firecracker does (it creates its userfaultfd without user_mode_only),
 * cvmm asks for kernel faults too: the userfaultfd syscall, which needs
 * CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1, else /dev/userfaultfd
 * (Linux 6.1+, access to the device node is the permission). */
static int uffd_open(struct err *e)
{
	const int flags = O_CLOEXEC | O_NONBLOCK;
	int fd = (int)syscall(SYS_userfaultfd, flags);
	int er = errno;
	if (fd < 0 && (er == EPERM || er == EACCES)) {
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
			er = errno;
			close(dev);
		}
	}
	if (fd < 0)
		return err_set(e, er,
			       "cannot create a userfaultfd that sees KVM's faults: %s (needs "
			       "CAP_SYS_PTRACE, vm.unprivileged_userfaultfd=1 or access to "
			       "/dev/userfaultfd)",
			       strerror(er));
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		er = errno;
		close(fd);
		return err_set(e, er, "UFFDIO_API: %s", strerror(er));
	}
	return fd;
}

int snapmem_map(struct snapmem *sm, enum snapmem_backend b, const char *path, const uint64_t *gpa,
		const uint64_t *size, unsigned n, struct guest_mem *m, struct err *e)
{
	sm->backend = b;
	if (n > GM_MAX_REGIONS)
		return err_set(e, EINVAL, "too many memory regions");
	bool hugetlb = sm->huge == CVMM_HUGE_2M;
	if (hugetlb && b == SNAPMEM_FILE)
		return err_set(e, EINVAL,
			       "a snapshot restored with 2 MiB huge pages needs the Uffd memory "
			       "backend: its memory file cannot be mapped as huge pages "
			       "(Firecracker's rule)");
	if (hugetlb && b == SNAPMEM_LAZY)
		return err_set(e, EINVAL,
			       "cvmm's lazy loader serves 4 KiB pages: restore a snapshot with "
			       "2 MiB huge pages through the Uffd memory backend");
	for (unsigned i = 0; hugetlb && i < n; i++)
		if (size[i] % (2u << 20))
			return err_set(e, EINVAL, "memory region %u: not in 2 MiB huge pages", i);
	for (unsigned i = 0; i < n; i++)
		if (size[i] == 0 || size[i] % PAGE)
			return err_set(e, EINVAL, "memory region %u: size not a multiple of 4 KiB",
				       i);
	if (b == SNAPMEM_UFFD) {
		if (strlen(path) >= sizeof(sm->path))
			return err_set(e, ENAMETOOLONG, "page fault handler socket path too long");
		snprintf(sm->path, sizeof(sm->path), "%s", path);
	} else {
		int r = memfile_open(sm, path, size, n, e);
		if (r < 0)
			return r;
	}
	if (b != SNAPMEM_FILE) {
		sm->uffd = uffd_open(e);
		if (sm->uffd < 0) {
			int r = sm->uffd;
			sm->uffd = -1;
			return r;
		}
	}
	uint64_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		/* hugetlb: reserved from the host's pool now, not at a fault */
		void *p = b == SNAPMEM_FILE ? mmap(NULL, size[i], PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_NORESERVE, sm->fd, (off_t)off)
			  : hugetlb	    ? gm_map_hugetlb(size[i])
					    : mmap(NULL, size[i], PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return err_set(e, errno, "cannot map guest memory for '%s': %s%s", path,
				       strerror(errno),
				       hugetlb ? " (2 MiB huge pages: the host's pool, "
						 "vm.nr_hugepages)"
					       : "");
		sm->map[i] = p;
		sm->len[i] = size[i];
		sm->off[i] = off;
		sm->n = i + 1;
		madvise(p, size[i], MADV_DONTDUMP);
		if (b != SNAPMEM_FILE && sm->huge == CVMM_HUGE_THP)
			madvise(p, size[i], MADV_HUGEPAGE);
		if (b != SNAPMEM_FILE) {
			struct uffdio_register reg = {
				.range = {.start = (uint64_t)(uintptr_t)p, .len = size[i]},
				.mode = UFFDIO_REGISTER_MODE_MISSING,
			};
			if (ioctl(sm->uffd, UFFDIO_REGISTER, &reg) < 0)
				return err_set(e, errno, "UFFDIO_REGISTER: %s", strerror(errno));
		}
		int r = gm_add(m, gpa[i], size[i], p);
		if (r < 0)
			return err_set(e, -r, "bad memory layout");
		off += size[i];
	}
	return 0;
}

/* ---- the snapshot memory thread ----------------------------------------- */

/* Reports a failure once: why, failed, and the caller's eventfd. */
__attribute__((format(printf, 2, 3))) static void sm_fail(struct snapmem *sm, const char *fmt, ...)
{
	if (__atomic_load_n(&sm->failed, __ATOMIC_ACQUIRE))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sm->why, sizeof(sm->why), fmt, ap);
	va_end(ap);
	__atomic_store_n(&sm->failed, true, __ATOMIC_RELEASE);
	if (sm->fail_fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(sm->fail_fd, &one, sizeof(one));
		(void)w;
	}
}

/* Which region holds host address a: its index, or -1. */
static int region_of(const struct snapmem *sm, uint64_t a)
{
	for (unsigned i = 0; i < sm->n; i++) {
		uint64_t base = (uint64_t)(uintptr_t)sm->map[i];
		if (a >= base && a - base < sm->len[i])
			return (int)i;
	}
	return -1;
}

static int uffd_wake(int uffd, uint64_t dst, uint64_t len)
{
	struct uffdio_range rg = {.start = dst, .len = len};
	return ioctl(uffd, UFFDIO_WAKE, &rg) < 0 ? -errno : 0;
}

/* Copies len bytes (pages) of buf to dst. Pages already there (a fault
 * filled them, or a prefetch) are skipped, and whoever waits on them
 * woken. 0 or -errno. */
static int uffd_copy(struct snapmem *sm, uint64_t dst, const uint8_t *buf, uint64_t len)
{
	while (len) {
		struct uffdio_copy c = {
			.dst = dst, .src = (uint64_t)(uintptr_t)buf, .len = len, .mode = 0};
		int r = ioctl(sm->uffd, UFFDIO_COPY, &c);
		int64_t done = c.copy;
		if (r == 0) {
			sm->copied += len / PAGE;
			return 0;
		}
		if (done > 0) { /* a partial copy: on from where it stopped */
			sm->copied += (uint64_t)done / PAGE;
			dst += (uint64_t)done;
			buf += done;
			len -= (uint64_t)done;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			continue;
		if (errno != EEXIST)
			return -errno;
		/* the page at dst is already there */
		int w = uffd_wake(sm->uffd, dst, PAGE);
		if (w < 0)
			return w;
		dst += PAGE;
		buf += PAGE;
		len -= PAGE;
	}
	return 0;
}

/* Maps the shared zero page over len bytes (pages) at dst, skipping the
 * pages already there (and waking whoever waits on them). */
static int uffd_zero(struct snapmem *sm, uint64_t dst, uint64_t len)
{
	while (len) {
		struct uffdio_zeropage z = {.range = {.start = dst, .len = len}, .mode = 0};
		int r = ioctl(sm->uffd, UFFDIO_ZEROPAGE, &z);
		int64_t done = z.zeropage;
		if (r == 0) {
			sm->zeroed += len / PAGE;
			return 0;
		}
		if (done > 0) {
			sm->zeroed += (uint64_t)done / PAGE;
			dst += (uint64_t)done;
			len -= (uint64_t)done;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			continue;
		if (errno != EEXIST)
			return -errno;
		int w = uffd_wake(sm->uffd, dst, PAGE);
		if (w < 0)
			return w;
		dst += PAGE;
		len -= PAGE;
	}
	return 0;
}

/* Reads len bytes at file offset off into sm->buf. 0 or -errno. */
static int read_file(struct snapmem *sm, uint64_t off, uint64_t len)
{
	uint64_t got = 0;
	while (got < len) {
		ssize_t n = pread(sm->fd, sm->buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (uint64_t)n;
	}
	return 0;
}

/* LAZY: serves one fault: the page's bytes from the file, or zeros where
 * the file has a hole there (SEEK_DATA: the next data is further on). */
static int lazy_fault(struct snapmem *sm, uint64_t addr)
{
	addr &= ~(uint64_t)(PAGE - 1);
	int i = region_of(sm, addr);
	if (i < 0)
		return -EFAULT;
	uint64_t off = sm->off[i] + (addr - (uint64_t)(uintptr_t)sm->map[i]);
	sm->faults++;
	off_t d = lseek(sm->fd, (off_t)off, SEEK_DATA);
	if (d < 0 && errno != ENXIO)
		return -errno;
	if (d < 0 || (uint64_t)d >= off + PAGE)
		return uffd_zero(sm, addr, PAGE);
	int r = read_file(sm, off, PAGE);
	return r < 0 ? r : uffd_copy(sm, addr, sm->buf, PAGE);
}

/* LAZY: serves every fault that is waiting. 0 or -errno. */
static int lazy_faults(struct snapmem *sm)
{
	struct uffd_msg msg[16];
	for (;;) {
		ssize_t n = read(sm->uffd, msg, sizeof(msg));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return -errno;
		for (ssize_t k = 0; k < n / (ssize_t)sizeof(msg[0]); k++) {
			if (msg[k].event != UFFD_EVENT_PAGEFAULT)
				continue;
			int r = lazy_fault(sm, msg[k].arg.pagefault.address);
			if (r < 0)
				return r;
		}
	}
}

/* LAZY: fills the next piece from file offset *cur (page-aligned): at
 * most CHUNK bytes of data from the file, or a hole's pages (at most
 * ZCHUNK) with the shared zero page, never across a region's end; *cur
 * goes past it. Holes are filled too, so that once the prefetch is done
 * no page is missing and no fault can wait on a loader that ended. */
#define ZCHUNK (512u * PAGE)
static int lazy_prefetch(struct snapmem *sm, uint64_t *cur, uint64_t total)
{
	uint64_t start = *cur, end;
	bool data;
	off_t d = lseek(sm->fd, (off_t)start, SEEK_DATA);
	if (d < 0 && errno != ENXIO)
		return -errno;
	uint64_t dpage = d < 0 ? total : ((uint64_t)d & ~(uint64_t)(PAGE - 1));
	if (dpage > start) { /* a hole up to the next data (or the end) */
		data = false;
		end = dpage - start > ZCHUNK ? start + ZCHUNK : dpage;
	} else {
		off_t h = lseek(sm->fd, d, SEEK_HOLE);
		if (h < 0)
			return -errno;
		data = true;
		end = ((uint64_t)h + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		if (end > total)
			end = total;
		if (end - start > CHUNK)
			end = start + CHUNK;
	}
	for (unsigned i = 0; i < sm->n; i++) {
		if (start < sm->off[i] || start >= sm->off[i] + sm->len[i])
			continue;
		if (end > sm->off[i] + sm->len[i])
			end = sm->off[i] + sm->len[i];
		uint64_t dst = (uint64_t)(uintptr_t)sm->map[i] + (start - sm->off[i]);
		int r = data ? read_file(sm, start, end - start) : 0;
		if (r == 0)
			r = data ? uffd_copy(sm, dst, sm->buf, end - start)
				 : uffd_zero(sm, dst, end - start);
		if (r < 0)
			return r;
		break;
	}
	*cur = end;
	return 0;
}

static void *lazy_thread(void *arg)
{
	struct snapmem *sm = arg;
	uint64_t total = 0, cur = 0;
	for (unsigned i = 0; i < sm->n; i++)
		total += sm->len[i];
	int r = 0;
	const char *what = "";
	while (cur < total) {
		struct pollfd p[2] = {{.fd = sm->uffd, .events = POLLIN},
				      {.fd = sm->stop_fd, .events = POLLIN}};
		/* faults first; prefetch between them (timeout 0) */
		if (poll(p, 2, sm->on_demand ? -1 : 0) < 0 && errno != EINTR) {
			r = -errno;
			what = "poll";
			break;
		}
		if (p[1].revents)
			return NULL; /* stopped: the loader is not done */
		r = lazy_faults(sm);
		if (r < 0) {
			what = "serving a page fault";
			break;
		}
		if (sm->on_demand)
			continue;
		r = lazy_prefetch(sm, &cur, total);
		if (r < 0) {
			what = "prefetching";
			break;
		}
	}
	if (r == 0) {
		/* Every page is there (data or the zero page): no fault can
		 * be waiting or come. Unregistered, the regions are plain
		 * anonymous memory again. */
		r = lazy_faults(sm);
		for (unsigned i = 0; r == 0 && i < sm->n; i++) {
			struct uffdio_range rg = {.start = (uint64_t)(uintptr_t)sm->map[i],
						  .len = sm->len[i]};
			if (ioctl(sm->uffd, UFFDIO_UNREGISTER, &rg) < 0)
				r = -errno;
			/* UNREGISTER wakes the faults it finds waiting; wake the
			 * range again all the same (a wake of nobody is free) */
			else
				(void)uffd_wake(sm->uffd, rg.start, rg.len);
		}
		what = "unregistering guest memory";
	}
	if (r < 0) {
		sm_fail(sm, "snapshot memory loader: %s: %s", what, strerrordesc_np(-r));
		return NULL;
	}
	__atomic_store_n(&sm->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* UFFD: waits for the handler's socket to hang up (the handler exited or
 * died: nobody serves faults any more) or for the stop eventfd. */
static void *watch_thread(void *arg)
{
	struct snapmem *sm = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = sm->sock, .events = POLLIN | POLLRDHUP},
				      {.fd = sm->stop_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			sm_fail(sm, "page fault handler at '%s': cannot watch its socket",
				sm->path);
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
			sm_fail(sm,
				"the page fault handler at '%s' hung up (exited?): guest memory "
				"can no longer be served",
				sm->path);
			return NULL;
		}
		if (p[0].revents & POLLIN) {
			char junk[256];
			ssize_t n = read(sm->sock, junk, sizeof(junk));
			if (n == 0) {
				sm_fail(sm,
					"the page fault handler at '%s' hung up (exited?): guest "
					"memory can no longer be served",
					sm->path);
				return NULL;
			}
		}
	}
}

struct thread_start {
	struct snapmem *sm;
	void *ctx; /* owned until jail_load */
	void *(*fn)(void *);
};

static void *thread_main(void *arg)
{
	struct thread_start *ts = arg;
	struct snapmem *sm = ts->sm;
	void *ctx = ts->ctx;
	void *(*fn)(void *) = ts->fn;
	free(ts);
	/* First: its name, no capabilities, its filter. */
	jail_name_thread("cvmm-snapmem");
	int r = jail_caps_limit(0);
	if (r == 0)
		r = jail_load(ctx, "cvmm-snapmem");
	else
		jail_free(ctx);
	if (r < 0) {
		sm_fail(sm, "snapshot memory thread: cannot load its seccomp filter: %s",
			strerror(-r));
		return NULL;
	}
	return fn(sm);
}

/* The UFFD handshake (Firecracker's): one message on a stream socket, the
 * JSON list of regions (base_host_virt_addr, size, offset, page_size and
 * its deprecated twin page_size_kib, both in bytes), with the userfaultfd
 * as SCM_RIGHTS. */
static int uffd_handshake(struct snapmem *sm, struct err *e)
{
	sm->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sm->sock < 0)
		return err_set(e, errno, "socket: %s", strerror(errno));
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sm->path);
	if (connect(sm->sock, (struct sockaddr *)&a, sizeof(a)) < 0)
		return err_set(e, errno, "cannot connect to the page fault handler at '%s': %s",
			       sm->path, strerror(errno));
	char json[GM_MAX_REGIONS * 160 + 8];
	size_t at = 0;
	/* the page the handler must copy whole (UFFDIO_COPY on hugetlb) */
	unsigned psize = sm->huge == CVMM_HUGE_2M ? 2u << 20 : PAGE;
	json[at++] = '[';
	for (unsigned i = 0; i < sm->n; i++)
		at += (size_t)snprintf(json + at, sizeof(json) - at,
				       "%s{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%"
				       "llu,\"page_size\":%u,\"page_size_kib\":%u}",
				       i ? "," : "", (unsigned long long)(uintptr_t)sm->map[i],
				       (unsigned long long)sm->len[i],
				       (unsigned long long)sm->off[i], psize, psize);
	json[at++] = ']';
	struct iovec iov = {json, at};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &sm->uffd, sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sm->sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)at)
		return err_set(e, n < 0 ? errno : EIO,
			       "cannot send the regions to the page fault handler at '%s': %s",
			       sm->path, n < 0 ? strerror(errno) : "short write");
	return 0;
}

int snapmem_connect(struct snapmem *sm, struct err *e)
{
	if (sm->backend != SNAPMEM_UFFD || sm->sock >= 0)
		return 0;
	int r = uffd_handshake(sm, e);
	if (r < 0 && sm->sock >= 0) { /* not half done: a retry starts anew */
		close(sm->sock);
		sm->sock = -1;
	}
	return r;
}

int snapmem_start(struct snapmem *sm, struct err *e)
{
	if (sm->backend == SNAPMEM_FILE)
		return 0;
	if (sm->backend == SNAPMEM_UFFD) {
		int r = snapmem_connect(sm, e);
		if (r < 0)
			return r;
	} else {
		sm->buf = malloc(CHUNK);
		if (!sm->buf)
			return err_set(e, ENOMEM, "snapshot memory loader: out of memory");
	}
	sm->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (sm->stop_fd < 0)
		return err_set(e, errno, "eventfd: %s", strerror(errno));
	struct jail_fds fds = {.ring = -1,
			       .irq = -1,
			       .config_irq = -1,
			       .notify_irq = -1,
			       .vcpu = -1,
			       .vm = -1,
			       .listen = -1,
			       .uffd = sm->uffd,
			       .memfile = sm->fd,
			       .fail = sm->fail_fd,
			       .sock = sm->sock};
	struct thread_start *ts = calloc(1, sizeof(*ts));
	if (!ts)
		return err_set(e, ENOMEM, "snapshot memory thread: out of memory");
	ts->sm = sm;
	ts->fn = sm->backend == SNAPMEM_UFFD ? watch_thread : lazy_thread;
	int r = jail_build(JAIL_SNAPMEM, sm->jail, &fds, &ts->ctx, e);
	if (r < 0) {
		free(ts);
		return r;
	}
	r = core_thread_start(&sm->thread, thread_main, ts);
	if (r != 0) {
		jail_free(ts->ctx);
		free(ts);
		return err_set(e, r, "cannot start the snapshot memory thread: %s", strerror(r));
	}
	sm->thread_started = true;
	return 0;
}

static void thread_stop(struct snapmem *sm)
{
	if (!sm->thread_started)
		return;
	uint64_t one = 1;
	ssize_t w = write(sm->stop_fd, &one, sizeof(one));
	(void)w;
	pthread_join(sm->thread, NULL);
	sm->thread_started = false;
}

void snapmem_release(struct snapmem *sm)
{
	thread_stop(sm);
	if (sm->uffd >= 0)
		close(sm->uffd);
	sm->uffd = -1;
}

int snapmem_wait_loaded(struct snapmem *sm, int timeout_ms)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (__atomic_load_n(&sm->done, __ATOMIC_ACQUIRE))
			return 0;
		if (__atomic_load_n(&sm->failed, __ATOMIC_ACQUIRE))
			return -EIO;
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (timeout_ms >= 0 && ms >= timeout_ms)
			return -ETIMEDOUT;
		struct timespec nap = {0, 1000000};
		nanosleep(&nap, NULL);
	}
}

void snapmem_destroy(struct snapmem *sm)
{
	if (!sm)
		return;
	thread_stop(sm);
	/* the userfaultfd first: nothing waits in a fault when we unmap */
	if (sm->uffd >= 0)
		close(sm->uffd);
	sm->uffd = -1;
	if (sm->sock >= 0)
		close(sm->sock);
	free(sm->buf);
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
	int r = 0;
	uint8_t *buf = NULL;
	int b = open(base, O_WRONLY | O_CLOEXEC);
	if (b < 0)
		return err_set(e, errno, "cannot open memory file '%s': %s", base, strerror(errno));
	int d = open(diff, O_RDONLY | O_CLOEXEC);
	if (d < 0) {
		r = err_set(e, errno, "cannot open memory file '%s': %s", diff, strerror(errno));
		goto out_base;
	}
	struct stat sb, sd;
	if (fstat(b, &sb) < 0 || fstat(d, &sd) < 0) {
		r = err_set(e, errno, "memory files: %s", strerror(errno));
		goto out;
	}
	if (sb.st_size != sd.st_size) {
		r = err_set(e, EINVAL,
			    "diff memory file '%s' (%llu bytes) is not the size of '%s' (%llu)",
			    diff, (unsigned long long)sd.st_size, base,
			    (unsigned long long)sb.st_size);
		goto out;
	}
	buf = malloc(1u << 20);
	if (!buf) {
		r = err_set(e, ENOMEM, "out of memory");
		goto out;
	}
	/* every data extent of the diff (its dirty pages, zero or not) */
	off_t at = 0;
	for (;;) {
		off_t ds = lseek(d, at, SEEK_DATA);
		if (ds < 0 && errno == ENXIO)
			break;
		if (ds < 0) {
			r = err_set(e, errno, "'%s': SEEK_DATA: %s", diff, strerror(errno));
			goto out;
		}
		off_t de = lseek(d, ds, SEEK_HOLE);
		if (de < 0) {
			r = err_set(e, errno, "'%s': SEEK_HOLE: %s", diff, strerror(errno));
			goto out;
		}
		for (off_t o = ds; o < de;) {
			size_t want = (size_t)(de - o) < (1u << 20) ? (size_t)(de - o) : (1u << 20);
			ssize_t n = pread(d, buf, want, o);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = err_set(e, n < 0 ? errno : EIO, "cannot read '%s': %s", diff,
					    n < 0 ? strerror(errno) : "short file");
				goto out;
			}
			int w = write_all(b, buf, (size_t)n, o);
			if (w < 0) {
				r = err_set(e, -w, "cannot write '%s': %s", base, strerror(-w));
				goto out;
			}
			o += n;
		}
		at = de;
	}
	if (fsync(b) < 0)
		r = err_set(e, errno, "cannot sync '%s': %s", base, strerror(errno));
out:
	free(buf);
	close(d);
out_base:
	close(b);
	return r;
}

/* ---- diff snapshots: what changed --------------------------------------- */

static int slot_flags(int vm_fd, const struct guest_mem *m, unsigned i, uint32_t flags)
{
	const struct gm_region *g = &m->r[i];
	struct kvm_userspace_memory_region region = {
		.slot = i,
		.flags = flags,
		.guest_phys_addr = g->gpa,
		.memory_size = g->size,
		.userspace_addr = (uint64_t)(uintptr_t)g->host,
	};
	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -errno : 0;
}

int snapmem_dirty_start(int vm_fd, struct guest_mem *m, struct snapmem_dirty *d, struct err *e)
{
	const unsigned bits = 8 * sizeof(unsigned long);
	memset(d, 0, sizeof(*d));
	d->n = m->n;
	for (unsigned i = 0; i < m->n; i++) {
		uint64_t pages = (m->r[i].size + GM_DIRTY_PAGE - 1) / GM_DIRTY_PAGE;
		/* KVM's dirty log is in 64-bit words */
		d->words[i] = (pages + 63) / 64 * (64 / bits);
		d->dev[i] = calloc(d->words[i], sizeof(unsigned long));
		d->kvm[i] = calloc(d->words[i], sizeof(unsigned long));
		d->out[i] = calloc(d->words[i], sizeof(unsigned long));
		if (!d->dev[i] || !d->kvm[i] || !d->out[i]) {
			snapmem_dirty_stop(-1, m, d);
			return err_set(e, ENOMEM, "dirty page tracking: out of memory");
		}
	}
	for (unsigned i = 0; i < m->n; i++)
		__atomic_store_n(&m->dirty[i], d->dev[i], __ATOMIC_RELEASE);
	if (vm_fd < 0)
		return 0;
	for (unsigned i = 0; i < m->n; i++) {
		int r = slot_flags(vm_fd, m, i, KVM_MEM_LOG_DIRTY_PAGES);
		if (r < 0) {
			snapmem_dirty_stop(vm_fd, m, d);
			return err_set(e, -r, "KVM_SET_USER_MEMORY_REGION (dirty logging): %s",
				       strerror(-r));
		}
	}
	return 0;
}

int snapmem_dirty_collect(int vm_fd, struct guest_mem *m, struct snapmem_dirty *d, struct err *e)
{
	for (unsigned i = 0; i < d->n; i++) {
		memset(d->kvm[i], 0, d->words[i] * sizeof(unsigned long));
		if (vm_fd >= 0) {
			struct kvm_dirty_log log = {.slot = i};
			log.dirty_bitmap = d->kvm[i];
			if (ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
				return err_set(e, errno, "KVM_GET_DIRTY_LOG (slot %u): %s", i,
					       strerror(errno));
		}
		for (uint64_t w = 0; w < d->words[i]; w++)
			d->out[i][w] = d->kvm[i][w] |
				       __atomic_exchange_n(&d->dev[i][w], 0UL, __ATOMIC_RELAXED);
	}
	(void)m;
	return 0;
}

int snapmem_resident(const struct guest_mem *m, unsigned long **out, struct err *e)
{
	const unsigned bits = 8 * sizeof(unsigned long);
	enum { STEP = 16384 }; /* pages per mincore call */
	unsigned char vec[STEP];
	for (unsigned i = 0; i < m->n; i++)
		out[i] = NULL;
	for (unsigned i = 0; i < m->n; i++) {
		const struct gm_region *g = &m->r[i];
		uint64_t pages = g->size / PAGE;
		out[i] = calloc((pages + bits - 1) / bits, sizeof(unsigned long));
		if (!out[i])
			return err_set(e, ENOMEM, "no memory for the resident pages' map");
		for (uint64_t p = 0; p < pages; p += STEP) {
			uint64_t n = pages - p < STEP ? pages - p : STEP;
			if (mincore(g->host + p * PAGE, n * PAGE, vec) < 0)
				return err_set(e, errno, "mincore: %s", strerror(errno));
			for (uint64_t k = 0; k < n; k++)
				if (vec[k] & 1)
					out[i][(p + k) / bits] |= 1UL << ((p + k) % bits);
		}
	}
	return 0;
}

void snapmem_dirty_stop(int vm_fd, struct guest_mem *m, struct snapmem_dirty *d)
{
	for (unsigned i = 0; i < d->n && i < m->n; i++) {
		if (vm_fd >= 0 && d->dev[i])
			(void)slot_flags(vm_fd, m, i, 0);
		__atomic_store_n(&m->dirty[i], NULL, __ATOMIC_RELEASE);
	}
	for (unsigned i = 0; i < d->n; i++) {
		free(d->dev[i]);
		free(d->kvm[i]);
		free(d->out[i]);
	}
	memset(d, 0, sizeof(*d));
}
