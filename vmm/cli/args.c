/* SPDX-License-Identifier: MIT */
#include "vmm/cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char cli_usage[] =
	"usage: cvmm --kernel PATH [options]\n"
	"\n"
	"Boots a Linux guest under KVM; the guest's serial console is this terminal.\n"
	"\n"
	"  -k, --kernel PATH    bzImage, or ELF vmlinux with a PVH entry note (x86_64);\n"
	"                       an arm64 Image (aarch64)\n"
	"  -i, --initrd PATH    initial ramdisk\n"
	"  -c, --cmdline STR    kernel command line (default: \"console=ttyS0 panic=1\")\n"
	"      --cpus N         number of vCPUs (default 1)\n"
	"  -m, --memory SIZE    guest memory: bytes with K/M/G suffix, or MiB (default 256M)\n"
	"  -d, --disk PATH[,ro][,direct][,queues=N]\n"
	"                       virtio-blk disk (repeatable, up to 8): ro opens it read-only,\n"
	"                       direct uses O_DIRECT, queues=1..8 request queues\n"
	"  -n, --net SPEC       virtio-net interface (repeatable, up to 4). SPEC is one of\n"
	"                         NAME or tap=NAME[,queues=N]  a tap, opened or created\n"
	"                                (queues=1..8 pairs: a multi_queue tap)\n"
	"                         tapfd=N      an open tap passed in as descriptor N\n"
	"                         passt=PATH   connect to passt's socket (no root needed)\n"
	"                         stream=PATH[,listen]  a unix stream socket with length-\n"
	"                                prefixed frames (QEMU -netdev stream); listen\n"
	"                                creates it and waits for a peer (VM to VM)\n"
	"                       each with optional ,mac=52:54:00:xx:xx:xx (default: a stable\n"
	"                       address derived from the backend)\n"
	"      --fs tag=TAG,path=DIR[,ro][,xattr][,privileged]\n"
	"                       share the host directory DIR with the guest as virtio-fs\n"
	"                       (repeatable, up to 4): mount -t virtiofs TAG /mnt in the\n"
	"                       guest; TAG is 1..36 bytes; ro refuses every write; xattr\n"
	"                       serves extended attributes; privileged lets the guest's\n"
	"                       root change owners (keeps 4 ownership capabilities)\n"
	"      --vsock cid=N,socket=PATH\n"
	"                       virtio-vsock with the guest's CID N (3 or more); host side\n"
	"                       on unix sockets (Firecracker's protocol): clients of PATH\n"
	"                       write \"CONNECT <port>\\n\" to reach a guest port; guest\n"
	"                       connections to CID 2 port P go to PATH_P\n"
	"      --rng            virtio-rng: the guest's /dev/hwrng reads the host's getrandom\n"
	"      --config FILE    the whole VM as JSON (docs/api.md); no other VM options\n"
	"      --api-socket PATH\n"
	"                       serve Firecracker's HTTP API on the unix socket PATH and\n"
	"                       boot the VM it configures (docs/api.md)\n"
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
	case '\0': shift = 20; break; /* MiB, as QEMU's -m */
	case 'B': shift = 0; break;
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	default: return -EINVAL;
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

int cli_parse_disk(const char *spec, char *path, size_t pathlen, unsigned *flags,
		   unsigned *queues)
{
	const char *comma = strchr(spec, ',');
	size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);
	if (plen == 0 || plen >= pathlen)
		return -EINVAL;
	memcpy(path, spec, plen);
	path[plen] = '\0';
	*flags = 0;
	*queues = 1;
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
			if (cli_parse_uint(num, 1, 8, queues) < 0)
				return -EINVAL;
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
			if (n - 4 > 36 || n - 4 >= taglen || tag[0])
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
				} else if (end - opt >= 16 && !strncmp(end - 11, ",privileged", 11)) {
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

int cli_parse_net(const char *spec, struct cvmm_net_config *out, char *target, size_t tlen)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	target[0] = '\0';
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
		if (v && copy_field(val, sizeof(val), v, vlen) < 0)
			return -EINVAL;
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(p, k, klen))
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
			if (cli_parse_uint(val, 1, 8, &out->queue_pairs) < 0)
				return -EINVAL;
		} else if (!first && !v && KEY("listen")) {
			listen = true;
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
			    cli_parse_uint(num, 3, 0xfffffffeu, &v) < 0)
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

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen,
						      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Options that take a value, long and short names. */
static const struct {
	const char *lng;
	char shrt;
	bool has_arg;
} cli_table[] = {
	{ "kernel", 'k', true }, { "initrd", 'i', true }, { "cmdline", 'c', true },
	{ "cpus", 0, true },     { "memory", 'm', true }, { "help", 'h', false },
	{ "version", 'V', false }, { "debug-exit", 0, false }, { "disk", 'd', true },
	{ "net", 'n', true },    { "fs", 0, true },    { "vsock", 0, true },
	{ "config", 0, true },   { "api-socket", 0, true }, { "seccomp", 0, true },
	{ "user", 0, true },     { "chroot", 0, true },	   { "transport", 0, true },
	{ "rng", 0, false },     { "log-level", 0, true },
};

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

int cli_parse(int argc, char *const argv[], struct cli_opts *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->cpus = 1;
	o->memory = 256ULL << 20;
	o->log_level = CVMM_LOG_INFO;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		size_t which = sizeof(cli_table) / sizeof(cli_table[0]);
		if (a[0] == '-' && a[1] == '-' && a[2]) {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			for (size_t t = 0; t < sizeof(cli_table) / sizeof(cli_table[0]); t++)
				if (strlen(cli_table[t].lng) == len &&
				    !strncmp(cli_table[t].lng, name, len))
					which = t;
			if (eq)
				val = eq + 1;
		} else if (a[0] == '-' && a[1] && !a[2]) {
			for (size_t t = 0; t < sizeof(cli_table) / sizeof(cli_table[0]); t++)
				if (cli_table[t].shrt == a[1])
					which = t;
		} else {
			return fail(err, errlen, "unexpected argument '%s' (see --help)", a);
		}
		if (which == sizeof(cli_table) / sizeof(cli_table[0]))
			return fail(err, errlen, "unknown option '%s' (see --help)", a);
		if (cli_table[which].has_arg && !val) {
			if (i + 1 >= argc)
				return fail(err, errlen, "option '%s' needs a value", a);
			val = argv[++i];
		} else if (!cli_table[which].has_arg && val) {
			return fail(err, errlen, "option '%s' takes no value", a);
		}
		if (which <= 4 || (which >= 7 && which <= 13) || which == 17 || which == 18)
			o->vm_opts++; /* not --help, --version, nor the jail's */
		switch (which) {
		case 0: o->kernel = val; break;
		case 1: o->initrd = val; break;
		case 2: o->cmdline = val; break;
		case 3:
			if (cli_parse_uint(val, 1, 4096, &o->cpus) < 0)
				return fail(err, errlen,
					    "--cpus: '%s' is not a number of vCPUs (1 or more)", val);
			break;
		case 4:
			if (cli_parse_size(val, &o->memory) < 0 || o->memory == 0)
				return fail(err, errlen,
					    "--memory: '%s' is not a size (e.g. 512M, 2G)", val);
			break;
		case 5: o->help = true; break;
		case 6: o->version = true; break;
		case 7: o->debug_exit = true; break;
		case 8: {
			char path[4096];
			unsigned fl, q;
			if (o->ndisks >= sizeof(o->disks) / sizeof(o->disks[0]))
				return fail(err, errlen, "--disk: at most %zu disks",
					    sizeof(o->disks) / sizeof(o->disks[0]));
			if (cli_parse_disk(val, path, sizeof(path), &fl, &q) < 0)
				return fail(err, errlen,
					    "--disk: '%s' is not PATH[,ro][,direct][,queues=N]", val);
			o->disks[o->ndisks++] = val;
			break;
		}
		case 9: {
			char target[4096];
			struct cvmm_net_config nc;
			if (o->nnets >= sizeof(o->nets) / sizeof(o->nets[0]))
				return fail(err, errlen, "--net: at most %zu interfaces",
					    sizeof(o->nets) / sizeof(o->nets[0]));
			if (cli_parse_net(val, &nc, target, sizeof(target)) < 0)
				return fail(err, errlen,
					    "--net: '%s' is not NAME, tap=NAME[,queues=N], tapfd=N, "
					    "passt=PATH or stream=PATH[,listen] (each with optional "
					    ",mac=XX:XX:XX:XX:XX:XX)", val);
			o->nets[o->nnets++] = val;
			break;
		}
		case 10: {
			char tag[64], path[4096];
			unsigned fl;
			if (o->nfs >= sizeof(o->fs) / sizeof(o->fs[0]))
				return fail(err, errlen, "--fs: at most %zu shared directories",
					    sizeof(o->fs) / sizeof(o->fs[0]));
			if (cli_parse_fs(val, tag, sizeof(tag), path, sizeof(path), &fl) < 0)
				return fail(err, errlen,
					    "--fs: '%s' is not tag=TAG,path=DIR[,ro][,xattr][,privileged] (TAG 1..36 "
					    "bytes)", val);
			o->fs[o->nfs++] = val;
			break;
		}
		case 11: {
			char path[4096];
			uint64_t cid;
			if (o->vsock)
				return fail(err, errlen, "--vsock: one vsock device per VM");
			if (cli_parse_vsock(val, &cid, path, sizeof(path)) < 0)
				return fail(err, errlen,
					    "--vsock: '%s' is not cid=N,socket=PATH (N from 3 to "
					    "4294967294)", val);
			if (strlen(path) > 96)
				return fail(err, errlen,
					    "--vsock: the socket path is longer than 96 bytes "
					    "(PATH_<port> must fit in a socket address)");
			o->vsock = val;
			break;
		}
		case 12:
			if (o->config)
				return fail(err, errlen, "--config: given twice");
			o->config = val;
			o->vm_opts--;
			break;
		case 13:
			if (o->api_socket)
				return fail(err, errlen, "--api-socket: given twice");
			if (!*val || strlen(val) >= 108)
				return fail(err, errlen,
					    "--api-socket: the path must be 1..107 bytes (a socket "
					    "address)");
			o->api_socket = val;
			o->vm_opts--;
			break;
		case 14:
			if (!strcmp(val, "on"))
				o->seccomp = CVMM_SECCOMP_ON;
			else if (!strcmp(val, "log"))
				o->seccomp = CVMM_SECCOMP_LOG;
			else if (!strcmp(val, "off"))
				o->seccomp = CVMM_SECCOMP_OFF;
			else
				return fail(err, errlen, "--seccomp: '%s' is not on, log or off", val);
			break;
		case 15: {
			const char *colon = strchr(val, ':');
			char uid[16];
			size_t ul = colon ? (size_t)(colon - val) : 0;
			if (!colon || ul == 0 || ul >= sizeof(uid))
				return fail(err, errlen, "--user: '%s' is not UID:GID (numbers)", val);
			memcpy(uid, val, ul);
			uid[ul] = 0;
			if (cli_parse_uint(uid, 0, 4294967294u, &o->uid) < 0 ||
			    cli_parse_uint(colon + 1, 0, 4294967294u, &o->gid) < 0)
				return fail(err, errlen, "--user: '%s' is not UID:GID (numbers)", val);
			o->set_ids = true;
			break;
		}
		case 16:
			if (val[0] != '/')
				return fail(err, errlen, "--chroot: '%s' is not an absolute path", val);
			o->chroot = val;
			break;
		case 17:
			if (cli_parse_transport(val, &o->transport) < 0)
				return fail(err, errlen, "--transport: '%s' is not mmio or pci", val);
			break;
		case 18: o->rng = true; break;
		case 19: {
			static const char *const levels[] = { "off", "error", "warn",
							      "info", "debug", "trace" };
			int l = -1;
			for (int k = 0; k < (int)(sizeof(levels) / sizeof(levels[0])); k++)
				if (!strcmp(val, levels[k]))
					l = k; /* CVMM_LOG_OFF.. in that order */
			if (l < 0)
				return fail(err, errlen,
					    "--log-level: '%s' is not off, error, warn, info, debug or trace",
					    val);
			o->log_level = l;
			break;
		}
		}
	}
	if (o->config && o->vm_opts)
		return fail(err, errlen,
			    "--config describes the whole VM: give no other VM options with it");
	if (o->api_socket && (o->config || o->vm_opts))
		return fail(err, errlen,
			    "--api-socket: the VM is configured over the socket: give no other VM "
			    "options with it");
	if (!o->help && !o->version && !o->kernel && !o->config && !o->api_socket)
		return fail(err, errlen,
			    "no kernel given: use --kernel PATH, --config FILE or --api-socket PATH "
			    "(see --help)");
	return 0;
}
