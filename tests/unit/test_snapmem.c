/* SPDX-License-Identifier: MIT */
/* Snapshot memory (vmm/snapmem.c) without KVM: a full dump is sparse (holes
 * where the guest's pages are zero); FILE maps it back, privately; LAZY
 * serves faults of another thread from the file (zeros in holes) and
 * prefetches every data page, then ends; UFFD hands the userfaultfd and
 * Firecracker's region list to a handler (a child process here, as
 * Firecracker's example handlers are), and a handler that dies is reported
 * within bounded time, with no thread left blocked in a fault; a diff holds
 * the pages the virtqueues marked (a popped chain's writable buffers, the
 * used ring), zero or not, and merges onto its base. The userfaultfd tests
 * skip where the process may not create one that sees kernel faults. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cvmm/cvmm.h"
#include "vmm/snapmem.h"
#include "vq_rig.h"

#define PG 4096u

/* The memory of the tests: region 0 of R0 bytes at 0, region 1 of R1 at
 * 1 MiB; data in some pages, the rest zero. */
#define R0 (64 * PG)
#define R1 (32 * PG)
static const uint64_t gpas[2] = {0, 1 << 20};
static const uint64_t sizes[2] = {R0, R1};
/* (region, page) of the pages with data */
static const unsigned data_pages[][2] = {{0, 0}, {0, 3}, {0, 4}, {0, 40}, {1, 5}, {1, 31}};
#define NDATA (sizeof(data_pages) / sizeof(data_pages[0]))

static uint8_t pattern(unsigned region, unsigned page, unsigned byte)
{
	return (uint8_t)(1 + region * 7 + page * 13 + byte * 3);
}

/* A guest memory of two anonymous regions, filled as above. */
struct fake_guest {
	struct guest_mem m;
	uint8_t *host[2];
};

static void guest_make(struct fake_guest *g)
{
	memset(g, 0, sizeof(*g));
	for (unsigned i = 0; i < 2; i++) {
		g->host[i] = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(g->host[i] != MAP_FAILED);
		assert_int_equal(gm_add(&g->m, gpas[i], sizes[i], g->host[i]), 0);
	}
	for (unsigned k = 0; k < NDATA; k++) {
		unsigned r = data_pages[k][0], p = data_pages[k][1];
		for (unsigned b = 0; b < PG; b++)
			g->host[r][p * PG + b] = pattern(r, p, b);
	}
}

static void guest_free(struct fake_guest *g)
{
	for (unsigned i = 0; i < 2; i++)
		munmap(g->host[i], sizes[i]);
}

static bool is_data(unsigned region, unsigned page)
{
	for (unsigned k = 0; k < NDATA; k++)
		if (data_pages[k][0] == region && data_pages[k][1] == page)
			return true;
	return false;
}

/* A temporary file's path (unlinked by the caller). */
static int tmp_file(char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, len, "%s/cvmm-snapmem-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	return fd;
}

/* The memory file of the fake guest: a full dump. */
static void dump(char *path, size_t len)
{
	struct fake_guest g;
	guest_make(&g);
	int fd = tmp_file(path, len);
	struct err e = {0};
	assert_int_equal(snapmem_save(&g.m, fd, NULL, &e), 0);
	close(fd);
	guest_free(&g);
}

/* Every page of region r at host reads as the guest had it. */
static void check_region(const uint8_t *host, unsigned r)
{
	for (unsigned p = 0; p < sizes[r] / PG; p++)
		for (unsigned b = 0; b < PG; b += 511) {
			uint8_t want = is_data(r, p) ? pattern(r, p, b) : 0;
			if (host[p * PG + b] != want)
				fail_msg("region %u page %u byte %u: 0x%02x, want 0x%02x", r, p, b,
					 host[p * PG + b], want);
		}
}

static void test_save_sparse(void **state)
{
	(void)state;
	char path[256];
	dump(path, sizeof(path));
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, R0 + R1);
	/* only the data pages take room */
	assert_true((uint64_t)st.st_blocks * 512 <= NDATA * PG + 4 * PG);
	/* the data extents are exactly the data pages: region 0's 0, 3-4 and
	 * 40, region 1's 5 and 31 */
	assert_int_equal(lseek(fd, 0, SEEK_HOLE), PG);
	assert_int_equal(lseek(fd, PG, SEEK_DATA), 3 * PG);
	assert_int_equal(lseek(fd, 3 * PG, SEEK_HOLE), 5 * PG);
	assert_int_equal(lseek(fd, 5 * PG, SEEK_DATA), 40 * PG);
	assert_int_equal(lseek(fd, 41 * PG, SEEK_DATA), R0 + 5 * PG);
	assert_int_equal(lseek(fd, R0 + 6 * PG, SEEK_DATA), R0 + 31 * PG);
	uint8_t page[PG];
	assert_int_equal(pread(fd, page, PG, R0 + 5 * PG), PG);
	for (unsigned b = 0; b < PG; b++)
		assert_int_equal(page[b], pattern(1, 5, b));
	close(fd);
	unlink(path);
}

/* The fake guest's full dump, made at path, mapped back with the FILE
 * backend and started, as a restore maps it. */
static void map_dump(char *path, size_t len, struct snapmem *sm, struct guest_mem *m)
{
	dump(path, len);
	snapmem_init(sm);
	struct err e = {0};
	assert_int_equal(snapmem_map(sm, SNAPMEM_FILE, path, gpas, sizes, 2, m, &e), 0);
	assert_int_equal(snapmem_start(sm, &e), 0);
}

static void test_file_map(void **state)
{
	(void)state;
	char path[256];
	struct snapmem sm;
	struct guest_mem m = {0};
	struct err e = {0};
	map_dump(path, sizeof(path), &sm, &m);
	for (unsigned r = 0; r < 2; r++)
		check_region(m.r[r].host, r);
	/* private: the guest's writes stay out of the file */
	memset(m.r[1].host + 5 * PG, 0xee, PG);
	memset(m.r[0].host + 10 * PG, 0xee, PG);
	int fd = open(path, O_RDONLY);
	uint8_t page[PG];
	assert_int_equal(pread(fd, page, PG, R0 + 5 * PG), PG);
	assert_int_equal(page[0], pattern(1, 5, 0));
	assert_int_equal(pread(fd, page, PG, 10 * PG), PG);
	assert_int_equal(page[0], 0);
	close(fd);
	snapmem_destroy(&sm);
	/* 2 MiB huge pages come only through an external handler */
	for (int b = SNAPMEM_FILE; b <= SNAPMEM_LAZY; b += SNAPMEM_LAZY - SNAPMEM_FILE) {
		snapmem_init(&sm);
		sm.huge = CVMM_HUGE_2M;
		struct guest_mem mh = {0};
		assert_int_not_equal(
			snapmem_map(&sm, (enum snapmem_backend)b, path, gpas, sizes, 2, &mh, &e),
			0);
		assert_non_null(strstr(e.msg, "Uffd"));
		snapmem_destroy(&sm);
		e = (struct err){0};
	}
	/* a file of the wrong size is refused, named */
	uint64_t big[2] = {R0, R1 + PG};
	snapmem_init(&sm);
	struct guest_mem m2 = {0};
	assert_int_not_equal(snapmem_map(&sm, SNAPMEM_FILE, path, gpas, big, 2, &m2, &e), 0);
	assert_non_null(strstr(e.msg, "has"));
	snapmem_destroy(&sm);
	unlink(path);
}

/* A VM restored from a memory file (mapped private) snapshotted into that
 * same file, as Firecracker allows: the file is written over, not
 * truncated, so the pages the guest never wrote (still the file's own)
 * keep their data, in the file and in the running guest; a page the guest
 * zeroed reads as zeros; the file stays sparse there. */
static void test_save_over_source(void **state)
{
	(void)state;
	char path[256];
	struct snapmem sm;
	struct guest_mem m = {0};
	struct err e = {0};
	map_dump(path, sizeof(path), &sm, &m);
	memset(m.r[0].host + 10 * PG, 0xee, PG); /* a new page */
	memset(m.r[1].host + 5 * PG, 0, PG);	 /* a data page zeroed */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(snapmem_save(&m, fd, NULL, &e), 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, R0 + R1);
	uint8_t page[PG];
	for (unsigned r = 0; r < 2; r++)
		for (unsigned p = 0; p < sizes[r] / PG; p++) {
			uint64_t off = (r ? R0 : 0) + (uint64_t)p * PG;
			assert_int_equal(pread(fd, page, PG, (off_t)off), PG);
			/* the file and the guest both read what the guest has */
			assert_memory_equal(page, m.r[r].host + p * PG, PG);
			uint8_t want = (r == 0 && p == 10)  ? 0xee
				       : (r == 1 && p == 5) ? 0
				       : is_data(r, p)	    ? pattern(r, p, 1)
							    : 0;
			if (page[1] != want)
				fail_msg("region %u page %u: 0x%02x, want 0x%02x", r, p, page[1],
					 want);
		}
	/* the zeroed page is a hole again */
	assert_int_equal(lseek(fd, R0 + 5 * PG, SEEK_DATA), R0 + 31 * PG);
	close(fd);
	snapmem_destroy(&sm);
	unlink(path);
}

/* ---- userfaultfd -------------------------------------------------------- */

/* Whether this process may create a userfaultfd that sees kernel faults
 * (what the backends need); the tests skip where not. */
static bool uffd_ok(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev < 0)
			return false;
		fd = ioctl(dev, _IO(0xAA, 0x00), O_CLOEXEC | O_NONBLOCK);
		close(dev);
	}
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Touches (reads) one byte of every listed page, from its own thread. */
struct toucher {
	const uint8_t *host[2];
	unsigned pages[8][2];
	unsigned n;
	uint8_t got[8];
	volatile bool done;
};

static void *touch(void *arg)
{
	struct toucher *t = arg;
	for (unsigned k = 0; k < t->n; k++)
		t->got[k] = *(volatile const uint8_t *)(t->host[t->pages[k][0]] +
							t->pages[k][1] * PG + 1);
	t->done = true;
	return NULL;
}

/* Joins t within ms milliseconds; false if it is still running. */
static bool join_within(pthread_t t, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

/* Which pages of a mapping are resident (mincore). */
static bool resident(const uint8_t *host, unsigned page)
{
	unsigned char v = 0;
	assert_int_equal(mincore((void *)(uintptr_t)(host + page * PG), PG, &v), 0);
	return v & 1;
}

static void test_lazy(void **state)
{
	(void)state;
	if (!uffd_ok())
		skip();
	char path[256];
	dump(path, sizeof(path));
	struct snapmem sm;
	snapmem_init(&sm);
	sm.jail = JAIL_ON; /* the loader's own table must be enough */
	struct guest_mem m = {0};
	struct err e = {0};
	assert_int_equal(snapmem_map(&sm, SNAPMEM_LAZY, path, gpas, sizes, 2, &m, &e), 0);
	/* nothing is there before the loader runs */
	assert_false(resident(m.r[0].host, 3));
	assert_int_equal(snapmem_start(&sm, &e), 0);
	/* another thread touches data and holes while it loads */
	struct toucher t = {.host = {m.r[0].host, m.r[1].host},
			    .pages = {{1, 31}, {0, 40}, {0, 7}, {1, 0}, {0, 3}},
			    .n = 5};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, touch, &t), 0);
	if (!join_within(th, 5000))
		fail_msg("the toucher still waits: failed=%d why='%s' done=%d",
			 __atomic_load_n(&sm.failed, __ATOMIC_ACQUIRE), sm.why,
			 __atomic_load_n(&sm.done, __ATOMIC_ACQUIRE));
	assert_int_equal(t.got[0], pattern(1, 31, 1));
	assert_int_equal(t.got[1], pattern(0, 40, 1));
	assert_int_equal(t.got[2], 0);
	assert_int_equal(t.got[3], 0);
	assert_int_equal(t.got[4], pattern(0, 3, 1));
	/* the prefetch completes: every data page is there, untouched ones
	 * too (resident before this thread reads them), and the thread ends */
	assert_int_equal(snapmem_wait_loaded(&sm, 5000), 0);
	assert_true(resident(m.r[0].host, 4));
	assert_true(resident(m.r[0].host, 0));
	assert_true(resident(m.r[1].host, 5));
	/* and the holes (the shared zero page): no page is missing, so no
	 * fault can wait for the loader that ended */
	assert_true(resident(m.r[0].host, 20));
	assert_true(resident(m.r[1].host, 30));
	assert_false(__atomic_load_n(&sm.failed, __ATOMIC_ACQUIRE));
	/* the holes read zero, now as plain anonymous memory */
	for (unsigned r = 0; r < 2; r++)
		check_region(m.r[r].host, r);
	assert_int_equal(sm.copied, NDATA);
	assert_int_equal(sm.zeroed, (R0 + R1) / PG - NDATA);
	print_message("lazy: %llu faults, %llu pages copied, %llu zero pages\n",
		      (unsigned long long)sm.faults, (unsigned long long)sm.copied,
		      (unsigned long long)sm.zeroed);
	/* the guest's writes stay in memory */
	m.r[0].host[3 * PG] = 0x5a;
	assert_int_equal(m.r[0].host[3 * PG], 0x5a);
	snapmem_destroy(&sm);
	unlink(path);
}

/* The fault path alone (no prefetch): each touched page is served from
 * the file, a hole with the zero page. */
static void test_lazy_on_demand(void **state)
{
	(void)state;
	if (!uffd_ok())
		skip();
	char path[256];
	dump(path, sizeof(path));
	struct snapmem sm;
	snapmem_init(&sm);
	sm.on_demand = true;
	struct guest_mem m = {0};
	struct err e = {0};
	assert_int_equal(snapmem_map(&sm, SNAPMEM_LAZY, path, gpas, sizes, 2, &m, &e), 0);
	assert_int_equal(snapmem_start(&sm, &e), 0);
	struct toucher t = {.host = {m.r[0].host, m.r[1].host},
			    .pages = {{1, 31}, {0, 40}, {0, 7}, {1, 0}, {0, 3}, {0, 4}},
			    .n = 6};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, touch, &t), 0);
	assert_true(join_within(th, 5000));
	assert_int_equal(t.got[0], pattern(1, 31, 1));
	assert_int_equal(t.got[1], pattern(0, 40, 1));
	assert_int_equal(t.got[2], 0);
	assert_int_equal(t.got[3], 0);
	assert_int_equal(t.got[4], pattern(0, 3, 1));
	assert_int_equal(t.got[5], pattern(0, 4, 1));
	/* only what was touched is there */
	assert_false(resident(m.r[0].host, 0));
	assert_false(resident(m.r[1].host, 5));
	snapmem_release(&sm); /* the thread ends: its counters are final */
	assert_int_equal(sm.faults, 6);
	assert_int_equal(sm.copied, 4);
	assert_int_equal(sm.zeroed, 2);
	assert_false(__atomic_load_n(&sm.failed, __ATOMIC_ACQUIRE));
	snapmem_destroy(&sm);
	unlink(path);
}

/* With UFFD_USER_MODE_ONLY the kernel's own accesses are not delivered:
 * a syscall that writes into a registered, missing page fails with
 * EFAULT (as KVM's get_user_pages from KVM_RUN would), which is why the
 * backends need a userfaultfd that sees kernel faults. In a child with
 * an alarm: were it delivered, nobody would serve it. */
static void test_user_mode_only_misses_kernel_faults(void **state)
{
	(void)state;
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
	int probe = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (probe < 0)
		skip();
	close(probe);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(5);
		int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
		struct uffdio_api api = {.api = UFFD_API};
		if (u < 0 || ioctl(u, UFFDIO_API, &api) < 0)
			_exit(2);
		uint8_t *p =
			mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct uffdio_register reg = {.range = {(uint64_t)(uintptr_t)p, PG},
					      .mode = UFFDIO_REGISTER_MODE_MISSING};
		if (p == MAP_FAILED || ioctl(u, UFFDIO_REGISTER, &reg) < 0)
			_exit(3);
		int z = open("/dev/zero", O_RDONLY);
		ssize_t n = read(z, p, PG);
		_exit(n < 0 && errno == EFAULT ? 0 : 4);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("a kernel-mode access waited for a user-mode-only userfaultfd "
			 "(signal %d)",
			 WTERMSIG(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- a Firecracker-style page fault handler ----------------------------- */

/* The child: accepts one connection, takes the userfaultfd and the JSON
 * region list (checking Firecracker's field names), then serves faults
 * from the memory file (zeros where it has a hole) until the socket hangs
 * up; with die_after >= 0 it exits after that many faults. */
static int parse_regions(const char *json, uint64_t base[2], uint64_t size[2], uint64_t off[2])
{
	const char *p = json;
	unsigned n = 0;
	while (n < 2 && (p = strstr(p, "{\"base_host_virt_addr\":"))) {
		unsigned long long b, s, o;
		unsigned ps, pk;
		if (sscanf(p,
			   "{\"base_host_virt_addr\":%llu,\"size\":%llu,\"offset\":%llu,"
			   "\"page_size\":%u,\"page_size_kib\":%u}",
			   &b, &s, &o, &ps, &pk) != 5 ||
		    ps != PG || pk != PG)
			return -1;
		base[n] = b;
		size[n] = s;
		off[n] = o;
		n++;
		p++;
	}
	return json[0] == '[' && n == 2 ? 0 : -1;
}

static int handler_main(int lfd, const char *mem_path, int die_after)
{
	int c = accept(lfd, NULL, NULL);
	if (c < 0)
		return 10;
	char json[1024] = {0};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {json, sizeof(json) - 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	if (recvmsg(c, &msg, 0) <= 0)
		return 11;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return 12;
	int uffd;
	memcpy(&uffd, CMSG_DATA(cm), sizeof(int));
	uint64_t base[2], size[2], off[2];
	if (parse_regions(json, base, size, off) < 0 || off[0] != 0 || off[1] != size[0])
		return 13;
	if (die_after == 0)
		return 0;
	int mem = open(mem_path, O_RDONLY);
	if (mem < 0)
		return 14;
	uint8_t page[PG];
	int served = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = uffd, .events = POLLIN},
				      {.fd = c, .events = POLLIN | POLLRDHUP}};
		if (poll(p, 2, -1) < 0)
			return 15;
		if (p[1].revents)
			return 0; /* cvmm is gone */
		struct uffd_msg m;
		if (read(uffd, &m, sizeof(m)) != sizeof(m))
			continue;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t a = m.arg.pagefault.address & ~(uint64_t)(PG - 1);
		unsigned r = a >= base[1] && a < base[1] + size[1] ? 1 : 0;
		if (pread(mem, page, PG, (off_t)(off[r] + a - base[r])) != PG)
			return 16;
		struct uffdio_copy cp = {.dst = a, .src = (uint64_t)(uintptr_t)page, .len = PG};
		if (ioctl(uffd, UFFDIO_COPY, &cp) < 0 && errno != EEXIST)
			return 17;
		if (die_after > 0 && ++served == die_after)
			return 0;
	}
}

struct handler {
	char sock[108];
	pid_t pid;
};

static void handler_start(struct handler *h, const char *mem_path, int die_after)
{
	const char *dir = getenv("TMPDIR");
	snprintf(h->sock, sizeof(h->sock), "%s/cvmm-uffd-%d.sock", dir && *dir ? dir : "/tmp",
		 (int)getpid());
	unlink(h->sock);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", h->sock);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		alarm(20);
		_exit(handler_main(l, mem_path, die_after));
	}
	close(l);
}

static int handler_end(struct handler *h)
{
	int st = 0;
	unlink(h->sock);
	if (waitpid(h->pid, &st, 0) != h->pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void test_uffd(void **state)
{
	(void)state;
	if (!uffd_ok())
		skip();
	char path[256];
	dump(path, sizeof(path));
	struct handler h;
	handler_start(&h, path, -1);
	struct snapmem sm;
	snapmem_init(&sm);
	struct guest_mem m = {0};
	struct err e = {0};
	assert_int_equal(snapmem_map(&sm, SNAPMEM_UFFD, h.sock, gpas, sizes, 2, &m, &e), 0);
	assert_int_equal(snapmem_start(&sm, &e), 0);
	struct toucher t = {.host = {m.r[0].host, m.r[1].host},
			    .pages = {{1, 31}, {0, 40}, {0, 7}, {1, 5}},
			    .n = 4};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, touch, &t), 0);
	assert_true(join_within(th, 5000));
	assert_int_equal(t.got[0], pattern(1, 31, 1));
	assert_int_equal(t.got[1], pattern(0, 40, 1));
	assert_int_equal(t.got[2], 0);
	assert_int_equal(t.got[3], pattern(1, 5, 1));
	/* every page, through the handler */
	for (unsigned r = 0; r < 2; r++)
		check_region(m.r[r].host, r);
	assert_false(__atomic_load_n(&sm.failed, __ATOMIC_ACQUIRE));
	snapmem_destroy(&sm); /* the handler sees the hang-up and ends */
	assert_int_equal(handler_end(&h), 0);
	unlink(path);
}

/* A handler that dies after serving one fault: the watcher reports it on
 * the fail eventfd within bounded time, and snapmem_release lets the
 * thread blocked in a fault go (it reads zero: memory is garbage now). */
static void test_uffd_handler_dies(void **state)
{
	(void)state;
	if (!uffd_ok())
		skip();
	char path[256];
	dump(path, sizeof(path));
	struct handler h;
	handler_start(&h, path, 1);
	struct snapmem sm;
	snapmem_init(&sm);
	sm.fail_fd = eventfd(0, EFD_CLOEXEC);
	struct guest_mem m = {0};
	struct err e = {0};
	assert_int_equal(snapmem_map(&sm, SNAPMEM_UFFD, h.sock, gpas, sizes, 2, &m, &e), 0);
	assert_int_equal(snapmem_start(&sm, &e), 0);
	struct toucher t = {.host = {m.r[0].host, m.r[1].host}, .pages = {{0, 3}, {0, 40}}, .n = 2};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, touch, &t), 0);
	struct pollfd p = {.fd = sm.fail_fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(__atomic_load_n(&sm.failed, __ATOMIC_ACQUIRE));
	assert_non_null(strstr(sm.why, "hung up"));
	assert_non_null(strstr(sm.why, h.sock));
	assert_int_equal(handler_end(&h), 0);
	/* the toucher waits in its second fault, which nobody serves */
	assert_false(join_within(th, 100));
	snapmem_release(&sm);
	assert_true(join_within(th, 5000));
	assert_int_equal(t.got[0], pattern(0, 3, 1));
	snapmem_destroy(&sm);
	close(p.fd);
	unlink(path);
}

/* The handler socket is not there: a clear error, no hang. */
static void test_uffd_no_handler(void **state)
{
	(void)state;
	if (!uffd_ok())
		skip();
	struct snapmem sm;
	snapmem_init(&sm);
	struct guest_mem m = {0};
	struct err e = {0};
	assert_int_equal(snapmem_map(&sm, SNAPMEM_UFFD, "/nonexistent/cvmm-uffd.sock", gpas, sizes,
				     2, &m, &e),
			 0);
	assert_int_not_equal(snapmem_connect(&sm, &e), 0);
	assert_non_null(strstr(e.msg, "page fault handler"));
	assert_int_equal(sm.sock, -1);
	assert_int_not_equal(snapmem_start(&sm, &e), 0);
	assert_false(sm.thread_started);
	snapmem_destroy(&sm);
}

/* ---- diff snapshots ----------------------------------------------------- */

static bool bit(const unsigned long *map, uint64_t page)
{
	const unsigned bits = 8 * sizeof(unsigned long);
	return (map[page / bits] >> (page % bits)) & 1;
}

static void test_diff(void **state)
{
	struct vq_rig *r = vq_rig_fresh(state);
	struct guest_mem *m = &r->f.m;
	struct snapmem_dirty d;
	struct err e = {0};
	/* before tracking, nothing is marked anywhere */
	assert_null(m->dirty[0]);
	assert_int_equal(snapmem_dirty_start(-1, m, &d, &e), 0);
	assert_non_null(m->dirty[0]);
	/* a request: 100 readable bytes at 0x10000, then writable buffers over
	 * two pages (0x20800..0x21800) and in 0x30000 */
	struct rr_seg s[] = {{0x10000, 100, 0},
			     {0x20800, 0x1000, VRING_DESC_F_WRITE},
			     {0x30000, 16, VRING_DESC_F_WRITE}};
	uint16_t head = rr_post(&r->ring, s, 3);
	assert_int_equal(vq_pop(&r->q, &r->c), 1);
	/* popped: its writable pages are marked, nothing else yet */
	assert_true(bit(m->dirty[0], 0x20));
	assert_true(bit(m->dirty[0], 0x21));
	assert_true(bit(m->dirty[0], 0x30));
	assert_false(bit(m->dirty[0], 0x10));
	assert_false(bit(m->dirty[0], VQR_USED / PG));
	assert_false(bit(m->dirty[0], VQR_DESC / PG));
	/* the device writes (the page at 0x21000 stays zero) */
	memset(fake_at(&r->f, 0x20800, 0x800), 0xab, 0x800);
	assert_int_equal(vq_push(&r->q, head, 0x800), 0);
	assert_true(bit(m->dirty[0], VQR_USED / PG));
	assert_int_equal(snapmem_dirty_collect(-1, m, &d, &e), 0);
	unsigned long *out[GM_MAX_REGIONS] = {d.out[0]};
	unsigned n = 0;
	for (uint64_t p = 0; p < VQR_MEM / PG; p++)
		n += bit(d.out[0], p);
	assert_int_equal(n, 4); /* 0x20, 0x21, 0x30, the used ring */
	/* collected: the devices' bits are cleared */
	assert_false(bit(m->dirty[0], 0x20));

	/* the base: a full dump with data where the diff will write zeros */
	memset(fake_at(&r->f, 0x21000, PG), 0x77, PG);
	memset(fake_at(&r->f, 0x50000, PG), 0x66, PG);
	char base[256], diff[256];
	int bf = tmp_file(base, sizeof(base));
	assert_int_equal(snapmem_save(m, bf, NULL, &e), 0);
	/* back to the guest's state at the diff: 0x21000 zero again */
	memset(fake_at(&r->f, 0x21000, PG), 0, PG);
	int df = tmp_file(diff, sizeof(diff));
	assert_int_equal(snapmem_save(m, df, out, &e), 0);
	/* the diff holds the dirty pages as data, the zero one too */
	assert_int_equal(lseek(df, 0, SEEK_DATA), VQR_USED);
	assert_int_equal(lseek(df, VQR_USED, SEEK_HOLE), VQR_USED + PG);
	assert_int_equal(lseek(df, VQR_USED + PG, SEEK_DATA), 0x20000);
	assert_int_equal(lseek(df, 0x20000, SEEK_HOLE), 0x22000);
	assert_int_equal(lseek(df, 0x22000, SEEK_DATA), 0x30000);
	assert_int_equal(lseek(df, 0x30000, SEEK_HOLE), 0x31000);
	assert_true(lseek(df, 0x31000, SEEK_DATA) < 0 && errno == ENXIO);
	close(df);
	close(bf);
	/* merged: the base's pages, the diff's over them (0x21000 zero) */
	assert_int_equal(snapmem_merge(base, diff, &e), 0);
	bf = open(base, O_RDONLY);
	uint8_t *want = fake_at(&r->f, 0, VQR_MEM);
	uint8_t *got = malloc(VQR_MEM);
	assert_int_equal(pread(bf, got, VQR_MEM, 0), VQR_MEM);
	assert_memory_equal(got, want, VQR_MEM);
	assert_int_equal(got[0x21000], 0);
	assert_int_equal(got[0x50000], 0x66);
	assert_int_equal(got[0x20900], 0xab);
	free(got);
	close(bf);
	/* the diff written straight onto a copy of the base (Firecracker's
	 * merge: a memory file of the right size is written over, not
	 * truncated): the same as the merge */
	char base2[256];
	int b2 = tmp_file(base2, sizeof(base2));
	memset(fake_at(&r->f, 0x21000, PG), 0x77, PG);
	assert_int_equal(snapmem_save(m, b2, NULL, &e), 0);
	memset(fake_at(&r->f, 0x21000, PG), 0, PG);
	assert_int_equal(snapmem_save(m, b2, out, &e), 0);
	got = malloc(VQR_MEM);
	assert_int_equal(pread(b2, got, VQR_MEM, 0), VQR_MEM);
	assert_memory_equal(got, want, VQR_MEM);
	assert_int_equal(got[0x50000], 0x66);
	free(got);
	close(b2);
	unlink(base2);
	/* stopped: nothing marks any more */
	snapmem_dirty_stop(-1, m, &d);
	assert_null(m->dirty[0]);
	gm_mark_dirty(m, 0x20000, 1);
	unlink(base);
	unlink(diff);
}

/* A diff without tracking: the pages resident in the mapping (mincore),
 * here exactly the ones written, in both regions; saved, they are the
 * diff's data. */
static void test_resident(void **state)
{
	(void)state;
	struct fake_guest g;
	guest_make(&g);
	unsigned long *out[GM_MAX_REGIONS];
	struct err e = {0};
	assert_int_equal(snapmem_resident(&g.m, out, &e), 0);
	unsigned n = 0;
	for (unsigned r = 0; r < 2; r++)
		for (unsigned p = 0; p < sizes[r] / PG; p++) {
			if (bit(out[r], p) != is_data(r, p))
				fail_msg("region %u page %u: resident %d", r, p, bit(out[r], p));
			n += bit(out[r], p);
		}
	assert_int_equal(n, NDATA);
	char path[256];
	int fd = tmp_file(path, sizeof(path));
	assert_int_equal(snapmem_save(&g.m, fd, out, &e), 0);
	assert_int_equal(lseek(fd, 0, SEEK_HOLE), PG);
	assert_int_equal(lseek(fd, PG, SEEK_DATA), 3 * PG);
	assert_int_equal(lseek(fd, R0 + 6 * PG, SEEK_DATA), R0 + 31 * PG);
	close(fd);
	unlink(path);
	for (unsigned r = 0; r < 2; r++)
		free(out[r]);
	guest_free(&g);
}

/* gm_mark_dirty: the pages of the range, in its region's map only; a range
 * outside every region marks nothing. */
static void test_mark(void **state)
{
	(void)state;
	struct fake_mem f = {0};
	assert_int_equal(fake_mem_init2(&f, 64 * PG, 64 * PG), 0);
	unsigned long a[2] = {0}, b[2] = {0};
	f.m.dirty[0] = a;
	f.m.dirty[1] = b;
	gm_mark_dirty(&f.m, PG - 1, 2); /* pages 0 and 1 */
	gm_mark_dirty(&f.m, 4 * GiB + 63 * PG, PG);
	gm_mark_dirty(&f.m, 63 * PG, 2 * PG); /* past region 0's end: nothing */
	gm_mark_dirty(&f.m, 5 * PG, 0);
	assert_true(bit(a, 0) && bit(a, 1));
	assert_false(bit(a, 2) || bit(a, 5) || bit(a, 63));
	assert_true(bit(b, 63));
	assert_false(bit(b, 0));
	fake_mem_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_sparse),
		cmocka_unit_test(test_file_map),
		cmocka_unit_test(test_save_over_source),
		cmocka_unit_test(test_lazy),
		cmocka_unit_test(test_lazy_on_demand),
		cmocka_unit_test(test_user_mode_only_misses_kernel_faults),
		cmocka_unit_test(test_uffd),
		cmocka_unit_test(test_uffd_handler_dies),
		cmocka_unit_test(test_uffd_no_handler),
		VQ_RIG_TEST(test_diff),
		cmocka_unit_test(test_resident),
		cmocka_unit_test(test_mark),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
