/* SPDX-License-Identifier: MIT */
/* Command-line parsing for the cvmm binary: argv -> plain options. Pure
 * (no I/O besides the caller's buffers), so it is unit-tested and fuzzed. */
#ifndef CVMM_CLI_ARGS_H
#define CVMM_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm/cvmm.h"

#define CLI_PATH_MAX 4096

/* The VM's specs, each parsed once (cli_parse) and kept parsed. */
struct cli_disk { /* --disk */
	char path[CLI_PATH_MAX];
	unsigned flags; /* CVMM_DISK_* */
	unsigned queues;
	struct cvmm_rate_limiter limit; /* ,bw= ,iops= */
	int poll_us;			/* ,poll=US; -1: not given (the library's default) */
};
struct cli_net {		    /* --net */
	struct cvmm_net_config cfg; /* cfg.target points into target, or NULL */
	char target[CLI_PATH_MAX];
	struct cvmm_rate_limiter limit[2]; /* RX, TX: ,rx-bw= ,rx-iops= ,tx-bw= ,tx-iops= */
	int poll_us; /* ,poll=US (its TX workers); -1: not given (the library's default) */
};
struct cli_fs { /* --fs */
	char tag[CVMM_FS_TAG_MAX + 1];
	char path[CLI_PATH_MAX];
	unsigned flags; /* CVMM_FS_* */
};
struct cli_balloon { /* --balloon SIZE[,deflate-on-oom][,stats=SECONDS][,free-page-reporting] */
	bool set;
	uint32_t mib;
	unsigned flags, stats_s; /* CVMM_BALLOON_*, seconds (0: no statistics) */
};
struct cli_vsock { /* --vsock */
	uint64_t cid;
	char path[CLI_PATH_MAX];
};
/* --restore DIR[,mem=file|lazy|uffd:SOCKET][,paused][,dirty][,tapN=NAME]
 * [,vsock=PATH][,diskN=PATH]: the VM of the snapshot in DIR (its files "state" and
 * "memory", as PUT /snapshot/create wrote them there). */
#define CLI_RESTORE_DISKS 4 /* disks --restore may give another image */
struct cli_restore {
	char dir[CLI_PATH_MAX]; /* "": none */
	int mem_backend;	/* CVMM_MEM_* */
	char uffd[CLI_PATH_MAX];
	bool paused, dirty, realtime;
	char tap[CVMM_MAX_NETS][16];		    /* "": as saved */
	char vsock[CLI_PATH_MAX];		    /* "": as saved */
	char disk[CLI_RESTORE_DISKS][CLI_PATH_MAX]; /* "": as saved */
};
struct cli_user { /* --user UID:GID */
	bool set;
	unsigned uid, gid;
};

/* Firecracker's command line (cvmm run as `firecracker`, or given one of
 * its flags): its flags with its meanings (docs/managers.md). */
#define CLI_FC_API_SOCK	   "/run/firecracker.socket"
#define CLI_FC_MAX_PAYLOAD 51200 /* Firecracker's default request body limit */
struct cli_fc {
	bool on;		 /* Firecracker's command line was given */
	const char *api_sock;	 /* borrowed; CLI_FC_API_SOCK unless no_api */
	const char *id;		 /* borrowed, NULL: Firecracker's default */
	const char *config_file; /* borrowed, NULL: none */
	bool no_api, boot_timer, show_level, show_log_origin, enable_pci, no_seccomp;
	const char *level, *log_path, *metrics_path; /* borrowed, NULL: none */
	unsigned max_payload;			     /* --http-api-max-payload-size, bytes */
	unsigned mmds_size_limit;		     /* 0: max_payload */
	const char *metadata;			     /* borrowed: --metadata FILE, NULL: none */
	uint64_t start_time_us, start_time_cpu_us, parent_cpu_time_us;
	bool start_time_set;
};

struct cli_opts {
	const char *kernel;  /* borrowed from argv */
	const char *initrd;  /* borrowed, NULL: none */
	const char *cmdline; /* borrowed, NULL: default */
	unsigned cpus;
	uint64_t memory; /* bytes */
	struct cli_disk disks[CVMM_MAX_DISKS];
	unsigned ndisks;
	struct cli_net nets[CVMM_MAX_NETS];
	unsigned nnets;
	struct cli_fs fs[CVMM_MAX_FS];
	unsigned nfs;
	struct cli_vsock vsock[1];
	unsigned nvsock;
	const char *config;	/* borrowed --config path, NULL: none */
	const char *api_socket; /* borrowed --api-socket path, NULL: none */
	unsigned vm_opts;	/* how many options describing the VM were given */
	bool help, version;
	bool print_jail; /* --print-jail */
	bool debug_exit;
	struct cli_balloon balloon;
	bool rng;			       /* --rng */
	struct cvmm_rate_limiter rng_limit[1]; /* --rng-limit bw=,iops= */
	unsigned nrng_limit;
	int transport;	/* CVMM_TRANSPORT_* */
	int huge_pages; /* CVMM_HUGE_* */
	/* the jail (process options, allowed with --config and --api-socket) */
	int seccomp; /* CVMM_SECCOMP_* */
	struct cli_user user;
	const char *chroot;	  /* borrowed --chroot DIR, NULL: none */
	const char *snapshot_dir; /* borrowed --snapshot-dir DIR, NULL: the socket's */
	const char *merge;	  /* borrowed --snapshot-merge BASE,DIFF, NULL: none */
	int log_level;		  /* CVMM_LOG_* (process option too) */
	struct cli_fc fc;
	struct cli_restore restore;
};

/* The exit status of a Firecracker command line cvmm cannot parse
 * (Firecracker's: 153). */
#define CLI_FC_EXIT_ARGS 153
/* Returns 0, or -EINVAL with a one-line message in err. argv[0] named
 * `firecracker` (any directory), or any of Firecracker's own flags, makes
 * it Firecracker's command line (o->fc.on): cvmm's own VM flags are then
 * refused by name, as are Firecracker's that cvmm does not have. */
__attribute__((warn_unused_result)) int cli_parse(int argc, char *const argv[], struct cli_opts *o,
						  char *err, size_t errlen);
/* "512M", "2G", "1048576K", "256" (MiB when no suffix) -> bytes. */
__attribute__((warn_unused_result)) int cli_parse_size(const char *s, uint64_t *out);
/* "mmio" or "pci" -> CVMM_TRANSPORT_*. */
__attribute__((warn_unused_result)) int cli_parse_transport(const char *s, int *out);
/* Decimal unsigned in [min, max]. */
__attribute__((warn_unused_result)) int cli_parse_uint(const char *s, unsigned min, unsigned max,
						       unsigned *out);
/* "PATH[,ro][,direct][,queues=N][,poll=US]" -> path (copied into path,
 * size pathlen), flags (CVMM_DISK_*), queues, poll_us (-1 when not
 * given). -EINVAL, with *why set when the option's own rule says more. */
__attribute__((warn_unused_result)) int cli_parse_disk(const char *spec, char *path, size_t pathlen,
						       unsigned *flags, unsigned *queues,
						       int *poll_us, const char **why);
/* --net: "NAME" (short for tap=NAME), "tap=NAME[,queues=N]",
 * "tapfd=N", "stream=PATH[,listen]", "passt=PATH", each with ",mac=MAC"
 * and ",poll=US". Fills *out; its target points into `target` (size
 * tlen); poll_us: -1 when not given. -EINVAL, with *why set when the
 * option's own rule says more. */
__attribute__((warn_unused_result)) int cli_parse_net(const char *spec, struct cvmm_net_config *out,
						      char *target, size_t tlen, int *poll_us,
						      const char **why);
/* --fs: "tag=TAG,path=DIR[,ro][,xattr][,privileged]" (any order; path=
 * takes the rest of the spec, less trailing ",ro", ",xattr" and
 * ",privileged") -> tag, path, flags (CVMM_FS_RO, CVMM_FS_XATTR,
 * CVMM_FS_PRIVILEGED). TAG is 1..CVMM_FS_TAG_MAX bytes. */
__attribute__((warn_unused_result)) int cli_parse_fs(const char *spec, char *tag, size_t taglen,
						     char *path, size_t pathlen, unsigned *flags);
/* --vsock: "cid=N,socket=PATH" (either order, each once): N in
 * CVMM_VSOCK_CID_MIN..CVMM_VSOCK_CID_MAX; PATH copied into path (size plen). */
/* --balloon SIZE[,deflate-on-oom][,stats=SECONDS][,free-page-reporting]:
 * SIZE whole MiB (cli_parse_size), SECONDS 1..65535. 0 or -EINVAL. */
__attribute__((warn_unused_result)) int cli_parse_balloon(const char *spec, uint32_t *mib,
							  unsigned *flags, unsigned *stats_s);
__attribute__((warn_unused_result)) int cli_parse_vsock(const char *spec, uint64_t *cid, char *path,
							size_t plen);
/* A rate limiter's bucket on the command line (docs/rate-limiters.md):
 * "RATE" (per second: a size, "2M" or "500", K, M, G binary; for ops a
 * plain count) or "SIZE:REFILL_MS[:BURST]" (Firecracker's size,
 * refill_time and one_time_burst). 0 or -EINVAL. */
__attribute__((warn_unused_result)) int cli_parse_bucket(const char *s,
							 struct cvmm_token_bucket *b);
/* "52:54:00:12:34:56" -> mac; -EINVAL unless six hex pairs and unicast. */
__attribute__((warn_unused_result)) int cli_parse_mac(const char *s, uint8_t mac[6]);
extern const char cli_usage[];
extern const char cli_usage_limits[]; /* after cli_usage */
extern const char cli_fc_usage[];     /* Firecracker's command line */

#endif
