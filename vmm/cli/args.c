/* SPDX-License-Identifier: MIT */
#include "vmm/cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

/* A limit from cvmm.h as text, in the usage and the messages. */
#define CLI_STR_(x) #x
#define CLI_STR(x)  CLI_STR_(x)

const char cli_fc_usage[] =
	"usage: firecracker [--api-sock PATH] [--id ID] [--config-file FILE [--no-api]] [options]\n"
	"\n"
	"cvmm run as Firecracker (by that name, or given one of Firecracker's flags): its\n"
	"command line and its HTTP API on the socket (docs/managers.md). The VM's devices\n"
	"are virtio-mmio unless --enable-pci.\n"
	"\n"
	"  --api-sock PATH          the API socket (default " CLI_FC_API_SOCK ")\n"
	"  --id ID                  the instance id (1..64 letters, digits, '-')\n"
	"  --config-file FILE       a VM in Firecracker's JSON, started at once\n"
	"  --no-api                 no API socket (needs --config-file)\n"
	"  --level L, --log-path P, --show-level, --show-log-origin   PUT /logger's\n"
	"  --metrics-path P         PUT /metrics'\n"
	"  --http-api-max-payload-size N   a request body's limit (default 51200)\n"
	"  --metadata FILE          MMDS's document at start (JSON)\n"
	"  --mmds-size-limit N      MMDS's document in bytes at most (default: the payload limit)\n"
	"  --no-seccomp             no seccomp filters\n"
	"  --boot-timer             the guest's write of 123 at 0xc0000000 logs its boot time\n"
	"  --enable-pci             virtio-pci devices\n"
	"  --start-time-us N, --start-time-cpu-us N, --parent-cpu-time-us N   accepted\n"
	"  --version, --help\n"
	"Refused, with the reason: --seccomp-filter, --module,\n"
	"--snapshot-version, --describe-snapshot.\n"
	"Exit status: 0 when the guest powers off or reboots, 1 on a failure, 153 for a bad\n"
	"command line (152: a bad --level), 128+N after signal N.\n";

const char cli_usage[] =
	"usage: cvmm --kernel PATH [options]\n"
	"\n"
	"Boots a Linux guest under KVM; the guest's serial console is this "
	"terminal.\n"
	"\n"
	"  -k, --kernel PATH    bzImage, or ELF vmlinux with a PVH entry note "
	"(x86_64);\n"
	"                       an arm64 Image (aarch64)\n"
	"  -i, --initrd PATH    initial ramdisk\n"
	"  -c, --cmdline STR    kernel command line (default: \"console=ttyS0 "
	"panic=1\")\n"
	"      --cpus N         number of vCPUs (default 1)\n"
	"  -m, --memory SIZE    guest memory: bytes with K/M/G suffix, or MiB "
	"(default 256M)\n"
	"  -d, --disk PATH[,ro][,direct][,queues=N]\n"
	"                       virtio-blk disk (repeatable, up to " CLI_STR(
		CVMM_MAX_DISKS) "): ro opens it read-only,\n"
				"                       direct uses O_DIRECT, "
				"queues=1.." CLI_STR(
					CVMM_MAX_QUEUES) " request "
							 "queues\n"
							 "  -n, --net "
							 "SPEC       "
							 "virtio-net "
							 "interface "
							 "(repeatable, "
							 "up to " CLI_STR(
								 CVMM_MAX_NETS) "). SPEC "
										"is one "
										"of\n"
										"          "
										"          "
										"     NAME "
										"or "
										"tap=NAME[,"
										"queues=N] "
										" a tap, "
										"opened or "
										"created\n"
										"          "
										"          "
										"          "
										"  "
										"(queues=1."
										"." CLI_STR(CVMM_MAX_QUEUES) " pairs: a multi_queue tap)\n"
													     "                         tapfd=N      an open tap passed in as descriptor N\n"
													     "                         passt=PATH   connect to passt's socket (no root needed)\n"
													     "                         stream=PATH[,listen]  a unix stream socket with length-\n"
													     "                                prefixed frames (QEMU -netdev stream); listen\n"
													     "                                creates it and waits for a peer (VM to VM)\n"
													     "                       each with optional ,mac=52:54:00:xx:xx:xx (default: a stable\n"
													     "                       address derived from the backend)\n"
													     "      --fs tag=TAG,path=DIR[,ro][,xattr][,privileged]\n"
													     "                       share the host directory DIR with the guest as virtio-fs\n"
													     "                       (repeatable, up to " CLI_STR(CVMM_MAX_FS) "): mount -t virtiofs TAG /mnt in the\n"
																					       "                       guest; TAG is 1.." CLI_STR(CVMM_FS_TAG_MAX) " bytes; ro refuses every write; xattr\n"
																														   "                       serves extended attributes; privileged lets the guest's\n"
																														   "                       root change owners (keeps 4 ownership capabilities)\n"
																														   "      --vsock cid=N,socket=PATH\n"
																														   "                       virtio-vsock with the guest's CID N (" CLI_STR(CVMM_VSOCK_CID_MIN) " or more); host side\n"
																																									      "                       on unix sockets (Firecracker's protocol): clients of PATH\n"
																																									      "                       write \"CONNECT <port>\\n\" to reach a guest port; guest\n"
																																									      "                       connections to CID 2 port P go to PATH_P\n"
																																									      "      --rng            virtio-rng: the guest's /dev/hwrng reads the host's getrandom\n"
																																									      "      --balloon SIZE[,deflate-on-oom][,stats=S][,free-page-reporting]\n"
																																									      "                       virtio-balloon; SIZE (MiB) asked back at start\n"
																																									      "      --config FILE    the whole VM as JSON (docs/api.md); no other VM options\n"
																																									      "      --api-socket PATH\n"
																																									      "                       serve Firecracker's HTTP API on the unix socket PATH and\n"
																																									      "                       boot the VM it configures (docs/api.md)\n"
																																									      "      --huge-pages none|transparent|2M\n"
																																									      "                       what backs guest memory: the host's pages (none, the\n"
																																									      "                       default), transparent huge pages asked for, or 2 MiB\n"
																																									      "                       hugetlbfs pages reserved from the host's pool\n"
																																									      "      --transport mmio|pci\n"
																																									      "                       how virtio devices attach: pci (default on x86_64: PCI\n"
																																									      "                       functions with MSI-X, one vector per queue) or mmio\n"
																																									      "      --seccomp on|log|off\n"
																																									      "                       per-thread seccomp filters (default on: a forbidden call\n"
																																									      "                       kills cvmm with SIGSYS and a message; log: allowed and\n"
																																									      "                       logged by the kernel, for diagnosis; off: none)\n"
																																									      "      --user UID:GID   run as UID:GID once everything is open\n"
																																									      "      --chroot DIR     chroot to DIR once everything is open (docs/threat-model.md)\n"
																																									      "      --log-level off|error|warn|info|debug|trace\n"
																																									      "                       which of libcvmm's messages to print (default info)\n"
																																									      "      --print-jail     print this build's seccomp policy: per thread kind, the\n"
																																									      "                       syscalls, their argument bounds and the io_uring opcodes\n"
																																									      "                       (docs/seccomp.md)\n"
																																									      "      --snapshot-dir DIR  with --api-socket: where PUT /snapshot/create may write\n"
																																									      "                       once jailed (default: the socket's directory)\n"
																																									      "      --snapshot-merge BASE,DIFF  copy every page of a diff snapshot's memory\n"
																																									      "                       file over its base's, then exit\n"
																																									      "      --restore DIR[,mem=file|lazy|uffd:SOCKET][,paused][,dirty][,clock_realtime][,tapN=NAME][,vsock=PATH]\n"
																																									      "                       run the VM of the snapshot in DIR (its files state and\n"
																																									      "                       memory: PUT /snapshot/create over --api-socket makes\n"
																																									      "                       them); mem: how memory comes in (docs/snapshot.md);\n"
																																									      "                       tapN/vsock/diskN: interface N's tap, the vsock socket,\n"
																																									      "                       disk N's image (a clone's own copy); clock_realtime (x86_64):\n"
																																									      "                       the guest's clock moves on by the time since the\n"
																																									      "                       snapshot (Firecracker's clock_realtime)\n"
																																									      "  -h, --help           this text\n"
																																									      "  -V, --version        print the version\n"
																																									      "      --debug-exit     tests/benchmarks: a write of byte B to port 0x501 ends\n"
																																									      "                       cvmm with status (B << 1) | 1, as QEMU's isa-debug-exit\n"
																																									      "\n"
																																									      "Console: Ctrl-C stops the VM; Ctrl-A x quits; Ctrl-A c sends a Ctrl-C to the guest;\n"
																																									      "Ctrl-A Ctrl-A sends a Ctrl-A.\n"
																																									      "\n"
																																									      "Exit status: 0 guest powered off; 1 bad arguments or the VM could not be built;\n"
																																									      "2 guest rebooted; 3 guest crashed (triple fault); 4 KVM or internal failure while\n"
																																									      "running; 128+N stopped by signal N (SIGINT: 130, SIGTERM: 143).\n";

int cli_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	if (!s || !*s)
		return -EINVAL;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > max)
			return -ERANGE;
	}
	if (v < min)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	uint64_t v = 0;
	const char *p = s;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	unsigned shift;
	switch (toupper((unsigned char)*p)) {
	case '\0':
		shift = 20;
		break; /* MiB, as QEMU's -m */
	case 'B':
		shift = 0;
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	case 'T':
		shift = 40;
		break;
	default:
		return -EINVAL;
	}
	if (*p) {
		p++;
		if (*p == 'i' || *p == 'I') /* accept MiB, GiB */
			p++;
		if ((*p == 'b' || *p == 'B') && shift)
			p++;
		if (*p)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

/* --help's part on rate limiters, after cli_usage. */
const char cli_usage_limits[] =
	"\nRate limiters (docs/rate-limiters.md): --disk PATH,...,bw=LIMIT,iops=LIMIT;\n"
	"--net SPEC,...,rx-bw=LIMIT,rx-iops=LIMIT,tx-bw=LIMIT,tx-iops=LIMIT;\n"
	"--rng-limit bw=LIMIT[,iops=LIMIT] for --rng. LIMIT is RATE per second (bytes with\n"
	"K/M/G, or operations: bw=2M, iops=500) or SIZE:REFILL_MS[:BURST] (Firecracker's\n"
	"token bucket: size, refill_time, one_time_burst).\n"
	"\nPolling (docs/api.md): --disk PATH,...,poll=US and --net SPEC,...,poll=US (its TX\n"
	"queues; RX does not poll): after requests, each queue worker watches the ring up\n"
	"to US microseconds (self-tuning below it) before it waits for the guest's kick;\n"
	"0 turns it off (default " CLI_STR(CVMM_DISK_POLL_DEFAULT_US) ", at most " CLI_STR(
		CVMM_DISK_POLL_MAX_US) ").\n"
				       "--net SPEC,...,rx-sched=other: its RX workers run "
				       "SCHED_OTHER, a frame preempting\n"
				       "at once, instead of SCHED_BATCH (the default: fewer "
				       "context switches, more frames\n"
				       "per second where the worker shares a busy CPU; "
				       "docs/architecture.md).\n";
_Static_assert(CVMM_NET_POLL_DEFAULT_US == CVMM_DISK_POLL_DEFAULT_US &&
		       CVMM_NET_POLL_MAX_US == CVMM_DISK_POLL_MAX_US,
	       "--help gives one default and one bound for --disk's and --net's poll=");

/* A count with an optional K, M, G (binary) suffix. */
static int parse_amount(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (i == 0)
		return -EINVAL;
	unsigned shift = 0;
	if (i < n) {
		const char *sfx = "KMG", *c = strchr(sfx, toupper((unsigned char)s[i]));
		if (!s[i] || !c || i + 1 != n)
			return -EINVAL;
		shift = 10 * (unsigned)(c - sfx + 1);
	}
	if (v > ((1ULL << 62) >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int cli_parse_bucket(const char *s, struct cvmm_token_bucket *b)
{
	uint64_t v[3] = {0, 1000, 0}; /* size, refill ms, burst */
	unsigned k = 0;
	for (const char *p = s;; k++) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (k == 3 || parse_amount(p, n, &v[k]) < 0)
			return -EINVAL;
		if (!colon)
			break;
		p = colon + 1;
	}
	if (k == 0)
		v[2] = 0; /* RATE: per second, no burst */
	if (v[0] == 0 || v[1] == 0 || v[1] > 1000000000000ULL)
		return -EINVAL;
	*b = (struct cvmm_token_bucket){
		.size = v[0], .one_time_burst = v[2], .refill_time_ms = v[1]};
	return 0;
}

/* The rate limiter options of a spec: KEY=BUCKET fields (keys[i] sets
 * lim[i / 2]'s bandwidth, even i, or ops, odd i) after the first field
 * (skip_first) are taken out; the rest of the spec goes to rest. */
static int take_limits(const char *spec, bool skip_first, const char *const *keys, unsigned nkeys,
		       struct cvmm_rate_limiter *lim, char *rest, size_t restlen, const char **why)
{
	size_t at = 0;
	const char *p = spec;
	for (bool first = true;; first = false) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		unsigned k = nkeys;
		for (unsigned i = 0; eq && !(first && skip_first) && i < nkeys && k == nkeys; i++)
			if ((size_t)(eq - p) == strlen(keys[i]) &&
			    !strncmp(p, keys[i], strlen(keys[i])))
				k = i;
		if (k < nkeys) {
			char val[64];
			size_t vl = n - (size_t)(eq + 1 - p);
			struct cvmm_token_bucket *b =
				k % 2 ? &lim[k / 2].ops : &lim[k / 2].bandwidth;
			if (vl >= sizeof(val)) {
				*why = "a rate limit is RATE (per second: 2M, 500) or "
				       "SIZE:REFILL_MS[:BURST] (docs/rate-limiters.md)";
				return -EINVAL;
			}
			memcpy(val, eq + 1, vl);
			val[vl] = '\0';
			if (cli_parse_bucket(val, b) < 0) {
				*why = "a rate limit is RATE (per second: 2M, 500) or "
				       "SIZE:REFILL_MS[:BURST], each 1 or more, sizes at most 2^62 "
				       "(docs/rate-limiters.md)";
				return -EINVAL;
			}
		} else {
			if (at + n + 2 > restlen)
				return -ENAMETOOLONG;
			if (at)
				rest[at++] = ',';
			memcpy(rest + at, p, n);
			at += n;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	rest[at] = '\0';
	return 0;
}

int cli_parse_disk(const char *spec, char *path, size_t pathlen, unsigned *flags, unsigned *queues,
		   int *poll_us, const char **why)
{
	const char *comma = strchr(spec, ',');
	size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);
	if (plen == 0 || plen >= pathlen)
		return -EINVAL;
	memcpy(path, spec, plen);
	path[plen] = '\0';
	*flags = 0;
	*queues = 1;
	*poll_us = -1;
	while (comma) {
		const char *opt = comma + 1;
		comma = strchr(opt, ',');
		size_t n = comma ? (size_t)(comma - opt) : strlen(opt);
		if (n == 2 && !strncmp(opt, "ro", 2)) {
			*flags |= 1; /* CVMM_DISK_RO */
		} else if (n == 6 && !strncmp(opt, "direct", 6)) {
			*flags |= 2; /* CVMM_DISK_DIRECT */
		} else if (n > 7 && !strncmp(opt, "queues=", 7)) {
			char num[8];
			if (n - 7 >= sizeof(num))
				return -EINVAL;
			memcpy(num, opt + 7, n - 7);
			num[n - 7] = '\0';
			if (cli_parse_uint(num, 1, CVMM_MAX_QUEUES, queues) < 0)
				return -EINVAL;
		} else if (n >= 5 && !strncmp(opt, "poll=", 5)) {
			char num[12];
			unsigned us;
			if (n - 5 >= sizeof(num)) {
				*why = "poll=US is the largest polling window in microseconds, 0 "
				       "(off) to " CLI_STR(CVMM_DISK_POLL_MAX_US);
				return -EINVAL;
			}
			memcpy(num, opt + 5, n - 5);
			num[n - 5] = '\0';
			if (cli_parse_uint(num, 0, CVMM_DISK_POLL_MAX_US, &us) < 0) {
				*why = "poll=US is the largest polling window in microseconds, 0 "
				       "(off) to " CLI_STR(CVMM_DISK_POLL_MAX_US);
				return -EINVAL;
			}
			*poll_us = (int)us;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

int cli_parse_fs(const char *spec, char *tag, size_t taglen, char *path, size_t pathlen,
		 unsigned *flags)
{
	tag[0] = path[0] = '\0';
	*flags = 0;
	const char *opt = spec;
	while (opt) {
		const char *comma = strchr(opt, ',');
		size_t n = comma ? (size_t)(comma - opt) : strlen(opt);
		if (n == 2 && !strncmp(opt, "ro", 2)) {
			*flags |= 1; /* CVMM_FS_RO */
		} else if (n == 5 && !strncmp(opt, "xattr", 5)) {
			*flags |= 2; /* CVMM_FS_XATTR */
		} else if (n == 10 && !strncmp(opt, "privileged", 10)) {
			*flags |= 4; /* CVMM_FS_PRIVILEGED */
		} else if (n > 4 && !strncmp(opt, "tag=", 4)) {
			if (n - 4 > CVMM_FS_TAG_MAX || n - 4 >= taglen || tag[0])
				return -EINVAL;
			memcpy(tag, opt + 4, n - 4);
			tag[n - 4] = '\0';
		} else if (n > 5 && !strncmp(opt, "path=", 5)) {
			/* The path is the rest: it may hold commas, so it comes last
			 * but for trailing ",ro" and ",xattr". */
			const char *end = opt + strlen(opt);
			for (;;) {
				if (end - opt >= 8 && !strncmp(end - 3, ",ro", 3)) {
					end -= 3;
					*flags |= 1;
				} else if (end - opt >= 11 && !strncmp(end - 6, ",xattr", 6)) {
					end -= 6;
					*flags |= 2;
				} else if (end - opt >= 16 &&
					   !strncmp(end - 11, ",privileged", 11)) {
					end -= 11;
					*flags |= 4;
				} else {
					break;
				}
			}
			size_t pl = (size_t)(end - (opt + 5));
			if (pl == 0 || pl >= pathlen || path[0])
				return -EINVAL;
			memcpy(path, opt + 5, pl);
			path[pl] = '\0';
			break;
		} else {
			return -EINVAL;
		}
		opt = comma ? comma + 1 : NULL;
	}
	return tag[0] && path[0] ? 0 : -EINVAL;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int cli_parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return (mac[0] & 1) ? -EINVAL : 0; /* multicast */
}

/* Copies the n bytes at s into a NUL-terminated buffer. */
static int copy_field(char *dst, size_t dlen, const char *s, size_t n)
{
	if (n == 0 || n >= dlen)
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

#define NET_POLL_WHY                                                                               \
	"poll=US is the largest polling window of its TX queues in microseconds, 0 (off) "         \
	"to " CLI_STR(CVMM_NET_POLL_MAX_US)

int cli_parse_net(const char *spec, struct cvmm_net_config *out, char *target, size_t tlen,
		  int *poll_us, const char **why)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	target[0] = '\0';
	*poll_us = -1;
	const char *p = spec;
	bool first = true, listen = false;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 0)
			return -EINVAL;
		const char *eq = memchr(p, '=', n);
		size_t klen = eq ? (size_t)(eq - p) : n;
		const char *v = eq ? eq + 1 : NULL;
		size_t vlen = eq ? n - klen - 1 : 0;
		char val[256];
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(p, k, klen))
		if (v && copy_field(val, sizeof(val), v, vlen) < 0) {
			if (!first && KEY("poll"))
				*why = NET_POLL_WHY;
			return -EINVAL;
		}
		if (first && !v) { /* "tap0": the short form of tap=tap0 */
			if (copy_field(target, tlen, p, n) < 0)
				return -EINVAL;
			out->backend = CVMM_NET_TAP;
		} else if (first && (KEY("tap") || KEY("stream") || KEY("passt"))) {
			if (copy_field(target, tlen, v, vlen) < 0)
				return -EINVAL;
			out->backend = KEY("tap") ? CVMM_NET_TAP : CVMM_NET_STREAM;
		} else if (first && KEY("tapfd")) {
			unsigned fd;
			if (cli_parse_uint(val, 0, 1u << 30, &fd) < 0)
				return -EINVAL;
			out->fd = (int)fd;
			out->backend = CVMM_NET_TAPFD;
		} else if (!first && v && KEY("mac")) {
			if (cli_parse_mac(val, out->mac) < 0)
				return -EINVAL;
			out->has_mac = 1;
		} else if (!first && v && KEY("queues")) {
			if (cli_parse_uint(val, 1, CVMM_MAX_QUEUES, &out->queue_pairs) < 0)
				return -EINVAL;
		} else if (!first && !v && KEY("listen")) {
			listen = true;
		} else if (!first && v && KEY("rx-sched")) {
			if (strcmp(val, "batch") && strcmp(val, "other")) {
				*why = "rx-sched=batch (the default) or other: the RX workers' "
				       "scheduling policy";
				return -EINVAL;
			}
			out->rx_no_batch = !strcmp(val, "other");
		} else if (!first && v && KEY("poll")) {
			unsigned us;
			if (cli_parse_uint(val, 0, CVMM_NET_POLL_MAX_US, &us) < 0) {
				*why = NET_POLL_WHY;
				return -EINVAL;
			}
			*poll_us = (int)us;
		} else {
			return -EINVAL;
		}
#undef KEY
		first = false;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (listen) {
		if (out->backend != CVMM_NET_STREAM || !strncmp(spec, "passt=", 6))
			return -EINVAL;
		out->backend = CVMM_NET_STREAM_LISTEN;
	}
	if (out->queue_pairs > 1 && out->backend != CVMM_NET_TAP)
		return -EINVAL;
	out->target = target[0] ? target : NULL;
	return 0;
}

int cli_parse_balloon(const char *spec, uint32_t *mib, unsigned *flags, unsigned *stats_s)
{
	char buf[128];
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", spec);
	char *save = NULL, *t = strtok_r(buf, ",", &save);
	uint64_t bytes;
	if (!t || cli_parse_size(t, &bytes) < 0 || bytes % (1u << 20) || bytes >> 20 > UINT32_MAX)
		return -EINVAL;
	*mib = (uint32_t)(bytes >> 20);
	*flags = 0;
	*stats_s = 0;
	while ((t = strtok_r(NULL, ",", &save))) {
		if (!strcmp(t, "deflate-on-oom"))
			*flags |= CVMM_BALLOON_DEFLATE_ON_OOM;
		else if (!strcmp(t, "free-page-reporting"))
			*flags |= CVMM_BALLOON_FREE_PAGE_REPORTING;
		else if (strncmp(t, "stats=", 6) || cli_parse_uint(t + 6, 1, 65535, stats_s) < 0)
			return -EINVAL;
	}
	return 0;
}

int cli_parse_vsock(const char *spec, uint64_t *cid, char *path, size_t plen)
{
	bool have_cid = false, have_path = false;
	const char *p = spec;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (n > 4 && !strncmp(p, "cid=", 4) && !have_cid) {
			char num[16];
			unsigned v;
			if (copy_field(num, sizeof(num), p + 4, n - 4) < 0 ||
			    cli_parse_uint(num, CVMM_VSOCK_CID_MIN, CVMM_VSOCK_CID_MAX, &v) < 0)
				return -EINVAL;
			*cid = v;
			have_cid = true;
		} else if (n > 7 && !strncmp(p, "socket=", 7) && !have_path) {
			if (copy_field(path, plen, p + 7, n - 7) < 0)
				return -EINVAL;
			have_path = true;
		} else {
			return -EINVAL;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return have_cid && have_path ? 0 : -EINVAL;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cli_parse_transport(const char *s, int *out)
{
	if (!strcmp(s, "mmio"))
		*out = CVMM_TRANSPORT_MMIO;
	else if (!strcmp(s, "pci"))
		*out = CVMM_TRANSPORT_PCI;
	else
		return -EINVAL;
	return 0;
}

/* ---- the option table ------------------------------------------------ */

/* How an option's value is checked, and what it sets (at off in struct
 * cli_opts). */
enum cli_kind {
	CLI_FLAG, /* no value: a bool, true */
	CLI_STR,  /* a const char *, borrowed from argv; max: its length at most */
	CLI_UINT, /* an unsigned, decimal in min..max */
	CLI_SIZE, /* a uint64_t, cli_parse_size, not 0 */
	CLI_WORD, /* an int: the value of the one of words[] given */
	CLI_SPEC, /* spec() parses it into item n of an array of `size` bytes */
	CLI_U64,  /* a uint64_t, decimal */
};

struct cli_word {
	const char *word;
	int value;
};

/* A spec's parser: 0, or < 0 with (optionally) *why, a message to give
 * instead of "'VALUE' is not WHAT". */
typedef int cli_spec_fn(void *dst, const char *val, const char **why);

struct cli_opt {
	const char *lng;
	char shrt;
	enum cli_kind kind;
	bool vm; /* describes the VM: not with --config or --api-socket */
	size_t off;
	unsigned min, max;
	const struct cli_word *words; /* CLI_WORD: ends with a NULL word */
	cli_spec_fn *spec;	      /* CLI_SPEC */
	size_t size;		      /* CLI_SPEC: an item's */
	size_t count_off;	      /* CLI_SPEC: the unsigned counting the items */
	/* how many times it may be given (0: any, the last one counts), and
	 * what is said of one more: "at most TIMES NOUN" (times > 1), or the
	 * whole message (times 1) */
	unsigned times;
	const char *more;
	const char *what;   /* a bad value: "--OPT: 'VALUE' is not WHAT" */
	const char *refuse; /* an option cvmm knows but does not do: why */
};

#define DST(field) .off = offsetof(struct cli_opts, field)
/* A repeatable spec: items of the array `field`, their count in n_field,
 * as many as the array holds. */
#define CLI_ITEM(field) (((struct cli_opts *)0)->field[0])
#define LIST(field, n_field, spec_fn)                                                              \
	.kind = CLI_SPEC, .spec = (spec_fn), DST(field), .size = sizeof(CLI_ITEM(field)),          \
	.count_off = offsetof(struct cli_opts, n_field),                                           \
	.times = sizeof(((struct cli_opts *)0)->field) / sizeof(CLI_ITEM(field))

static int spec_disk(void *dst, const char *val, const char **why)
{
	static const char *const keys[] = {"bw", "iops"};
	struct cli_disk *d = dst;
	char rest[CLI_PATH_MAX + 64];
	int r = take_limits(val, true, keys, 2, &d->limit, rest, sizeof(rest), why);
	return r < 0 ? r
		     : cli_parse_disk(rest, d->path, sizeof(d->path), &d->flags, &d->queues,
				      &d->poll_us, why);
}

static int spec_net(void *dst, const char *val, const char **why)
{
	static const char *const keys[] = {"rx-bw", "rx-iops", "tx-bw", "tx-iops"};
	struct cli_net *n = dst;
	char rest[CLI_PATH_MAX + 64];
	int r = take_limits(val, true, keys, 4, n->limit, rest, sizeof(rest), why);
	return r < 0 ? r
		     : cli_parse_net(rest, &n->cfg, n->target, sizeof(n->target), &n->poll_us, why);
}

static int spec_rng_limit(void *dst, const char *val, const char **why)
{
	static const char *const keys[] = {"bw", "iops"};
	char rest[8];
	int r = take_limits(val, false, keys, 2, dst, rest, sizeof(rest), why);
	return r < 0 ? r : rest[0] ? -EINVAL : 0;
}

static int spec_fs(void *dst, const char *val, const char **why)
{
	struct cli_fs *f = dst;
	return cli_parse_fs(val, f->tag, sizeof(f->tag), f->path, sizeof(f->path), &f->flags);
}

static int spec_vsock(void *dst, const char *val, const char **why)
{
	struct cli_vsock *v = dst;
	int r = cli_parse_vsock(val, &v->cid, v->path, sizeof(v->path));
	if (r == 0 && strlen(v->path) > CVMM_VSOCK_PATH_MAX) {
		*why = "the socket path is longer than " CLI_STR(
			CVMM_VSOCK_PATH_MAX) " bytes (PATH_<port> must fit in a socket address)";
		return -ENAMETOOLONG;
	}
	return r;
}

static int spec_balloon(void *dst, const char *val, const char **why)
{
	struct cli_balloon *b = dst;
	int r = cli_parse_balloon(val, &b->mib, &b->flags, &b->stats_s);
	if (r == 0)
		b->set = true;
	else
		*why = "SIZE[,deflate-on-oom][,stats=SECONDS][,free-page-reporting] (SIZE whole "
		       "MiB, "
		       "SECONDS 1..65535)";
	return r;
}

static int spec_restore(void *dst, const char *val, const char **why)
{
	struct cli_restore *rs = dst;
	char buf[4 * CLI_PATH_MAX];
	if (strlen(val) >= sizeof(buf))
		return -ENAMETOOLONG;
	snprintf(buf, sizeof(buf), "%s", val);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		size_t n = strlen(t);
		unsigned i;
		if (!rs->dir[0]) {
			if (n >= sizeof(rs->dir))
				return -ENAMETOOLONG;
			memcpy(rs->dir, t, n + 1);
		} else if (!strcmp(t, "mem=file")) {
			rs->mem_backend = CVMM_MEM_FILE;
		} else if (!strcmp(t, "mem=lazy")) {
			rs->mem_backend = CVMM_MEM_LAZY;
		} else if (!strncmp(t, "mem=uffd:", 9) && t[9] && n - 9 < sizeof(rs->uffd)) {
			rs->mem_backend = CVMM_MEM_UFFD;
			memcpy(rs->uffd, t + 9, n - 8);
		} else if (!strcmp(t, "paused")) {
			rs->paused = true;
		} else if (!strcmp(t, "dirty")) {
			rs->dirty = true;
		} else if (!strcmp(t, "clock_realtime")) {
			rs->realtime = true;
		} else if (sscanf(t, "tap%u=", &i) == 1 && i < CVMM_MAX_NETS && strchr(t, '=')[1] &&
			   strlen(strchr(t, '=') + 1) < sizeof(rs->tap[0])) {
			snprintf(rs->tap[i], sizeof(rs->tap[i]), "%s", strchr(t, '=') + 1);
		} else if (sscanf(t, "disk%u=", &i) == 1 && i < CLI_RESTORE_DISKS &&
			   strchr(t, '=')[1] && strlen(strchr(t, '=') + 1) < sizeof(rs->disk[0])) {
			snprintf(rs->disk[i], sizeof(rs->disk[i]), "%s", strchr(t, '=') + 1);
		} else if (!strncmp(t, "vsock=", 6) && t[6] && n - 6 <= CVMM_VSOCK_PATH_MAX) {
			memcpy(rs->vsock, t + 6, n - 5);
		} else {
			*why = "unknown or malformed part (DIR[,mem=file|lazy|uffd:SOCKET][,paused]"
			       "[,dirty][,clock_realtime][,tapN=NAME][,vsock=PATH][,diskN=PATH])";
			return -EINVAL;
		}
	}
	return rs->dir[0] ? 0 : -EINVAL;
}

static int spec_user(void *dst, const char *val, const char **why)
{
	struct cli_user *u = dst;
	const char *colon = strchr(val, ':');
	char uid[16];
	size_t ul = colon ? (size_t)(colon - val) : 0;
	if (!colon || ul == 0 || ul >= sizeof(uid))
		return -EINVAL;
	memcpy(uid, val, ul);
	uid[ul] = 0;
	if (cli_parse_uint(uid, 0, 4294967294u, &u->uid) < 0 ||
	    cli_parse_uint(colon + 1, 0, 4294967294u, &u->gid) < 0)
		return -EINVAL;
	u->set = true;
	return 0;
}

static int spec_abs_path(void *dst, const char *val, const char **why)
{
	if (val[0] != '/')
		return -EINVAL;
	*(const char **)dst = val;
	return 0;
}

static const struct cli_word seccomp_words[] = {
	{"on", CVMM_SECCOMP_ON}, {"log", CVMM_SECCOMP_LOG}, {"off", CVMM_SECCOMP_OFF}, {0}};
static const struct cli_word log_words[] = {{"off", CVMM_LOG_OFF},
					    {"error", CVMM_LOG_ERROR},
					    {"warn", CVMM_LOG_WARN},
					    {"info", CVMM_LOG_INFO},
					    {"debug", CVMM_LOG_DEBUG},
					    {"trace", CVMM_LOG_TRACE},
					    {0}};
static const struct cli_word transport_words[] = {
	{"mmio", CVMM_TRANSPORT_MMIO}, {"pci", CVMM_TRANSPORT_PCI}, {0}};
static const struct cli_word huge_words[] = {
	{"none", CVMM_HUGE_NONE}, {"transparent", CVMM_HUGE_THP}, {"2M", CVMM_HUGE_2M}, {0}};

/* Every option: a row here, and its field in struct cli_opts. */
static const struct cli_opt cli_table[] = {
	{"kernel", 'k', CLI_STR, .vm = true, DST(kernel)},
	{"initrd", 'i', CLI_STR, .vm = true, DST(initrd)},
	{"cmdline", 'c', CLI_STR, .vm = true, DST(cmdline)},
	{"cpus", 0, CLI_UINT, .vm = true, DST(cpus), .min = 1, .max = 4096,
	 .what = "a number of vCPUs (1 or more)"},
	{"memory", 'm', CLI_SIZE, .vm = true, DST(memory), .what = "a size (e.g. 512M, 2G)"},
	{"help", 'h', CLI_FLAG, DST(help)},
	{"version", 'V', CLI_FLAG, DST(version)},
	{"debug-exit", 0, CLI_FLAG, .vm = true, DST(debug_exit)},
	{"disk", 'd', LIST(disks, ndisks, spec_disk), .vm = true, .more = "disks",
	 .what = "PATH[,ro][,direct][,queues=N][,bw=LIMIT][,iops=LIMIT][,poll=US]"},
	{"net", 'n', LIST(nets, nnets, spec_net), .vm = true, .more = "interfaces",
	 .what = "NAME, tap=NAME[,queues=N], tapfd=N, passt=PATH or stream=PATH[,listen] (each "
		 "with optional ,mac=XX:XX:XX:XX:XX:XX, ,rx-bw= ,rx-iops= ,tx-bw= ,tx-iops=, "
		 ",poll=US and ,rx-sched=batch|other)"},
	{"fs", 0, LIST(fs, nfs, spec_fs), .vm = true, .more = "shared directories",
	 .what = "tag=TAG,path=DIR[,ro][,xattr][,privileged] (TAG 1.." CLI_STR(
		 CVMM_FS_TAG_MAX) " bytes)"},
	{"vsock", 0, LIST(vsock, nvsock, spec_vsock), .vm = true, .more = "one vsock device per VM",
	 .what = "cid=N,socket=PATH (N from " CLI_STR(CVMM_VSOCK_CID_MIN) " to " CLI_STR(
		 CVMM_VSOCK_CID_MAX) ")"},
	{"config", 0, CLI_STR, DST(config), .times = 1, .more = "given twice"},
	{"api-socket", 0, CLI_STR, DST(api_socket), .min = 1,
	 .max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1, .times = 1, .more = "given twice",
	 .what = "a socket address"},
	{"seccomp", 0, CLI_WORD, DST(seccomp), .words = seccomp_words},
	{"user", 0, CLI_SPEC, DST(user), .spec = spec_user, .what = "UID:GID (numbers)"},
	{"chroot", 0, CLI_SPEC, DST(chroot), .spec = spec_abs_path, .what = "an absolute path"},
	{"snapshot-dir", 0, CLI_SPEC, DST(snapshot_dir), .spec = spec_abs_path,
	 .what = "an absolute path"},
	{"snapshot-merge", 0, CLI_STR, DST(merge), .min = 3, .times = 1, .more = "given twice",
	 .what = "BASE,DIFF (two memory files)"},
	{"transport", 0, CLI_WORD, .vm = true, DST(transport), .words = transport_words},
	{"huge-pages", 0, CLI_WORD, .vm = true, DST(huge_pages), .words = huge_words},
	{"rng", 0, CLI_FLAG, .vm = true, DST(rng)},
	{"balloon", 0, CLI_SPEC, .vm = true, DST(balloon), .spec = spec_balloon, .times = 1,
	 .more = "one balloon per VM"},
	{"rng-limit", 0, LIST(rng_limit, nrng_limit, spec_rng_limit), .vm = true,
	 .more = "given twice",
	 .what = "bw=LIMIT[,iops=LIMIT] (LIMIT: RATE or SIZE:REFILL_MS[:BURST])"},
	{"log-level", 0, CLI_WORD, DST(log_level), .words = log_words},
	{"print-jail", 0, CLI_FLAG, DST(print_jail)},
	{"restore", 0, CLI_SPEC, DST(restore), .spec = spec_restore, .times = 1,
	 .more = "given twice",
	 .what = "DIR[,mem=file|lazy|uffd:SOCKET][,paused][,dirty][,clock_realtime][,tapN=NAME][,"
		 "vsock=PATH][,diskN="
		 "PATH]"},
};
#define CLI_NOPTS (sizeof(cli_table) / sizeof(cli_table[0]))

static int spec_fc_level(void *dst, const char *val, const char **why)
{
	static const char *const levels[] = {"off",  "error", "warn",  "warning",
					     "info", "debug", "trace", NULL};
	for (const char *const *l = levels; *l; l++)
		if (!strcasecmp(val, *l)) {
			*(const char **)dst = val;
			return 0;
		}
	*why = "invalid value for the logger level: possible values are Error, Warning, Info, "
	       "Debug, Trace and Off";
	return -EINVAL;
}

static int spec_fc_id(void *dst, const char *val, const char **why)
{
	size_t n = strlen(val);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)val[i]) && val[i] != '-')
			n = 0;
	if (n == 0 || n > 64) {
		*why = "invalid instance id: 1 to 64 characters, each a letter, a digit or '-'";
		return -EINVAL;
	}
	*(const char **)dst = val;
	return 0;
}

#define FC_ONCE	     .times = 1, .more = "given more than once"
#define FCDST(field) DST(fc.field), FC_ONCE
/* Firecracker's command line (v1.12's flags). */
static const struct cli_opt fc_table[] = {
	{"api-sock", 0, CLI_STR, FCDST(api_sock), .min = 1,
	 .max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1, .what = "a socket address"},
	{"id", 0, CLI_SPEC, FCDST(id), .spec = spec_fc_id},
	{"config-file", 0, CLI_STR, FCDST(config_file)},
	{"no-api", 0, CLI_FLAG, FCDST(no_api)},
	{"boot-timer", 0, CLI_FLAG, FCDST(boot_timer)},
	{"level", 0, CLI_SPEC, FCDST(level), .spec = spec_fc_level},
	{"log-path", 0, CLI_STR, FCDST(log_path)},
	{"show-level", 0, CLI_FLAG, FCDST(show_level)},
	{"show-log-origin", 0, CLI_FLAG, FCDST(show_log_origin)},
	{"metrics-path", 0, CLI_STR, FCDST(metrics_path)},
	{"http-api-max-payload-size", 0, CLI_UINT, FCDST(max_payload), .min = 1024,
	 .max = 16u << 20, .what = "a size in bytes from 1024 to 16777216"},
	{"mmds-size-limit", 0, CLI_UINT, FCDST(mmds_size_limit), .max = 0xffffffffu,
	 .what = "a size in bytes"},
	{"metadata", 0, CLI_STR, FCDST(metadata)},
	{"no-seccomp", 0, CLI_FLAG, FCDST(no_seccomp)},
	{"start-time-us", 0, CLI_U64, FCDST(start_time_us), .what = "microseconds"},
	{"start-time-cpu-us", 0, CLI_U64, FCDST(start_time_cpu_us), .what = "microseconds"},
	{"parent-cpu-time-us", 0, CLI_U64, FCDST(parent_cpu_time_us), .what = "microseconds"},
	{"enable-pci", 0, CLI_FLAG, FCDST(enable_pci)},
	{"help", 'h', CLI_FLAG, DST(help)},
	{"version", 0, CLI_FLAG, DST(version)},
	/* refused by name: what they ask for cvmm does not do (yet) */
	{"seccomp-filter", 0, CLI_STR,
	 .refuse = "cvmm's seccomp filters are its own, one per "
		   "thread kind (docs/seccomp.md): a Firecracker "
		   "filter file cannot replace them"},
	{"module", 0, CLI_STR, .refuse = "cvmm's log has no modules to filter by"},
	{"snapshot-version", 0, CLI_FLAG, .refuse = "snapshots are not supported by cvmm yet"},
	{"describe-snapshot", 0, CLI_STR, .refuse = "snapshots are not supported by cvmm yet"},
};
#define FC_NOPTS (sizeof(fc_table) / sizeof(fc_table[0]))

/* "a, b or c" of a row's words, for its message. */
static void words_text(const struct cli_word *w, char *buf, size_t len)
{
	size_t at = 0;
	buf[0] = '\0';
	for (unsigned i = 0; w[i].word && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s",
				       i == 0	       ? ""
				       : w[i + 1].word ? ", "
						       : " or ",
				       w[i].word);
}

/* The one validator: checks val as row t says and stores it. seen: how
 * many times the option came before. */
static int cli_apply(const struct cli_opt *t, const char *val, unsigned seen, struct cli_opts *o,
		     char *err, size_t errlen)
{
	void *dst = (char *)o + t->off;
	if (t->refuse)
		return fail(err, errlen, "--%s: %s", t->lng, t->refuse);
	if (t->times == 1 && seen)
		return fail(err, errlen, "--%s: %s", t->lng, t->more);
	if (t->times > 1 && seen >= t->times)
		return fail(err, errlen, "--%s: at most %u %s", t->lng, t->times, t->more);
	switch (t->kind) {
	case CLI_FLAG:
		*(bool *)dst = true;
		return 0;
	case CLI_STR:
		if (t->max && (strlen(val) < t->min || strlen(val) > t->max))
			return fail(err, errlen, "--%s: the path must be %u..%u bytes (%s)", t->lng,
				    t->min, t->max, t->what);
		*(const char **)dst = val;
		return 0;
	case CLI_UINT:
		if (cli_parse_uint(val, t->min, t->max, dst) < 0)
			break;
		return 0;
	case CLI_SIZE:
		if (cli_parse_size(val, dst) < 0 || *(uint64_t *)dst == 0)
			break;
		return 0;
	case CLI_U64: {
		uint64_t v = 0;
		const char *p = val;
		for (; *p && isdigit((unsigned char)*p) && v <= (UINT64_MAX - 9) / 10; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		if (!*val || *p)
			break;
		*(uint64_t *)dst = v;
		return 0;
	}
	case CLI_WORD:
		for (const struct cli_word *w = t->words; w->word; w++) {
			if (!strcmp(val, w->word)) {
				*(int *)dst = w->value;
				return 0;
			}
		}
		char words[64];
		words_text(t->words, words, sizeof(words));
		return fail(err, errlen, "--%s: '%s' is not %s", t->lng, val, words);
	case CLI_SPEC: {
		const char *why = NULL;
		if (t->spec((char *)dst + seen * t->size, val, &why) < 0) {
			if (why)
				return fail(err, errlen, "--%s: %s", t->lng, why);
			break;
		}
		if (t->count_off)
			*(unsigned *)(void *)((char *)o + t->count_off) = seen + 1;
		return 0;
	}
	}
	return fail(err, errlen, "--%s: '%s' is not %s", t->lng, val, t->what);
}

/* Whether a is one of Firecracker's flags cvmm's own table lacks. */
static bool fc_flag(const char *a)
{
	if (a[0] != '-' || a[1] != '-')
		return false;
	const char *name = a + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	for (size_t t = 0; t < FC_NOPTS; t++)
		if (strlen(fc_table[t].lng) == len && !strncmp(fc_table[t].lng, name, len) &&
		    fc_table[t].shrt == 0 && strcmp(fc_table[t].lng, "version"))
			return true;
	return false;
}

/* argv against one table; seen has n entries. */
static int parse_table(const struct cli_opt *table, size_t n, unsigned *seen, int argc,
		       char *const argv[], struct cli_opts *o, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		size_t which = n;
		if (a[0] == '-' && a[1] == '-' && a[2]) {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			for (size_t t = 0; t < n; t++)
				if (strlen(table[t].lng) == len &&
				    !strncmp(table[t].lng, name, len))
					which = t;
			if (eq)
				val = eq + 1;
		} else if (a[0] == '-' && a[1] && !a[2]) {
			for (size_t t = 0; t < n; t++)
				if (table[t].shrt == a[1])
					which = t;
		} else {
			return fail(err, errlen, "unexpected argument '%s' (see --help)", a);
		}
		if (which == n)
			return fail(err, errlen,
				    o->fc.on ? "unknown option '%s': not one of Firecracker's "
					       "(see --help)"
					     : "unknown option '%s' (see --help)",
				    a);
		const struct cli_opt *t = &table[which];
		if (t->kind != CLI_FLAG && !val) {
			if (i + 1 >= argc)
				return fail(err, errlen, "option '%s' needs a value", a);
			val = argv[++i];
		} else if (t->kind == CLI_FLAG && val) {
			return fail(err, errlen, "option '%s' takes no value", a);
		}
		if (t->vm)
			o->vm_opts++; /* not --help, --version, nor the jail's */
		int r = cli_apply(t, val, seen[which]++, o, err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Firecracker's command line: its defaults and its rules. */
static int parse_fc(int argc, char *const argv[], struct cli_opts *o, char *err, size_t errlen)
{
	unsigned seen[FC_NOPTS] = {0};
	o->fc.on = true;
	o->fc.max_payload = CLI_FC_MAX_PAYLOAD;
	int r = parse_table(fc_table, FC_NOPTS, seen, argc, argv, o, err, errlen);
	if (r < 0)
		return r;
	if (o->help || o->version)
		return 0;
	if (o->fc.no_api && o->fc.api_sock)
		return fail(err, errlen, "--no-api: no API socket is served: give no --api-sock");
	if (o->fc.no_api && !o->fc.config_file)
		return fail(err, errlen,
			    "--no-api needs --config-file: the VM is configured "
			    "from it alone");
	if (!o->fc.no_api && !o->fc.api_sock)
		o->fc.api_sock = CLI_FC_API_SOCK;
	o->fc.start_time_set = o->fc.start_time_us != 0;
	if (o->fc.no_seccomp)
		o->seccomp = CVMM_SECCOMP_OFF;
	if (o->fc.enable_pci)
		o->transport = CVMM_TRANSPORT_PCI;
	return 0;
}

int cli_parse(int argc, char *const argv[], struct cli_opts *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->cpus = 1;
	o->memory = 256ULL << 20;
	o->log_level = CVMM_LOG_INFO;
	/* Firecracker's command line: by the program's name, or a flag only
	 * Firecracker has */
	const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : argc > 0 && argv[0] ? argv[0] : "";
	bool fc = !strcmp(base, "firecracker");
	for (int i = 1; i < argc && !fc; i++)
		fc = fc_flag(argv[i]);
	if (fc)
		return parse_fc(argc, argv, o, err, errlen);
	unsigned seen[CLI_NOPTS] = {0};
	int r = parse_table(cli_table, CLI_NOPTS, seen, argc, argv, o, err, errlen);
	if (r < 0)
		return r;
	if (o->config && o->vm_opts)
		return fail(err, errlen,
			    "--config describes the whole VM: give no other VM options with it");
	/* the transport is the one VM option the socket's VM may take */
	unsigned transport = 0;
	for (size_t t = 0; t < CLI_NOPTS; t++)
		if (cli_table[t].off == offsetof(struct cli_opts, transport))
			transport = seen[t];
	if (o->restore.dir[0] && (o->config || o->vm_opts))
		return fail(err, errlen,
			    "--restore: the snapshot describes the VM: give no VM options with it");
	if (o->api_socket && (o->config || o->vm_opts > transport))
		return fail(err, errlen,
			    "--api-socket: the VM is configured over the socket: give no other VM "
			    "options with it (but --transport)");
	if (o->merge && (o->vm_opts || o->config || o->api_socket || o->restore.dir[0]))
		return fail(err, errlen, "--snapshot-merge: give it alone");
	if (!o->help && !o->version && !o->print_jail && !o->kernel && !o->config &&
	    !o->api_socket && !o->restore.dir[0] && !o->merge)
		return fail(
			err, errlen,
			"no kernel given: use --kernel PATH, --config FILE or --api-socket PATH "
			"(see --help)");
	return 0;
}
