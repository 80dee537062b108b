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
	"  -k, --kernel PATH    bzImage, or ELF vmlinux with a PVH entry note\n"
	"  -i, --initrd PATH    initial ramdisk\n"
	"  -c, --cmdline STR    kernel command line (default: \"console=ttyS0 panic=1\")\n"
	"      --cpus N         number of vCPUs (default 1)\n"
	"  -m, --memory SIZE    guest memory: bytes with K/M/G suffix, or MiB (default 256M)\n"
	"  -d, --disk PATH[,ro][,direct][,queues=N]\n"
	"                       virtio-blk disk (repeatable, up to 8): ro opens it read-only,\n"
	"                       direct uses O_DIRECT, queues=1..8 request queues\n"
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
};

int cli_parse(int argc, char *const argv[], struct cli_opts *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	o->cpus = 1;
	o->memory = 256ULL << 20;
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
		}
	}
	if (!o->help && !o->version && !o->kernel)
		return fail(err, errlen, "no kernel given: use --kernel PATH (see --help)");
	return 0;
}
