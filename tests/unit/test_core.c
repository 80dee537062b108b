/* SPDX-License-Identifier: MIT */
/* Unit tests of the core pieces that need no KVM: bus dispatch, CPUID
 * filtering, CLI parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#ifdef __x86_64__
#include "arch/x86_64/cpuid.h"
#endif
#include "core/bus.h"
#include "vmm/cli/args.h"
#include "vmm/vm.h"

/* ---- bus ---- */

struct fake_dev {
	uint64_t last_off;
	unsigned last_len;
	uint8_t last_data[8];
	int reads, writes;
};

static void fake_read(void *d, uint64_t off, uint8_t *data, unsigned len)
{
	struct fake_dev *f = d;
	f->reads++;
	f->last_off = off;
	f->last_len = len;
	memset(data, 0x5a, len);
}

static void fake_write(void *d, uint64_t off, const uint8_t *data, unsigned len)
{
	struct fake_dev *f = d;
	f->writes++;
	f->last_off = off;
	f->last_len = len;
	memcpy(f->last_data, data, len);
}

static const struct bus_ops fake_ops = {.read = fake_read, .write = fake_write};

static void test_bus_dispatch(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev a = {0}, c = {0};
	assert_int_equal(bus_add(&b, 0x3f8, 8, &fake_ops, &a, "a"), 0);
	assert_int_equal(bus_add(&b, 0x60, 5, &fake_ops, &c, "c"), 0);
	/* overlaps and empty ranges are refused */
	assert_int_equal(bus_add(&b, 0x3fc, 8, &fake_ops, &a, "x"), -EINVAL);
	assert_int_equal(bus_add(&b, 0x3f0, 9, &fake_ops, &a, "x"), -EINVAL);
	assert_int_equal(bus_add(&b, 0x100, 0, &fake_ops, &a, "x"), -EINVAL);
	assert_int_equal(bus_add(&b, UINT64_MAX - 1, 4, &fake_ops, &a, "x"), -EINVAL);
	/* sorted: lookups find the right device and offset */
	uint8_t d[4] = {1, 2, 3, 4};
	assert_true(bus_write(&b, 0x3fb, d, 1));
	assert_int_equal(a.writes, 1);
	assert_int_equal(a.last_off, 3);
	assert_true(bus_write(&b, 0x64, d, 1));
	assert_int_equal(c.last_off, 4);
	/* an access straddling the end of a range is not dispatched */
	assert_false(bus_write(&b, 0x3fe, d, 4));
	assert_int_equal(a.writes, 1);
	/* unmapped reads give all-ones */
	uint8_t r[4] = {0};
	assert_false(bus_read(&b, 0x1000, r, 4));
	assert_int_equal(r[0], 0xff);
	assert_int_equal(r[3], 0xff);
	assert_true(bus_read(&b, 0x3f8, r, 2));
	assert_int_equal(r[0], 0x5a);
	assert_null(bus_find(&b, 0x400, 1));
	assert_non_null(bus_find(&b, 0x3ff, 1));
}

static void test_bus_full(void **state)
{
	(void)state;
	struct bus b = {0};
	struct fake_dev a = {0};
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_add(&b, 0x1000 - i * 16, 16, &fake_ops, &a, "r"), 0);
	assert_int_equal(bus_add(&b, 0x10000, 16, &fake_ops, &a, "r"), -ENOSPC);
	for (unsigned i = 1; i < b.n; i++)
		assert_true(b.r[i - 1].base < b.r[i].base);
}

/* ---- CPUID ---- */

#ifdef __x86_64__
static struct kvm_cpuid_entry2 *find(struct kvm_cpuid_entry2 *e, unsigned n, uint32_t fn,
				     uint32_t idx)
{
	for (unsigned i = 0; i < n; i++)
		if (e[i].function == fn && e[i].index == idx)
			return &e[i];
	return NULL;
}

static void test_cpuid_filter(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 e[16];
	memset(e, 0, sizeof(e));
	unsigned n = 0;
	e[n++] = (struct kvm_cpuid_entry2){.function = 1, .ebx = 0xff000800, .edx = 1u << 28};
	e[n++] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 0};
	e[n++] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 1};
	e[n++] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 2};
	e[n++] = (struct kvm_cpuid_entry2){.function = 4, .index = 0, .eax = 0x121};
	e[n++] = (struct kvm_cpuid_entry2){.function = 0x80000008, .ecx = 0x3f};
	assert_int_equal(x86_cpuid_filter(e, &n, 16, 3, 4, 2000000, 1), 0);
	struct kvm_cpuid_entry2 *l1 = find(e, n, 1, 0);
	assert_int_equal(l1->ebx >> 24, 3);	     /* APIC id */
	assert_int_equal((l1->ebx >> 16) & 0xff, 4); /* logical processors */
	assert_int_equal(l1->ebx & 0xffff, 0x0800);  /* CLFLUSH size kept */
	assert_true(l1->ecx & (1u << 31));	     /* hypervisor */
	assert_true(l1->ecx & (1u << 24));	     /* TSC deadline */
	assert_true(l1->edx & (1u << 28));
	assert_int_equal(find(e, n, 0xb, 0)->ebx, 1);
	assert_int_equal(find(e, n, 0xb, 1)->ebx, 4);
	assert_int_equal(find(e, n, 0xb, 1)->eax, 2); /* shift for 4 cores */
	assert_int_equal(find(e, n, 0xb, 1)->edx, 3);
	assert_int_equal((find(e, n, 0xb, 2)->ecx >> 8) & 0xff, 0); /* invalid level */
	assert_int_equal(find(e, n, 4, 0)->eax >> 26, 3);
	assert_int_equal(find(e, n, 0x80000008, 0)->ecx & 0xff, 3);
	struct kvm_cpuid_entry2 *sig = find(e, n, X86_CPUID_KVM_SIGNATURE, 0);
	assert_non_null(sig);
	char id[13] = {0};
	memcpy(id, &sig->ebx, 4);
	memcpy(id + 4, &sig->ecx, 4);
	memcpy(id + 8, &sig->edx, 4);
	assert_string_equal(id, "KVMKVMKVM");
	assert_non_null(find(e, n, X86_CPUID_KVM_FEATURES, 0));
	assert_int_equal(find(e, n, X86_CPUID_TIMING, 0)->eax, 2000000);
	assert_int_equal(sig->eax, X86_CPUID_TIMING);
}

static void test_cpuid_single_and_full(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 e[2];
	memset(e, 0, sizeof(e));
	unsigned n = 1;
	e[0] = (struct kvm_cpuid_entry2){.function = 1, .edx = 1u << 28};
	/* one vCPU: no HTT; no room for the KVM leaves -> -ENOSPC */
	assert_int_equal(x86_cpuid_filter(e, &n, 2, 0, 1, 0, 0), -ENOSPC);
	assert_false(e[0].edx & (1u << 28));
	assert_false(e[0].ecx & (1u << 24));
}
#endif

/* ---- CLI ---- */

/* cli_parse on argv = prog, then the arguments up to NULL. */
static int vparse(const char *prog, struct cli_opts *o, char *err, va_list ap)
{
	char *argv[32] = {(char *)prog};
	int argc = 1;
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	return cli_parse(argc, argv, o, err, 256);
}

static int parse(struct cli_opts *o, char *err, ...)
{
	va_list ap;
	va_start(ap, err);
	int r = vparse("cvmm", o, err, ap);
	va_end(ap);
	return r;
}

static void test_cli_ok(void **state)
{
	(void)state;
	struct cli_opts o;
	char err[256];
	assert_int_equal(parse(&o, err, "--kernel", "bz", "--initrd=ird", "--cpus", "2", "--memory",
			       "512M", "-c", "console=ttyS0 quiet", NULL),
			 0);
	assert_string_equal(o.kernel, "bz");
	assert_string_equal(o.initrd, "ird");
	assert_string_equal(o.cmdline, "console=ttyS0 quiet");
	assert_int_equal(o.cpus, 2);
	assert_int_equal(o.memory, 512ULL << 20);
	assert_int_equal(parse(&o, err, "--help", NULL), 0);
	assert_true(o.help);
	assert_int_equal(parse(&o, err, "-V", NULL), 0);
	assert_true(o.version);
	assert_int_equal(parse(&o, err, "--kernel", "bz", NULL), 0);
	assert_int_equal(o.transport, CVMM_TRANSPORT_DEFAULT);
	assert_int_equal(parse(&o, err, "--kernel", "bz", "--transport", "mmio", NULL), 0);
	assert_int_equal(o.transport, CVMM_TRANSPORT_MMIO);
	assert_int_equal(parse(&o, err, "--kernel", "bz", "--transport=pci", NULL), 0);
	assert_int_equal(o.transport, CVMM_TRANSPORT_PCI);
	assert_false(o.rng);
	assert_int_equal(parse(&o, err, "--kernel", "bz", "--rng", NULL), 0);
	assert_true(o.rng);
	/* a VM option: not with --config; and it takes no value */
	assert_true(parse(&o, err, "--config", "c.json", "--rng", NULL) < 0);
	assert_true(parse(&o, err, "--kernel", "bz", "--rng=1", NULL) < 0);
}

static void test_cli_bad(void **state)
{
	(void)state;
	struct cli_opts o;
	char err[256];
	assert_int_equal(parse(&o, err, NULL), -EINVAL);
	assert_non_null(strstr(err, "--kernel"));
	assert_int_equal(parse(&o, err, "--kernel", "k", "--cpus", "0", NULL), -EINVAL);
	assert_non_null(strstr(err, "--cpus"));
	assert_int_equal(parse(&o, err, "--kernel", "k", "--cpus", "two", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "--kernel", "k", "--cpus", "99999999999", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "--kernel", "k", "--memory", "0", NULL), -EINVAL);
	assert_non_null(strstr(err, "--memory"));
	assert_int_equal(parse(&o, err, "--kernel", "k", "--memory", "12Q", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "--kernel", "k", "--bogus", NULL), -EINVAL);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(parse(&o, err, "--kernel", NULL), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&o, err, "--help=yes", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "stray", NULL), -EINVAL);
	assert_int_equal(parse(&o, err, "--kernel", "k", "--transport", "isa", NULL), -EINVAL);
	assert_non_null(strstr(err, "--transport"));
}

/* --disk's poll=US: the largest polling window, 0 (off) up to
 * CVMM_DISK_POLL_MAX_US; not given: -1 (the library's default); anything
 * else refused with a message that says what it takes. */
static void test_cli_disk_poll(void **state)
{
	(void)state;
	struct cli_opts o;
	char err[256];
	assert_int_equal(parse(&o, err, "--kernel", "k", "--disk", "/d", NULL), 0);
	assert_int_equal(o.disks[0].poll_us, -1);
	assert_int_equal(parse(&o, err, "--kernel", "k", "--disk", "/d,poll=0", "--disk",
			       "/e,ro,poll=250,queues=2,iops=500", "--disk", "/f,poll=10000", NULL),
			 0);
	assert_int_equal(o.ndisks, 3);
	assert_int_equal(o.disks[0].poll_us, 0);
	assert_int_equal(o.disks[1].poll_us, 250);
	assert_string_equal(o.disks[1].path, "/e");
	assert_int_equal(o.disks[1].queues, 2);
	assert_int_equal(o.disks[1].flags, CVMM_DISK_RO);
	assert_int_equal(o.disks[1].limit.ops.size, 500);
	assert_int_equal(o.disks[2].poll_us, CVMM_DISK_POLL_MAX_US);
	const char *bad[] = {"/d,poll=",    "/d,poll=10001",	      "/d,poll=-1", "/d,poll=1e3",
			     "/d,poll=5us", "/d,poll=99999999999999", "/d,poll= 5"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (parse(&o, err, "--kernel", "k", "--disk", bad[i], NULL) != -EINVAL ||
		    !strstr(err, "--disk") || !strstr(err, "poll=US") || !strstr(err, "10000"))
			fail_msg("--disk %s: '%s'", bad[i], err);
	}
	/* a path that starts like the option is a path */
	assert_int_equal(parse(&o, err, "--kernel", "k", "--disk", "poll=5", NULL), 0);
	assert_string_equal(o.disks[0].path, "poll=5");
}

/* --net's poll=US: its TX workers' largest polling window, 0 (off) up to
 * CVMM_NET_POLL_MAX_US, beside the rate limits; not given: -1 (the
 * library's default); anything else refused with a message that names
 * the option and says what it takes. */
static void test_cli_net_poll(void **state)
{
	(void)state;
	struct cli_opts o;
	char err[256];
	assert_int_equal(parse(&o, err, "--kernel", "k", "--net", "tap0", NULL), 0);
	assert_int_equal(o.nets[0].poll_us, -1);
	assert_int_equal(parse(&o, err, "--kernel", "k", "--net", "tap=a,poll=0", "--net",
			       "tap=b,tx-iops=500,poll=250,queues=2", "--net",
			       "stream=/s,poll=10000", NULL),
			 0);
	assert_int_equal(o.nnets, 3);
	assert_int_equal(o.nets[0].poll_us, 0);
	assert_int_equal(o.nets[1].poll_us, 250);
	assert_string_equal(o.nets[1].cfg.target, "b");
	assert_int_equal(o.nets[1].cfg.queue_pairs, 2);
	assert_int_equal(o.nets[1].limit[1].ops.size, 500);
	assert_int_equal(o.nets[2].poll_us, CVMM_NET_POLL_MAX_US);
	/* rx-sched: batch (the default) or other */
	assert_int_equal(o.nets[0].cfg.rx_no_batch, 0);
	assert_int_equal(parse(&o, err, "--kernel", "k", "--net", "tap=a,rx-sched=other", "--net",
			       "tap=b,rx-sched=batch", NULL),
			 0);
	assert_int_equal(o.nets[0].cfg.rx_no_batch, 1);
	assert_int_equal(o.nets[1].cfg.rx_no_batch, 0);
	err[0] = 0;
	assert_int_equal(parse(&o, err, "--kernel", "k", "--net", "tap0,rx-sched=fast", NULL),
			 -EINVAL);
	assert_non_null(strstr(err, "rx-sched=batch"));
	const char *bad[] = {"tap0,poll=",    "tap0,poll=10001", "tap0,poll=-1",
			     "tap0,poll=1e3", "tap0,poll=5us",	 "tap0,poll=99999999999999",
			     "tap0,poll= 5"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (parse(&o, err, "--kernel", "k", "--net", bad[i], NULL) != -EINVAL ||
		    !strstr(err, "--net") || !strstr(err, "poll=US") || !strstr(err, "10000"))
			fail_msg("--net %s: '%s'", bad[i], err);
	}
}

/* --fs specs: flags in any order, a path holding commas, bad specs. */
static void test_cli_fs(void **state)
{
	(void)state;
	char tag[40], path[64];
	unsigned fl;
	assert_int_equal(cli_parse_fs("tag=t,path=/a", tag, sizeof(tag), path, sizeof(path), &fl),
			 0);
	assert_string_equal(tag, "t");
	assert_string_equal(path, "/a");
	assert_int_equal(fl, 0);
	assert_int_equal(cli_parse_fs("privileged,tag=t,path=/a,b,xattr,ro", tag, sizeof(tag), path,
				      sizeof(path), &fl),
			 0);
	assert_string_equal(path, "/a,b");
	assert_int_equal(fl, 1 | 2 | 4);
	assert_int_equal(
		cli_parse_fs("tag=t,path=/a,privileged", tag, sizeof(tag), path, sizeof(path), &fl),
		0);
	assert_string_equal(path, "/a");
	assert_int_equal(fl, 4);
	const char *bad[] = {"tag=t",
			     "path=/a",
			     "tag=t,path=,privileged",
			     "tag=t,priv,path=/a",
			     "privileged",
			     "tag=,path=/a",
			     ""};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cli_parse_fs(bad[i], tag, sizeof(tag), path, sizeof(path), &fl),
				 -EINVAL);
}

static void test_cli_sizes(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(cli_parse_size("256", &v), 0);
	assert_int_equal(v, 256ULL << 20);
	assert_int_equal(cli_parse_size("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(cli_parse_size("64KiB", &v), 0);
	assert_int_equal(v, 64ULL << 10);
	assert_int_equal(cli_parse_size("4096B", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli_parse_size("1g", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_not_equal(cli_parse_size("", &v), 0);
	assert_int_not_equal(cli_parse_size("-1G", &v), 0);
	assert_int_not_equal(cli_parse_size("1GG", &v), 0);
	assert_int_not_equal(cli_parse_size("99999999999999999999", &v), 0);
	assert_int_not_equal(cli_parse_size("17179869184T", &v), 0); /* overflows */
	unsigned u;
	assert_int_equal(cli_parse_uint("7", 1, 8, &u), 0);
	assert_int_equal(u, 7);
	assert_int_not_equal(cli_parse_uint("9", 1, 8, &u), 0);
	assert_int_not_equal(cli_parse_uint("+1", 1, 8, &u), 0);
}

/* ---- a VM's error and the vCPU kick ---- */

static void test_err_shared_per_call(void **state)
{
	(void)state;
	struct err_shared s;
	struct err e;
	err_shared_init(&s);
	/* a failed pause, then a failed resume: the resume's own message */
	err_shared_begin(&s);
	assert_int_equal(err_shared_set(&s, EALREADY, "VM already paused"), -EALREADY);
	assert_int_equal(err_shared_set(&s, EIO, "second"), -EIO); /* first of a call sticks */
	err_shared_get(&s, &e);
	assert_string_equal(e.msg, "VM already paused");
	err_shared_begin(&s);
	err_shared_set(&s, EINVAL, "VM is not paused");
	err_shared_get(&s, &e);
	assert_string_equal(e.msg, "VM is not paused");
	assert_int_equal(e.code, -EINVAL);
	/* a call that succeeds leaves no message behind */
	err_shared_begin(&s);
	err_shared_get(&s, &e);
	assert_string_equal(e.msg, "");
	assert_int_equal(e.code, 0);
	/* a call's own struct err, published */
	struct err mine = {0};
	err_set(&mine, EPERM, "from a helper");
	assert_int_equal(err_shared_put(&s, &mine), -EPERM);
	err_shared_get(&s, &e);
	assert_string_equal(e.msg, "from a helper");
	err_shared_destroy(&s);
}

/* Firecracker's command line (v1.12's flags, facts from its main.rs):
 * chosen by the program's name or by one of its flags; its defaults; its
 * rules; what cvmm refuses by name. */
static int parse_as(const char *prog, struct cli_opts *o, char *err, ...)
{
	va_list ap;
	va_start(ap, err);
	int r = vparse(prog, o, err, ap);
	va_end(ap);
	return r;
}

static void test_cli_firecracker(void **state)
{
	(void)state;
	struct cli_opts o;
	char err[256];
	/* by name: no flag at all serves the default socket */
	assert_int_equal(parse_as("/usr/local/bin/firecracker", &o, err, NULL), 0);
	assert_true(o.fc.on);
	assert_string_equal(o.fc.api_sock, "/run/firecracker.socket");
	assert_int_equal(o.fc.max_payload, 51200);
	assert_int_equal(o.transport, CVMM_TRANSPORT_DEFAULT);
	assert_int_equal(o.seccomp, CVMM_SECCOMP_ON);
	/* by a flag, under cvmm's name: Kata's Go runtime's launch line */
	assert_int_equal(parse_as("cvmm", &o, err, "--api-sock", "/run/vc/fc/x/root/run/fc.sock",
				  "--config-file", "/run/vc/fc/x/root/fcConfig.json", NULL),
			 0);
	assert_true(o.fc.on);
	assert_string_equal(o.fc.api_sock, "/run/vc/fc/x/root/run/fc.sock");
	assert_string_equal(o.fc.config_file, "/run/vc/fc/x/root/fcConfig.json");
	/* firecracker-go-sdk's: --api-sock, --id, --seccomp-level gone in
	 * v1.0; --no-seccomp and the start times */
	assert_int_equal(parse_as("firecracker", &o, err, "--api-sock", "s", "--id", "vm-1",
				  "--no-seccomp", "--start-time-us", "1700000000000000",
				  "--start-time-cpu-us", "12", "--parent-cpu-time-us", "34", NULL),
			 0);
	assert_string_equal(o.fc.id, "vm-1");
	assert_int_equal(o.seccomp, CVMM_SECCOMP_OFF);
	assert_true(o.fc.start_time_us == 1700000000000000ULL);
	assert_true(o.fc.parent_cpu_time_us == 34);
	/* the logger and metrics flags, and --enable-pci */
	assert_int_equal(parse_as("firecracker", &o, err, "--level", "Warning", "--log-path",
				  "/tmp/l", "--show-level", "--show-log-origin", "--metrics-path",
				  "/tmp/m", "--enable-pci", "--http-api-max-payload-size",
				  "1048576", "--mmds-size-limit", "4096", NULL),
			 0);
	assert_string_equal(o.fc.level, "Warning");
	assert_true(o.fc.show_level && o.fc.show_log_origin);
	assert_string_equal(o.fc.metrics_path, "/tmp/m");
	assert_int_equal(o.transport, CVMM_TRANSPORT_PCI);
	assert_int_equal(o.fc.max_payload, 1048576);
	/* --no-api: with --config-file only, and then no socket */
	assert_int_equal(
		parse_as("firecracker", &o, err, "--no-api", "--config-file", "c.json", NULL), 0);
	assert_null(o.fc.api_sock);
	assert_int_equal(parse_as("firecracker", &o, err, "--no-api", NULL), -EINVAL);
	assert_non_null(strstr(err, "--config-file"));
	assert_int_equal(parse_as("firecracker", &o, err, "--no-api", "--config-file", "c",
				  "--api-sock", "s", NULL),
			 -EINVAL);
	/* --version under either name */
	assert_int_equal(parse_as("firecracker", &o, err, "--version", NULL), 0);
	assert_true(o.version && o.fc.on);
	/* Firecracker's rules: a flag twice, a bad id, a bad level, a value
	 * missing, cvmm's own VM flags */
	assert_int_equal(parse_as("firecracker", &o, err, "--id", "a", "--id", "b", NULL), -EINVAL);
	assert_non_null(strstr(err, "more than once"));
	assert_int_equal(parse_as("firecracker", &o, err, "--id", "bad_id", NULL), -EINVAL);
	assert_int_equal(parse_as("firecracker", &o, err, "--id",
				  "a234567890123456789012345678901234567890123456789012345678901234"
				  "5",
				  NULL),
			 -EINVAL);
	assert_int_equal(parse_as("firecracker", &o, err, "--level", "loud", NULL), -EINVAL);
	assert_true(!strncmp(err, "--level:", 8));
	assert_int_equal(parse_as("firecracker", &o, err, "--api-sock", NULL), -EINVAL);
	assert_int_equal(parse_as("firecracker", &o, err, "--kernel", "bz", NULL), -EINVAL);
	assert_non_null(strstr(err, "'--kernel'"));
	assert_int_equal(parse_as("cvmm", &o, err, "--kernel", "bz", "--no-api", NULL), -EINVAL);
	assert_int_equal(parse_as("firecracker", &o, err, "--start-time-us", "-1", NULL), -EINVAL);
	assert_int_equal(
		parse_as("firecracker", &o, err, "--http-api-max-payload-size", "10", NULL),
		-EINVAL);
	/* refused by name, never ignored */
	static const char *const refused[] = {"--seccomp-filter", "--module",
					      "--describe-snapshot"};
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(parse_as("firecracker", &o, err, refused[i], "x", NULL), -EINVAL);
		assert_true(!strncmp(err, refused[i], strlen(refused[i])));
	}
	/* flintlock's launch line */
	assert_int_equal(parse_as("firecracker", &o, err, "--id", "uid1", "--boot-timer",
				  "--no-api", "--config-file", "/s/firecracker.cfg", "--metadata",
				  "/s/metadata.json", NULL),
			 0);
	assert_true(o.fc.boot_timer && o.fc.no_api);
	assert_string_equal(o.fc.metadata, "/s/metadata.json");
	assert_int_equal(parse_as("firecracker", &o, err, "--snapshot-version", NULL), -EINVAL);
	/* cvmm's own command line is unchanged by the name "cvmm" */
	assert_int_equal(parse_as("cvmm", &o, err, "--kernel", "bz", NULL), 0);
	assert_false(o.fc.on);
	/* and --transport goes with --api-socket, alone */
	assert_int_equal(
		parse_as("cvmm", &o, err, "--api-socket", "s", "--transport", "mmio", NULL), 0);
	assert_int_equal(o.transport, CVMM_TRANSPORT_MMIO);
	assert_int_equal(parse_as("cvmm", &o, err, "--api-socket", "s", "--cpus", "2", NULL),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus_dispatch),
		cmocka_unit_test(test_bus_full),
#ifdef __x86_64__
		cmocka_unit_test(test_cpuid_filter),
		cmocka_unit_test(test_cpuid_single_and_full),
#endif
		cmocka_unit_test(test_cli_ok),
		cmocka_unit_test(test_cli_bad),
		cmocka_unit_test(test_cli_firecracker),
		cmocka_unit_test(test_cli_sizes),
		cmocka_unit_test(test_cli_fs),
		cmocka_unit_test(test_cli_disk_poll),
		cmocka_unit_test(test_cli_net_poll),
		cmocka_unit_test(test_err_shared_per_call),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
