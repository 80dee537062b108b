/* SPDX-License-Identifier: MIT */
/* libcvmm: run one KVM virtual machine from C.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; a one-line message for the last failure is kept in the object
 * involved (cvmm_config_error / cvmm_vm_error). No global state: any number
 * of configs and VMs may live in one process. The library never calls exit()
 * and installs no signal handlers. */
#ifndef CVMM_CVMM_H
#define CVMM_CVMM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_API __attribute__((visibility("default")))
#define CVMM_WUR __attribute__((warn_unused_result))

const char *cvmm_version(void) CVMM_API;

/* ---- configuration: plain data, validated by cvmm_vm_create ---------- */

struct cvmm_config;

CVMM_API CVMM_WUR int cvmm_config_new(struct cvmm_config **out);
CVMM_API void cvmm_config_free(struct cvmm_config *cfg);
/* The message of the last failed cvmm_config_* call on cfg ("" if none). */
CVMM_API const char *cvmm_config_error(const struct cvmm_config *cfg);

CVMM_API CVMM_WUR int cvmm_config_set_kernel(struct cvmm_config *cfg, const char *path);
CVMM_API CVMM_WUR int cvmm_config_set_initrd(struct cvmm_config *cfg, const char *path);
CVMM_API CVMM_WUR int cvmm_config_set_cmdline(struct cvmm_config *cfg, const char *cmdline);
CVMM_API CVMM_WUR int cvmm_config_set_cpus(struct cvmm_config *cfg, unsigned cpus);
CVMM_API CVMM_WUR int cvmm_config_set_memory(struct cvmm_config *cfg, uint64_t bytes);
/* What backs guest RAM (Firecracker's machine-config huge_pages):
 * CVMM_HUGE_NONE, the host's pages (transparent huge pages as the host's
 * policy has them, the first 2 MiB never); CVMM_HUGE_THP, transparent huge
 * pages asked for everywhere (madvise MADV_HUGEPAGE); CVMM_HUGE_2M, 2 MiB
 * hugetlbfs pages, reserved from the host's pool when the VM is built (a
 * pool too small is a clear error then, never a SIGBUS later). THP and 2M
 * need memory in 2 MiB units. With 2M, the balloon gives no memory back to
 * the host, and a snapshot restores only through an external page fault
 * handler (CVMM_MEM_UFFD), which is told 2 MiB pages. */
#define CVMM_HUGE_NONE 0
#define CVMM_HUGE_THP  1
#define CVMM_HUGE_2M   2
CVMM_API CVMM_WUR int cvmm_config_set_huge_pages(struct cvmm_config *cfg, int mode);
/* Console: guest serial output goes to out_fd, input comes from in_fd
 * (-1: none). Both are borrowed and must stay open while the VM runs.
 * Default: no input, output discarded. Replaces a console file. */
CVMM_API CVMM_WUR int cvmm_config_set_console(struct cvmm_config *cfg, int in_fd, int out_fd);
/* Console output to a file instead: cvmm_vm_create opens path (created
 * 0600 if missing, appended to) and the VM owns that descriptor. Input can
 * still be fed with cvmm_vm_console_input. Replaces a console fd. */
CVMM_API CVMM_WUR int cvmm_config_set_console_file(struct cvmm_config *cfg, const char *path);
/* Limits the guest's console output to bw (bytes; struct cvmm_token_bucket
 * below, Firecracker's serial rate_limiter): a byte the bucket has no
 * token for is dropped and counted (cvmm_stats.console_tx_limited), never
 * waited for. NULL or a bucket that limits nothing: no limit. */
struct cvmm_token_bucket;
CVMM_API CVMM_WUR int cvmm_config_set_console_limiter(struct cvmm_config *cfg,
						      const struct cvmm_token_bucket *bw);
/* The signal that kicks vCPU threads out of KVM_RUN (pause, stop). The
 * library installs no handler for it and it is never delivered: vCPU
 * threads block every signal and unblock only this one inside KVM_RUN,
 * where it just makes KVM_RUN return. Pick a signal the embedding
 * program does not use for anything else: SIGRTMIN..SIGRTMAX. Default
 * (0): SIGRTMIN + 2. */
CVMM_API CVMM_WUR int cvmm_config_set_kick_signal(struct cvmm_config *cfg, int signo);
/* Limits the setters below check; a front end takes them from here rather
 * than restating them. */
/* Virtio devices of every kind together, one interrupt each: x86_64 the 17
 * free IOAPIC pins (5-22 but the RTC's 8), as many as Firecracker's 19 less
 * its two ACPI devices; aarch64 the GIC's 95 SPIs after the UART's. Disks
 * may take them all, as drives may in Firecracker. */
#ifdef __aarch64__
#define CVMM_MAX_DEVICES 95
#else
#define CVMM_MAX_DEVICES 17
#endif
#define CVMM_MAX_DISKS	   CVMM_MAX_DEVICES
#define CVMM_MAX_NETS	   4
#define CVMM_MAX_FS	   4
#define CVMM_MAX_QUEUES	   8  /* a disk's request queues; a tap's queue pairs */
#define CVMM_FS_TAG_MAX	   36 /* bytes of a virtio-fs tag */
#define CVMM_VSOCK_CID_MIN 3
#define CVMM_VSOCK_CID_MAX 4294967294
/* sun_path (108) less "_4294967295" and its NUL */
#define CVMM_VSOCK_PATH_MAX 96

/* Adds a virtio-blk disk backed by the file (or block device) at path.
 * flags: CVMM_DISK_RO (opened read-only, writes fail with IOERR),
 * CVMM_DISK_DIRECT (O_DIRECT). queues: 1..8 request queues, one worker
 * thread each. The image is locked (OFD lock) while the VM exists. */
#define CVMM_DISK_RO	 1u
#define CVMM_DISK_DIRECT 2u
CVMM_API CVMM_WUR int cvmm_config_add_disk(struct cvmm_config *cfg, const char *path,
					   unsigned flags, unsigned queues);
/* Disk `disk`'s adaptive polling (docs/api.md, "Disk polling"): after
 * serving requests each of its queue workers keeps the guest's kicks off
 * and watches the queue for up to a window before it waits for a kick
 * again, so that a request sent soon after costs no VM exit; the window
 * tunes itself between 0 and poll_us microseconds (as QEMU's iothread
 * with poll-max-ns). Each window is spun on a host core: a disk that
 * sees few requests pays at most one window per request. 0: off.
 * Default CVMM_DISK_POLL_DEFAULT_US. -ENODEV: no such disk; -EINVAL: over
 * CVMM_DISK_POLL_MAX_US. */
#define CVMM_DISK_POLL_DEFAULT_US 128
#define CVMM_DISK_POLL_MAX_US	  10000
CVMM_API CVMM_WUR int cvmm_config_set_disk_poll(struct cvmm_config *cfg, unsigned disk,
						unsigned poll_us);
/* Adds a virtio-net interface. Backends:
 * - CVMM_NET_TAP: target is a tap name; opened, or created when missing
 *   (creating needs CAP_NET_ADMIN), with IFF_VNET_HDR, and IFF_MULTI_QUEUE
 *   when queue_pairs > 1 (one fd and one RX + one TX worker per pair);
 * - CVMM_NET_TAPFD: fd is an open tap (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
 *   a manager opened; cvmm dups it, so the caller may close its own;
 * - CVMM_NET_STREAM: target is a unix stream socket to connect to (passt,
 *   QEMU's -netdev stream server, another cvmm listening): frames go as a
 *   4-byte big-endian length and the Ethernet frame;
 * - CVMM_NET_STREAM_LISTEN: the same, but cvmm creates the socket at
 *   target and cvmm_vm_create waits for one peer to connect (a pending,
 *   blocked SIGINT/SIGTERM/SIGHUP ends the wait with -EINTR).
 * mac: has_mac 0 picks a stable locally administered address derived from
 * the backend (tap name or socket path) and the interface's index. */
enum cvmm_net_backend {
	CVMM_NET_TAP = 1,
	CVMM_NET_TAPFD,
	CVMM_NET_STREAM,
	CVMM_NET_STREAM_LISTEN,
};
struct cvmm_net_config {
	enum cvmm_net_backend backend;
	const char *target;   /* tap name or socket path (copied) */
	int fd;		      /* CVMM_NET_TAPFD */
	unsigned queue_pairs; /* 1..8, tap only; 0 means 1 */
	int has_mac;
	uint8_t mac[6];
	/* 0: the RX workers run SCHED_BATCH (a frame that wakes one on a busy
	 * CPU waits for the running thread's slice, and the tap gathers more
	 * meanwhile: fewer context switches, more frames per second); 1:
	 * SCHED_OTHER, a frame preempts at once (lower latency where the
	 * worker shares a CPU with busy threads). docs/architecture.md. */
	int rx_no_batch;
};
CVMM_API CVMM_WUR int cvmm_config_add_net(struct cvmm_config *cfg,
					  const struct cvmm_net_config *net);
/* Interface `net`'s adaptive polling (docs/api.md, "Network polling"),
 * as cvmm_config_set_disk_poll's, for its TX queues only (RX waits on the
 * backend, not on the guest): after sending frames each TX worker keeps
 * the guest's kicks off and watches the queue for up to a window that
 * tunes itself between 0 and poll_us microseconds, so that a guest
 * sending a stream of frames is rarely asked to kick (a VM exit). Each
 * window is spun on a host core. 0: off. Default CVMM_NET_POLL_DEFAULT_US.
 * -ENODEV: no such interface; -EINVAL: over CVMM_NET_POLL_MAX_US. */
#define CVMM_NET_POLL_DEFAULT_US 128
#define CVMM_NET_POLL_MAX_US	 10000
CVMM_API CVMM_WUR int cvmm_config_set_net_poll(struct cvmm_config *cfg, unsigned net,
					       unsigned poll_us);
/* Adds a virtio-fs share: the host directory at path, seen by the guest
 * as `mount -t virtiofs TAG DIR`. tag: 1..36 bytes, unique per VM. flags:
 * CVMM_FS_RO (every write is refused with EROFS), CVMM_FS_XATTR (serve
 * extended attributes of regular files and directories; off by default, as
 * in virtiofsd, since the guest then asks for security.capability before
 * every write). The guest can reach
 * nothing outside the directory: names are resolved one component at a
 * time beneath it and symlinks are never followed on the host. uid/gid
 * pass through unchanged. CVMM_FS_PRIVILEGED: the share's request worker keeps CHOWN, DAC_OVERRIDE,
 * FOWNER and FSETID when the process has them, so the guest's root may change owners and modes and
 * reach files of every owner beneath the share, as with virtiofsd run as root;
 * without it the share is served with the process's ids and no capability
 * (the host's permission checks apply, and chown to another owner fails
 * with EPERM). Up to 4 shares. */
#define CVMM_FS_RO	   1u
#define CVMM_FS_XATTR	   2u
#define CVMM_FS_PRIVILEGED 4u
CVMM_API CVMM_WUR int cvmm_config_add_fs(struct cvmm_config *cfg, const char *tag, const char *path,
					 unsigned flags);
/* Gives the VM a virtio-vsock device (one per VM; a second call replaces
 * the first) with the guest's context id guest_cid (3..2^32 - 2) and the
 * host side on unix sockets, as Firecracker and Cloud Hypervisor do:
 * - cvmm_vm_create creates a listening socket at uds_path (a stale socket
 *   there is replaced). A host client connects, writes "CONNECT <port>\n"
 *   and, once a guest program listening on that vsock port accepted, reads
 *   "OK <host_port>\n" followed by the stream; if nothing listens in the
 *   guest, the client's connection is closed.
 * - a guest connection to CID 2, port P is connected to the unix socket
 *   "<uds_path>_P"; if nothing listens there the guest gets a reset.
 * uds_path is copied; it must leave room for "_4294967295" in a socket
 * address (at most 96 bytes). */
CVMM_API CVMM_WUR int cvmm_config_set_vsock(struct cvmm_config *cfg, uint64_t guest_cid,
					    const char *uds_path);
/* Gives the VM a virtio-rng (entropy) device, or takes it away: the
 * guest's /dev/hwrng reads bytes of the host's getrandom(2), from a worker
 * whose seccomp filter allows getrandom and its interrupts only. Off by
 * default. */
CVMM_API CVMM_WUR int cvmm_config_set_rng(struct cvmm_config *cfg, int enabled);
/* Gives the VM a virtio-balloon device (docs/balloon.md; a second call
 * replaces the first): the guest is asked to give back amount_mib MiB
 * (at most its memory; cvmm_vm_set_balloon_target changes it), which
 * cvmm releases (madvise MADV_DONTNEED: the process's memory shrinks).
 * flags: CVMM_BALLOON_DEFLATE_ON_OOM (the guest may take pages back when
 * it runs out of memory), CVMM_BALLOON_FREE_PAGE_REPORTING (the guest
 * reports free pages, cvmm releases them too). stats_interval_s: 1..65535
 * seconds between statistics updates (cvmm_vm_balloon_stats), 0 for none
 * (statistics cannot be turned on or off later). */
#define CVMM_BALLOON_DEFLATE_ON_OOM	 1u
#define CVMM_BALLOON_FREE_PAGE_REPORTING 2u
CVMM_API CVMM_WUR int cvmm_config_set_balloon(struct cvmm_config *cfg, uint32_t amount_mib,
					      unsigned flags, unsigned stats_interval_s);
/* Rate limiters (docs/rate-limiters.md), Firecracker's model: two token
 * buckets, bandwidth (bytes) and operations. A bucket holds `size` tokens
 * and refills continuously from empty to full in refill_time_ms; a request
 * takes its tokens from one_time_burst (given once, never refilled) first,
 * then the bucket. A request that does not fit waits (its queue is not
 * served until the tokens are there); it is never dropped or failed. One
 * larger than the bucket goes once the bucket is full and leaves it owing
 * the excess. A bucket with size or refill_time_ms 0 does not limit; a
 * limiter NULL or all zeros, none. size and one_time_burst at most 2^62,
 * refill_time_ms at most 10^12. What counts: a disk, 1 op per request and
 * the data of reads and writes; an interface, 1 op per frame and its bytes
 * with the 12-byte virtio-net header, RX (to the guest) and TX apart; the
 * entropy device, 1 op per request and the bytes asked for. */
struct cvmm_token_bucket {
	uint64_t size;		 /* tokens: bytes or operations; 0: no limit */
	uint64_t one_time_burst; /* extra tokens, spent first, never refilled */
	uint64_t refill_time_ms; /* from empty to full; 0: no limit */
};
struct cvmm_rate_limiter {
	struct cvmm_token_bucket bandwidth, ops;
};
/* Disk `disk` (cvmm_config_add_disk's order), interface `net` (RX and TX),
 * the entropy device: the limiters it starts with. -ENODEV: no such disk
 * or interface (yet); -EINVAL: a bucket beyond the bounds. */
CVMM_API CVMM_WUR int cvmm_config_set_disk_limiter(struct cvmm_config *cfg, unsigned disk,
						   const struct cvmm_rate_limiter *rl);
CVMM_API CVMM_WUR int cvmm_config_set_net_limiter(struct cvmm_config *cfg, unsigned net,
						  const struct cvmm_rate_limiter *rx,
						  const struct cvmm_rate_limiter *tx);
CVMM_API CVMM_WUR int cvmm_config_set_rng_limiter(struct cvmm_config *cfg,
						  const struct cvmm_rate_limiter *rl);
/* MMDS, Firecracker's microVM metadata service (docs/api.md): the guest
 * reads a JSON document over HTTP at ipv4_addr, port 80, on the interfaces
 * of net_mask (bit i: the i-th cvmm_config_add_net), answered inside the
 * VMM by the interface's workers. version: CVMM_MMDS_V1 (plain GETs) or
 * CVMM_MMDS_V2 (a session token first: PUT /latest/api/token). ipv4_addr:
 * host byte order, link-local (169.254.0.0/16); 0: 169.254.169.254.
 * imds_compat: answer in EC2 IMDS's plain-text form whatever the guest's
 * Accept header says. size_limit: the document's bytes at most (0:
 * 51200). data: the document at start (data_len bytes of JSON text,
 * copied; NULL: none until cvmm_vm_mmds_put). version 0 turns MMDS off. */
#define CVMM_MMDS_V1 1
#define CVMM_MMDS_V2 2
struct cvmm_mmds_config {
	int version;
	uint32_t ipv4_addr;
	int imds_compat;
	unsigned net_mask;
	uint32_t size_limit;
	const char *data;
	unsigned long data_len;
};
CVMM_API CVMM_WUR int cvmm_config_set_mmds(struct cvmm_config *cfg,
					   const struct cvmm_mmds_config *mmds);
/* How virtio devices reach the guest. CVMM_TRANSPORT_DEFAULT: virtio-pci
 * on x86_64, virtio-mmio elsewhere. CVMM_TRANSPORT_PCI (x86_64 only): each
 * device is a PCI function on bus 0 (configuration ports 0xCF8/0xCFC and an
 * ECAM window described by ACPI MCFG), virtio 1.x capabilities, MSI-X with
 * one vector per queue plus one for configuration changes, INTx when the
 * guest leaves MSI-X off. CVMM_TRANSPORT_MMIO: virtio-mmio, one interrupt
 * per device, described in ACPI (x86_64) or the device tree (aarch64). */
#define CVMM_TRANSPORT_DEFAULT 0
#define CVMM_TRANSPORT_MMIO    1
#define CVMM_TRANSPORT_PCI     2
CVMM_API CVMM_WUR int cvmm_config_set_transport(struct cvmm_config *cfg, int transport);
/* Tests and benchmarks: a byte written to I/O port 0x501 (x86) ends the VM
 * with CVMM_EXIT_DEBUG and code = (byte << 1) | 1, as QEMU's isa-debug-exit.
 * Off by default. */
CVMM_API CVMM_WUR int cvmm_config_set_debug_exit(struct cvmm_config *cfg, int enabled);
/* Firecracker's boot timer (--boot-timer): the guest writes the byte 123 at
 * 0xc0000000 (x86_64, Firecracker's address) or 0x09020000 (aarch64) once
 * booted, and the log gets "Guest-boot-time = N us ..." (Info) since
 * cvmm_vm_create. Off by default. */
CVMM_API CVMM_WUR int cvmm_config_set_boot_timer(struct cvmm_config *cfg, int enabled);

/* The jail (docs/seccomp.md, docs/threat-model.md).
 * Seccomp: every thread libcvmm starts (vCPUs, virtqueue workers) loads
 * its own filter, from a table per thread kind, as its first act.
 * CVMM_SECCOMP_ON (default): a call outside the table raises SIGSYS, whose
 * default action kills the process (cvmm_jail_sigsys_install adds a
 * message); _LOG: allowed and logged by the kernel (audit/dmesg), for
 * finding what a table lacks; _OFF: no filters. */
#define CVMM_SECCOMP_ON	 0
#define CVMM_SECCOMP_LOG 1
#define CVMM_SECCOMP_OFF 2
CVMM_API CVMM_WUR int cvmm_config_set_seccomp(struct cvmm_config *cfg, int mode);
/* The privilege drop, done by cvmm_vm_create once every file, device and
 * socket is open and before any thread of the VM starts. It changes the
 * whole process (and is not undone by cvmm_vm_destroy): NO_NEW_PRIVS; a
 * Landlock ruleset where the kernel has one, leaving file system access
 * beneath the VM's virtio-fs shares (read-only ones read-only), and
 * removing files in the vsock socket's directory and socket_dir;
 * chroot_dir (NULL: none); with set_ids, the groups, gid and uid; then
 * every capability dropped, except that with a CVMM_FS_PRIVILEGED share
 * (and no set_ids) the process keeps CHOWN, DAC_OVERRIDE, FOWNER and FSETID
 * for that share's request worker: every other thread of the VM drops them as its
 * first act, and cvmm_vm_jail_control_thread drops them on the caller's.
 * Threads libcvmm starts hold no other capabilities, jail or not. Off by
 * default: an embedder opts in. */
struct cvmm_jail {
	const char *chroot_dir; /* copied */
	int set_ids;
	unsigned uid, gid;
	int no_landlock; /* nonzero: skip the Landlock ruleset */
	/* a directory where the process may still remove files (Landlock),
	 * for the embedder's own sockets at exit; the vsock socket's is added
	 * by itself. NULL: none. Copied. */
	const char *socket_dir;
	/* nonzero: cvmm_vm_update_disk keeps working after the drop. Landlock
	 * then also leaves opening files that exist (not creating any) beneath
	 * the directory of each of the VM's disks, for reading, and for
	 * writing where the disk is read-write; the control thread's filter
	 * (cvmm_vm_jail_control_thread) allows what the update calls
	 * (docs/seccomp.md, JAIL_CONTROL_DISKS). */
	int update_disks;
	/* nonzero, with update_disks: the new files may be anywhere the
	 * process's user may open existing files (Landlock beneath "/"), as
	 * an unjailed Firecracker's managers expect (Kata hot-plugs block
	 * devices and files of its own; the CLI's Firecracker mode). */
	int update_disks_anywhere;
	/* a directory beneath which cvmm_vm_snapshot may still create its
	 * files after the drop (Landlock), and the control thread's filter
	 * then allows what a snapshot calls (docs/seccomp.md,
	 * JAIL_CONTROL_SNAPSHOTS). NULL: no snapshots once jailed. Copied. */
	const char *snapshot_dir;
};
CVMM_API CVMM_WUR int cvmm_config_set_jail(struct cvmm_config *cfg, const struct cvmm_jail *jail);
/* Installs (process-wide) the SIGSYS handler that writes "cvmm: seccomp:
 * thread NAME made forbidden syscall NR (NAME)" to stderr before the
 * process dies of SIGSYS. libcvmm never installs it on its own. */
CVMM_API CVMM_WUR int cvmm_jail_sigsys_install(void);
/* This build's seccomp policy as Markdown text (`cvmm --print-jail`,
 * docs/seccomp.md): per thread kind, each syscall its table allows with
 * the bounds on its arguments and the reason, then the threads that load
 * it and the io_uring opcodes each one's ring allows. *text is malloc'd:
 * the caller frees it. Returns 0 or -ENOMEM. */
CVMM_API CVMM_WUR int cvmm_jail_policy(char **text);

/* ---- the log (process-wide) ------------------------------------------ */

/* Every message libcvmm prints (a device that needs a reset, a tap that
 * refused its offloads, a socket peer awaited) goes to the log, never to
 * stderr directly. A line reads "cvmm: [LEVEL: ][file:line: ]message";
 * the default is level INFO, fd 2, neither option. One log per process:
 * set it before creating VMs; any thread may call these, at any time.
 * The SIGSYS handler (cvmm_jail_sigsys_install) writes to stderr itself:
 * it runs in a signal handler. */
#define CVMM_LOG_OFF   0
#define CVMM_LOG_ERROR 1
#define CVMM_LOG_WARN  2
#define CVMM_LOG_INFO  3
#define CVMM_LOG_DEBUG 4
#define CVMM_LOG_TRACE 5
/* Lines above this level are dropped. Returns the previous level, or
 * -EINVAL (nothing changed) outside CVMM_LOG_OFF..CVMM_LOG_TRACE. */
CVMM_API int cvmm_log_set_level(int level);
#define CVMM_LOG_SHOW_LEVEL  1u /* "cvmm: WARN: ..." */
#define CVMM_LOG_SHOW_ORIGIN 2u /* "cvmm: devices/net.c:738: ..." */
/* CVMM_LOG_SHOW_* flags; -EINVAL (nothing changed) for unknown ones. */
CVMM_API CVMM_WUR int cvmm_log_set_options(unsigned flags);
/* Lines go to fd (borrowed: keep it open while libcvmm may log; -1: none),
 * one write(2) each; a line the descriptor does not take at once (EAGAIN)
 * is dropped, so a non-blocking pipe or FIFO whose reader fell behind
 * stalls nothing. vCPU threads log under their seccomp filter, which allows
 * writes to any descriptor. Replaces a callback sink. */
CVMM_API void cvmm_log_set_fd(int fd);
/* A callback instead: each line, NUL-terminated and without its newline,
 * len bytes, with its CVMM_LOG_* level. Called on the logging thread (a
 * vCPU thread too, under its seccomp filter: write to what you opened
 * before, open nothing) with the log's lock held (do not call cvmm_log_*
 * from it). Once this returns, the previous callback is never called
 * again. fn NULL: back to the fd. */
typedef void (*cvmm_log_fn)(void *opaque, int level, const char *line, unsigned long len);
CVMM_API void cvmm_log_set_sink(cvmm_log_fn fn, void *opaque);
/* The instance's name in every line: "cvmm[NAME]: ..." (64 bytes at most;
 * NULL or "": none, "cvmm: ..."); Firecracker's --id. */
CVMM_API void cvmm_log_set_name(const char *name);
/* A line of the embedder's own into the same stream, at a CVMM_LOG_* level
 * (CVMM_LOG_ERROR..CVMM_LOG_TRACE; others are dropped): printf-like, its
 * origin "app:0". */
CVMM_API __attribute__((format(printf, 2, 3))) void cvmm_log(int level, const char *fmt, ...);

/* ---- the VM ----------------------------------------------------------- */

struct cvmm_vm;

enum cvmm_exit_reason {
	CVMM_EXIT_NONE = 0, /* still running */
	CVMM_EXIT_POWEROFF, /* guest powered off (ACPI S5) */
	CVMM_EXIT_REBOOT,   /* guest asked for a reset (ACPI reset, i8042, triple fault is CRASH) */
	CVMM_EXIT_CRASH,    /* triple fault / KVM_EXIT_SHUTDOWN, or an unhandled guest state */
	CVMM_EXIT_STOPPED,  /* cvmm_vm_stop() was called */
	CVMM_EXIT_ERROR,    /* KVM or internal failure; see cvmm_vm_error() */
	CVMM_EXIT_DEBUG,    /* debug-exit port written (tests); see code */
};

struct cvmm_exit {
	enum cvmm_exit_reason reason;
	int vcpu;		  /* vCPU that caused it, or -1 */
	uint64_t rip;		  /* its instruction pointer, where known */
	uint32_t kvm_exit_reason; /* KVM_EXIT_* for CRASH/ERROR, else 0 */
	int code;		  /* CVMM_EXIT_DEBUG: (byte << 1) | 1 */
	char message[256];
};

/* Builds the VM from cfg (copied; cfg may be freed afterwards): opens and
 * checks /dev/kvm, allocates guest memory, loads kernel and initrd, builds
 * the firmware tables, creates the vCPUs and devices. The VM is paused.
 * On failure *out is NULL and, if errbuf is not NULL, the message is copied
 * there. */
CVMM_API CVMM_WUR int cvmm_vm_create(const struct cvmm_config *cfg, struct cvmm_vm **out,
				     char *errbuf, unsigned long errlen);
/* Starts the vCPU threads. -EALREADY if started before. */
CVMM_API CVMM_WUR int cvmm_vm_start(struct cvmm_vm *vm);
/* Asks the VM to stop; returns at once. Safe from any thread (not from a
 * signal handler). The exit reason is CVMM_EXIT_STOPPED. */
CVMM_API void cvmm_vm_stop(struct cvmm_vm *vm);
/* Stops every vCPU between two exits (kicked out of KVM_RUN and parked)
 * and returns once all are parked; guest time does not advance in the
 * vCPUs meanwhile (device workers finish I/O already submitted).
 * -EINVAL if not started, -EALREADY if paused, -ESHUTDOWN if it exited.
 * Call pause/resume from one thread at a time. */
CVMM_API CVMM_WUR int cvmm_vm_pause(struct cvmm_vm *vm);
/* Lets paused vCPUs run again. -EINVAL if not paused. */
CVMM_API CVMM_WUR int cvmm_vm_resume(struct cvmm_vm *vm);
/* Presses the ACPI power button (x86: a Generic Event Device in the DSDT
 * notifies a PNP0C0C button). What happens next is the guest's choice:
 * a guest with an ACPI button handler (acpid, systemd-logind) powers off
 * and the VM exits with CVMM_EXIT_POWEROFF. Returns at once; -EINVAL if
 * not started, -ESHUTDOWN if it exited, -EOPNOTSUPP where the arch has no
 * power button. */
CVMM_API CVMM_WUR int cvmm_vm_request_shutdown(struct cvmm_vm *vm);
/* Types Ctrl-Alt-Del on the guest's keyboard, as Firecracker's
 * SendCtrlAltDel does (x86: the i8042's scan codes and IRQ 1). A Linux
 * guest reboots (with reboot=k through the i8042's reset line, and the VM
 * exits with CVMM_EXIT_REBOOT) unless its init takes the keys otherwise.
 * Returns at once; -EINVAL if not started, -ESHUTDOWN if it exited,
 * -EOPNOTSUPP where the arch has no keyboard (aarch64), -ENOSPC when the
 * keyboard's buffer has no room (the guest is not reading it). */
CVMM_API CVMM_WUR int cvmm_vm_send_ctrl_alt_del(struct cvmm_vm *vm);
/* The VM Generation ID (Microsoft's VMGenID; Linux's vmgenid driver): 16
 * random bytes in guest memory that the firmware tables (x86: ACPI) or the
 * device tree (aarch64, Linux 6.10+) describe, new for every VM created and
 * for every restore of a snapshot, so that a clone reseeds its randomness.
 * cvmm_vm_generation_id copies the current one into out (any time after
 * cvmm_vm_create); -EOPNOTSUPP where the arch describes none. */
CVMM_API CVMM_WUR int cvmm_vm_generation_id(const struct cvmm_vm *vm, uint8_t out[16]);
/* A new random generation ID, written where the guest reads it, and the
 * guest told (an ACPI Notify, or the device tree node's interrupt): for a
 * manager that cloned the VM by its own means. -EINVAL if not started,
 * -ESHUTDOWN if it exited, -EOPNOTSUPP where the arch describes none. */
CVMM_API CVMM_WUR int cvmm_vm_new_generation_id(struct cvmm_vm *vm);
enum cvmm_vm_state {
	CVMM_STATE_CREATED = 1, /* built, not started */
	CVMM_STATE_RUNNING,
	CVMM_STATE_PAUSED,
	CVMM_STATE_EXITED, /* the guest or a stop ended it; see cvmm_vm_wait */
};
CVMM_API enum cvmm_vm_state cvmm_vm_state(const struct cvmm_vm *vm);
#define CVMM_STATS_MAX_VCPUS 64
struct cvmm_stats {
	uint64_t uptime_ns; /* since cvmm_vm_start (0 before) */
	unsigned vcpus;
	uint64_t exits_total;			   /* KVM_RUN returns handled, all vCPUs */
	uint64_t vcpu_exits[CVMM_STATS_MAX_VCPUS]; /* the first 64 vCPUs */
	uint64_t console_tx_bytes;		   /* bytes the guest wrote to its serial port */
	uint64_t shutdown_requests;		   /* power button presses */
	/* of console_tx_bytes, those the console could not take (a pipe or
	 * terminal nobody drained, a closed one): dropped, never waited for */
	uint64_t console_tx_missed;
	/* of console_tx_bytes, those the console's rate limiter dropped */
	uint64_t console_tx_limited;
};
/* Fills *st; cheap, callable from any thread while the VM exists. */
CVMM_API CVMM_WUR int cvmm_vm_stats(const struct cvmm_vm *vm, struct cvmm_stats *st);
/* Counters, each a total since cvmm_vm_create, named and meant as the
 * fields of Firecracker's metrics of the same name (docs/api.md). Both
 * calls are cheap (atomic loads, no system call), from any thread while
 * the VM exists. The structs keep their size: counters to come take
 * reserved words. */
struct cvmm_vcpu_metrics {
	/* KVM exits of every vCPU: port reads and writes, MMIO reads and writes */
	uint64_t exit_io_in, exit_io_out, exit_mmio_read, exit_mmio_write;
	uint64_t reserved[12];
};
CVMM_API CVMM_WUR int cvmm_vm_vcpu_metrics(const struct cvmm_vm *vm, struct cvmm_vcpu_metrics *m);
enum cvmm_device_kind {
	CVMM_DEVICE_DISK = 1, /* cvmm_config_add_disk */
	CVMM_DEVICE_NET,      /* cvmm_config_add_net */
	CVMM_DEVICE_FS,	      /* cvmm_config_add_fs: its interrupts only */
	CVMM_DEVICE_VSOCK,
	CVMM_DEVICE_RNG,
	CVMM_DEVICE_BALLOON,
};
struct cvmm_disk_metrics {
	uint64_t read_count, write_count; /* requests that succeeded */
	uint64_t read_bytes, write_bytes; /* their data */
	uint64_t flush_count;		  /* flushes that succeeded */
	uint64_t invalid_reqs_count;	  /* requests answered with an error status */
	uint64_t execute_fails;		  /* chains with no room for a status: no request */
	uint64_t queue_event_count;	  /* the guest's notifications (kicks) */
	/* times a queue waited for the rate limiter, and the time those
	 * waits took (ended ones), nanoseconds */
	uint64_t rate_limiter_throttled_events, rate_limiter_throttled_ns;
	uint64_t interrupt_count; /* interrupts raised to the guest (each kind has it) */
};
struct cvmm_net_metrics {
	/* guest to backend: frames written (bytes with the 12-byte virtio-net
	 * header), frames dropped as malformed, frames dropped with the link
	 * down, writes the backend refused */
	uint64_t tx_packets_count, tx_bytes_count, tx_malformed_frames, tx_fails, tap_write_fails;
	/* backend to guest: frames delivered (bytes with the header), frames
	 * dropped (shorter than an Ethernet header, too big for the guest's
	 * buffers), failed reads, times a frame waited for guest buffers,
	 * reads that brought bytes */
	uint64_t rx_packets_count, rx_bytes_count, rx_fails, tap_read_fails, no_rx_avail_buffer;
	uint64_t rx_tap_event_count;
	uint64_t rx_queue_event_count, tx_queue_event_count; /* kicks */
	/* times a queue waited for the RX or TX rate limiter, and the time
	 * those waits took (ended ones), nanoseconds */
	uint64_t rx_rate_limiter_throttled, tx_rate_limiter_throttled;
	uint64_t rx_rate_limiter_throttled_ns, tx_rate_limiter_throttled_ns;
	uint64_t interrupt_count;
};
struct cvmm_vsock_metrics {
	uint64_t rx_packets_count, rx_bytes_count; /* to the guest: packets, stream bytes */
	uint64_t tx_packets_count, tx_bytes_count; /* from the guest: packets, bytes to sockets */
	uint64_t conns_added, conns_killed, conns_removed; /* killed: ended by a reset of ours */
	uint64_t rx_read_fails, tx_write_fails;		   /* socket reads and writes that failed */
	uint64_t rx_queue_event_count, tx_queue_event_count; /* kicks */
	uint64_t interrupt_count;
};
struct cvmm_rng_metrics {
	uint64_t entropy_event_count; /* the guest's buffers filled */
	uint64_t entropy_bytes;	      /* bytes given */
	uint64_t host_rng_fails;      /* buffers getrandom(2) could not fill */
	/* times the queue waited for the rate limiter, and the time those
	 * waits took (ended ones), nanoseconds */
	uint64_t entropy_rate_limiter_throttled, rate_limiter_throttled_ns;
	uint64_t interrupt_count;
};
struct cvmm_balloon_metrics {
	uint64_t inflate_count, deflate_count;	 /* the driver's inflate and deflate buffers */
	uint64_t pages_inflated, pages_deflated; /* 4 KiB pages in them */
	uint64_t pages_refused;			 /* inflated pages outside guest RAM: kept */
	uint64_t free_page_report_count;	 /* free page reports (buffers) */
	uint64_t free_page_report_freed;	 /* bytes they released */
	uint64_t free_page_report_fails;	 /* reports outside guest RAM */
	uint64_t stats_updates_count, stats_update_fails; /* statistics buffers; malformed */
	uint64_t release_fails;				  /* madvise calls that failed */
	uint64_t interrupt_count;
};
struct cvmm_fs_metrics {
	uint64_t interrupt_count;
};
struct cvmm_device_metrics {
	int kind;	/* enum cvmm_device_kind */
	unsigned index; /* among the VM's devices of its kind, in the order added */
	union {
		struct cvmm_disk_metrics disk;
		struct cvmm_net_metrics net;
		struct cvmm_vsock_metrics vsock;
		struct cvmm_rng_metrics rng;
		struct cvmm_balloon_metrics balloon;
		struct cvmm_fs_metrics fs;
		uint64_t reserved[32];
	} u;
};
/* The counters of the VM's virtio devices, in slot order (disks,
 * interfaces, shares, vsock, rng, balloon): up to max into out; returns how many
 * devices the VM has (more than max: the rest were left out). */
CVMM_API CVMM_WUR int cvmm_vm_device_metrics(const struct cvmm_vm *vm,
					     struct cvmm_device_metrics *out, unsigned max);
/* A file descriptor that becomes readable when the VM has exited, for a
 * caller's poll loop. Owned by the VM. */
CVMM_API int cvmm_vm_exit_fd(const struct cvmm_vm *vm);
/* Loads, on the calling thread, the seccomp filter of a control thread
 * (cvmm's own: a poll loop over a signalfd, the terminal, the exit fd and
 * a control socket whose listening descriptor is listen_fd (-1: none);
 * pause, resume, stop, power button, wait, destroy), in the VM's seccomp
 * mode. Call it once the VM was started. */
CVMM_API CVMM_WUR int cvmm_vm_jail_control_thread(struct cvmm_vm *vm, int listen_fd);
/* Replaces the file behind disk `index` (in cvmm_config_add_disk's order)
 * while the VM runs (or is paused, or not started yet), as Firecracker's
 * PATCH /drives does: the file at path is opened on the calling thread as
 * the disk was (read-only or not, O_DIRECT or not), checked (a regular file
 * or block device) and locked the same way; I/O the guest had already
 * submitted ends on the old file, which is then unlocked and closed (after
 * 1 s at most of waiting for that I/O); the guest sees the new size (the
 * configuration-change interrupt) and reads and writes the new file. The
 * file the disk has already (same inode): its size is read again. On
 * failure (-ENOENT, -EACCES, -EINVAL: not a regular file or block device,
 * -EBUSY: locked by another process; -ENODEV: no such disk; -ESHUTDOWN:
 * the VM exited) nothing changed. One call at a time per VM, not with
 * cvmm_vm_destroy. With the jail (cvmm_config_set_jail), see
 * cvmm_jail.update_disks. */
CVMM_API CVMM_WUR int cvmm_vm_update_disk(struct cvmm_vm *vm, unsigned index, const char *path);
/* The balloon (cvmm_config_set_balloon), while the VM exists (not
 * destroyed): -ENODEV without one. set_balloon_target: the guest is asked
 * to give back amount_mib MiB in all (at most its memory: -EINVAL), a
 * configuration change; set_balloon_stats_interval: 1..65535 s (-EINVAL:
 * 0, or a balloon without statistics); balloon_config: what it was
 * configured with, the target now; balloon_stats: the target, what the
 * guest holds (actual) and the guest's last statistics (-EINVAL without
 * statistics). The VM started and not exited: -EINVAL, -ESHUTDOWN. */
struct cvmm_balloon_config {
	uint32_t amount_mib; /* the target now */
	unsigned flags;	     /* CVMM_BALLOON_* */
	unsigned stats_interval_s;
};
/* The statistics' tags (virtio 1.2, 5.5.6.3; 10.. are Linux 6.12's) */
enum cvmm_balloon_stat {
	CVMM_BALLOON_SWAP_IN,
	CVMM_BALLOON_SWAP_OUT,
	CVMM_BALLOON_MAJFLT,
	CVMM_BALLOON_MINFLT,
	CVMM_BALLOON_MEMFREE,
	CVMM_BALLOON_MEMTOT,
	CVMM_BALLOON_AVAIL,
	CVMM_BALLOON_CACHES,
	CVMM_BALLOON_HTLB_PGALLOC,
	CVMM_BALLOON_HTLB_PGFAIL,
	CVMM_BALLOON_OOM_KILL,
	CVMM_BALLOON_ALLOC_STALL,
	CVMM_BALLOON_ASYNC_SCAN,
	CVMM_BALLOON_DIRECT_SCAN,
	CVMM_BALLOON_ASYNC_RECLAIM,
	CVMM_BALLOON_DIRECT_RECLAIM,
	CVMM_BALLOON_NSTATS
};
struct cvmm_balloon_stats {
	uint32_t target_pages, actual_pages, target_mib, actual_mib; /* 4 KiB pages */
	uint32_t present; /* bit 1 << CVMM_BALLOON_*: the guest gave that value */
	uint64_t val[CVMM_BALLOON_NSTATS];
	uint64_t updates;     /* statistics the guest sent */
	uint64_t last_ms_ago; /* since the last (none: 0) */
	uint64_t reserved[6];
};
CVMM_API CVMM_WUR int cvmm_vm_set_balloon_target(struct cvmm_vm *vm, uint32_t amount_mib);
CVMM_API CVMM_WUR int cvmm_vm_set_balloon_stats_interval(struct cvmm_vm *vm, unsigned seconds);
CVMM_API CVMM_WUR int cvmm_vm_balloon_config(struct cvmm_vm *vm, struct cvmm_balloon_config *out);
CVMM_API CVMM_WUR int cvmm_vm_balloon_stats(struct cvmm_vm *vm, struct cvmm_balloon_stats *out);
/* Replaces a device's rate limiters while the VM runs (or before it
 * starts, or paused), from any thread, as Firecracker's PATCH /drives and
 * PATCH /network-interfaces do: a bucket whose settings changed starts
 * full, one left as it was keeps its tokens; a request waiting under the
 * old limits is reconsidered at once. A snapshot keeps the new limits.
 * -ENODEV: no such device; -EINVAL: a bucket beyond the bounds. */
CVMM_API CVMM_WUR int cvmm_vm_set_disk_limiter(struct cvmm_vm *vm, unsigned index,
					       const struct cvmm_rate_limiter *rl);
CVMM_API CVMM_WUR int cvmm_vm_set_net_limiter(struct cvmm_vm *vm, unsigned index,
					      const struct cvmm_rate_limiter *rx,
					      const struct cvmm_rate_limiter *tx);
CVMM_API CVMM_WUR int cvmm_vm_set_rng_limiter(struct cvmm_vm *vm,
					      const struct cvmm_rate_limiter *rl);
/* MMDS's document replaced by len bytes of JSON text (any thread, any
 * time after cvmm_vm_create; the guest's next GET sees it). The caller
 * merges PATCHes (the CLI does, RFC 7396) and hands the whole document.
 * -ENODEV: the VM has no MMDS; -EINVAL: not JSON; -EFBIG: over its
 * size_limit. */
CVMM_API CVMM_WUR int cvmm_vm_mmds_put(struct cvmm_vm *vm, const char *json, unsigned long len);
/* Waits until the VM has exited and every vCPU thread is joined. */
CVMM_API CVMM_WUR int cvmm_vm_wait(struct cvmm_vm *vm, struct cvmm_exit *exit);
/* Stops (if needed), joins and frees everything. */
CVMM_API void cvmm_vm_destroy(struct cvmm_vm *vm);
/* The message of the last failed cvmm_vm_* call on vm (each call starts
 * with none), or why the VM ended with CVMM_EXIT_ERROR: a copy in the
 * calling thread's own buffer, valid until that thread calls
 * cvmm_vm_error again. */
CVMM_API const char *cvmm_vm_error(const struct cvmm_vm *vm);

/* ---- snapshots (docs/snapshot.md) ----------------------------------------- */

/* Writes the paused VM (cvmm_vm_pause) to two files, created (mode 0600)
 * where missing: its state (registers, interrupt controllers, devices,
 * the configuration it needs to be rebuilt) at state_path, its memory at
 * mem_path. CVMM_SNAPSHOT_FULL writes every page that is not zero (the
 * rest read as zeros, holes where they can be); CVMM_SNAPSHOT_DIFF only
 * the pages written since the VM's last snapshot or restore
 * (cvmm_config_set_dirty_tracking, or a restore with track_dirty; without
 * either, every resident page), to be merged onto that snapshot's memory
 * (cvmm_snapshot_merge). A memory file of the memory's size is written
 * over in place, not truncated: it may be the file a restored VM maps (a
 * diff onto its base's file merges into it); the state file may not be
 * that file, nor mem_path. In-flight I/O is finished first; the VM stays
 * paused. app (app_len bytes, may be NULL) is the embedder's own, kept in
 * the state file (a manager's names for its devices): cvmm_snapshot_app
 * gives it back. A VM with a virtio-fs share cannot be snapshotted. */
#define CVMM_SNAPSHOT_FULL 0
#define CVMM_SNAPSHOT_DIFF 1
CVMM_API CVMM_WUR int cvmm_vm_snapshot(struct cvmm_vm *vm, const char *state_path,
				       const char *mem_path, int type, const void *app,
				       unsigned long app_len);
/* Tracks the pages the guest and its devices write, for diff snapshots. */
CVMM_API CVMM_WUR int cvmm_config_set_dirty_tracking(struct cvmm_config *cfg, int enabled);

/* How a restore maps guest memory: CVMM_MEM_FILE maps the memory file
 * copy-on-write (pages come in from the page cache when first touched;
 * clones of one snapshot share it); CVMM_MEM_UFFD hands a userfaultfd and
 * the region list to the page-fault handler listening on the unix socket
 * at mem_path (Firecracker's protocol); CVMM_MEM_LAZY serves the same
 * faults from the memory file in cvmm's own thread, which also loads the
 * rest in the background. */
#define CVMM_MEM_FILE 0
#define CVMM_MEM_UFFD 1
#define CVMM_MEM_LAZY 2
struct cvmm_restore {
	const char *state_path;
	const char *mem_path;
	int mem_backend; /* CVMM_MEM_* */
	int track_dirty; /* the restored VM tracks dirty pages (diff snapshots) */
	int paused;	 /* cvmm_vm_start leaves it paused until cvmm_vm_resume */
	/* NULL: as saved. Interface i's tap (an interface saved with a tap
	 * fd needs one), the vsock's socket path, disk i's image (a clone's
	 * own copy, the same size). */
	const char *net_tap[CVMM_MAX_NETS];
	const char *vsock_path;
	const char *disk_path[CVMM_MAX_DISKS];
	/* x86_64: the guest's clock (kvmclock) moves on by the wall-clock
	 * time since the snapshot instead of going on from the snapshot's
	 * moment (KVM_CLOCK_REALTIME, Firecracker's clock_realtime); refused
	 * where the snapshot's host had no TSC-based clock, and on aarch64. */
	int clock_realtime;
	/* set_huge_pages nonzero: the restored VM's memory is backed as
	 * huge_pages says (CVMM_HUGE_*) instead of as the snapshot's VM was
	 * (Firecracker's huge_pages on load); 2M needs CVMM_MEM_UFFD. */
	int set_huge_pages, huge_pages;
};
/* Builds a VM from a snapshot, paused where it was: cvmm_vm_start runs it
 * on. host gives what belongs to this process rather than the snapshot
 * (console, seccomp, jail, kick signal; its kernel and devices are
 * ignored; NULL: defaults). A snapshot from another architecture or a
 * newer cvmm, a CPU lacking features the guest used, a truncated or
 * corrupt file are refused with a message saying which. */
CVMM_API CVMM_WUR int cvmm_vm_restore(const struct cvmm_restore *rs, const struct cvmm_config *host,
				      struct cvmm_vm **out, char *errbuf, unsigned long errlen);
/* The app bytes cvmm_vm_snapshot kept in the state file at state_path
 * (checked whole first): *app is allocated (free it), NULL if none. */
CVMM_API CVMM_WUR int cvmm_snapshot_app(const char *state_path, void **app, unsigned long *len,
					char *errbuf, unsigned long errlen);
/* Copies every page a diff snapshot's memory file holds over its base's. */
CVMM_API CVMM_WUR int cvmm_snapshot_merge(const char *base_mem, const char *diff_mem, char *errbuf,
					  unsigned long errlen);

/* Feeds console input to the guest's serial port (what the CLI does with its
 * terminal). Returns bytes taken (the UART FIFO may be full) or -errno. */
CVMM_API int cvmm_vm_console_input(struct cvmm_vm *vm, const void *buf, unsigned long len);

#ifdef __cplusplus
}
#endif
#endif
