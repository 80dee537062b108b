/* SPDX-License-Identifier: MIT */
/* The jail's mechanism. Seccomp policy is data: a table per thread kind,
 * one reason per rule (the tables live with their threads: vmm/jail.c for
 * the vCPU and control threads, devices/virtio/worker_jail.c for the
 * virtqueue workers). Filters are built on the main thread and loaded by
 * the thread they jail, for that thread only (no TSYNC). A call outside the
 * table raises SIGSYS (SECCOMP_RET_TRAP): with jail_sigsys_install's
 * handler it prints which thread made which call and the process dies of
 * SIGSYS; without a handler SIGSYS's default action kills the process the
 * same way, silently. And the privilege drop (chroot, user, capabilities,
 * Landlock), done once on the main thread after everything is open and
 * before any thread is started. */
#ifndef CVMM_CORE_JAIL_H
#define CVMM_CORE_JAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "core/err.h"

/* Sanitizer builds only (tests): the ASan/UBSan runtime maps shadow and
 * allocator memory and swaps signal stacks on any thread, so every table
 * gets a few more rules (jail.c). Release builds never carry them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define CVMM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define CVMM_SANITIZED 1
#endif
#endif

/* A call in no table: the SIGSYS handler makes it to die of SIGSYS, and
 * tests make it to break a filter on purpose. Sanitizer builds let the
 * control thread call getppid (LeakSanitizer's tracer checks its parent),
 * so there it is getpgid. */
#ifdef CVMM_SANITIZED
#define JAIL_DEATH_CALL	     SYS_getpgid
#define JAIL_DEATH_CALL_NAME "getpgid"
#else
#define JAIL_DEATH_CALL	     SYS_getppid
#define JAIL_DEATH_CALL_NAME "getppid"
#endif

/* What a filter does with a call outside its table (cvmm_seccomp values). */
enum jail_mode {
	JAIL_ON = 0,  /* SIGSYS: the process dies */
	JAIL_LOG = 1, /* allowed, and logged by the kernel (audit / dmesg) */
	JAIL_OFF = 2, /* no filter at all */
};

/* The descriptors a thread's rules are bound to, by name: a filter reads
 * the fields its rules name (JAIL_FD) and no other. */
struct jail_fds {
	int ring;	/* worker: its own io_uring */
	int irq;	/* worker: its queue's irqfd */
	int config_irq; /* worker: the device's configuration irqfd */
	int notify_irq; /* worker: a second queue's irqfd it raises (vsock: RX), else irq */
	int vcpu;	/* vCPU: its own vCPU fd */
	int vm;		/* vCPU, control: the VM fd */
	int listen;	/* control: the listening control socket (-1: none) */
	int uffd;	/* snapshot memory: the guest RAM's userfaultfd */
	int memfile;	/* snapshot memory: the memory file (LAZY) */
	int fail;	/* snapshot memory: the eventfd it reports a failure on */
	int sock;	/* snapshot memory: the page fault handler's socket (UFFD) */
};
/* A field of struct jail_fds, as a rule names it. */
enum jail_fd {
	JAIL_FD_RING = 1,
	JAIL_FD_IRQ,
	JAIL_FD_CONFIG_IRQ,
	JAIL_FD_NOTIFY_IRQ,
	JAIL_FD_VCPU,
	JAIL_FD_VM,
	JAIL_FD_LISTEN,
	JAIL_FD_UFFD,
	JAIL_FD_MEMFILE,
	JAIL_FD_FAIL,
	JAIL_FD_SOCK,
};
#define JAIL_NFDS 12 /* enum jail_fd values are below it */

/* How a rule bounds one syscall argument. */
enum jail_cmp {
	JAIL_CMP_NONE = 0, /* no bound (ends a rule's list) */
	JAIL_CMP_EQ,	   /* the argument equals value */
	JAIL_CMP_FD,	   /* the argument equals the descriptor of slot `fd` */
	JAIL_CMP_CLEAR,	   /* the argument has none of value's bits */
};
struct jail_arg {
	unsigned char arg; /* which syscall argument: 0..5 */
	unsigned char cmp; /* enum jail_cmp */
	unsigned char fd;  /* JAIL_CMP_FD: enum jail_fd */
	uint64_t value;	   /* JAIL_CMP_EQ, JAIL_CMP_CLEAR */
	const char *text;  /* value as written in the table ("KVM_RUN") */
};
#define JAIL_MAX_ARGS 2 /* bounds per rule, all of which must hold */

struct jail_rule {
	int nr;		  /* syscall number */
	const char *name; /* the syscall's name */
	struct jail_arg args[JAIL_MAX_ARGS];
	const char *why;
};

/* A thread kind's policy: its rules, one reason each. */
struct jail_table {
	const char *name; /* the thread kind, for messages and tests */
	const struct jail_rule *rules;
	unsigned n;
};
#define JAIL_TABLE(nm, arr)                                                                        \
	{                                                                                          \
		(nm), (arr), sizeof(arr) / sizeof((arr)[0])                                        \
	}

/* Rules as table rows (the file that uses them includes <seccomp.h>): the
 * syscall, its reason, then the bounds on its arguments (none: any
 * arguments), each naming the argument it is on. */
#define JAIL_RULE(sys, why, ...)                                                                   \
	{                                                                                          \
		SCMP_SYS(sys), #sys, {__VA_ARGS__}, why                                            \
	}
/* argument n is the descriptor of slot f (struct jail_fds) */
#define JAIL_FD(n, f)                                                                              \
	{                                                                                          \
		.arg = (n), .cmp = JAIL_CMP_FD, .fd = JAIL_FD_##f                                  \
	}
/* argument n equals v (an ioctl request, an fcntl command, a flag set) */
#define JAIL_EQ(n, v)                                                                              \
	{                                                                                          \
		.arg = (n), .cmp = JAIL_CMP_EQ, .value = (uint64_t)(v), .text = #v                 \
	}
/* argument n has none of the bits of v */
#define JAIL_CLEAR(n, v)                                                                           \
	{                                                                                          \
		.arg = (n), .cmp = JAIL_CMP_CLEAR, .value = (uint64_t)(v), .text = #v              \
	}

/* What a slot's descriptor is, in words ("its vCPU fd"). */
const char *jail_fd_name(enum jail_fd fd);
/* Sanitizer builds only (else NULL): the runtime's rules, which every
 * filter gets. */
const struct jail_table *jail_sanitizer_table(void);

/* Builds one filter from the rules of ntables tables (and, in sanitizer
 * builds, the runtime's own); fds: the descriptors the rules name. *ctx
 * is owned by the caller until jail_load/jail_free. JAIL_OFF: *ctx = NULL
 * (jail_load of NULL does nothing). The program comes from jail_progs
 * (built with the cvmm build, below) with the descriptors put in, in
 * microseconds; a set of tables the build did not see (a cross build, an
 * embedder's own table) is compiled with libseccomp here instead. */
__attribute__((warn_unused_result)) int jail_filter_build(const struct jail_table *const *tables,
							  unsigned ntables, enum jail_mode mode,
							  const struct jail_fds *fds, void **ctx,
							  struct err *e);
/* Seccomp programs compiled when cvmm is built (vmm/jail_gen.c writes
 * them with libseccomp, from the same tables, for every set of tables a
 * thread kind uses, in both modes): libseccomp's compilation cost at start
 * is gone. A rule bound to a descriptor compares the argument with
 * JAIL_FD_PLACEHOLDER(slot) in the program as built; jail_filter_build
 * puts the thread's descriptor there. key: jail_key of the tables and
 * the mode. A cross build has none (jail_nprogs 0). */
struct sock_filter;
struct jail_prog {
	uint64_t key;
	const char *what; /* its tables' names and its mode, for tests */
	unsigned short len;
	const struct sock_filter *insns;
};
extern const struct jail_prog jail_progs[];
extern const unsigned jail_nprogs;
#define JAIL_FD_PLACEHOLDER(slot) (0x7e5c0000u + (unsigned)(slot))
/* Every slot its placeholder: what jail_progs were compiled with. */
extern const struct jail_fds jail_placeholder_fds;
/* Puts fds's descriptors where a program of jail_progs compares with a
 * slot's placeholder (len instructions, in place); returns how many. */
unsigned jail_prog_patch(struct sock_filter *insns, unsigned len, const struct jail_fds *fds);
/* A hash of what a filter of these tables in this mode is made of (each
 * rule's call and bounds, in order; in sanitizer builds the runtime's
 * table too): the key of jail_progs. */
uint64_t jail_key(const struct jail_table *const *tables, unsigned ntables, enum jail_mode mode);
/* Compiles the filter with libseccomp into out (max instructions), *len
 * set: what jail_filter_build does for a set of tables not in jail_progs,
 * and what the build step and the tests compare jail_progs with. */
__attribute__((warn_unused_result)) int jail_filter_compile(const struct jail_table *const *tables,
							    unsigned ntables, enum jail_mode mode,
							    const struct jail_fds *fds,
							    struct sock_filter *out, unsigned max,
							    unsigned *len, struct err *e);
/* Whether the program of ctx (jail_filter_build's) came from jail_progs:
 * tests. */
bool jail_filter_prebuilt(const void *ctx);
/* In the thread to jail: unblocks SIGSYS (so that the handler, not the
 * default action, gets it), remembers the thread's name for the SIGSYS
 * message, releases ctx, then NO_NEW_PRIVS and the filter (the program on
 * the thread's stack: no allocator call after it), this thread only.
 * Returns 0 or -errno. */
__attribute__((warn_unused_result)) int jail_load(void *ctx, const char *thread_name);
/* The calling thread's capabilities: only those of keep (a CAP_* mask)
 * that it already has stay effective and permitted; none inheritable or
 * ambient. Returns 0 or -errno. */
__attribute__((warn_unused_result)) int jail_caps_limit(uint64_t keep);
/* The capabilities a virtio-fs worker keeps to serve SETATTR's ownership
 * and mode changes and files of other owners as virtiofsd does: CHOWN,
 * DAC_OVERRIDE, FOWNER, FSETID. */
#define JAIL_FS_CAPS ((1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 4))
void jail_free(void *ctx);
/* Names the calling thread (PR_SET_NAME): a thread names itself, since
 * pthread_setname_np on another thread writes /proc/self/task/TID/comm,
 * which Landlock refuses after the drop. */
void jail_name_thread(const char *name);

/* The SIGSYS handler that names the thread and the call, then lets the
 * process die of SIGSYS. Process-wide: only the cvmm CLI (or an embedder
 * that wants it) installs it; libcvmm never does on its own. */
int jail_sigsys_install(void);

/* The privilege drop, on the main thread before any thread is started.
 * Every field is optional. */
struct jail_priv {
	const char *chroot_dir; /* NULL: none */
	bool set_ids;
	uid_t uid;
	gid_t gid;
	/* Landlock: the only file system access left, beneath these dirs. */
	const char *const *rw_dirs;
	unsigned nrw;
	const char *const *ro_dirs;
	unsigned nro;
	const char *const *rm_dirs; /* only removing files (cvmm's own sockets at exit) */
	unsigned nrm;
	/* only opening files that exist beneath them (disk images a running
	 * VM may switch to): for reading, and for writing where file_rw[i] */
	const char *const *file_dirs;
	const bool *file_rw;
	unsigned nfile;
	uint64_t keep_caps; /* CAP_* mask the process keeps for threads it starts */
	bool landlock;	    /* apply a Landlock ruleset where the kernel has one */
};
/* NO_NEW_PRIVS, Landlock (rules built before the chroot, applied last),
 * chroot, groups/gid/uid, then every capability of every set (bounding,
 * ambient, inheritable, permitted, effective) dropped but keep_caps. Sets *landlock_abi
 * to the ABI applied (0: the kernel has no Landlock). */
__attribute__((warn_unused_result)) int jail_drop(const struct jail_priv *p, int *landlock_abi,
						  struct err *e);

#endif
