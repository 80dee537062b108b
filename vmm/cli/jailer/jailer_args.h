/* SPDX-License-Identifier: MIT */
/* The jailer's command line (Firecracker's jailer flags, docs/jailer.md):
 * argv -> a plan, checked whole before the jailer touches anything. Pure (no
 * system calls, nothing read but argv), so it is unit-tested and fuzzed
 * (tests/unit/test_jailer_args.c, fuzz/fuzz_jailer_args.c); the executor is
 * vmm/cli/jailer/jailer.c. */
#ifndef CVMM_CLI_JAILER_ARGS_H
#define CVMM_CLI_JAILER_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JAILER_ID_MAX	   64 /* Firecracker's limit: letters, digits, '-' */
#define JAILER_MAX_CGROUPS 32 /* --cgroup FILE=VALUE, each its own */
#define JAILER_CGROUP_FILE 64 /* a cgroup file's name, "memory.max" */
#define JAILER_BASE	   "/srv/jailer"
#define JAILER_NO_FILE	   2048 /* RLIMIT_NOFILE unless --resource-limit no-file= */

/* Exit statuses, one per failure class (docs/jailer.md). 0 is also the
 * status of a jailer that daemonized or forked into a new PID namespace:
 * its VMM goes on without it. */
enum jailer_exit {
	JAILER_EXIT_USAGE = 160, /* a bad command line */
	JAILER_EXIT_EXEC_FILE,	 /* 161: --exec-file unusable */
	JAILER_EXIT_BASE,	 /* 162: --chroot-base-dir unusable */
	JAILER_EXIT_CHROOT,	 /* 163: building the chroot (dirs, copy, nodes) */
	JAILER_EXIT_CGROUP,	 /* 164: cgroups */
	JAILER_EXIT_NETNS,	 /* 165: --netns */
	JAILER_EXIT_NAMESPACE,	 /* 166: mount namespace, pivot_root, PID namespace */
	JAILER_EXIT_RLIMIT,	 /* 167: --resource-limit */
	JAILER_EXIT_PRIVILEGES,	 /* 168: dropping to --uid/--gid */
	JAILER_EXIT_EXEC,	 /* 169: the VMM's execve */
	JAILER_EXIT_PROCESS,	 /* 170: fork, setsid, the pid file, descriptors */
};

struct jailer_cgroup {
	char file[JAILER_CGROUP_FILE]; /* "memory.max" */
	size_t controller_len;	       /* "memory": file's first controller_len bytes */
	const char *value;	       /* borrowed from argv */
};

/* Everything the jailer will do, as plain data. Strings are borrowed from
 * argv (which outlives the plan). */
struct jailer_plan {
	bool help, version;
	const char *id;
	const char *exec_file; /* as given */
	const char *exec_name; /* its last component (within exec_file) */
	uint32_t uid, gid;
	const char *chroot_base; /* JAILER_BASE unless given */
	const char *netns;	 /* NULL: the jailer's own */
	bool daemonize, new_pid_ns;
	unsigned cgroup_version;   /* 1 (Firecracker's default) or 2 */
	const char *parent_cgroup; /* exec_name unless given; relative */
	bool parent_cgroup_given;
	struct jailer_cgroup cgroups[JAILER_MAX_CGROUPS];
	unsigned n_cgroups;
	bool fsize_set;
	uint64_t fsize;	  /* RLIMIT_FSIZE, bytes */
	uint64_t no_file; /* RLIMIT_NOFILE */
	int vmm_argc;	  /* the arguments after "--", for the VMM */
	char *const *vmm_argv;
};

extern const char jailer_usage[];

/* Parses argv into *p. Returns 0, or -EINVAL with a one-line message in err
 * (always NUL-terminated when errlen > 0). */
int jailer_parse(int argc, char *const argv[], struct jailer_plan *p, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Firecracker's instance ids: 1..64 characters, each a letter, digit or '-'. */
bool jailer_id_valid(const char *id);

#endif
