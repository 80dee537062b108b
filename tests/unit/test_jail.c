/* SPDX-License-Identifier: MIT */
/* The jail (vmm/jail.c): every thread kind's table loads, a call outside
 * it kills the process with SIGSYS after the handler named the thread and
 * the call, `log` lets it through, and the privilege drop leaves no
 * capability, the new ids, the chroot and (where the kernel has it) a
 * Landlock domain that only reaches the shares. Each check runs in a child
 * process: filters and credentials cannot be undone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/unit/emu.h"
#include <stdbool.h>
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/jail.h"

static const enum jail_kind kinds[] = {JAIL_VIRTIO_WORKER, JAIL_NET_CTRL,	JAIL_FS_WORKER,
				       JAIL_VCPU,	   JAIL_CONTROL,	JAIL_RNG_WORKER,
				       JAIL_SNAPMEM,	   JAIL_BALLOON_WORKER, JAIL_NET_TX};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* The descriptors the children's filters are bound to: 100 a vCPU, a
 * worker's ring, the listening socket; 101 the VM, a worker's queue irqfd;
 * 103 its configuration irqfd; 104 a second queue's. 102 and 105 are in
 * no slot. */
static const struct jail_fds test_fds = {.ring = 100,
					 .irq = 101,
					 .config_irq = 103,
					 .notify_irq = 104,
					 .vcpu = 100,
					 .vm = 101,
					 .listen = 100,
					 .uffd = 100,
					 .memfile = 101,
					 .fail = 103,
					 .sock = 104};

static void test_tables(void **state)
{
	(void)state;
	for (unsigned k = 0; k < NKINDS; k++) {
		unsigned n;
		const struct jail_rule *r = jail_rules(kinds[k], &n);
		assert_non_null(r);
		assert_true(n > 0);
		for (unsigned i = 0; i < n; i++) {
			assert_true(r[i].why && r[i].why[0]);
			/* the SIGSYS handler dies through this call: in no table */
			assert_int_not_equal(r[i].nr, JAIL_DEATH_CALL);
		}
		struct jail_fds fds = {.ring = 5,
				       .irq = 6,
				       .config_irq = 8,
				       .notify_irq = 9,
				       .vcpu = 5,
				       .vm = 6,
				       .listen = 5};
		for (int m = JAIL_ON; m <= JAIL_OFF; m++) {
			void *ctx = (void *)1;
			struct err e = {0};
			assert_int_equal(jail_build(kinds[k], (enum jail_mode)m, &fds, &ctx, &e),
					 0);
			if (m == JAIL_OFF)
				assert_null(ctx);
			else
				assert_non_null(ctx);
			jail_free(ctx);
		}
	}
}

/* The programs compiled when cvmm was built (core/jail.h: jail_progs) are
 * what libseccomp makes of today's tables: every thread kind's (the
 * control thread's with each set of extras), in both modes, each the same
 * instructions as libseccomp's with the placeholder descriptors, and, the
 * descriptors put in, the same as libseccomp's with those descriptors.
 * jail_build takes them (none compiled at start). A cross build has none
 * (jail_nprogs 0) and compiles at run time: only that is checked there. */
static void test_prebuilt(void **state)
{
	(void)state;
	static struct sock_filter want[BPF_MAXINSNS];
	/* a descriptor per slot, all different */
	const struct jail_fds real = {.ring = 201,
				      .irq = 202,
				      .config_irq = 203,
				      .notify_irq = 204,
				      .vcpu = 205,
				      .vm = 206,
				      .listen = 207,
				      .uffd = 208,
				      .memfile = 209,
				      .fail = 210,
				      .sock = 211};
	unsigned seen = 0;
	for (unsigned k = 0; k < JAIL_NKINDS; k++) {
		unsigned nx = k == JAIL_CONTROL ? JAIL_EXTRAS_ALL : 0;
		for (unsigned x = 0; x <= nx; x++) {
			const struct jail_table *t[4];
			unsigned nt = jail_kind_tables((enum jail_kind)k, x, t);
			assert_true(nt > 0);
			/* no value a rule compares with looks like a placeholder */
			for (unsigned i = 0; i < nt; i++)
				for (unsigned r = 0; r < t[i]->n; r++)
					for (unsigned a = 0; a < JAIL_MAX_ARGS; a++) {
						uint64_t v = t[i]->rules[r].args[a].value;
						for (int h = 0; h < 2; h++, v >>= 32)
							assert_false(
								(uint32_t)v >=
									JAIL_FD_PLACEHOLDER(0) &&
								(uint32_t)v <=
									JAIL_FD_PLACEHOLDER(0xff));
					}
			for (int m = JAIL_ON; m <= JAIL_LOG; m++) {
				const enum jail_mode mode = (enum jail_mode)m;
				uint64_t key = jail_key(t, nt, mode);
				const struct jail_prog *p = NULL;
				for (unsigned i = 0; i < jail_nprogs; i++)
					if (jail_progs[i].key == key)
						p = &jail_progs[i];
				void *ctx = NULL;
				struct err e = {0};
				assert_int_equal(
					jail_build_ex((enum jail_kind)k, mode, &real, x, &ctx, &e),
					0);
				assert_int_equal(jail_filter_prebuilt(ctx), jail_nprogs > 0);
				jail_free(ctx);
				if (!jail_nprogs)
					continue;
				if (!p)
					fail_msg("no program built for %s (extras %u, mode %d)",
						 t[0]->name, x, m);
				seen++;
				unsigned len = 0;
				assert_int_equal(jail_filter_compile(t, nt, mode,
								     &jail_placeholder_fds, want,
								     BPF_MAXINSNS, &len, &e),
						 0);
				assert_int_equal(len, p->len);
				if (memcmp(want, p->insns, len * sizeof(want[0])) != 0)
					fail_msg("%s: the program built differs from libseccomp's "
						 "now",
						 p->what);
				/* with the descriptors put in, as jail_build does */
				assert_int_equal(jail_filter_compile(t, nt, mode, &real, want,
								     BPF_MAXINSNS, &len, &e),
						 0);
				struct sock_filter got[BPF_MAXINSNS];
				memcpy(got, p->insns, p->len * sizeof(got[0]));
				/* jail_build's patch, with other descriptors */
				unsigned patched = jail_prog_patch(got, p->len, &real);
				assert_true(patched > 0); /* every kind binds a descriptor */
				assert_int_equal(len, p->len);
				if (memcmp(want, got, len * sizeof(want[0])) != 0)
					fail_msg("%s: with descriptors, not libseccomp's program",
						 p->what);
			}
		}
	}
	assert_int_equal(seen, jail_nprogs);
}

/* A child that loads kind's filter (with every signal blocked, as vCPU and
 * worker threads have them) and calls JAIL_DEATH_CALL (getppid; getpgid in
 * sanitizer builds, whose control table allows getppid). Returns its wait status;
 * its stderr goes to msg. */
static int run_violation(enum jail_kind kind, enum jail_mode mode, char *msg, size_t len)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		if (jail_sigsys_install() < 0)
			_exit(10);
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, NULL);
		void *ctx;
		struct err e = {0};
		if (jail_build(kind, mode, &test_fds, &ctx, &e) < 0)
			_exit(11);
		if (jail_load(ctx, "test-thread") < 0)
			_exit(12);
		(void)syscall(JAIL_DEATH_CALL);
		syscall(SYS_exit, 0);
	}
	close(p[1]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	ssize_t n = read(p[0], msg, len - 1);
	msg[n > 0 ? n : 0] = 0;
	close(p[0]);
	return st;
}

static void test_violation_kills_with_message(void **state)
{
	(void)state;
	char want[128];
	snprintf(want, sizeof(want),
		 "cvmm: seccomp: thread test-thread made forbidden syscall %d (%s)\n",
		 (int)JAIL_DEATH_CALL, JAIL_DEATH_CALL_NAME);
	for (unsigned k = 0; k < NKINDS; k++) {
		char msg[256];
		int st = run_violation(kinds[k], JAIL_ON, msg, sizeof(msg));
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("%s: status 0x%x, not killed by SIGSYS", jail_kind_name(kinds[k]),
				 st);
		assert_string_equal(msg, want);
	}
}

static void test_log_mode_lets_it_through(void **state)
{
	(void)state;
	for (unsigned k = 0; k < NKINDS; k++) {
		char msg[256];
		int st = run_violation(kinds[k], JAIL_LOG, msg, sizeof(msg));
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
		assert_string_equal(msg, "");
	}
}

/* Whether any capability is left in the bounding set. */
static int prctl_bounding_any(void)
{
	for (int c = 0; c <= 63; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (r < 0)
			return 0;
		if (r > 0)
			return 1;
	}
	return 0;
}

/* Argument checks: a child loads kind's table bound to test_fds
 * (fds that do not exist: an allowed call fails with EBADF, a forbidden
 * one kills) and makes one call. */
enum call {
	C_KVM_RUN_OWN,
	C_KVM_RUN_OTHER,
	C_IRQ_LINE_VM,
	C_IRQ_LINE_OTHER,
	C_TUNSETQUEUE,
	C_KVM_CREATE_VCPU,
	C_MMAP_RW,
	C_MMAP_EXEC,
	C_WRITE_STDERR,
	C_WRITE_OTHER,
	C_ACCEPT_LISTEN,
	C_ACCEPT_OTHER,
	C_OPENAT,
	C_WRITE_QUEUE_IRQ,
	C_WRITE_CONFIG_IRQ,
	C_WRITE_SECOND_IRQ,
	C_IRQFD_VM,
	C_IRQFD_OTHER,
	C_ROUTING_VM,
	C_ROUTING_OTHER,
	C_EXECVE,
	C_EXECVEAT,
	C_SOCKET,
	C_CONNECT,
	C_PTRACE,
	C_MEMFD,
	C_OFD_SETLK,
	C_FCNTL_OTHER,
	C_GETRANDOM,
	C_OPENAT_CREAT,
	C_OPENAT_TRUNC,
	C_LSEEK_END,
	C_LSEEK_SET,
	C_FILES_UPDATE,
	C_REGISTER_OTHER,
	C_PWRITE,
	C_FTRUNCATE,
	C_GET_XSAVE,
	C_SET_REGS,
	C_GET_CLOCK_VM,
	C_GET_CLOCK_OTHER,
	C_MADV_DONTNEED,
	C_MADV_OTHER,
};
/* kind's table, and the extra rules asked for (JAIL_EXTRA_*: jail_build_ex) */
static bool killed_by_ex(enum jail_kind kind, unsigned disks, enum call c)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, STDERR_FILENO);
		if (jail_sigsys_install() < 0)
			_exit(10);
		void *ctx;
		struct err e = {0};
		if (jail_build_ex(kind, JAIL_ON, &test_fds, disks, &ctx, &e) < 0 ||
		    jail_load(ctx, "t") < 0)
			_exit(11);
		switch (c) {
		case C_KVM_RUN_OWN:
			syscall(SYS_ioctl, 100, KVM_RUN, 0);
			break;
		case C_KVM_RUN_OTHER:
			syscall(SYS_ioctl, 101, KVM_RUN, 0);
			break;
		case C_IRQ_LINE_VM:
			syscall(SYS_ioctl, 101, KVM_IRQ_LINE, 0);
			break;
		case C_IRQ_LINE_OTHER:
			syscall(SYS_ioctl, 100, KVM_IRQ_LINE, 0);
			break;
		case C_TUNSETQUEUE:
			syscall(SYS_ioctl, 102, TUNSETQUEUE, 0);
			break;
		case C_KVM_CREATE_VCPU:
			syscall(SYS_ioctl, 101, KVM_CREATE_VCPU, 0);
			break;
		case C_MMAP_RW:
			syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			break;
		case C_MMAP_EXEC:
			syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			break;
		case C_WRITE_STDERR:
			syscall(SYS_write, 2, "", 0);
			break;
		case C_WRITE_OTHER:
			syscall(SYS_write, 105, "", 0);
			break;
		case C_WRITE_QUEUE_IRQ:
			syscall(SYS_write, 101, "", 0);
			break;
		case C_WRITE_CONFIG_IRQ:
			syscall(SYS_write, 103, "", 0);
			break;
		case C_WRITE_SECOND_IRQ:
			syscall(SYS_write, 104, "", 0);
			break;
		case C_IRQFD_VM:
			syscall(SYS_ioctl, 101, KVM_IRQFD, 0);
			break;
		case C_IRQFD_OTHER:
			syscall(SYS_ioctl, 100, KVM_IRQFD, 0);
			break;
		case C_ROUTING_VM:
			syscall(SYS_ioctl, 101, KVM_SET_GSI_ROUTING, 0);
			break;
		case C_ROUTING_OTHER:
			syscall(SYS_ioctl, 100, KVM_SET_GSI_ROUTING, 0);
			break;
		case C_ACCEPT_LISTEN:
			syscall(SYS_accept4, 100, 0, 0, 0);
			break;
		case C_ACCEPT_OTHER:
			syscall(SYS_accept4, 103, 0, 0, 0);
			break;
		case C_OPENAT:
			syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
			break;
		/* bad pointers: were the call allowed, it would fail, not run */
		case C_EXECVE:
			syscall(SYS_execve, NULL, NULL, NULL);
			break;
		case C_EXECVEAT:
			syscall(SYS_execveat, -1, NULL, NULL, NULL, 0);
			break;
		case C_SOCKET:
			syscall(SYS_socket, -1, 0, 0);
			break;
		case C_CONNECT:
			syscall(SYS_connect, -1, NULL, 0);
			break;
		case C_PTRACE:
			syscall(SYS_ptrace, -1, 0, NULL, NULL);
			break;
		case C_MEMFD:
			syscall(SYS_memfd_create, NULL, 0);
			break;
		case C_OFD_SETLK:
			syscall(SYS_fcntl, 100, F_OFD_SETLK, 0);
			break;
		case C_FCNTL_OTHER:
			syscall(SYS_fcntl, 100, F_SETFL, 0);
			break;
		case C_GETRANDOM: {
			char b[8];
			syscall(SYS_getrandom, b, sizeof(b), 0);
			break;
		}
		/* paths that do not exist: were the call allowed, it would fail */
		case C_OPENAT_CREAT:
			syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_RDWR | O_CREAT, 0600);
			break;
		case C_OPENAT_TRUNC:
			syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_RDWR | O_TRUNC);
			break;
		case C_LSEEK_END:
			syscall(SYS_lseek, 105, 0, SEEK_END);
			break;
		case C_LSEEK_SET:
			syscall(SYS_lseek, 105, 0, SEEK_SET);
			break;
		case C_FILES_UPDATE:
			syscall(SYS_io_uring_register, 105, IORING_REGISTER_FILES_UPDATE, NULL, 0);
			break;
		case C_REGISTER_OTHER:
			syscall(SYS_io_uring_register, 105, IORING_REGISTER_FILES, NULL, 0);
			break;
		case C_PWRITE:
			syscall(SYS_pwrite64, 105, "", 0, 0);
			break;
		case C_FTRUNCATE:
			syscall(SYS_ftruncate, 105, 0);
			break;
		case C_GET_XSAVE:
#ifdef __aarch64__
			syscall(SYS_ioctl, 105, KVM_GET_ONE_REG, 0);
#else
			syscall(SYS_ioctl, 105, KVM_GET_XSAVE, 0);
#endif
			break;
		case C_SET_REGS:
#ifdef __aarch64__
			syscall(SYS_ioctl, 105, KVM_SET_ONE_REG, 0);
#else
			syscall(SYS_ioctl, 105, KVM_SET_REGS, 0);
#endif
			break;
		case C_GET_CLOCK_VM:
			syscall(SYS_ioctl, 101, KVM_GET_CLOCK, 0);
			break;
		case C_GET_CLOCK_OTHER:
			syscall(SYS_ioctl, 100, KVM_GET_CLOCK, 0);
			break;
		case C_MADV_DONTNEED: /* an unaligned address: EINVAL, were it allowed */
			syscall(SYS_madvise, 1, 4096, MADV_DONTNEED);
			break;
		case C_MADV_OTHER:
			syscall(SYS_madvise, 1, 4096, MADV_DONTFORK);
			break;
		}
		syscall(SYS_exit, 0); /* every table has exit (not all exit_group) */
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFEXITED(st))
		assert_int_equal(WEXITSTATUS(st), 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

static bool killed_by(enum jail_kind kind, enum call c)
{
	return killed_by_ex(kind, false, c);
}

static void test_arguments(void **state)
{
	(void)state;
	/* vCPU: KVM_RUN on its own fd only, KVM_IRQ_LINE on the VM fd only */
	assert_false(killed_by(JAIL_VCPU, C_KVM_RUN_OWN));
	assert_true(killed_by(JAIL_VCPU, C_KVM_RUN_OTHER));
	assert_false(killed_by(JAIL_VCPU, C_IRQ_LINE_VM));
	assert_true(killed_by(JAIL_VCPU, C_IRQ_LINE_OTHER));
	assert_false(killed_by(JAIL_VCPU, C_TUNSETQUEUE));
	assert_true(killed_by(JAIL_VCPU, C_KVM_CREATE_VCPU));
	assert_false(killed_by(JAIL_VCPU, C_MMAP_RW));
#ifndef CVMM_SANITIZED /* sanitizer builds allow every mmap (jail.h) */
	assert_true(killed_by(JAIL_VCPU, C_MMAP_EXEC));
	assert_true(killed_by(JAIL_CONTROL, C_MMAP_EXEC));
	assert_true(killed_by(JAIL_FS_WORKER, C_MMAP_RW));
#endif
	assert_true(killed_by(JAIL_VCPU, C_OPENAT));
	/* vCPU (virtio-pci): irqfds and MSI routes on the VM fd only */
	assert_false(killed_by(JAIL_VCPU, C_IRQFD_VM));
	assert_true(killed_by(JAIL_VCPU, C_IRQFD_OTHER));
	assert_false(killed_by(JAIL_VCPU, C_ROUTING_VM));
	assert_true(killed_by(JAIL_VCPU, C_ROUTING_OTHER));
	assert_true(killed_by(JAIL_VIRTIO_WORKER, C_IRQFD_VM));
	assert_true(killed_by(JAIL_CONTROL, C_ROUTING_VM));
	/* control: accept4 on the listening socket only; no KVM_RUN */
	assert_false(killed_by(JAIL_CONTROL, C_ACCEPT_LISTEN));
	assert_true(killed_by(JAIL_CONTROL, C_ACCEPT_OTHER));
	assert_true(killed_by(JAIL_CONTROL, C_KVM_RUN_OWN));
	assert_false(killed_by(JAIL_CONTROL, C_IRQ_LINE_VM));
	assert_true(killed_by(JAIL_CONTROL, C_OPENAT));
	/* control: the teardown's disk unlock, and no other fcntl */
	assert_false(killed_by(JAIL_CONTROL, C_OFD_SETLK));
	assert_true(killed_by(JAIL_CONTROL, C_FCNTL_OTHER));
	assert_true(killed_by(JAIL_VIRTIO_WORKER, C_OFD_SETLK));
	/* workers: write to their irqfds (irq, config_irq, notify_irq) and stderr only */
	assert_false(killed_by(JAIL_VIRTIO_WORKER, C_WRITE_STDERR));
	assert_false(killed_by(JAIL_VIRTIO_WORKER, C_WRITE_QUEUE_IRQ));
	assert_false(killed_by(JAIL_VIRTIO_WORKER, C_WRITE_CONFIG_IRQ));
	assert_false(killed_by(JAIL_VIRTIO_WORKER, C_WRITE_SECOND_IRQ));
#ifndef CVMM_SANITIZED /* sanitizer builds allow every write */
	assert_true(killed_by(JAIL_VIRTIO_WORKER, C_WRITE_OTHER));
#endif
	assert_true(killed_by(JAIL_VIRTIO_WORKER, C_TUNSETQUEUE));
	assert_false(killed_by(JAIL_NET_CTRL, C_TUNSETQUEUE));
	assert_true(killed_by(JAIL_FS_WORKER, C_OPENAT));
	/* getrandom: virtio-rng's worker only; it writes its irqfds like any
	 * worker and nothing else */
	assert_false(killed_by(JAIL_RNG_WORKER, C_GETRANDOM));
	assert_true(killed_by(JAIL_VIRTIO_WORKER, C_GETRANDOM));
	assert_true(killed_by(JAIL_VCPU, C_GETRANDOM));
	assert_false(killed_by(JAIL_RNG_WORKER, C_WRITE_QUEUE_IRQ));
#ifndef CVMM_SANITIZED
	assert_true(killed_by(JAIL_RNG_WORKER, C_WRITE_OTHER));
#endif
	assert_true(killed_by(JAIL_RNG_WORKER, C_TUNSETQUEUE));
	/* virtio-balloon: madvise with MADV_DONTNEED (the guest's pages) only */
	assert_false(killed_by(JAIL_BALLOON_WORKER, C_MADV_DONTNEED));
#ifndef CVMM_SANITIZED /* the sanitizers' rules allow every madvise */
	assert_true(killed_by(JAIL_BALLOON_WORKER, C_MADV_OTHER));
	assert_true(killed_by(JAIL_BALLOON_WORKER, C_WRITE_OTHER));
#endif
	assert_true(killed_by(JAIL_BALLOON_WORKER, C_GETRANDOM));
}

/* A control thread whose VM's disks may be replaced (PATCH /drives) opens
 * the new image, never creating or truncating one, reads a block device's
 * size and registers the file in the workers' rings; without the option
 * it does none of that, and the option changes no other kind's table. */
static void test_disk_update_rules(void **state)
{
	(void)state;
	assert_false(killed_by_ex(JAIL_CONTROL, true, C_OPENAT));
	assert_true(killed_by_ex(JAIL_CONTROL, true, C_OPENAT_CREAT));
	assert_true(killed_by_ex(JAIL_CONTROL, true, C_OPENAT_TRUNC));
	assert_false(killed_by_ex(JAIL_CONTROL, true, C_LSEEK_END));
#ifndef CVMM_SANITIZED /* LeakSanitizer's tracer rewinds with lseek (jail.c) */
	assert_true(killed_by_ex(JAIL_CONTROL, true, C_LSEEK_SET));
#endif
	assert_false(killed_by_ex(JAIL_CONTROL, true, C_FILES_UPDATE));
	assert_true(killed_by_ex(JAIL_CONTROL, true, C_REGISTER_OTHER));
	assert_true(killed_by_ex(JAIL_CONTROL, true, C_EXECVE));
	assert_true(killed_by_ex(JAIL_CONTROL, true, C_SOCKET));
	static const enum call disk_calls[] = {C_OPENAT, C_LSEEK_END, C_FILES_UPDATE};
	for (unsigned i = 0; i < sizeof(disk_calls) / sizeof(disk_calls[0]); i++) {
#ifdef CVMM_SANITIZED
		if (disk_calls[i] != C_LSEEK_END)
#endif
			assert_true(killed_by(JAIL_CONTROL, disk_calls[i]));
		assert_true(killed_by_ex(JAIL_VCPU, true, disk_calls[i]));
		assert_true(killed_by_ex(JAIL_VIRTIO_WORKER, true, disk_calls[i]));
	}
}

/* A control thread that may snapshot its VM (PUT /snapshot/create) creates
 * and writes files, reads the vCPUs' and the VM's state (the VM's on the
 * VM fd only), and changes none; without the option it does none of that,
 * and the option changes no other kind's table. */
static void test_snapshot_rules(void **state)
{
	(void)state;
	const unsigned S = JAIL_EXTRA_SNAPSHOTS;
	static const enum call snap_calls[] = {
		C_OPENAT_CREAT, C_OPENAT_TRUNC, C_PWRITE, C_FTRUNCATE, C_GET_XSAVE,
#ifndef __aarch64__
		C_GET_CLOCK_VM, /* x86's VM-wide state: on the VM fd only */
#endif
	};
	for (unsigned i = 0; i < sizeof(snap_calls) / sizeof(snap_calls[0]); i++) {
		assert_false(killed_by_ex(JAIL_CONTROL, S, snap_calls[i]));
		assert_true(killed_by(JAIL_CONTROL, snap_calls[i]));
		assert_true(killed_by_ex(JAIL_VCPU, S, snap_calls[i]));
		assert_true(killed_by_ex(JAIL_VIRTIO_WORKER, S, snap_calls[i]));
	}
#ifndef __aarch64__
	assert_true(killed_by_ex(JAIL_CONTROL, S, C_GET_CLOCK_OTHER));
#endif
	assert_true(killed_by_ex(JAIL_CONTROL, S, C_SET_REGS));
	assert_true(killed_by_ex(JAIL_CONTROL, S, C_EXECVE));
	assert_true(killed_by_ex(JAIL_CONTROL, S, C_SOCKET));
}

/* What no thread of cvmm may ever do, whatever its table: run a program,
 * open a socket or a file by path, trace, make executable memory files. */
static void test_forbidden_everywhere(void **state)
{
	(void)state;
	static const enum call never[] = {C_EXECVE, C_EXECVEAT, C_SOCKET, C_CONNECT,
					  C_PTRACE, C_OPENAT,	C_MEMFD};
	for (unsigned k = 0; k < NKINDS; k++)
		for (unsigned i = 0; i < sizeof(never) / sizeof(never[0]); i++)
			if (!killed_by(kinds[k], never[i]))
				fail_msg("%s: forbidden call #%u was allowed",
					 jail_kind_name(kinds[k]), (unsigned)never[i]);
}

static void put_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	chmod(path, mode);
}

/* Root only: chroot, ids 65534, no capability left, Landlock. */
static void test_drop(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char dir[] = "/tmp/cvmm-jail-XXXXXX";
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755); /* the new root: searchable by the new user */
	char share[256], ro[256], dk[256], dkro[256], f[300];
	snprintf(share, sizeof(share), "%s/share", dir);
	snprintf(ro, sizeof(ro), "%s/ro", dir);
	snprintf(dk, sizeof(dk), "%s/disks", dir);
	snprintf(dkro, sizeof(dkro), "%s/disks-ro", dir);
	assert_int_equal(mkdir(share, 0777), 0);
	assert_int_equal(mkdir(ro, 0777), 0);
	assert_int_equal(mkdir(dk, 0777), 0);
	assert_int_equal(mkdir(dkro, 0777), 0);
	chmod(dk, 0777);
	chmod(share, 0777);
	snprintf(f, sizeof(f), "%s/outside.txt", dir);
	put_file(f, 0666);
	snprintf(f, sizeof(f), "%s/in.txt", share);
	put_file(f, 0666);
	snprintf(f, sizeof(f), "%s/r.txt", ro);
	put_file(f, 0666);
	snprintf(f, sizeof(f), "%s/d.img", dk);
	put_file(f, 0666);
	snprintf(f, sizeof(f), "%s/d.img", dkro);
	put_file(f, 0666);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const char *rw[] = {share}, *rod[] = {ro}, *disks[] = {dk, dkro};
		const bool disk_rw[] = {true, false};
		struct jail_priv p = {.chroot_dir = dir,
				      .set_ids = true,
				      .uid = 65534,
				      .gid = 65534,
				      .rw_dirs = rw,
				      .nrw = 1,
				      .ro_dirs = rod,
				      .nro = 1,
				      .file_dirs = disks,
				      .file_rw = disk_rw,
				      .nfile = 2,
				      .landlock = true};
		int abi;
		struct err e = {0};
		/* supplementary groups that --user must drop (the test's own
		 * process may have none, which would hide a kept list) */
		gid_t groups[] = {4, 27, 100};
		if (setgroups(3, groups) < 0)
			_exit(32);
		if (jail_drop(&p, &abi, &e) < 0) {
			fprintf(stderr, "jail_drop: %s\n", e.msg);
			_exit(20);
		}
		if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534)
			_exit(21);
		if (getgroups(0, NULL) != 0)
			_exit(33);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(34);
		struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
		struct __user_cap_data_struct d[2];
		if (syscall(SYS_capget, &h, d) < 0)
			_exit(22);
		for (int i = 0; i < 2; i++)
			if (d[i].permitted || d[i].effective || d[i].inheritable)
				_exit(23);
		if (prctl_bounding_any())
			_exit(24);
		/* in the chroot: the share is /share */
		int fd = open("/share/in.txt", O_RDWR);
		if (fd < 0)
			_exit(25);
		close(fd);
		fd = open("/share/new.txt", O_RDWR | O_CREAT, 0600);
		if (fd < 0)
			_exit(26);
		close(fd);
		fd = open("/ro/r.txt", O_RDONLY);
		if (fd < 0)
			_exit(27);
		close(fd);
		if (abi > 0) {
			/* Landlock: nothing outside the shares, no write in ro */
			if (open("/outside.txt", O_RDONLY) >= 0 || errno != EACCES)
				_exit(28);
			if (open("/ro/r.txt", O_RDWR) >= 0 || errno != EACCES)
				_exit(29);
			/* disk directories: their files opened, none created;
			 * a read-only disk's read only */
			fd = open("/disks/d.img", O_RDWR);
			if (fd < 0)
				_exit(35);
			close(fd);
			if (open("/disks/new.img", O_RDWR | O_CREAT, 0600) >= 0 || errno != EACCES)
				_exit(36);
			fd = open("/disks-ro/d.img", O_RDONLY);
			if (fd < 0)
				_exit(37);
			close(fd);
			if (open("/disks-ro/d.img", O_RDWR) >= 0 || errno != EACCES)
				_exit(38);
		} else if (open("/outside.txt", O_RDONLY) < 0) {
			_exit(30);
		}
		/* outside the chroot: nothing of the host's */
		if (access("/etc/passwd", F_OK) == 0 && access("/share", F_OK) != 0)
			_exit(31);
		_exit(abi > 0 ? 0 : 1);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 1)
		print_message("no Landlock in this kernel: chroot, ids and capabilities checked\n");
	else
		assert_int_equal(WEXITSTATUS(st), 0);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A worker thread on the main arena (glibc shares its arenas once threads
 * outnumber 8 per CPU: an 11-thread VM on a 1-CPU host): the frees left
 * after its filter (libseccomp's own, of the filter built by another
 * thread) give memory back with brk. Arenas: 1, trimmed on every free. */
static void *main_arena_worker(void *arg)
{
	if (jail_load(arg, "test-worker") < 0)
		return (void *)1;
	return NULL;
}

static void test_worker_on_the_main_arena(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* one arena; a top chunk of 1 MiB that any free gives back */
		mallopt(M_ARENA_MAX, 1);
		mallopt(M_MMAP_THRESHOLD, 64 << 20);
		mallopt(M_TOP_PAD, 1 << 20);
		free(malloc(1 << 16));
		if (jail_sigsys_install() < 0)
			_exit(10);
		void *ctx;
		struct err e = {0};
		if (jail_build(JAIL_VIRTIO_WORKER, JAIL_ON, &test_fds, &ctx, &e) < 0)
			_exit(11);
		mallopt(M_TOP_PAD, 0);
		mallopt(M_TRIM_THRESHOLD, 0);
		pthread_t t;
		void *ret = (void *)2;
		if (pthread_create(&t, NULL, main_arena_worker, ctx) != 0)
			_exit(12);
		pthread_join(t, &ret);
		_exit(ret ? 13 : 0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		fail_msg("the worker was killed by signal %d", WTERMSIG(st));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	skip_without_seccomp();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_prebuilt),
		cmocka_unit_test(test_violation_kills_with_message),
		cmocka_unit_test(test_log_mode_lets_it_through),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_disk_update_rules),
		cmocka_unit_test(test_snapshot_rules),
		cmocka_unit_test(test_forbidden_everywhere),
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_worker_on_the_main_arena),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
