/* SPDX-License-Identifier: MIT */
/* seccompcheck: reads back the seccomp filter of every thread of a running
 * cvmm and runs it, in a classic BPF interpreter of its own, on synthetic
 * seccomp_data: a sample of calls no thread may make (execve, open, socket,
 * ptrace, fork/clone, mount, an executable mmap, a foreign architecture...)
 * must be refused (TRAP or KILL) and a sample of the calls the thread's
 * kind needs must be allowed (so the interpreter is really evaluating, and
 * the argument checks are: KVM_RUN only on the vCPU's own fd, io_uring_enter
 * only on the worker's own ring, writes only to a few eventfds).
 *   seccompcheck PID [NAME...]
 * Root only (PTRACE_SECCOMP_GET_FILTER needs CAP_SYS_ADMIN): each thread is
 * seized, interrupted for the read (a blocked call returns EINTR or is
 * restarted, which cvmm's threads handle), and released. The kind of a
 * thread comes from its name (cvmm-vcpuN, cvmm-blkN-qM, ...; PID itself is
 * the control thread). Prints one line per thread, then
 *   SECCOMPCHECK threads=N ok=N bad=N kinds=K,...
 * Exits 0 when every thread's filter did what its kind must and every NAME
 * given was checked (and passed); 1 otherwise. NAME "main" is PID's own
 * thread, whatever the binary is called. Static, for the test host. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <linux/seccomp.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_ACTION_FULL
#define SECCOMP_RET_ACTION_FULL 0xffff0000U
#endif

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "seccompcheck: x86_64 and aarch64 only"
#endif

#define MAX_FDS	    4096
#define MAX_FILTERS 8
#define MAX_INSNS   4096 /* BPF_MAXINSNS */

/* ---- the classic BPF interpreter (the instructions seccomp accepts) ---- */

/* Runs prog on d; returns its return value, or sets *err (a bad program:
 * an instruction seccomp would not load, a jump out of it). */
static uint32_t bpf_run(const struct sock_filter *prog, unsigned len, const struct seccomp_data *d,
			const char **err)
{
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
	const unsigned char *data = (const unsigned char *)d;
	*err = NULL;
	for (unsigned pc = 0; pc < len; pc++) {
		const struct sock_filter *f = &prog[pc];
		uint32_t k = f->k;
		uint32_t src = BPF_SRC(f->code) == BPF_X ? x : k;
		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			if (k % 4 || k > sizeof(*d) - 4) {
				*err = "load outside seccomp_data";
				return 0;
			}
			memcpy(&a, data + k, 4); /* native byte order, as the kernel */
			continue;
		case BPF_LD | BPF_W | BPF_LEN:
			a = sizeof(*d);
			continue;
		case BPF_LDX | BPF_W | BPF_LEN:
			x = sizeof(*d);
			continue;
		case BPF_LD | BPF_IMM:
			a = k;
			continue;
		case BPF_LDX | BPF_IMM:
			x = k;
			continue;
		case BPF_LD | BPF_MEM:
		case BPF_LDX | BPF_MEM:
		case BPF_ST:
		case BPF_STX:
			if (k >= BPF_MEMWORDS) {
				*err = "scratch memory index out of range";
				return 0;
			}
			if (f->code == (BPF_LD | BPF_MEM))
				a = mem[k];
			else if (f->code == (BPF_LDX | BPF_MEM))
				x = mem[k];
			else
				mem[k] = f->code == BPF_ST ? a : x;
			continue;
		case BPF_MISC | BPF_TAX:
			x = a;
			continue;
		case BPF_MISC | BPF_TXA:
			a = x;
			continue;
		case BPF_RET | BPF_K:
			return k;
		case BPF_RET | BPF_A:
			return a;
		case BPF_JMP | BPF_JA:
			if (k >= len - pc - 1) {
				*err = "jump out of the program";
				return 0;
			}
			pc += k;
			continue;
		default:
			break;
		}
		if (BPF_CLASS(f->code) == BPF_ALU) {
			switch (BPF_OP(f->code)) {
			case BPF_ADD:
				a += src;
				continue;
			case BPF_SUB:
				a -= src;
				continue;
			case BPF_MUL:
				a *= src;
				continue;
			case BPF_DIV:
			case BPF_MOD:
				if (src == 0)
					return 0; /* classic BPF: the program returns 0 */
				a = BPF_OP(f->code) == BPF_DIV ? a / src : a % src;
				continue;
			case BPF_AND:
				a &= src;
				continue;
			case BPF_OR:
				a |= src;
				continue;
			case BPF_XOR:
				a ^= src;
				continue;
			case BPF_LSH:
				a = src < 32 ? a << src : 0;
				continue;
			case BPF_RSH:
				a = src < 32 ? a >> src : 0;
				continue;
			case BPF_NEG:
				a = -a;
				continue;
			default:
				break;
			}
		} else if (BPF_CLASS(f->code) == BPF_JMP) {
			bool t;
			switch (BPF_OP(f->code)) {
			case BPF_JEQ:
				t = a == src;
				break;
			case BPF_JGT:
				t = a > src;
				break;
			case BPF_JGE:
				t = a >= src;
				break;
			case BPF_JSET:
				t = (a & src) != 0;
				break;
			default:
				*err = "unknown jump";
				return 0;
			}
			unsigned off = t ? f->jt : f->jf;
			if (off >= len - pc - 1) {
				*err = "jump out of the program";
				return 0;
			}
			pc += off;
			continue;
		}
		*err = "an instruction seccomp does not accept";
		return 0;
	}
	*err = "fell off the end of the program";
	return 0;
}

struct filter {
	struct sock_filter *prog;
	unsigned len;
};

/* The kernel's rule for a thread with several filters: the action of
 * lowest value (as a signed number) wins; ALLOW if there is none. */
static uint32_t run_filters(const struct filter *fl, unsigned n, const struct seccomp_data *d,
			    const char **err)
{
	uint32_t ret = SECCOMP_RET_ALLOW;
	*err = NULL; /* no filter: nothing went wrong */
	for (unsigned i = 0; i < n; i++) {
		uint32_t r = bpf_run(fl[i].prog, fl[i].len, d, err);
		if (*err)
			return 0;
		if ((int32_t)(r & SECCOMP_RET_ACTION_FULL) <
		    (int32_t)(ret & SECCOMP_RET_ACTION_FULL))
			ret = r;
	}
	return ret;
}

static const char *action_name(uint32_t r)
{
	switch (r & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS:
		return "KILL_PROCESS";
	case SECCOMP_RET_KILL_THREAD:
		return "KILL_THREAD";
	case SECCOMP_RET_TRAP:
		return "TRAP";
	case SECCOMP_RET_ERRNO:
		return "ERRNO";
	case SECCOMP_RET_TRACE:
		return "TRACE";
	case SECCOMP_RET_LOG:
		return "LOG";
	case SECCOMP_RET_ALLOW:
		return "ALLOW";
	default:
		return "?";
	}
}

/* Refused: the thread (or the process) dies; ERRNO, TRACE, LOG and ALLOW
 * would let a compromised thread go on. */
static bool is_kill(uint32_t r)
{
	r &= SECCOMP_RET_ACTION_FULL;
	return r == SECCOMP_RET_KILL_PROCESS || r == SECCOMP_RET_KILL_THREAD ||
	       r == SECCOMP_RET_TRAP;
}

static unsigned kill_bit(uint32_t r)
{
	r &= SECCOMP_RET_ACTION_FULL;
	return r == SECCOMP_RET_TRAP ? 1 : r == SECCOMP_RET_KILL_PROCESS ? 2 : 4;
}

/* "TRAP", "TRAP+KILL_THREAD" (the filter's default and its bad-arch
 * action differ), "-" */
static const char *kill_names(unsigned bits)
{
	static const char *const n[8] = {"-",
					 "TRAP",
					 "KILL_PROCESS",
					 "TRAP+KILL_PROCESS",
					 "KILL_THREAD",
					 "TRAP+KILL_THREAD",
					 "KILL_PROCESS+KILL_THREAD",
					 "TRAP+KILL_PROCESS+KILL_THREAD"};
	return n[bits & 7];
}

/* ---- the process: its descriptors by kind ------------------------------- */

struct proc_fds {
	int rings[MAX_FDS], nrings;
	int eventfds[MAX_FDS], neventfds;
	int vm_fd;
	int uffd;	  /* a restored VM's userfaultfd (LAZY, UFFD); -1 */
	int vcpu_fd[256]; /* by vCPU index; -1 */
};

static void read_fds(pid_t pid, struct proc_fds *p)
{
	memset(p, 0, sizeof(*p));
	p->vm_fd = -1;
	p->uffd = -1;
	for (int i = 0; i < 256; i++)
		p->vcpu_fd[i] = -1;
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int fd = atoi(de->d_name);
		char path[400], link[128];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ssize_t n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = 0;
		unsigned id;
		if (!strcmp(link, "anon_inode:[io_uring]") && p->nrings < MAX_FDS)
			p->rings[p->nrings++] = fd;
		else if (!strcmp(link, "anon_inode:[eventfd]") && p->neventfds < MAX_FDS)
			p->eventfds[p->neventfds++] = fd;
		else if (!strcmp(link, "anon_inode:kvm-vm"))
			p->vm_fd = fd;
		else if (!strcmp(link, "anon_inode:[userfaultfd]"))
			p->uffd = fd;
		else if (sscanf(link, "anon_inode:kvm-vcpu:%u", &id) == 1 && id < 256)
			p->vcpu_fd[id] = fd;
	}
	closedir(d);
}

/* ---- reading a thread's filters ----------------------------------------- */

/* Seizes tid, stops it, copies its filters (newest first), releases it.
 * Returns the number of filters (0: the thread has none), or -errno. */
static int read_filters(pid_t tid, struct filter *fl, const char **what)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0) {
		*what = "PTRACE_SEIZE";
		return -errno;
	}
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0) {
		int er = errno;
		ptrace(PTRACE_DETACH, tid, 0, 0);
		*what = "PTRACE_INTERRUPT";
		return -er;
	}
	int st, inject = 0;
	if (waitpid(tid, &st, __WALL) < 0 || !WIFSTOPPED(st)) {
		*what = "waitpid";
		return -ESRCH;
	}
	/* a signal arriving first (a vCPU kick) is a signal-delivery stop:
	 * it is given back to the thread on release */
	if ((st >> 16) != PTRACE_EVENT_STOP)
		inject = WSTOPSIG(st);
	int n = 0, r = 0;
	for (; n < MAX_FILTERS; n++) {
		long len = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)(long)n, NULL);
		if (len < 0) {
			/* ENOENT: no more filters; EINVAL: not in filter mode */
			if (errno != ENOENT && !(errno == EINVAL && n == 0)) {
				*what = "PTRACE_SECCOMP_GET_FILTER";
				r = -errno;
			}
			break;
		}
		if (len == 0 || len > MAX_INSNS) {
			*what = "PTRACE_SECCOMP_GET_FILTER (length)";
			r = -EINVAL;
			break;
		}
		fl[n].prog = calloc((size_t)len, sizeof(struct sock_filter));
		fl[n].len = (unsigned)len;
		if (!fl[n].prog ||
		    ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)(long)n, fl[n].prog) != len) {
			*what = "PTRACE_SECCOMP_GET_FILTER (copy)";
			r = -EIO;
			n++;
			break;
		}
	}
	ptrace(PTRACE_DETACH, tid, 0, (void *)(long)inject);
	if (r < 0) {
		for (int i = 0; i < n; i++)
			free(fl[i].prog);
		return r;
	}
	return n;
}

/* ---- what each thread kind must and must not do ------------------------- */

enum kind { K_CONTROL, K_VCPU, K_WORKER, K_NET_CTRL, K_FS, K_SNAPMEM, K_KERNEL, K_UNKNOWN };
static const char *const kind_names[] = {"control", "vcpu",    "worker", "net-ctl",
					 "fs",	    "snapmem", "kernel", "unknown"};

static enum kind classify(pid_t pid, pid_t tid, const char *name, unsigned *vcpu)
{
	unsigned a, b;
	char c;
	if (tid == pid)
		return K_CONTROL;
	if (sscanf(name, "cvmm-vcpu%u%c", vcpu, &c) == 1)
		return K_VCPU;
	if (!strcmp(name, "cvmm-snapmem"))
		return K_SNAPMEM;
	if (sscanf(name, "cvmm-net%u-ctl%c", &a, &c) == 1 && !strcmp(strrchr(name, '-'), "-ctl"))
		return K_NET_CTRL;
	if ((sscanf(name, "cvmm-fs%u-q%u%c", &a, &b, &c) == 2) ||
	    (sscanf(name, "cvmm-fs%u-h%c", &a, &c) == 2 && !strcmp(strrchr(name, '-'), "-hi")))
		return K_FS;
	if (sscanf(name, "cvmm-blk%u-q%u%c", &a, &b, &c) == 2 ||
	    sscanf(name, "cvmm-net%u-rx%u%c", &a, &b, &c) == 2 ||
	    sscanf(name, "cvmm-net%u-tx%u%c", &a, &b, &c) == 2 || !strncmp(name, "cvmm-vsock", 10))
		return K_WORKER;
	/* io_uring's own kernel threads (io-wq, SQPOLL): they run no user
	 * code, and cannot be traced */
	if (!strncmp(name, "iou-wrk-", 8) || !strncmp(name, "iou-sqp-", 8))
		return K_KERNEL;
	return K_UNKNOWN;
}

struct thread_check {
	const struct filter *fl;
	unsigned nfl;
	int checked, refused, allowed, bad;
	char why[1024];
	size_t whylen;
	unsigned deny_actions; /* the actions of the refusals (bits: kill_bit) */
};

static void note(struct thread_check *t, const char *fmt, ...)
{
	if (t->whylen + 2 >= sizeof(t->why))
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(t->why + t->whylen, sizeof(t->why) - t->whylen, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->whylen += (size_t)n;
	if (t->whylen >= sizeof(t->why))
		t->whylen = sizeof(t->why) - 1;
}

static uint32_t eval(struct thread_check *t, uint32_t arch, long nr, const uint64_t args[6])
{
	struct seccomp_data d;
	memset(&d, 0, sizeof(d));
	d.nr = (int)nr;
	d.arch = arch;
	d.instruction_pointer = 0x7f0000001000ULL;
	for (int i = 0; i < 6; i++)
		d.args[i] = args ? args[i] : 0;
	const char *err;
	uint32_t r = run_filters(t->fl, t->nfl, &d, &err);
	if (err) {
		note(t, " interpreter:%s", err);
		t->bad++;
		return 0;
	}
	return r;
}

#define A(...) ((const uint64_t[6]){__VA_ARGS__})

static void expect(struct thread_check *t, bool allow, const char *what, uint32_t arch, long nr,
		   const uint64_t args[6])
{
	if (nr < 0)
		return; /* a call this architecture lacks */
	uint32_t r = eval(t, arch, nr, args);
	t->checked++;
	if (allow && (r & SECCOMP_RET_ACTION_FULL) != SECCOMP_RET_ALLOW) {
		t->bad++;
		note(t, " %s:%s(wanted ALLOW)", what, action_name(r));
	} else if (!allow && !is_kill(r)) {
		t->bad++;
		note(t, " %s:%s(wanted refused)", what, action_name(r));
	} else if (allow) {
		t->allowed++;
	} else {
		t->refused++;
		t->deny_actions |= kill_bit(r);
	}
}
#define DENY(t, nr, args)	    expect(t, false, #nr, NATIVE_ARCH, nr, args)
#define ALLOW(t, nr, args)	    expect(t, true, #nr, NATIVE_ARCH, nr, args)
#define DENY_AS(t, what, nr, args)  expect(t, false, what, NATIVE_ARCH, nr, args)
#define ALLOW_AS(t, what, nr, args) expect(t, true, what, NATIVE_ARCH, nr, args)

#ifndef SYS_open
#define SYS_open -1
#endif
#ifndef SYS_creat
#define SYS_creat -1
#endif
#ifndef SYS_fork
#define SYS_fork -1
#endif
#ifndef SYS_vfork
#define SYS_vfork -1
#endif
#ifndef SYS_poll
#define SYS_poll -1
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* Refused to every thread kind. */
static void common_refused(struct thread_check *t)
{
	const uint64_t pthread_flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
				       CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
				       CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
	DENY(t, SYS_execve, A(0x1000, 0x2000, 0x3000));
	DENY(t, SYS_execveat, A(AT_FDCWD, 0x1000, 0x2000, 0x3000, 0));
	DENY(t, SYS_open, A(0x1000, O_RDONLY));
	DENY(t, SYS_creat, A(0x1000, 0644));
	DENY(t, SYS_openat, A((uint64_t)AT_FDCWD, 0x1000, O_RDONLY));
	DENY(t, SYS_open_by_handle_at, A(3, 0x1000, O_RDONLY));
	DENY(t, SYS_name_to_handle_at, A(3, 0x1000, 0x2000, 0x3000, 0));
	DENY(t, SYS_socket, A(AF_UNIX, SOCK_STREAM, 0));
	DENY(t, SYS_socketpair, A(AF_UNIX, SOCK_STREAM, 0, 0x1000));
	DENY(t, SYS_connect, A(3, 0x1000, 16));
	DENY(t, SYS_bind, A(3, 0x1000, 16));
	DENY(t, SYS_listen, A(3, 16));
	DENY(t, SYS_sendmsg, A(3, 0x1000, 0));
	DENY(t, SYS_recvmsg, A(3, 0x1000, 0));
	DENY(t, SYS_ptrace, A(PTRACE_ATTACH, 1));
	DENY(t, SYS_process_vm_readv, A(1, 0x1000, 1, 0x2000, 1, 0));
	DENY(t, SYS_process_vm_writev, A(1, 0x1000, 1, 0x2000, 1, 0));
	DENY(t, SYS_fork, NULL);
	DENY(t, SYS_vfork, NULL);
	DENY_AS(t, "clone(SIGCHLD)", SYS_clone, A(SIGCHLD));
	DENY_AS(t, "clone(thread)", SYS_clone, A(pthread_flags, 0x1000));
	DENY(t, SYS_clone3, A(0x1000, 88));
	DENY(t, SYS_kill, A(1, SIGKILL));
	DENY(t, SYS_setuid, A(0));
	DENY(t, SYS_setresuid, A(0, 0, 0));
	DENY(t, SYS_setresgid, A(0, 0, 0));
	DENY(t, SYS_setgroups, A(0, 0));
	DENY(t, SYS_capset, A(0x1000, 0x2000));
	DENY(t, SYS_prctl, A(PR_SET_SECCOMP, 0));
	DENY(t, SYS_seccomp, A(SECCOMP_SET_MODE_FILTER, 0, 0x1000));
	DENY(t, SYS_bpf, A(0, 0x1000, 64));
	DENY(t, SYS_mount, A(0x1000, 0x2000, 0x3000, 0, 0));
	DENY(t, SYS_umount2, A(0x1000, 0));
	DENY(t, SYS_chroot, A(0x1000));
	DENY(t, SYS_chdir, A(0x1000));
	DENY(t, SYS_fchdir, A(3));
	DENY(t, SYS_pivot_root, A(0x1000, 0x2000));
	DENY(t, SYS_unshare, A(CLONE_NEWUSER));
	DENY(t, SYS_setns, A(3, 0));
	DENY(t, SYS_memfd_create, A(0x1000, 0));
	DENY(t, SYS_io_uring_setup, A(8, 0x1000));
	DENY(t, SYS_init_module, A(0x1000, 4096, 0x2000));
	DENY(t, SYS_finit_module, A(3, 0x1000, 0));
	DENY(t, SYS_kexec_load, A(0, 0, 0, 0));
	DENY(t, SYS_perf_event_open, A(0x1000, 0, (uint64_t)-1, (uint64_t)-1, 0));
	DENY(t, SYS_keyctl, A(0, 0));
	DENY(t, SYS_add_key, A(0x1000, 0x2000, 0, 0, 0));
	DENY(t, SYS_userfaultfd, A(0));
	DENY(t, SYS_dup, A(2));
	DENY(t, SYS_dup3, A(2, 100, 0));
	DENY(t, SYS_mremap, A(0x1000, 4096, 8192, 1, 0));
	DENY(t, SYS_pkey_mprotect, A(0x1000, 4096, PROT_READ | PROT_EXEC, 0));
	/* cvmm's SIGSYS handler dies through it: in no table */
	DENY(t, SYS_getppid, NULL);
	/* never executable memory: no mapping at all, or one without PROT_EXEC */
	DENY_AS(t, "mmap(PROT_EXEC)", SYS_mmap,
		A(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0));
	DENY_AS(t, "mmap(PROT_WRITE|PROT_EXEC)", SYS_mmap,
		A(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		  (uint64_t)-1, 0));
	DENY_AS(t, "mprotect(PROT_EXEC)", SYS_mprotect, A(0x1000, 4096, PROT_READ | PROT_EXEC));
	/* another architecture's calls (the filter checks seccomp_data.arch) */
#ifdef __x86_64__
	expect(t, false, "i386:execve", AUDIT_ARCH_I386, 11, NULL);
	expect(t, false, "i386:getpid", AUDIT_ARCH_I386, 20, NULL);
	/* x32 calls on the x86_64 arch (__X32_SYSCALL_BIT) */
	expect(t, false, "x32:execve", AUDIT_ARCH_X86_64, 0x40000000 + 520, NULL);
	expect(t, false, "x32:write", AUDIT_ARCH_X86_64, 0x40000000 + 1, A(2, 0x1000, 1));
#else
	expect(t, false, "arm:execve", AUDIT_ARCH_ARM, 11, NULL);
	expect(t, false, "arm:getpid", AUDIT_ARCH_ARM, 20, NULL);
#endif
}

/* A worker's ring and irqfds: io_uring_enter on exactly one of the
 * process's rings (its own, returned), writes to a few eventfds (its
 * queue's, the configuration's and a second queue's irqfd) and stderr. */
static int worker_common(struct thread_check *t, const struct proc_fds *p)
{
	int own = -1, nown = 0;
	for (int i = 0; i < p->nrings; i++) {
		uint32_t r =
			eval(t, NATIVE_ARCH, SYS_io_uring_enter, A((uint64_t)p->rings[i], 1, 1, 1));
		if ((r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW) {
			own = p->rings[i];
			nown++;
		}
	}
	t->checked++;
	if (nown != 1) {
		t->bad++;
		note(t, " io_uring_enter:allowed-on-%d-of-%d-rings(wanted 1)", nown, p->nrings);
	} else {
		t->allowed++;
	}
	int nw = 0;
	for (int i = 0; i < p->neventfds; i++) {
		uint32_t r =
			eval(t, NATIVE_ARCH, SYS_write, A((uint64_t)p->eventfds[i], 0x1000, 8));
		if ((r & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW)
			nw++;
	}
	t->checked++;
	if (nw < 1 || nw > 3) {
		t->bad++;
		note(t, " write:allowed-on-%d-of-%d-eventfds(wanted 1-3)", nw, p->neventfds);
	} else {
		t->allowed++;
	}
	if (p->vm_fd >= 0)
		DENY_AS(t, "io_uring_enter(the VM fd)", SYS_io_uring_enter,
			A((uint64_t)p->vm_fd, 1, 1, 1));
	ALLOW_AS(t, "write(2)", SYS_write, A(2, 0x1000, 10));
	DENY_AS(t, "write(1)", SYS_write, A(1, 0x1000, 10));
	ALLOW(t, SYS_futex, A(0x1000, 0, 1));
	ALLOW(t, SYS_exit, A(0));
	ALLOW(t, SYS_restart_syscall, NULL);
	DENY(t, SYS_exit_group, A(0));
	DENY(t, SYS_read, A(0, 0x1000, 8));
	DENY_AS(t, "mmap(PROT_READ|PROT_WRITE)", SYS_mmap,
		A(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0));
	/* a worker's exit returns its malloc cache to its arena; the main
	 * arena, shared once threads outnumber 8 per CPU, trims with brk
	 * (unit/jail test_worker_on_the_main_arena) */
	ALLOW(t, SYS_brk, A(0));
	DENY(t, SYS_tgkill, A(1, 1, SIGKILL));
	if (own >= 0) {
		DENY_AS(t, "io_uring_register(REGISTER_FILES)", SYS_io_uring_register,
			A((uint64_t)own, IORING_REGISTER_FILES, 0x1000, 1));
		DENY_AS(t, "io_uring_register(REGISTER_RESTRICTIONS)", SYS_io_uring_register,
			A((uint64_t)own, IORING_REGISTER_RESTRICTIONS, 0x1000, 1));
		DENY_AS(t, "io_uring_register(ENABLE_RINGS)", SYS_io_uring_register,
			A((uint64_t)own, IORING_REGISTER_ENABLE_RINGS, 0, 0));
	}
	return own;
}

static void check_kind(struct thread_check *t, enum kind k, unsigned vcpu, const struct proc_fds *p)
{
	common_refused(t);
	const uint64_t *rw_map =
		A(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0);
	switch (k) {
	case K_CONTROL:
		ALLOW(t, SYS_poll, A(0x1000, 3, (uint64_t)-1));
		ALLOW(t, SYS_ppoll, A(0x1000, 3, 0, 0, 8));
		ALLOW(t, SYS_read, A(0, 0x1000, 1));
		ALLOW(t, SYS_write, A(1, 0x1000, 1));
		ALLOW(t, SYS_close, A(7));
		ALLOW(t, SYS_recvfrom, A(7, 0x1000, 64, 0, 0, 0));
		ALLOW(t, SYS_sendto, A(7, 0x1000, 64, MSG_NOSIGNAL, 0, 0));
		ALLOW(t, SYS_exit_group, A(0));
		ALLOW(t, SYS_futex, A(0x1000, 0, 1));
		ALLOW_AS(t, "mmap(PROT_READ|PROT_WRITE)", SYS_mmap, rw_map);
		ALLOW_AS(t, "mprotect(PROT_READ|PROT_WRITE)", SYS_mprotect,
			 A(0x1000, 4096, PROT_READ | PROT_WRITE));
		ALLOW_AS(t, "ioctl(TCGETS)", SYS_ioctl, A(0, TCGETS, 0x1000));
		ALLOW(t, SYS_tgkill, A(1, 2, SIGUSR1));
		if (p->vm_fd >= 0) {
			ALLOW_AS(t, "ioctl(the VM, KVM_IRQ_LINE)", SYS_ioctl,
				 A((uint64_t)p->vm_fd, KVM_IRQ_LINE, 0x1000));
			DENY_AS(t, "ioctl(the VM, KVM_CREATE_VCPU)", SYS_ioctl,
				A((uint64_t)p->vm_fd, KVM_CREATE_VCPU, 0));
			DENY_AS(t, "ioctl(the VM, KVM_SET_USER_MEMORY_REGION)", SYS_ioctl,
				A((uint64_t)p->vm_fd, KVM_SET_USER_MEMORY_REGION, 0x1000));
		}
		if (p->vcpu_fd[0] >= 0) {
			DENY_AS(t, "ioctl(vCPU 0, KVM_RUN)", SYS_ioctl,
				A((uint64_t)p->vcpu_fd[0], KVM_RUN, 0));
			DENY_AS(t, "ioctl(vCPU 0, KVM_IRQ_LINE)", SYS_ioctl,
				A((uint64_t)p->vcpu_fd[0], KVM_IRQ_LINE, 0x1000));
		}
		DENY_AS(t, "ioctl(TUNSETIFF)", SYS_ioctl, A(3, TUNSETIFF, 0x1000));
		for (int i = 0; i < p->nrings; i++)
			DENY_AS(t, "io_uring_enter(a ring)", SYS_io_uring_enter,
				A((uint64_t)p->rings[i], 1, 1, 1));
		break;
	case K_VCPU: {
		int own = vcpu < 256 ? p->vcpu_fd[vcpu] : -1;
		t->checked++;
		if (own < 0 || p->vm_fd < 0) {
			t->bad++;
			note(t, " no-vcpu-or-vm-fd-found");
			break;
		}
		t->allowed++;
		ALLOW_AS(t, "ioctl(its vCPU, KVM_RUN)", SYS_ioctl, A((uint64_t)own, KVM_RUN, 0));
		for (int i = 0; i < 256; i++)
			if (p->vcpu_fd[i] >= 0 && p->vcpu_fd[i] != own)
				DENY_AS(t, "ioctl(another vCPU, KVM_RUN)", SYS_ioctl,
					A((uint64_t)p->vcpu_fd[i], KVM_RUN, 0));
		DENY_AS(t, "ioctl(the VM, KVM_RUN)", SYS_ioctl, A((uint64_t)p->vm_fd, KVM_RUN, 0));
		ALLOW_AS(t, "ioctl(the VM, KVM_IRQ_LINE)", SYS_ioctl,
			 A((uint64_t)p->vm_fd, KVM_IRQ_LINE, 0x1000));
		DENY_AS(t, "ioctl(its vCPU, KVM_IRQ_LINE)", SYS_ioctl,
			A((uint64_t)own, KVM_IRQ_LINE, 0x1000));
		ALLOW_AS(t, "ioctl(the VM, KVM_IRQFD)", SYS_ioctl,
			 A((uint64_t)p->vm_fd, KVM_IRQFD, 0x1000));
		DENY_AS(t, "ioctl(the VM, KVM_SET_USER_MEMORY_REGION)", SYS_ioctl,
			A((uint64_t)p->vm_fd, KVM_SET_USER_MEMORY_REGION, 0x1000));
		DENY_AS(t, "ioctl(the VM, KVM_CREATE_VCPU)", SYS_ioctl,
			A((uint64_t)p->vm_fd, KVM_CREATE_VCPU, 0));
#ifdef __x86_64__
		/* the guest's first PIT access, made again once the PIT exists
		 * (arch_pio_exit): its own registers and the VM's one PIT only */
		ALLOW_AS(t, "ioctl(its vCPU, KVM_SET_REGS)", SYS_ioctl,
			 A((uint64_t)own, KVM_SET_REGS, 0x1000));
		for (int i = 0; i < 256; i++)
			if (p->vcpu_fd[i] >= 0 && p->vcpu_fd[i] != own)
				DENY_AS(t, "ioctl(another vCPU, KVM_SET_REGS)", SYS_ioctl,
					A((uint64_t)p->vcpu_fd[i], KVM_SET_REGS, 0x1000));
		DENY_AS(t, "ioctl(its vCPU, KVM_SET_SREGS)", SYS_ioctl,
			A((uint64_t)own, KVM_SET_SREGS, 0x1000));
		ALLOW_AS(t, "ioctl(the VM, KVM_CREATE_PIT2)", SYS_ioctl,
			 A((uint64_t)p->vm_fd, KVM_CREATE_PIT2, 0x1000));
		DENY_AS(t, "ioctl(the VM, KVM_SET_PIT2)", SYS_ioctl,
			A((uint64_t)p->vm_fd, KVM_SET_PIT2, 0x1000));
#endif
		ALLOW_AS(t, "ioctl(TUNSETQUEUE)", SYS_ioctl, A(9, TUNSETQUEUE, 0x1000));
		DENY_AS(t, "ioctl(TUNSETIFF)", SYS_ioctl, A(9, TUNSETIFF, 0x1000));
		ALLOW(t, SYS_write, A(1, 0x1000, 1));
		ALLOW(t, SYS_read, A(9, 0x1000, 8));
		ALLOW_AS(t, "mmap(PROT_READ|PROT_WRITE)", SYS_mmap, rw_map);
		ALLOW(t, SYS_futex, A(0x1000, 0, 1));
		ALLOW(t, SYS_exit, A(0));
		DENY(t, SYS_exit_group, A(0));
		DENY(t, SYS_close, A(7));
		for (int i = 0; i < p->nrings; i++)
			DENY_AS(t, "io_uring_enter(a ring)", SYS_io_uring_enter,
				A((uint64_t)p->rings[i], 1, 1, 1));
		break;
	}
	case K_WORKER:
		worker_common(t, p);
		DENY(t, SYS_close, A(7));
		DENY_AS(t, "ioctl(TUNSETQUEUE)", SYS_ioctl, A(9, TUNSETQUEUE, 0x1000));
		DENY(t, SYS_openat2, A((uint64_t)AT_FDCWD, 0x1000, 0x2000, 24));
		break;
	case K_NET_CTRL:
		worker_common(t, p);
		ALLOW_AS(t, "ioctl(TUNSETQUEUE)", SYS_ioctl, A(9, TUNSETQUEUE, 0x1000));
		DENY_AS(t, "ioctl(TUNSETIFF)", SYS_ioctl, A(9, TUNSETIFF, 0x1000));
		DENY_AS(t, "ioctl(TUNSETOFFLOAD)", SYS_ioctl, A(9, TUNSETOFFLOAD, 0));
		DENY(t, SYS_close, A(7));
		break;
	case K_FS: {
		int own = worker_common(t, p);
		if (own >= 0)
			ALLOW_AS(t, "io_uring_register(its ring, FILES_UPDATE)",
				 SYS_io_uring_register,
				 A((uint64_t)own, IORING_REGISTER_FILES_UPDATE, 0x1000, 1));
		ALLOW(t, SYS_openat2, A(5, 0x1000, 0x2000, 24));
		ALLOW(t, SYS_close, A(7));
		ALLOW(t, SYS_newfstatat, A(5, 0x1000, 0x2000, AT_EMPTY_PATH));
		ALLOW(t, SYS_getdents64, A(5, 0x1000, 4096));
		ALLOW(t, SYS_unlinkat, A(5, 0x1000, 0));
		DENY_AS(t, "ioctl(TUNSETQUEUE)", SYS_ioctl, A(9, TUNSETQUEUE, 0x1000));
		break;
	}
	case K_SNAPMEM:
		/* the LAZY loader or the UFFD watcher: its userfaultfd's fill
		 * calls, never its registration, nothing on KVM or the rings */
		if (p->uffd >= 0) {
			uint64_t u = (uint64_t)p->uffd;
			ALLOW_AS(t, "ioctl(its userfaultfd, UFFDIO_COPY)", SYS_ioctl,
				 A(u, UFFDIO_COPY, 0x1000));
			ALLOW_AS(t, "ioctl(its userfaultfd, UFFDIO_ZEROPAGE)", SYS_ioctl,
				 A(u, UFFDIO_ZEROPAGE, 0x1000));
			ALLOW_AS(t, "ioctl(its userfaultfd, UFFDIO_UNREGISTER)", SYS_ioctl,
				 A(u, UFFDIO_UNREGISTER, 0x1000));
			ALLOW_AS(t, "read(its userfaultfd)", SYS_read, A(u, 0x1000, 32));
			DENY_AS(t, "ioctl(its userfaultfd, UFFDIO_REGISTER)", SYS_ioctl,
				A(u, UFFDIO_REGISTER, 0x1000));
			DENY_AS(t, "ioctl(its userfaultfd, UFFDIO_API)", SYS_ioctl,
				A(u, UFFDIO_API, 0x1000));
			DENY_AS(t, "ioctl(another fd, UFFDIO_COPY)", SYS_ioctl,
				A(u + 1000, UFFDIO_COPY, 0x1000));
		}
		if (p->vm_fd >= 0)
			DENY_AS(t, "ioctl(the VM, KVM_SET_USER_MEMORY_REGION)", SYS_ioctl,
				A((uint64_t)p->vm_fd, KVM_SET_USER_MEMORY_REGION, 0x1000));
		ALLOW(t, SYS_poll, A(0x1000, 2, (uint64_t)-1));
		ALLOW_AS(t, "write(stderr)", SYS_write, A(2, 0x1000, 1));
		DENY_AS(t, "write(stdout)", SYS_write, A(1, 0x1000, 1));
		ALLOW(t, SYS_futex, A(0x1000, 0, 1));
		ALLOW(t, SYS_exit, A(0));
		DENY(t, SYS_exit_group, A(0));
		DENY(t, SYS_close, A(7));
		DENY_AS(t, "mmap(PROT_READ|PROT_WRITE)", SYS_mmap, rw_map);
		for (int i = 0; i < p->nrings; i++)
			DENY_AS(t, "io_uring_enter(a ring)", SYS_io_uring_enter,
				A((uint64_t)p->rings[i], 1, 1, 1));
		break;
	default:
		break;
	}
}

/* ---- main --------------------------------------------------------------- */

struct seen {
	char name[32];
	bool ok;
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: seccompcheck PID [NAME...]\n");
		return 2;
	}
	pid_t pid = (pid_t)atoi(argv[1]);
	static struct proc_fds fds;
	read_fds(pid, &fds);
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "seccompcheck: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	static struct seen seen[1024];
	int nseen = 0, nok = 0, nbad = 0;
	bool kinds[K_UNKNOWN + 1] = {false};
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		pid_t tid = (pid_t)atoi(de->d_name);
		char path[128], name[32] = "?";
		snprintf(path, sizeof(path), "%s/%d/comm", dir, (int)tid);
		FILE *f = fopen(path, "r");
		if (f) {
			if (fgets(name, sizeof(name), f))
				name[strcspn(name, "\n")] = 0;
			fclose(f);
		}
		unsigned vcpu = 0;
		enum kind k = classify(pid, tid, name, &vcpu);
		if (k == K_KERNEL) {
			printf("seccompcheck: tid %d %s: io_uring kernel thread, not checked\n",
			       (int)tid, name);
			continue;
		}
		struct filter fl[MAX_FILTERS];
		const char *what = "";
		int n = read_filters(tid, fl, &what);
		struct thread_check t = {.fl = fl, .nfl = n > 0 ? (unsigned)n : 0};
		if (k == K_UNKNOWN) {
			t.bad++;
			note(&t, " a thread of no known kind");
		}
		if (n < 0) {
			t.bad++;
			note(&t, " %s:%s", what, strerror(-n));
		} else if (n == 0) {
			t.bad++;
			note(&t, " no seccomp filter");
		} else {
			check_kind(&t, k, vcpu, &fds);
		}
		unsigned insns = 0;
		for (int i = 0; i < n; i++)
			insns += fl[i].len;
		bool ok = t.bad == 0;
		printf("seccompcheck: tid %d %s %s filters=%d insns=%u checked=%d refused=%d(%s) "
		       "allowed=%d %s%s\n",
		       (int)tid, name, kind_names[k], n < 0 ? 0 : n, insns, t.checked, t.refused,
		       kill_names(t.deny_actions), t.allowed, ok ? "OK" : "BAD:", t.why);
		if (ok) {
			nok++;
			kinds[k] = true;
		} else {
			nbad++;
		}
		if (nseen < 1024) {
			snprintf(seen[nseen].name, sizeof(seen[nseen].name), "%s",
				 tid == pid ? "main" : name);
			seen[nseen++].ok = ok;
		}
		for (int i = 0; i < n; i++)
			free(fl[i].prog);
	}
	closedir(d);
	int missing = 0;
	for (int a = 2; a < argc; a++) {
		bool found = false;
		for (int i = 0; i < nseen; i++)
			found |= seen[i].ok && !strcmp(seen[i].name, argv[a]);
		if (!found) {
			printf("seccompcheck: %s: no such thread checked OK\n", argv[a]);
			missing++;
		}
	}
	char kl[128] = "";
	for (int k = 0; k < K_KERNEL; k++)
		if (kinds[k])
			snprintf(kl + strlen(kl), sizeof(kl) - strlen(kl), "%s%s", kl[0] ? "," : "",
				 kind_names[k]);
	printf("SECCOMPCHECK threads=%d ok=%d bad=%d missing=%d kinds=%s\n", nok + nbad, nok, nbad,
	       missing, kl[0] ? kl : "-");
	return nbad || missing || nok == 0 ? 1 : 0;
}
