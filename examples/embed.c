/* SPDX-License-Identifier: MIT */
/* A minimal manager on libcvmm: boots KERNEL [INITRD] with its console on
 * stdout (or in CONSOLE_FILE), waits for the guest to end, prints why.
 *   cc embed.c $(pkg-config --cflags --libs cvmm) -o embed
 *   ./embed bzImage initrd.img [console.log] */
#include <cvmm/cvmm.h>
#include <stdio.h>
#include <unistd.h>

static int fail(const char *what, const char *msg)
{
	fprintf(stderr, "embed: %s: %s\n", what, msg);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s KERNEL [INITRD [CONSOLE_FILE]]\n", argv[0]);
		return 2;
	}
	struct cvmm_config *cfg;
	if (cvmm_config_new(&cfg) < 0)
		return fail("config", "out of memory");
	if (cvmm_config_set_kernel(cfg, argv[1]) < 0 ||
	    (argc > 2 && cvmm_config_set_initrd(cfg, argv[2]) < 0) ||
	    cvmm_config_set_cmdline(cfg, "console=ttyS0 quiet panic=-1") < 0 ||
	    cvmm_config_set_cpus(cfg, 2) < 0 || cvmm_config_set_memory(cfg, 128u << 20) < 0 ||
	    (argc > 3 ? cvmm_config_set_console_file(cfg, argv[3])
		      : cvmm_config_set_console(cfg, -1, STDOUT_FILENO)) < 0) {
		int r = fail("config", cvmm_config_error(cfg));
		cvmm_config_free(cfg);
		return r;
	}
	struct cvmm_vm *vm;
	char err[256];
	int r = cvmm_vm_create(cfg, &vm, err, sizeof(err));
	cvmm_config_free(cfg); /* the VM keeps its own copy */
	if (r < 0)
		return fail("create", err);
	struct cvmm_exit ex = {0};
	if (cvmm_vm_start(vm) < 0 || cvmm_vm_wait(vm, &ex) < 0) {
		r = fail("run", cvmm_vm_error(vm));
		cvmm_vm_destroy(vm);
		return r;
	}
	struct cvmm_stats st;
	if (cvmm_vm_stats(vm, &st) == 0)
		fprintf(stderr, "embed: %s after %.1f s, %llu vCPU exits\n", ex.message,
			(double)st.uptime_ns / 1e9, (unsigned long long)st.exits_total);
	cvmm_vm_destroy(vm);
	return ex.reason == CVMM_EXIT_POWEROFF ? 0 : 1;
}
