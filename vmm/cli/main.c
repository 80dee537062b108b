/* SPDX-License-Identifier: MIT */
/* The cvmm command: a thin client of libcvmm. Owns the terminal and the
 * process's signals; the library owns neither. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cvmm/cvmm.h"
#include "vmm/cli/api.h"
#include "vmm/cli/args.h"
#include "vmm/cli/config_json.h"

enum {
	EXIT_POWEROFF = 0,
	EXIT_SETUP = 1,
	EXIT_REBOOT = 2,
	EXIT_CRASH = 3,
	EXIT_RUNTIME = 4,
};

#define CTRL_A 0x01
#define CTRL_C 0x03

struct console {
	int in_fd;
	bool is_tty, raw;
	struct termios saved;
	bool escape;	      /* saw Ctrl-A */
	uint8_t pending[256]; /* input the UART FIFO had no room for yet */
	size_t npending;
	bool eof;
};

static void console_raw(struct console *c)
{
	c->is_tty = isatty(c->in_fd);
	if (!c->is_tty || tcgetattr(c->in_fd, &c->saved) < 0)
		return;
	struct termios t = c->saved;
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_oflag &= ~(tcflag_t)OPOST;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
	t.c_lflag |= ISIG; /* Ctrl-C stops the VM; Ctrl-A c passes one through */
	t.c_cc[VQUIT] = _POSIX_VDISABLE;
	t.c_cc[VSUSP] = _POSIX_VDISABLE;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(c->in_fd, TCSANOW, &t) == 0)
		c->raw = true;
}

static void console_restore(struct console *c)
{
	if (c->raw)
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
	c->raw = false;
}

/* Filters the escape sequences; returns false when the user asked to quit. */
static bool console_filter(struct console *c, const uint8_t *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = in[i];
		if (c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X')
				return false;
			if (b == 'c' || b == 'C')
				b = CTRL_C;
			else if (b != CTRL_A)
				continue;
		} else if (b == CTRL_A && c->is_tty) {
			c->escape = true;
			continue;
		}
		if (c->npending < sizeof(c->pending))
			c->pending[c->npending++] = b;
	}
	return true;
}

static void console_flush(struct console *c, struct cvmm_vm *vm)
{
	if (!c->npending)
		return;
	int n = cvmm_vm_console_input(vm, c->pending, c->npending);
	if (n > 0) {
		memmove(c->pending, c->pending + n, c->npending - (size_t)n);
		c->npending -= (size_t)n;
	}
}

static int exit_status(const struct cvmm_exit *ex, int signo)
{
	switch (ex->reason) {
	case CVMM_EXIT_POWEROFF:
		return EXIT_POWEROFF;
	case CVMM_EXIT_REBOOT:
		fprintf(stderr, "cvmm: %s\n", ex->message);
		return EXIT_REBOOT;
	case CVMM_EXIT_CRASH:
		fprintf(stderr, "cvmm: %s\n", ex->message);
		return EXIT_CRASH;
	case CVMM_EXIT_STOPPED:
		if (signo) {
			fprintf(stderr, "cvmm: stopped by %s\n", strsignal(signo));
			return 128 + signo;
		}
		return EXIT_POWEROFF;
	case CVMM_EXIT_DEBUG:
		return ex->code & 0xff;
	default:
		fprintf(stderr, "cvmm: %s\n", ex->message[0] ? ex->message : "VM failed");
		return EXIT_RUNTIME;
	}
}

/* Firecracker's exit statuses (its FcExitCode): the guest's own end,
 * power-off or reboot (the i8042 reset Ctrl-Alt-Del leads to), is 0; a
 * guest or KVM failure is 1 (GenericError); a signal is 128 + its number. */
static int fc_exit_status(const struct cvmm_exit *ex, int signo)
{
	switch (ex->reason) {
	case CVMM_EXIT_POWEROFF:
	case CVMM_EXIT_REBOOT:
		return 0;
	case CVMM_EXIT_STOPPED:
		if (signo) {
			fprintf(stderr, "cvmm: stopped by %s\n", strsignal(signo));
			return 128 + signo;
		}
		return 0;
	default:
		fprintf(stderr, "cvmm: %s\n", ex->message[0] ? ex->message : "VM failed");
		return 1;
	}
}

/* The jail's options on a VM's config: the filters' mode, and the
 * privilege drop cvmm_vm_create does once everything is open (always:
 * NO_NEW_PRIVS, capabilities, Landlock; --chroot and --user when given).
 * socket_dir: where the control socket is (it is removed at exit). */
static int jail_config(struct cvmm_config *cfg, const struct cli_opts *o, const char *socket_dir)
{
	int r = cvmm_config_set_seccomp(cfg, o->seccomp);
	if (r < 0)
		return r;
	struct cvmm_jail j = {.chroot_dir = o->chroot,
			      .set_ids = o->user.set,
			      .uid = o->user.uid,
			      .gid = o->user.gid,
			      .socket_dir = socket_dir,
			      /* the control socket's PATCH /drives */
			      .update_disks = socket_dir != NULL,
			      /* Firecracker's managers hot-plug files of their own */
			      .update_disks_anywhere = o->fc.on,
			      /* PUT /snapshot/create: anywhere in Firecracker's
			       * mode (an unjailed Firecracker's reach), else
			       * beneath --snapshot-dir only (none: no snapshots,
			       * and PATCH /drives stays confined to the disks'
			       * directories) */
			      .snapshot_dir = !socket_dir ? NULL
					      : o->fc.on  ? "/"
							  : o->snapshot_dir};
	return cvmm_config_set_jail(cfg, &j);
}

#ifdef CVMM_TEST_HOOKS
/* Test builds only (CVMM_TEST_ASAN=leak): a block nothing points to once
 * this returns, allocated after the control thread's filter: the ASan
 * cases check that LeakSanitizer, jailed, reports it at exit. */
static __attribute__((noinline)) void test_leak(void)
{
	char *volatile p = malloc(4242);
	if (p)
		p[0] = 1;
	p = NULL;
}
#endif

/* The control thread's own filter, once the VM runs. */
static int jail_control(struct cvmm_vm *vm, int listen_fd)
{
	if (cvmm_vm_jail_control_thread(vm, listen_fd) < 0) {
		fprintf(stderr, "cvmm: %s\n", cvmm_vm_error(vm));
		return -1;
	}
#ifdef CVMM_TEST_HOOKS
	const char *t = getenv("CVMM_TEST_SECCOMP_VIOLATION");
	if (t && !strcmp(t, "main"))
		(void)getppid(); /* test builds only: must be killed by SIGSYS */
	t = getenv("CVMM_TEST_ASAN");
	if (t && !strcmp(t, "leak"))
		test_leak(); /* test builds only: LeakSanitizer must report it at exit */
#endif
	return 0;
}

/* The VM the control socket starts (api.h's ops on libcvmm). */
struct api_vm {
	struct cvmm_vm *vm;	     /* owned; NULL until InstanceStart */
	const struct cli_opts *opts; /* borrowed: the jail's options */
	char socket_dir[4096];	     /* the control socket's directory, "": none */
	int listen_fd;		     /* borrowed: the control socket */
	bool fc;		     /* Firecracker's command line: its exit statuses */
	int console_in, console_out; /* the VM's console (borrowed) */
};

/* A VM just built (InstanceStart, a snapshot load): its vCPUs started,
 * then the control thread's filter; on failure the VM is gone. */
static int api_vm_run(struct api_vm *av, char *err, size_t len)
{
	int r = cvmm_vm_start(av->vm);
	if (r == 0 && jail_control(av->vm, av->listen_fd) < 0)
		r = -EPERM;
	if (r < 0) {
		snprintf(err, len, "%s", cvmm_vm_error(av->vm));
		cvmm_vm_destroy(av->vm);
		av->vm = NULL;
	}
	return r;
}

static int api_vm_start(void *ctx, struct cvmm_config *cfg, char *err, size_t len)
{
	struct api_vm *av = ctx;
	int r = jail_config(cfg, av->opts, av->socket_dir[0] ? av->socket_dir : NULL);
	if (r < 0) {
		snprintf(err, len, "%s", cvmm_config_error(cfg));
		return r;
	}
	r = cvmm_vm_create(cfg, &av->vm, err, len);
	return r < 0 ? r : api_vm_run(av, err, len);
}

static int api_vm_result(struct api_vm *av, int r, char *err, size_t len)
{
	if (r < 0)
		snprintf(err, len, "%s", cvmm_vm_error(av->vm));
	return r;
}

static int api_vm_pause(void *ctx, char *err, size_t len)
{
	struct api_vm *av = ctx;
	return api_vm_result(av, cvmm_vm_pause(av->vm), err, len);
}

static int api_vm_resume(void *ctx, char *err, size_t len)
{
	struct api_vm *av = ctx;
	return api_vm_result(av, cvmm_vm_resume(av->vm), err, len);
}

static int api_vm_shutdown(void *ctx, char *err, size_t len)
{
	struct api_vm *av = ctx;
	return api_vm_result(av, cvmm_vm_send_ctrl_alt_del(av->vm), err, len);
}

static enum cvmm_vm_state api_vm_state(void *ctx)
{
	struct api_vm *av = ctx;
	return cvmm_vm_state(av->vm);
}

static int api_vm_stats(void *ctx, struct cvmm_stats *st)
{
	struct api_vm *av = ctx;
	return cvmm_vm_stats(av->vm, st);
}

static int api_vm_set_limiter(void *ctx, int kind, unsigned index,
			      const struct cvmm_rate_limiter *rx,
			      const struct cvmm_rate_limiter *tx, char *err, size_t len)
{
	struct api_vm *av = ctx;
	int r = kind == CVMM_DEVICE_DISK ? cvmm_vm_set_disk_limiter(av->vm, index, rx)
					 : cvmm_vm_set_net_limiter(av->vm, index, rx, tx);
	return api_vm_result(av, r, err, len);
}

static int api_vm_update_disk(void *ctx, unsigned index, const char *path, char *err, size_t len)
{
	struct api_vm *av = ctx;
	return api_vm_result(av, cvmm_vm_update_disk(av->vm, index, path), err, len);
}

static int api_vm_balloon(void *ctx, int op, uint32_t arg, struct cvmm_balloon_config *cfg,
			  struct cvmm_balloon_stats *st, char *err, size_t len)
{
	struct api_vm *av = ctx;
	int r = op == API_BALLOON_CONFIG   ? cvmm_vm_balloon_config(av->vm, cfg)
		: op == API_BALLOON_STATS  ? cvmm_vm_balloon_stats(av->vm, st)
		: op == API_BALLOON_TARGET ? cvmm_vm_set_balloon_target(av->vm, arg)
					   : cvmm_vm_set_balloon_stats_interval(av->vm, arg);
	return api_vm_result(av, r, err, len);
}

static int api_vm_metrics(void *ctx, struct cvmm_vcpu_metrics *vcpu,
			  struct cvmm_device_metrics *dev, unsigned max)
{
	struct api_vm *av = ctx;
	int r = cvmm_vm_vcpu_metrics(av->vm, vcpu);
	return r < 0 ? r : cvmm_vm_device_metrics(av->vm, dev, max);
}

static int api_vm_snapshot(void *ctx, const char *state, const char *mem, int type, const char *app,
			   char *err, size_t len)
{
	struct api_vm *av = ctx;
	return api_vm_result(av, cvmm_vm_snapshot(av->vm, state, mem, type, app, strlen(app)), err,
			     len);
}

/* A VM from a snapshot (PUT /snapshot/load, --restore): this process's
 * console and jail, the snapshot's devices and state. */
static int api_vm_restore(void *ctx, const struct cvmm_restore *rs, const char *console_path,
			  const struct cvmm_token_bucket *console_limit, char *err, size_t len)
{
	struct api_vm *av = ctx;
	struct cvmm_config *host;
	if (cvmm_config_new(&host) < 0) {
		snprintf(err, len, "out of memory");
		return -ENOMEM;
	}
	int r = console_path ? cvmm_config_set_console_file(host, console_path)
			     : cvmm_config_set_console(host, av->console_in, av->console_out);
	if (!r)
		r = cvmm_config_set_console_limiter(host, console_limit);
	if (!r)
		r = jail_config(host, av->opts, av->socket_dir[0] ? av->socket_dir : NULL);
	if (r < 0) {
		snprintf(err, len, "%s", cvmm_config_error(host));
		cvmm_config_free(host);
		return r;
	}
	r = cvmm_vm_restore(rs, host, &av->vm, err, len);
	cvmm_config_free(host);
	return r < 0 ? r : api_vm_run(av, err, len);
}

/* --restore's files and overrides; paths point into o (and bufs). */
static void restore_from_opts(const struct cli_opts *o, struct cvmm_restore *rs, char *state,
			      char *mem, size_t cap)
{
	const struct cli_restore *c = &o->restore;
	memset(rs, 0, sizeof(*rs));
	snprintf(state, cap, "%s/state", c->dir);
	snprintf(mem, cap, "%s/memory", c->dir);
	rs->state_path = state;
	rs->mem_backend = c->mem_backend;
	rs->mem_path = c->mem_backend == CVMM_MEM_UFFD ? c->uffd : mem;
	rs->paused = c->paused;
	rs->track_dirty = c->dirty;
	rs->clock_realtime = c->realtime;
	for (unsigned i = 0; i < CVMM_MAX_NETS; i++)
		rs->net_tap[i] = c->tap[i][0] ? c->tap[i] : NULL;
	rs->vsock_path = c->vsock[0] ? c->vsock : NULL;
	for (unsigned i = 0; i < CLI_RESTORE_DISKS; i++)
		rs->disk_path[i] = c->disk[i][0] ? c->disk[i] : NULL;
}

static int api_vm_mmds_put(void *ctx, const char *json, size_t len, char *err, size_t errlen)
{
	struct api_vm *av = ctx;
	int r = cvmm_vm_mmds_put(av->vm, json, len);
	if (r == -ENODEV)
		return r; /* no MMDS on the VM: not a failure */
	return api_vm_result(av, r, err, errlen);
}

static const struct api_ops api_vm_ops = {
	.mmds_put = api_vm_mmds_put,
	.snapshot = api_vm_snapshot,
	.restore = api_vm_restore,
	.start = api_vm_start,
	.pause = api_vm_pause,
	.resume = api_vm_resume,
	.shutdown = api_vm_shutdown,
	.state = api_vm_state,
	.stats = api_vm_stats,
	.update_disk = api_vm_update_disk,
	.set_limiter = api_vm_set_limiter,
	.metrics = api_vm_metrics,
	.balloon = api_vm_balloon,
};

/* The control loop: the VM's exit, signals, console input and (with
 * --api-socket) the control socket. av->vm may be NULL until the socket
 * starts it. */
static int run(struct api_vm *av, struct console *con, int sfd, struct api *api)
{
	int signo = 0;
	for (;;) {
		struct cvmm_vm *vm = av->vm;
		struct pollfd p[3 + API_MAX_CONNS + 1];
		bool con_in = vm && !con->eof && !con->npending;
		p[0] = (struct pollfd){.fd = vm ? cvmm_vm_exit_fd(vm) : -1, .events = POLLIN};
		p[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
		p[2] = (struct pollfd){.fd = con_in ? con->in_fd : -1, .events = POLLIN};
		unsigned n = 3;
		if (api)
			n += api_pollfds(api, p + 3, API_MAX_CONNS + 1);
		int tmo = vm && con->npending ? 10 : -1, at = api ? api_timeout_ms(api) : -1;
		if (at >= 0 && (tmo < 0 || at < tmo))
			tmo = at; /* the API's own work: its metrics flush */
		int r = poll(p, n, tmo);
		if (r < 0 && errno != EINTR)
			break;
		if (r < 0)
			continue;
		if (p[0].revents)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			ssize_t got = read(sfd, &si, sizeof(si));
#ifdef CVMM_TEST_HOOKS
			/* Test builds only: SIGUSR2 makes a new VM generation ID
			 * (tests/linux/cases.sh: vmgenid-small). */
			if (got == sizeof(si) && si.ssi_signo == SIGUSR2) {
				if (vm && cvmm_vm_new_generation_id(vm) < 0)
					fprintf(stderr, "cvmm: %s\n", cvmm_vm_error(vm));
				got = 0;
			}
#endif
			if (got == sizeof(si)) {
				signo = (int)si.ssi_signo;
				if (!vm) {
					fprintf(stderr, "cvmm: stopped by %s\n", strsignal(signo));
					return 128 + signo;
				}
				cvmm_vm_stop(vm);
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t buf[128];
			ssize_t k = read(con->in_fd, buf, sizeof(buf));
			if (k <= 0) {
				if (k == 0 || (errno != EINTR && errno != EAGAIN))
					con->eof = true;
			} else if (!console_filter(con, buf, (size_t)k)) {
				cvmm_vm_stop(vm);
			}
		}
		if (vm)
			console_flush(con, vm);
		if (api)
			api_service(api, p + 3, n - 3);
	}
	if (!av->vm) {
		fprintf(stderr, "cvmm: poll: %s\n", strerror(errno));
		return EXIT_RUNTIME;
	}
	struct cvmm_exit ex;
	memset(&ex, 0, sizeof(ex));
	if (cvmm_vm_wait(av->vm, &ex) < 0) {
		fprintf(stderr, "cvmm: %s\n", cvmm_vm_error(av->vm));
		return EXIT_RUNTIME;
	}
	return av->fc ? fc_exit_status(&ex, signo) : exit_status(&ex, signo);
}

static int config_from_opts(struct cvmm_config *cfg, const struct cli_opts *o)
{
	int r = cvmm_config_set_kernel(cfg, o->kernel);
	if (!r && o->initrd)
		r = cvmm_config_set_initrd(cfg, o->initrd);
	if (!r && o->cmdline)
		r = cvmm_config_set_cmdline(cfg, o->cmdline);
	if (!r)
		r = cvmm_config_set_cpus(cfg, o->cpus);
	if (!r)
		r = cvmm_config_set_memory(cfg, o->memory);
	if (!r)
		r = cvmm_config_set_console(cfg, STDIN_FILENO, STDOUT_FILENO);
	for (unsigned i = 0; !r && i < o->ndisks; i++) {
		r = cvmm_config_add_disk(cfg, o->disks[i].path, o->disks[i].flags,
					 o->disks[i].queues);
		if (!r)
			r = cvmm_config_set_disk_limiter(cfg, i, &o->disks[i].limit);
		if (!r && o->disks[i].poll_us >= 0)
			r = cvmm_config_set_disk_poll(cfg, i, (unsigned)o->disks[i].poll_us);
	}
	for (unsigned i = 0; !r && i < o->nnets; i++) {
		r = cvmm_config_add_net(cfg, &o->nets[i].cfg);
		if (!r)
			r = cvmm_config_set_net_limiter(cfg, i, &o->nets[i].limit[0],
							&o->nets[i].limit[1]);
		if (!r && o->nets[i].poll_us >= 0)
			r = cvmm_config_set_net_poll(cfg, i, (unsigned)o->nets[i].poll_us);
	}
	for (unsigned i = 0; !r && i < o->nfs; i++)
		r = cvmm_config_add_fs(cfg, o->fs[i].tag, o->fs[i].path, o->fs[i].flags);
	if (!r && o->nvsock)
		r = cvmm_config_set_vsock(cfg, o->vsock[0].cid, o->vsock[0].path);
	if (!r && o->debug_exit)
		r = cvmm_config_set_debug_exit(cfg, 1);
	if (!r && o->rng)
		r = cvmm_config_set_rng(cfg, 1);
	if (!r && o->balloon.set)
		r = cvmm_config_set_balloon(cfg, o->balloon.mib, o->balloon.flags,
					    o->balloon.stats_s);
	if (!r && o->nrng_limit)
		r = cvmm_config_set_rng_limiter(cfg, &o->rng_limit[0]);
	if (!r && o->transport)
		r = cvmm_config_set_transport(cfg, o->transport);
	if (!r && o->huge_pages)
		r = cvmm_config_set_huge_pages(cfg, o->huge_pages);
	return r;
}

/* A configuration file, CLI_CONFIG_MAX bytes at most, into buf (that
 * size + 1); *len its bytes. flag: the option, for the messages. */
static int read_config(const char *flag, const char *path, char *buf, size_t *lenp, char *err,
		       size_t errlen)
{
	size_t size = CLI_CONFIG_MAX + 1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open '%s': %s", flag, path, strerror(errno));
		return -errno;
	}
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int er = errno;
			snprintf(err, errlen, "%s: cannot read '%s': %s", flag, path, strerror(er));
			close(fd);
			return -er;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size)
			break;
	}
	close(fd);
	if (len > CLI_CONFIG_MAX) {
		snprintf(err, errlen, "%s: '%s' is larger than %u bytes", flag, path,
			 CLI_CONFIG_MAX);
		return -EFBIG;
	}
	*lenp = len;
	return 0;
}

/* --config FILE: read it (bounded) and apply it. */
static int config_from_file(struct cvmm_config *cfg, const char *path, char *err, size_t errlen)
{
	static char buf[CLI_CONFIG_MAX + 1];
	size_t len;
	int r = read_config("--config", path, buf, &len, err, errlen);
	if (r < 0)
		return r;
	r = cli_config_json(cfg, buf, len, err, errlen);
	if (r == 0)
		r = cvmm_config_set_console(cfg, STDIN_FILENO, STDOUT_FILENO);
	return r;
}

/* Signals become events on the control loop; vCPU threads block all. */
static int signals_fd(void)
{
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
#ifdef CVMM_TEST_HOOKS
	sigaddset(&sigs, SIGUSR2); /* a new VM generation ID (the control loop) */
#endif
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		fprintf(stderr, "cvmm: signalfd: %s\n", strerror(errno));
	return sfd;
}

/* Firecracker's --level, --log-path, --show-level, --show-log-origin and
 * --metrics-path: the PUT /logger and PUT /metrics they stand for. */
static int fc_logger_metrics(struct api *api, const struct cli_fc *fc, char *err, size_t errlen)
{
	int r = 0;
	if (fc->level || fc->log_path || fc->show_level || fc->show_log_origin) {
		struct json_object *o = json_object_new_object();
		if (fc->log_path)
			json_object_object_add(o, "log_path", json_object_new_string(fc->log_path));
		if (fc->level)
			json_object_object_add(o, "level", json_object_new_string(fc->level));
		if (fc->show_level)
			json_object_object_add(o, "show_level", json_object_new_boolean(1));
		if (fc->show_log_origin)
			json_object_object_add(o, "show_log_origin", json_object_new_boolean(1));
		r = api_call(api, "PUT", "/logger", json_object_to_json_string(o), "the logger",
			     err, errlen);
		json_object_put(o);
	}
	if (r == 0 && fc->metrics_path) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "metrics_path", json_object_new_string(fc->metrics_path));
		r = api_call(api, "PUT", "/metrics", json_object_to_json_string(o), "the metrics",
			     err, errlen);
		json_object_put(o);
	}
	return r;
}

/* --api-socket PATH, or Firecracker's command line: serve the control
 * socket (none with --no-api); the VM is whatever it, or Firecracker's
 * --config-file, configures and starts. cvmm exits when the VM does. */
static int main_api(const struct cli_opts *o)
{
	char err[640];
	const char *path = o->fc.on ? o->fc.api_sock : o->api_socket; /* NULL: --no-api */
	int sfd = signals_fd();
	if (sfd < 0)
		return EXIT_SETUP;
	struct api_vm av = {.vm = NULL,
			    .opts = o,
			    .listen_fd = -1,
			    .fc = o->fc.on,
			    .console_in = STDIN_FILENO,
			    .console_out = STDOUT_FILENO};
	if (path) {
		snprintf(av.socket_dir, sizeof(av.socket_dir), "%s", path);
		char *slash = strrchr(av.socket_dir, '/');
		if (slash == av.socket_dir)
			slash[1] = 0;
		else if (slash)
			*slash = 0;
		else
			snprintf(av.socket_dir, sizeof(av.socket_dir), ".");
	}
	struct api *api;
	if (api_new(&api, &api_vm_ops, &av, STDIN_FILENO, STDOUT_FILENO) < 0) {
		fprintf(stderr, "cvmm: out of memory\n");
		close(sfd);
		return EXIT_SETUP;
	}
	int r = 0;
	if (o->fc.on) {
		/* Firecracker's VM: virtio-mmio, as every manager's pci=off
		 * guest expects, unless --enable-pci */
		api_set_transport(api, o->fc.enable_pci ? CVMM_TRANSPORT_PCI : CVMM_TRANSPORT_MMIO);
		api_set_firecracker(api);
		if (o->fc.boot_timer)
			api_set_boot_timer(api);
		if (o->fc.id)
			cvmm_log_set_name(o->fc.id); /* Firecracker's lines carry it */
		if (o->fc.id && api_set_id(api, o->fc.id) < 0)
			r = snprintf(err, sizeof(err), "--id: invalid instance id") < 0 ? -1
											: -EINVAL;
		if (!r && api_set_max_body(api, o->fc.max_payload) < 0)
			r = snprintf(err, sizeof(err),
				     "--http-api-max-payload-size: out of range") < 0
				    ? -1
				    : -EINVAL;
		api_set_start_times(api, o->fc.start_time_us, o->fc.start_time_cpu_us,
				    o->fc.parent_cpu_time_us);
		api_set_mmds_limit(api, o->fc.mmds_size_limit);
		if (!r)
			r = fc_logger_metrics(api, &o->fc, err, sizeof(err));
	} else if (o->transport) {
		api_set_transport(api, o->transport);
	}
	/* Firecracker does not take over an existing socket path (its bind
	 * fails: exit 1); cvmm's own --api-socket replaces a stale socket */
	struct stat st;
	if (!r && path && o->fc.on && lstat(path, &st) == 0)
		r = snprintf(err, sizeof(err), "--api-sock: '%s' exists: %s", path,
			     strerror(EADDRINUSE)) < 0
			    ? -1
			    : -EADDRINUSE;
	if (!r && path)
		r = api_listen(api, path, err, sizeof(err));
	av.listen_fd = api_listen_fd(api);
	if (!r && o->fc.metadata) { /* MMDS's document, before the VM is configured */
		static char buf[CLI_CONFIG_MAX + 1];
		size_t len;
		r = read_config("--metadata", o->fc.metadata, buf, &len, err, sizeof(err));
		if (!r)
			buf[len] = '\0';
		if (!r)
			r = api_call(api, "PUT", "/mmds", buf, "--metadata", err, sizeof(err));
	}
	if (!r && o->fc.config_file) {
		static char buf[CLI_CONFIG_MAX + 1];
		size_t len;
		r = read_config("--config-file", o->fc.config_file, buf, &len, err, sizeof(err));
		if (!r) {
			char why[600];
			r = api_apply_config(api, buf, len, true, why, sizeof(why));
			if (r < 0)
				snprintf(err, sizeof(err), "--config-file: %s", why);
		}
	}
	if (!r && o->restore.dir[0]) {
		struct cvmm_restore rs;
		char state[CLI_PATH_MAX + 8], mem[CLI_PATH_MAX + 8];
		restore_from_opts(o, &rs, state, mem, sizeof(state));
		char why[600];
		if (api_restored_config(api, &rs, why, sizeof(why)) < 0)
			fprintf(stderr,
				"cvmm: warning: the snapshot's configuration: %s (the API "
				"knows no devices)\n",
				why);
		r = api_vm_restore(&av, &rs, NULL, NULL, err, sizeof(err));
		if (!r)
			api_set_started(api);
	}
	if (r < 0) {
		fprintf(stderr, "cvmm: %s\n", err);
		api_free(api);
		cvmm_vm_destroy(av.vm);
		close(sfd);
		return EXIT_SETUP; /* 1: Firecracker's GenericError too */
	}
	struct console con = {.in_fd = STDIN_FILENO};
	console_raw(&con);
	int status = run(&av, &con, sfd, api);
	console_restore(&con);
	api_free(api);
	cvmm_vm_destroy(av.vm);
	close(sfd);
	return status;
}

int main(int argc, char **argv)
{
	struct cli_opts o;
	char err[256];
	if (cli_parse(argc, argv, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "cvmm: %s\n", err);
		if (!o.fc.on)
			return EXIT_SETUP;
		/* Firecracker's: 152 (BadConfiguration) for a bad --level, 153
		 * (ArgParsing) for the rest */
		return !strncmp(err, "--level:", 8) ? CLI_FC_EXIT_ARGS - 1 : CLI_FC_EXIT_ARGS;
	}
	if (o.help) {
		fputs(o.fc.on ? cli_fc_usage : cli_usage, stdout);
		if (!o.fc.on)
			fputs(cli_usage_limits, stdout);
		return 0;
	}
	if (o.version) {
		/* Firecracker's first line (managers parse its second word),
		 * then cvmm's */
		if (o.fc.on)
			printf("Firecracker v%s\n", API_FC_VERSION);
		printf("cvmm %s%s\n", cvmm_version(),
		       o.fc.on ? " (Firecracker's command line and API, v" API_FC_VERSION ")" : "");
		return 0;
	}
	if (o.print_jail) {
		char *policy;
		if (cvmm_jail_policy(&policy) < 0) {
			fprintf(stderr, "cvmm: out of memory\n");
			return EXIT_SETUP;
		}
		fputs(policy, stdout);
		free(policy);
		return 0;
	}
	if (o.merge) {
		char base[4096];
		const char *comma = strchr(o.merge, ',');
		if (!comma || comma == o.merge || !comma[1] ||
		    (size_t)(comma - o.merge) >= sizeof(base)) {
			fprintf(stderr, "cvmm: --snapshot-merge: BASE,DIFF (two memory files)\n");
			return EXIT_SETUP;
		}
		snprintf(base, sizeof(base), "%.*s", (int)(comma - o.merge), o.merge);
		if (cvmm_snapshot_merge(base, comma + 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "cvmm: --snapshot-merge: %s\n", err);
			return EXIT_SETUP;
		}
		return 0;
	}
	(void)cvmm_log_set_level(o.log_level); /* libcvmm's messages: to stderr */
	/* The SIGSYS message (before any filter; libcvmm installs no handler). */
	if (o.seccomp != CVMM_SECCOMP_OFF && cvmm_jail_sigsys_install() < 0) {
		fprintf(stderr, "cvmm: cannot install the SIGSYS handler\n");
		return EXIT_SETUP;
	}
	if (o.api_socket || o.fc.on || o.restore.dir[0])
		return main_api(&o);
	struct cvmm_config *cfg;
	if (cvmm_config_new(&cfg) < 0) {
		fprintf(stderr, "cvmm: out of memory\n");
		return EXIT_SETUP;
	}
	if (o.config) {
		if (config_from_file(cfg, o.config, err, sizeof(err)) < 0) {
			fprintf(stderr, "cvmm: %s\n", err);
			cvmm_config_free(cfg);
			return EXIT_SETUP;
		}
	} else if (config_from_opts(cfg, &o) < 0) {
		fprintf(stderr, "cvmm: %s\n", cvmm_config_error(cfg));
		cvmm_config_free(cfg);
		return EXIT_SETUP;
	}
	if (jail_config(cfg, &o, NULL) < 0) {
		fprintf(stderr, "cvmm: %s\n", cvmm_config_error(cfg));
		cvmm_config_free(cfg);
		return EXIT_SETUP;
	}
	int sfd = signals_fd();
	if (sfd < 0) {
		cvmm_config_free(cfg);
		return EXIT_SETUP;
	}
	struct cvmm_vm *vm;
	int r = cvmm_vm_create(cfg, &vm, err, sizeof(err));
	cvmm_config_free(cfg);
	if (r < 0) {
		fprintf(stderr, "cvmm: %s\n", err);
		close(sfd);
		return EXIT_SETUP;
	}
	struct console con = {.in_fd = STDIN_FILENO};
	console_raw(&con);
	int status;
	struct api_vm av = {.vm = vm, .listen_fd = -1};
	if (cvmm_vm_start(vm) < 0) {
		fprintf(stderr, "cvmm: %s\n", cvmm_vm_error(vm));
		status = EXIT_RUNTIME;
	} else if (jail_control(vm, -1) < 0) {
		cvmm_vm_stop(vm);
		status = EXIT_RUNTIME;
	} else {
		status = run(&av, &con, sfd, NULL);
	}
	console_restore(&con);
	cvmm_vm_destroy(vm);
	close(sfd);
	return status;
}
