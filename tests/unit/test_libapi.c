/* SPDX-License-Identifier: MIT */
/* libcvmm's public API, error paths that need no KVM: every config setter's
 * refusals (errno and message, the message cleared by the next success),
 * and cvmm_vm_create failing before or at /dev/kvm. The VM calls on a
 * running VM are in tests/embed/two_vms.c (a KVM case).
 * usage: unit-libapi [GOOD_KERNEL] (a bootable image, e.g. mg-check.elf) */
#include <errno.h>
#include <setjmp.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "cvmm/cvmm.h"

static const char *good_kernel;
static char tmpdir[] = "/tmp/cvmm-libapi.XXXXXX";

/* r is -err and the message holds word; a good call then clears it. */
#define REFUSED(call, err, word)                                                                   \
	do {                                                                                       \
		int r_ = (call);                                                                   \
		if (r_ != -(err) || !strstr(cvmm_config_error(cfg), (word)))                       \
			fail_msg("%s -> %d '%s', wanted %d '%s'", #call, r_,                       \
				 cvmm_config_error(cfg), -(err), (word));                          \
		assert_int_equal(cvmm_config_set_cpus(cfg, 1), 0);                                 \
		assert_string_equal(cvmm_config_error(cfg), "");                                   \
	} while (0)

static void test_config_errors(void **state)
{
	(void)state;
	struct cvmm_config *cfg;
	char dir[256], file[256];
	snprintf(dir, sizeof(dir), "%s/share", tmpdir);
	snprintf(file, sizeof(file), "%s/file", tmpdir);
	assert_int_equal(cvmm_config_new(&cfg), 0);
	assert_string_equal(cvmm_config_error(cfg), "");
	REFUSED(cvmm_config_set_kernel(cfg, NULL), EINVAL, "kernel path");
	REFUSED(cvmm_config_set_kernel(cfg, ""), EINVAL, "kernel path");
	REFUSED(cvmm_config_set_initrd(cfg, ""), EINVAL, "initrd path");
	REFUSED(cvmm_config_set_cpus(cfg, 0), EINVAL, "cpus");
	REFUSED(cvmm_config_set_cpus(cfg, 255), EINVAL, "cpus");
	REFUSED(cvmm_config_set_memory(cfg, 1 << 20), EINVAL, "at least");
	REFUSED(cvmm_config_set_memory(cfg, (64 << 20) + 1), EINVAL, "4 KiB");
	REFUSED(cvmm_config_set_memory(cfg, 1ULL << 50), EINVAL, "too large");
	REFUSED(cvmm_config_set_console(cfg, -2, 1), EBADF, "console");
	REFUSED(cvmm_config_set_console_file(cfg, ""), EINVAL, "console file");
	REFUSED(cvmm_config_set_kick_signal(cfg, SIGINT), EINVAL, "kick signal");
	REFUSED(cvmm_config_set_kick_signal(cfg, SIGRTMAX + 1), EINVAL, "kick signal");
	assert_int_equal(cvmm_config_set_kick_signal(cfg, SIGRTMIN + 1), 0);
	assert_int_equal(cvmm_config_set_kick_signal(cfg, 0), 0);
	REFUSED(cvmm_config_set_transport(cfg, 3), EINVAL, "transport");
	REFUSED(cvmm_config_set_transport(cfg, -1), EINVAL, "transport");
	assert_int_equal(cvmm_config_set_transport(cfg, CVMM_TRANSPORT_MMIO), 0);
#ifdef __x86_64__
	assert_int_equal(cvmm_config_set_transport(cfg, CVMM_TRANSPORT_PCI), 0);
#else
	REFUSED(cvmm_config_set_transport(cfg, CVMM_TRANSPORT_PCI), EINVAL, "x86_64 only");
#endif
	assert_int_equal(cvmm_config_set_transport(cfg, CVMM_TRANSPORT_DEFAULT), 0);

	REFUSED(cvmm_config_add_disk(cfg, NULL, 0, 1), EINVAL, "disk path");
	REFUSED(cvmm_config_add_disk(cfg, "/d", 4, 1), EINVAL, "disk flags");
	REFUSED(cvmm_config_add_disk(cfg, "/d", 0, 0), EINVAL, "queues");
	REFUSED(cvmm_config_add_disk(cfg, "/d", 0, 9), EINVAL, "queues");
	/* as many disks as there are device slots (17 on x86_64, Kata attaches
	 * 9), and no more */
	assert_true(CVMM_MAX_DISKS >= 17);
	for (int i = 0; i < CVMM_MAX_DISKS; i++)
		assert_int_equal(cvmm_config_add_disk(cfg, "/d", CVMM_DISK_RO, 1), 0);
	char most[32];
	snprintf(most, sizeof(most), "at most %d disks", CVMM_MAX_DISKS);
	REFUSED(cvmm_config_add_disk(cfg, "/d", 0, 1), E2BIG, most);

	struct cvmm_net_config n = {.backend = CVMM_NET_TAP, .target = "tap0", .fd = -1};
	REFUSED(cvmm_config_add_net(cfg, NULL), EINVAL, "no net");
	n.backend = 99;
	REFUSED(cvmm_config_add_net(cfg, &n), EINVAL, "backend");
	n.backend = CVMM_NET_TAP;
	n.target = "";
	REFUSED(cvmm_config_add_net(cfg, &n), EINVAL, "tap name or socket path");
	n.backend = CVMM_NET_TAPFD;
	REFUSED(cvmm_config_add_net(cfg, &n), EBADF, "tapfd");
	n.backend = CVMM_NET_STREAM;
	n.target = "/s";
	n.queue_pairs = 2;
	REFUSED(cvmm_config_add_net(cfg, &n), EINVAL, "queue pairs");
	n.queue_pairs = 1;
	n.has_mac = 1;
	n.mac[0] = 0x01;
	REFUSED(cvmm_config_add_net(cfg, &n), EINVAL, "multicast");
	n.mac[0] = 0x52;
	for (int i = 0; i < 4; i++)
		assert_int_equal(cvmm_config_add_net(cfg, &n), 0);
	REFUSED(cvmm_config_add_net(cfg, &n), E2BIG, "at most 4");

	REFUSED(cvmm_config_add_fs(cfg, "", dir, 0), EINVAL, "tag");
	REFUSED(cvmm_config_add_fs(cfg, "0123456789012345678901234567890123456", dir, 0), EINVAL,
		"tag");
	REFUSED(cvmm_config_add_fs(cfg, "t", "", 0), EINVAL, "path");
	REFUSED(cvmm_config_add_fs(cfg, "t", dir, 8), EINVAL, "flags");
	REFUSED(cvmm_config_add_fs(cfg, "t", "/nonexistent-cvmm", 0), ENOENT, "nonexistent-cvmm");
	REFUSED(cvmm_config_add_fs(cfg, "t", file, 0), ENOTDIR, "not a directory");
	assert_int_equal(cvmm_config_add_fs(cfg, "t", dir, CVMM_FS_RO), 0);
	REFUSED(cvmm_config_add_fs(cfg, "t", dir, 0), EEXIST, "given twice");
	assert_int_equal(cvmm_config_add_fs(cfg, "u", dir, 0), 0);
	assert_int_equal(cvmm_config_add_fs(cfg, "v", dir, 0), 0);
	assert_int_equal(cvmm_config_add_fs(cfg, "w", dir, 0), 0);
	REFUSED(cvmm_config_add_fs(cfg, "x", dir, 0), E2BIG, "at most 4");

	REFUSED(cvmm_config_set_vsock(cfg, 2, "/v"), EINVAL, "cid");
	REFUSED(cvmm_config_set_vsock(cfg, 0xffffffffULL, "/v"), EINVAL, "cid");
	REFUSED(cvmm_config_set_vsock(cfg, 3, ""), EINVAL, "socket path");
	char longp[200];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	REFUSED(cvmm_config_set_vsock(cfg, 3, longp), ENAMETOOLONG, "longer than");
	cvmm_config_free(cfg);
	cvmm_config_free(NULL);
	cvmm_vm_destroy(NULL);
}

/* cvmm_vm_create fails with err and a message holding word; no VM. */
static void create_fails(struct cvmm_config *cfg, int err, const char *word)
{
	struct cvmm_vm *vm = (struct cvmm_vm *)cfg; /* not NULL */
	char msg[256] = "";
	int r = cvmm_vm_create(cfg, &vm, msg, sizeof(msg));
	if (r != -err || vm || !strstr(msg, word))
		fail_msg("create -> %d '%s', wanted %d '%s'", r, msg, -err, word);
	vm = (struct cvmm_vm *)cfg;
	assert_int_equal(cvmm_vm_create(cfg, &vm, NULL, 0), -err); /* no buffer: fine */
	assert_null(vm);
}

static void test_create_errors(void **state)
{
	(void)state;
	struct cvmm_config *cfg;
	char path[256];
	assert_int_equal(cvmm_config_new(&cfg), 0);
	create_fails(cfg, EINVAL, "no kernel");
	snprintf(path, sizeof(path), "%s/none", tmpdir);
	assert_int_equal(cvmm_config_set_kernel(cfg, path), 0);
	create_fails(cfg, ENOENT, "cannot open kernel");
	assert_int_equal(cvmm_config_set_kernel(cfg, tmpdir), 0);
	create_fails(cfg, EINVAL, "not a regular file");
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	assert_int_equal(cvmm_config_set_kernel(cfg, path), 0);
	create_fails(cfg, EINVAL, "kernel");
	snprintf(path, sizeof(path), "%s/no-dir/console", tmpdir);
	assert_int_equal(cvmm_config_set_console_file(cfg, path), 0);
	create_fails(cfg, ENOENT, "console file");
	assert_int_equal(cvmm_config_set_console(cfg, -1, -1), 0);
	snprintf(path, sizeof(path), "%s/no-disk", tmpdir);
	assert_int_equal(cvmm_config_add_disk(cfg, path, 0, 1), 0);
	create_fails(cfg, ENOENT, "no-disk");
	cvmm_config_free(cfg);
	/* every device slot a disk, and an rng: one device too many, said
	 * before any is opened */
	assert_int_equal(cvmm_config_new(&cfg), 0);
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	assert_int_equal(cvmm_config_set_kernel(cfg, path), 0);
	snprintf(path, sizeof(path), "%s/no-disk", tmpdir);
	for (int i = 0; i < CVMM_MAX_DEVICES; i++)
		assert_int_equal(cvmm_config_add_disk(cfg, path, CVMM_DISK_RO, 1), 0);
	assert_int_equal(cvmm_config_set_rng(cfg, 1), 0);
	char most[64];
	snprintf(most, sizeof(most), "%d virtio devices, at most %d", CVMM_MAX_DEVICES + 1,
		 CVMM_MAX_DEVICES);
	create_fails(cfg, E2BIG, most);
	assert_int_equal(cvmm_config_set_rng(cfg, 0), 0);
	create_fails(cfg, ENOENT, "no-disk"); /* they fit: the first is opened */
	cvmm_config_free(cfg);

	if (!good_kernel)
		return;
	/* a good kernel: the failure moves to /dev/kvm */
	assert_int_equal(cvmm_config_new(&cfg), 0);
	assert_int_equal(cvmm_config_set_kernel(cfg, good_kernel), 0);
	assert_int_equal(cvmm_config_set_memory(cfg, 64 << 20), 0);
	snprintf(path, sizeof(path), "%s/initrd-none", tmpdir);
	assert_int_equal(cvmm_config_set_initrd(cfg, path), 0);
	create_fails(cfg, ENOENT, "cannot open initrd");
	cvmm_config_free(cfg);
	assert_int_equal(cvmm_config_new(&cfg), 0);
	assert_int_equal(cvmm_config_set_kernel(cfg, good_kernel), 0);
	assert_int_equal(cvmm_config_set_memory(cfg, 64 << 20), 0);
	snprintf(path, sizeof(path), "%s/kvm-none", tmpdir);
	setenv("CVMM_KVM_DEVICE", path, 1);
	create_fails(cfg, ENOENT, "kvm-none");
	unsetenv("CVMM_KVM_DEVICE");
	cvmm_config_free(cfg);
}

static int setup(void **state)
{
	(void)state;
	char p[256];
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(p, sizeof(p), "%s/share", tmpdir);
	if (mkdir(p, 0700) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/file", tmpdir);
	FILE *f = fopen(p, "w");
	if (!f)
		return -1;
	fputs("not a kernel", f);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	good_kernel = argc > 1 ? argv[1] : NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_create_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
