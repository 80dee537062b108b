/* SPDX-License-Identifier: MIT */
#include "core/jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS */
#endif

/* Sanitizer builds only (tests): the ASan/UBSan runtime maps shadow and
 * allocator memory and swaps signal stacks on any thread, and reports an
 * error from the thread that made it. Release builds never carry these
 * rules (CVMM_SANITIZED, jail.h). Found by running the ASan cvmm in the
 * test host with --seccomp=log (docs/seccomp.md). */
#ifdef CVMM_SANITIZED
#define RULE  JAIL_RULE
#define CLEAR JAIL_CLEAR
static const struct jail_rule sanitizer_rules[] = {
	RULE(mmap, "sanitizer runtime: shadow and allocator memory"),
	RULE(munmap, "sanitizer runtime: frees what it mapped"),
	RULE(mprotect, "sanitizer runtime: guard pages"),
	RULE(sigaltstack, "sanitizer runtime: per-thread alternate signal stack"),
	RULE(madvise, "sanitizer runtime: releases allocator memory"),
	RULE(getpid, "sanitizer runtime: reports"),
	RULE(gettid, "sanitizer runtime: reports"),
	RULE(write, "sanitizer runtime: writes its report to stderr"),
	RULE(exit_group, "sanitizer runtime: exits after a report"),
	RULE(sched_yield, "sanitizer runtime: its spin locks (a vCPU thread yielded at exit)"),
	/* a report (with symbolize=0 and color=never: no symbolizer process,
	 * no isatty; tests/linux/asan-cases.sh sets them) */
	RULE(readlink, "sanitizer report: the binary's name (/proc/self/exe)"),
	RULE(open, "sanitizer report: /proc/self/maps (each frame's module), read-only",
	     CLEAR(1, O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)),
#ifdef __aarch64__
	RULE(openat, "sanitizer report: open() on arm64, which has no open syscall",
	     CLEAR(2, O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)),
#endif
	RULE(read, "sanitizer report: /proc/self/maps"),
	RULE(close, "sanitizer report: /proc/self/maps, its probe pipe"),
	RULE(pipe2, "sanitizer report: a pipe to probe whether memory is readable"),
};
static const struct jail_table sanitizer_table = JAIL_TABLE("sanitizer runtime", sanitizer_rules);
#endif

const struct jail_table *jail_sanitizer_table(void)
{
#ifdef CVMM_SANITIZED
	return &sanitizer_table;
#else
	return NULL;
#endif
}

static struct scmp_arg_cmp cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = {.arg = arg, .op = op, .datum_a = a, .datum_b = b};
	return c;
}

const char *jail_fd_name(enum jail_fd fd)
{
	static const char *const names[JAIL_NFDS] = {
		[JAIL_FD_RING] = "its own io_uring",
		[JAIL_FD_IRQ] = "its queue's irqfd",
		[JAIL_FD_CONFIG_IRQ] = "the device's configuration irqfd",
		[JAIL_FD_NOTIFY_IRQ] = "a second queue's irqfd (vsock: RX; others: its queue's)",
		[JAIL_FD_VCPU] = "its vCPU fd",
		[JAIL_FD_VM] = "the VM fd",
		[JAIL_FD_LISTEN] = "the listening control socket",
		[JAIL_FD_UFFD] = "the guest RAM's userfaultfd",
		[JAIL_FD_MEMFILE] = "the snapshot's memory file",
		[JAIL_FD_FAIL] = "the eventfd that reports a failure",
		[JAIL_FD_SOCK] = "the page fault handler's socket",
	};
	return (unsigned)fd < JAIL_NFDS && names[fd] ? names[fd] : "?";
}

static int jail_fd_of(const struct jail_fds *fds, unsigned fd)
{
	switch ((enum jail_fd)fd) {
	case JAIL_FD_RING:
		return fds->ring;
	case JAIL_FD_IRQ:
		return fds->irq;
	case JAIL_FD_CONFIG_IRQ:
		return fds->config_irq;
	case JAIL_FD_NOTIFY_IRQ:
		return fds->notify_irq;
	case JAIL_FD_VCPU:
		return fds->vcpu;
	case JAIL_FD_VM:
		return fds->vm;
	case JAIL_FD_LISTEN:
		return fds->listen;
	case JAIL_FD_UFFD:
		return fds->uffd;
	case JAIL_FD_MEMFILE:
		return fds->memfile;
	case JAIL_FD_FAIL:
		return fds->fail;
	case JAIL_FD_SOCK:
		return fds->sock;
	}
	return -1;
}

static int jail_rule_add(scmp_filter_ctx ctx, const struct jail_rule *rl,
			 const struct jail_fds *fds)
{
	struct scmp_arg_cmp c[JAIL_MAX_ARGS];
	unsigned n = 0;
	for (unsigned i = 0; i < JAIL_MAX_ARGS && rl->args[i].cmp != JAIL_CMP_NONE; i++) {
		const struct jail_arg *a = &rl->args[i];
		switch ((enum jail_cmp)a->cmp) {
		case JAIL_CMP_FD:
			/* an int, sign-extended as the kernel sees it */
			c[n++] = cmp(a->arg, SCMP_CMP_EQ, (scmp_datum_t)jail_fd_of(fds, a->fd), 0);
			break;
		case JAIL_CMP_EQ:
			c[n++] = cmp(a->arg, SCMP_CMP_EQ, a->value, 0);
			break;
		case JAIL_CMP_CLEAR:
			c[n++] = cmp(a->arg, SCMP_CMP_MASKED_EQ, a->value, 0);
			break;
		case JAIL_CMP_NONE:
			break;
		}
	}
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rl->nr, n, c);
}

static int jail_table_add(scmp_filter_ctx ctx, const struct jail_table *t,
			  const struct jail_fds *fds, struct err *e)
{
	for (unsigned i = 0; i < t->n; i++) {
		int r = jail_rule_add(ctx, &t->rules[i], fds);
		if (r < 0)
			return err_set(e, -r, "seccomp rule for %s (%s): %s", t->rules[i].name,
				       t->name, strerror(-r));
	}
	return 0;
}

/* libseccomp's context for the tables, the mode and fds. */
static int jail_ctx(const struct jail_table *const *tables, unsigned ntables, enum jail_mode mode,
		    const struct jail_fds *fds, scmp_filter_ctx *out, struct err *e)
{
	/* TRAP, not KILL_PROCESS: the SIGSYS handler can say what happened;
	 * without one, SIGSYS's default action kills the process anyway. */
	scmp_filter_ctx ctx = seccomp_init(mode == JAIL_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP);
	if (!ctx)
		return err_set(e, ENOMEM, "seccomp_init failed");
	/* Without TSYNC (libseccomp's default): each thread loads its own. */
	int r = 0;
	for (unsigned t = 0; t < ntables && r == 0; t++)
		r = jail_table_add(ctx, tables[t], fds, e);
#ifdef CVMM_SANITIZED
	if (r == 0) /* every thread's filter gets the runtime's rules */
		r = jail_table_add(ctx, &sanitizer_table, fds, e);
#endif
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

int jail_filter_compile(const struct jail_table *const *tables, unsigned ntables,
			enum jail_mode mode, const struct jail_fds *fds, struct sock_filter *out,
			unsigned max, unsigned *len, struct err *e)
{
	scmp_filter_ctx ctx = NULL;
	int r = jail_ctx(tables, ntables, mode, fds, &ctx, e);
	if (r < 0)
		return r;
	/* libseccomp writes the program to a descriptor */
	int fd = memfd_create("cvmm-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		r = err_set(e, errno, "memfd_create: %s", strerror(errno));
		seccomp_release(ctx);
		return r;
	}
	r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	size_t cap = (size_t)max * sizeof(out[0]);
	ssize_t n = r < 0 ? 0 : pread(fd, out, cap, 0);
	if (r == 0 && n < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return err_set(e, -r, "seccomp_export_bpf: %s", strerror(-r));
	if (n <= 0 || n % (ssize_t)sizeof(out[0]) != 0 || (size_t)n == cap)
		return err_set(e, E2BIG, "seccomp program: %zd bytes (empty, torn or too long)", n);
	*len = (unsigned)(n / (ssize_t)sizeof(out[0]));
	return 0;
}

/* FNV-1a, 64-bit */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t table_key(uint64_t h, const struct jail_table *t)
{
	h = fnv(h, t->name, strlen(t->name) + 1);
	for (unsigned i = 0; i < t->n; i++) {
		const struct jail_rule *rl = &t->rules[i];
		int32_t nr = rl->nr;
		h = fnv(h, &nr, sizeof(nr));
		for (unsigned a = 0; a < JAIL_MAX_ARGS; a++) {
			const struct jail_arg *g = &rl->args[a];
			unsigned char b[3] = {g->arg, g->cmp, g->fd};
			h = fnv(h, b, sizeof(b));
			h = fnv(h, &g->value, sizeof(g->value));
		}
	}
	return fnv(h, "|", 1);
}

uint64_t jail_key(const struct jail_table *const *tables, unsigned ntables, enum jail_mode mode)
{
	uint32_t m = (uint32_t)mode;
	uint64_t h = fnv(0xcbf29ce484222325ULL, &m, sizeof(m));
	for (unsigned t = 0; t < ntables; t++)
		h = table_key(h, tables[t]);
#ifdef CVMM_SANITIZED
	h = table_key(h, &sanitizer_table);
#endif
	return h;
}

/* A built filter: the program jail_load installs (owned; malloc'd on the
 * main thread, freed by the jailed thread before its filter). */
struct jail_filter {
	bool prebuilt;
	unsigned short len;
	struct sock_filter insns[];
};

const struct jail_fds jail_placeholder_fds = {
	.ring = JAIL_FD_PLACEHOLDER(JAIL_FD_RING),
	.irq = JAIL_FD_PLACEHOLDER(JAIL_FD_IRQ),
	.config_irq = JAIL_FD_PLACEHOLDER(JAIL_FD_CONFIG_IRQ),
	.notify_irq = JAIL_FD_PLACEHOLDER(JAIL_FD_NOTIFY_IRQ),
	.vcpu = JAIL_FD_PLACEHOLDER(JAIL_FD_VCPU),
	.vm = JAIL_FD_PLACEHOLDER(JAIL_FD_VM),
	.listen = JAIL_FD_PLACEHOLDER(JAIL_FD_LISTEN),
	.uffd = JAIL_FD_PLACEHOLDER(JAIL_FD_UFFD),
	.memfile = JAIL_FD_PLACEHOLDER(JAIL_FD_MEMFILE),
	.fail = JAIL_FD_PLACEHOLDER(JAIL_FD_FAIL),
	.sock = JAIL_FD_PLACEHOLDER(JAIL_FD_SOCK),
};

unsigned jail_prog_patch(struct sock_filter *insns, unsigned len, const struct jail_fds *fds)
{
	/* an fd is never negative here: a slot of -1, none, then matches
	 * no call at all */
	unsigned n = 0;
	for (unsigned i = 0; i < len; i++) {
		struct sock_filter *in = &insns[i];
		unsigned slot = in->k - JAIL_FD_PLACEHOLDER(0);
		if (in->code == (BPF_JMP | BPF_JEQ | BPF_K) && in->k >= JAIL_FD_PLACEHOLDER(0) &&
		    slot > 0 && slot < JAIL_NFDS) {
			in->k = (uint32_t)jail_fd_of(fds, slot);
			n++;
		}
	}
	return n;
}

static const struct jail_prog *prog_find(uint64_t key)
{
	for (unsigned i = 0; i < jail_nprogs; i++)
		if (jail_progs[i].key == key)
			return &jail_progs[i];
	return NULL;
}

int jail_filter_build(const struct jail_table *const *tables, unsigned ntables, enum jail_mode mode,
		      const struct jail_fds *fds, void **out, struct err *e)
{
	*out = NULL;
	if (mode == JAIL_OFF)
		return 0;
	const struct jail_prog *p = prog_find(jail_key(tables, ntables, mode));
	struct jail_filter *f;
	if (p) {
		f = malloc(sizeof(*f) + p->len * sizeof(f->insns[0]));
		if (!f)
			return err_set(e, ENOMEM, "no memory for a seccomp program");
		memcpy(f->insns, p->insns, p->len * sizeof(f->insns[0]));
		f->len = p->len;
		f->prebuilt = true;
		(void)jail_prog_patch(f->insns, f->len, fds); /* the thread's descriptors */
	} else {
		f = malloc(sizeof(*f) + BPF_MAXINSNS * sizeof(f->insns[0]));
		if (!f)
			return err_set(e, ENOMEM, "no memory for a seccomp program");
		unsigned len = 0;
		int r = jail_filter_compile(tables, ntables, mode, fds, f->insns, BPF_MAXINSNS,
					    &len, e);
		if (r < 0) {
			free(f);
			return r;
		}
		f->len = (unsigned short)len;
		f->prebuilt = false;
		struct jail_filter *g = realloc(f, sizeof(*f) + len * sizeof(f->insns[0]));
		if (g)
			f = g;
	}
	*out = f;
	return 0;
}

bool jail_filter_prebuilt(const void *ctx)
{
	return ctx && ((const struct jail_filter *)ctx)->prebuilt;
}

/* The thread's name for the SIGSYS message. Written by jail_load before
 * the filter (the first access allocates the TLS block, the handler's
 * later read does not). */
static __thread char jail_thread_name[16];

void jail_name_thread(const char *name)
{
	prctl(PR_SET_NAME, name, 0, 0, 0);
}

int jail_load(void *ctx, const char *thread_name)
{
	if (!ctx)
		return 0;
	snprintf(jail_thread_name, sizeof(jail_thread_name), "%s", thread_name);
	/* glibc sets up a thread's malloc arena and tcache on its first
	 * malloc or free, and the first arena of the process reads the CPU
	 * count from /sys (openat): do it now, before the filter. */
	void *volatile warm = malloc(1); /* volatile: the pair must not be elided */
	free(warm);
	/* The program was allocated by another thread: freeing it, on the
	 * main arena (glibc shares its arenas once threads outnumber 8 per
	 * CPU), may give memory back with brk, which a worker's filter does
	 * not allow. So: the program copied onto this thread's stack and
	 * freed, and only then the filter: no allocator call after it. */
	struct jail_filter *f = ctx;
	struct sock_filter prog[BPF_MAXINSNS];
	unsigned short len = f->len;
	memcpy(prog, f->insns, len * sizeof(prog[0]));
	free(f);
	struct sock_fprog fprog = {.len = len, .filter = prog};
	/* A thread that blocks every signal (vCPUs, workers) must still run
	 * the SIGSYS handler: the kernel resets a blocked SIGSYS to its
	 * default action. */
	sigset_t sys;
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	/* what seccomp_load does with libseccomp's defaults: NO_NEW_PRIVS,
	 * then the filter, on this thread only (no TSYNC) */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
		return -errno;
	return 0;
}

void jail_free(void *ctx)
{
	free(ctx);
}

/* ---- the SIGSYS message ------------------------------------------------- */

#define JAIL_MAX_NR 512
/* Syscall names by number, resolved once before any filter (the handler
 * may not allocate). Read-only once installed. */
static const char *jail_sys_names[JAIL_MAX_NR];

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at + 1 < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long v)
{
	char tmp[24];
	unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u && n < sizeof(tmp));
	if (v < 0 && at + 1 < cap)
		buf[at++] = '-';
	while (n && at + 1 < cap)
		buf[at++] = tmp[--n];
	return at;
}

/* Async-signal-safe: one write(2) to stderr, then the death call. SIGSYS
 * is blocked inside this handler, so the kernel delivers the second
 * SIGSYS with the default action: the process dies of SIGSYS (and dumps
 * core where that is enabled). The handler never returns into the thread. */
static void jail_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code != SYS_SECCOMP)
		return; /* someone sent SIGSYS with kill(): nothing to report */
	char msg[160];
	size_t n = 0;
	int nr = si->si_syscall;
	n = put(msg, n, sizeof(msg), "cvmm: seccomp: thread ");
	n = put(msg, n, sizeof(msg), jail_thread_name[0] ? jail_thread_name : "?");
	n = put(msg, n, sizeof(msg), " made forbidden syscall ");
	n = put_num(msg, n, sizeof(msg), nr);
	n = put(msg, n, sizeof(msg), " (");
	n = put(msg, n, sizeof(msg),
		nr >= 0 && nr < JAIL_MAX_NR && jail_sys_names[nr] ? jail_sys_names[nr] : "?");
	n = put(msg, n, sizeof(msg), ")\n");
	ssize_t w = write(STDERR_FILENO, msg, n);
	(void)w;
	syscall(JAIL_DEATH_CALL);
	/* Not reached: the death call is in no table. Should a filter ever
	 * allow it, die anyway, with the status a SIGSYS death has. */
	syscall(SYS_exit_group, 128 + SIGSYS);
}

int jail_sigsys_install(void)
{
	for (int nr = 0; nr < JAIL_MAX_NR; nr++)
		if (!jail_sys_names[nr])
			jail_sys_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = jail_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSYS, &sa, NULL) < 0 ? -errno : 0;
}

/* ---- the privilege drop ------------------------------------------------- */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* The file system rights the kernel's Landlock ABI knows (ABI 1..3; the
 * later ABIs' device-ioctl right is left alone: the fds cvmm uses were
 * opened before the ruleset anyway). */
static uint64_t landlock_fs_rights(int abi)
{
	uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return all;
}

static int landlock_add_dir(int ruleset, const char *dir, uint64_t rights, struct err *e)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, errno, "landlock: cannot open '%s': %s", dir, strerror(errno));
	struct landlock_path_beneath_attr pb = {.allowed_access = rights, .parent_fd = fd};
	long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	int er = errno;
	close(fd);
	if (r < 0)
		return err_set(e, er, "landlock: rule for '%s': %s", dir, strerror(er));
	return 0;
}

/* Builds the ruleset (before a chroot: the paths are the host's) into
 * *fd; *fd = -1 and *abi = 0 where the kernel has no Landlock. */
static int landlock_prepare(const struct jail_priv *p, int *fd, int *abi, struct err *e)
{
	*abi = 0;
	*fd = -1;
	long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (v <= 0)
		return 0; /* ENOSYS, EOPNOTSUPP (not enabled at boot) */
	int a = (int)v;
	uint64_t all = landlock_fs_rights(a);
	struct landlock_ruleset_attr attr = {.handled_access_fs = all};
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0)
		return err_set(e, errno, "landlock_create_ruleset: %s", strerror(errno));
	for (unsigned i = 0; i < p->nrw; i++) {
		int r = landlock_add_dir(rs, p->rw_dirs[i], all, e);
		if (r < 0) {
			close(rs);
			return r;
		}
	}
	for (unsigned i = 0; i < p->nrm; i++) {
		int r = landlock_add_dir(rs, p->rm_dirs[i], LANDLOCK_ACCESS_FS_REMOVE_FILE, e);
		if (r < 0) {
			close(rs);
			return r;
		}
	}
	for (unsigned i = 0; i < p->nro; i++) {
		int r = landlock_add_dir(rs, p->ro_dirs[i], LL_READ, e);
		if (r < 0) {
			close(rs);
			return r;
		}
	}
	for (unsigned i = 0; i < p->nfile; i++) {
		uint64_t rights = LANDLOCK_ACCESS_FS_READ_FILE |
				  (p->file_rw[i] ? LANDLOCK_ACCESS_FS_WRITE_FILE : 0);
		int r = landlock_add_dir(rs, p->file_dirs[i], rights, e);
		if (r < 0) {
			close(rs);
			return r;
		}
	}
	*abi = a;
	*fd = rs;
	return 0;
}

int jail_caps_limit(uint64_t keep)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		uint32_t k = (uint32_t)(keep >> (32 * i));
		d[i].permitted &= k;
		d[i].effective = d[i].permitted;
		d[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

/* The bounding set but keep (needs CAP_SETPCAP: before the ids change);
 * threads started later inherit it. */
static int caps_drop_bounding(uint64_t keep, struct err *e)
{
	/* The bounding set needs CAP_SETPCAP; a process without it has no
	 * capabilities to lose there that NO_NEW_PRIVS does not already
	 * keep it from gaining: one capget, and no drop. */
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return err_set(e, errno, "capget: %s", strerror(errno));
	if (!(d[CAP_SETPCAP / 32].effective & (1u << (CAP_SETPCAP % 32))))
		return 0;
	/* one call per capability (the kernel has no other way), until
	 * EINVAL: past the kernel's last one */
	for (int c = 0; c <= 63; c++) {
		if (keep & (1ULL << c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break;
			return err_set(e, errno, "dropping capability %d from the bounding set: %s",
				       c, strerror(errno));
		}
	}
	return 0;
}

int jail_drop(const struct jail_priv *p, int *landlock_abi, struct err *e)
{
	*landlock_abi = 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return err_set(e, errno, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	int rs = -1;
	int r = 0;
	if (p->landlock) {
		r = landlock_prepare(p, &rs, landlock_abi, e);
		if (r < 0)
			return r;
	}
	if (p->chroot_dir) {
		if (chroot(p->chroot_dir) < 0 || chdir("/") < 0) {
			r = err_set(e, errno, "--chroot '%s': %s", p->chroot_dir, strerror(errno));
			goto out;
		}
	}
	r = caps_drop_bounding(p->keep_caps, e);
	if (r < 0)
		goto out;
	if (p->set_ids) {
		/* glibc applies these to every thread of the process */
		if (setgroups(0, NULL) < 0 && errno != EPERM) {
			r = err_set(e, errno, "setgroups: %s", strerror(errno));
			goto out;
		}
		if (setresgid(p->gid, p->gid, p->gid) < 0) {
			r = err_set(e, errno, "--user: cannot become gid %u: %s", (unsigned)p->gid,
				    strerror(errno));
			goto out;
		}
		if (setresuid(p->uid, p->uid, p->uid) < 0) {
			r = err_set(e, errno, "--user: cannot become uid %u: %s", (unsigned)p->uid,
				    strerror(errno));
			goto out;
		}
	}
	/* and every other set (threads started later inherit them) */
	r = jail_caps_limit(p->keep_caps);
	if (r < 0) {
		r = err_set(e, -r, "dropping capabilities: %s", strerror(-r));
		goto out;
	}
	if (rs >= 0 && syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		r = err_set(e, errno, "landlock_restrict_self: %s", strerror(errno));
out:
	if (rs >= 0)
		close(rs);
	return r;
}
