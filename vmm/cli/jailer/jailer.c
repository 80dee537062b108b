/* SPDX-License-Identifier: MIT */
/* cvmm-jailer (installed as `jailer`): Firecracker's jailer contract
 * (docs/jailer.md) for cvmm. Runs a VMM in a chroot of its own that is the
 * root of a new mount namespace (pivot_root: the host's mounts are gone, not
 * hidden), optionally in a network and a new PID namespace, in a cgroup of
 * its own (v1 or v2), with resource limits, as an unprivileged uid/gid.
 *
 * A separate small program, not cvmm under another name: it needs nothing
 * of libcvmm (it only execs the VMM), it runs as root on the host where cvmm
 * itself never needs to, and its own code stays out of the VMM's address
 * space and out of its seccomp tables.
 *
 * Order: everything that can be checked or opened is, before anything is
 * made (the exec file, the base, the netns, the cgroup hierarchies); then the
 * chroot is built, the limits set, the cgroup made and joined, the mount
 * namespace entered; then (optionally) daemonize / fork into the PID
 * namespace, the pid file, the drop to uid/gid, execve. Everything made is
 * remembered by descriptor (a parent directory's and a name), so a failure
 * after pivot_root still removes it; the process is moved back to its
 * cgroups first. One class of failure, one exit status (jailer_args.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <elf.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "vmm/cli/jailer/jailer_args.h"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT		 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define MAX_MADE	32 /* things made, each undone on failure */
#define MAX_HIERARCHIES 16 /* cgroup v1 hierarchies (one per controller here) */

/* One thing the jailer made: NAME beneath the directory DIRFD (owned). */
struct made {
	int dirfd;
	char name[NAME_MAX + 1];
	bool dir;
};

/* One cgroup hierarchy the VMM joins: v2's one, or v1's for a controller. */
struct hier {
	char mount[PATH_MAX];	 /* where it is mounted */
	char ctrl[64];		 /* v1: the controller ("" for v2) */
	int cg_fd;		 /* owned: the VMM's cgroup directory (O_PATH) */
	int back_fd;		 /* owned: the original cgroup's procs file (O_WRONLY) */
	char path[PATH_MAX * 2]; /* the VMM's cgroup, for messages */
	bool create;		 /* a new <parent>/<id>; else join <parent> as it is */
};

struct jail {
	const struct jailer_plan *p;
	uint64_t start_us, start_cpu_us;
	char exec_real[PATH_MAX];
	int exec_fd;	  /* owned: the exec file */
	char interp[256]; /* its ELF interpreter or #! line's program; "" if none */
	char root[PATH_MAX];
	int root_fd; /* owned: the chroot (O_PATH) */
	int netns_fd, null_fd;
	struct made made[MAX_MADE];
	unsigned n_made;
	struct hier hier[MAX_HIERARCHIES];
	unsigned n_hier;
	bool joined; /* moved into the hierarchies' cgroups */
	char pid_name[NAME_MAX + 1];
};

/* ---- messages and undo -------------------------------------------------- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dprintf(2, "jailer: %s\n", buf);
}

/* Undoes what was made, newest first: the cgroups left (the process goes
 * back where it was), then every directory and file made, by descriptor,
 * so this works inside the new root too. */
static void undo(struct jail *j)
{
	char pid[24];
	int n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (j->joined)
		for (unsigned h = 0; h < j->n_hier; h++)
			if (j->hier[h].back_fd >= 0 &&
			    write(j->hier[h].back_fd, pid, (size_t)n) < 0)
				say("cannot leave the cgroup %s: %s", j->hier[h].path,
				    strerror(errno));
	while (j->n_made > 0) {
		struct made *m = &j->made[--j->n_made];
		if (unlinkat(m->dirfd, m->name, m->dir ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT)
			say("cannot remove %s made for the jail: %s", m->name, strerror(errno));
		close(m->dirfd);
	}
}

static __attribute__((noreturn)) void die(struct jail *j, enum jailer_exit st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static __attribute__((noreturn)) void die(struct jail *j, enum jailer_exit st, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("%s", buf);
	if (j)
		undo(j);
	_exit(st);
}

/* Remembers NAME beneath DIRFD as made by us (to undo). */
static void remember(struct jail *j, int dirfd, const char *name, bool dir)
{
	if (j->n_made == MAX_MADE)
		die(j, JAILER_EXIT_CHROOT, "too many things to make");
	struct made *m = &j->made[j->n_made];
	m->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	if (m->dirfd < 0)
		die(j, JAILER_EXIT_PROCESS, "dup: %s", strerror(errno));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->dir = dir;
	j->n_made++;
}

/* mkdirat that remembers a directory it made; EEXIST is fine when it is a
 * directory. Returns an O_PATH descriptor of it. */
static int make_dir(struct jail *j, int dirfd, const char *name, mode_t mode, const char *shown,
		    enum jailer_exit st)
{
	if (mkdirat(dirfd, name, mode) == 0)
		remember(j, dirfd, name, true);
	else if (errno != EEXIST)
		die(j, st, "cannot create %s: %s", shown, strerror(errno));
	int fd = openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		die(j, st, "%s: %s", shown, errno == ENOTDIR ? "not a directory" : strerror(errno));
	return fd;
}

static uint64_t clock_us(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the exec file -------------------------------------------------------- */

/* The program execve would need besides the file: an ELF's PT_INTERP, a
 * script's #! program. Returns false if it is neither ELF nor script. */
static bool exec_interp(int fd, char *interp, size_t len)
{
	unsigned char h[256];
	interp[0] = '\0';
	ssize_t n = pread(fd, h, sizeof(h), 0);
	if (n >= 2 && h[0] == '#' && h[1] == '!') {
		size_t i = 2, k = 0;
		while (i < (size_t)n && (h[i] == ' ' || h[i] == '\t'))
			i++;
		while (i < (size_t)n && !isspace(h[i]) && k + 1 < len)
			interp[k++] = (char)h[i++];
		interp[k] = '\0';
		return true;
	}
	if (n < (ssize_t)sizeof(Elf64_Ehdr) || memcmp(h, ELFMAG, SELFMAG) != 0)
		return false;
	if (h[EI_CLASS] != ELFCLASS64)
		return true; /* execve decides */
	Elf64_Ehdr eh;
	memcpy(&eh, h, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum && i < 64; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph))
			return true;
		if (ph.p_type != PT_INTERP)
			continue;
		size_t k = ph.p_filesz < len ? (size_t)ph.p_filesz : len - 1;
		if (pread(fd, interp, k, (off_t)ph.p_offset) != (ssize_t)k)
			k = 0;
		interp[k] = '\0';
		interp[strnlen(interp, k)] = '\0';
		break;
	}
	return true;
}

static void open_exec_file(struct jail *j)
{
	const struct jailer_plan *p = j->p;
	if (!realpath(p->exec_file, j->exec_real))
		die(j, JAILER_EXIT_EXEC_FILE, "--exec-file %s: %s", p->exec_file, strerror(errno));
	j->exec_fd = open(j->exec_real, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (j->exec_fd < 0 || fstat(j->exec_fd, &st) < 0)
		die(j, JAILER_EXIT_EXEC_FILE, "--exec-file %s: %s", p->exec_file, strerror(errno));
	if (!S_ISREG(st.st_mode))
		die(j, JAILER_EXIT_EXEC_FILE, "--exec-file %s: not a regular file", p->exec_file);
	if (!exec_interp(j->exec_fd, j->interp, sizeof(j->interp)))
		die(j, JAILER_EXIT_EXEC_FILE, "--exec-file %s: not an ELF program or a script",
		    p->exec_file);
}

/* ---- cgroups -------------------------------------------------------------- */

/* Where the hierarchy is mounted: v2's (fstype cgroup2), or v1's holding
 * controller ctrl (an option of its mount). */
static bool find_mount(unsigned version, const char *ctrl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		char dev[256], dir[PATH_MAX], type[64], opts[2048];
		if (sscanf(line, "%255s %4095s %63s %2047s", dev, dir, type, opts) != 4)
			continue;
		if (version == 2 && !strcmp(type, "cgroup2")) {
			found = true;
		} else if (version == 1 && !strcmp(type, "cgroup")) {
			for (char *save = NULL, *o = strtok_r(opts, ",", &save); o;
			     o = strtok_r(NULL, ",", &save))
				if (!strcmp(o, ctrl))
					found = true;
		}
		if (found)
			snprintf(out, len, "%s", dir);
	}
	fclose(f);
	return found;
}

/* The process's own cgroup in hierarchy h (/proc/self/cgroup), to go back
 * to on failure: opens its procs file. */
static void open_back(struct jail *j, struct hier *h, unsigned version)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096], path[PATH_MAX * 2];
	h->back_fd = -1;
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		bool match = false;
		if (version == 2)
			match = !strcmp(line, "0") && c1[1] == '\0';
		else
			for (char *save = NULL, *o = strtok_r(c1 + 1, ",", &save); o;
			     o = strtok_r(NULL, ",", &save))
				match |= !strcmp(o, h->ctrl);
		if (!match)
			continue;
		snprintf(path, sizeof(path), "%s%s/%s", h->mount, c2 + 1,
			 version == 2 ? "cgroup.procs" : "tasks");
		h->back_fd = open(path, O_WRONLY | O_CLOEXEC);
		break;
	}
	if (f)
		fclose(f);
}

/* Finds each hierarchy the plan needs (none: nothing to do), before
 * anything is made; a controller nowhere to be found is an error here. */
static void plan_cgroups(struct jail *j)
{
	const struct jailer_plan *p = j->p;
	if (p->cgroup_version == 2) {
		struct hier *h = &j->hier[0];
		if (!find_mount(2, NULL, h->mount, sizeof(h->mount))) {
			if (p->n_cgroups == 0)
				return; /* Firecracker: nothing asked, nothing done */
			die(j, JAILER_EXIT_CGROUP,
			    "no cgroup v2 hierarchy is mounted (/proc/mounts)");
		}
		h->create = p->n_cgroups > 0;
		snprintf(h->path, sizeof(h->path), "%s/%s%s%s", h->mount, p->parent_cgroup,
			 h->create ? "/" : "", h->create ? p->id : "");
		h->cg_fd = -1;
		if (!h->create) {
			/* --cgroup-version 2 alone: join the parent if it exists */
			int fd = open(h->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0)
				return;
			h->cg_fd = fd;
		} else {
			char avail[1024] = "", path[PATH_MAX + 32];
			snprintf(path, sizeof(path), "%s/cgroup.controllers", h->mount);
			FILE *f = fopen(path, "re");
			if (f) {
				if (!fgets(avail, sizeof(avail), f))
					avail[0] = '\0';
				fclose(f);
			}
			for (unsigned c = 0; c < p->n_cgroups; c++) {
				const struct jailer_cgroup *cg = &p->cgroups[c];
				bool ok = false;
				char copy[sizeof(avail)];
				memcpy(copy, avail, sizeof(copy));
				for (char *save = NULL, *w = strtok_r(copy, " \n", &save); w;
				     w = strtok_r(NULL, " \n", &save))
					ok |= strlen(w) == cg->controller_len &&
					      !memcmp(w, cg->file, cg->controller_len);
				if (!ok)
					die(j, JAILER_EXIT_CGROUP,
					    "--cgroup %s: controller %.*s is not available in %s "
					    "(cgroup.controllers: %s)",
					    cg->file, (int)cg->controller_len, cg->file, h->mount,
					    avail[0] ? strtok(avail, "\n") : "none");
			}
		}
		open_back(j, h, 2);
		j->n_hier = 1;
		return;
	}
	for (unsigned c = 0; c < p->n_cgroups; c++) {
		const struct jailer_cgroup *cg = &p->cgroups[c];
		char ctrl[64];
		snprintf(ctrl, sizeof(ctrl), "%.*s", (int)cg->controller_len, cg->file);
		char mnt[PATH_MAX];
		if (!find_mount(1, ctrl, mnt, sizeof(mnt)))
			die(j, JAILER_EXIT_CGROUP,
			    "--cgroup %s: no cgroup v1 hierarchy has the controller %s "
			    "(--cgroup-version 2 for the unified one)",
			    cg->file, ctrl);
		unsigned h = 0;
		while (h < j->n_hier && strcmp(j->hier[h].mount, mnt))
			h++;
		if (h < j->n_hier)
			continue; /* one hierarchy may hold several controllers */
		if (h == MAX_HIERARCHIES)
			die(j, JAILER_EXIT_CGROUP, "too many cgroup hierarchies");
		struct hier *hh = &j->hier[h];
		snprintf(hh->mount, sizeof(hh->mount), "%s", mnt);
		snprintf(hh->ctrl, sizeof(hh->ctrl), "%s", ctrl);
		snprintf(hh->path, sizeof(hh->path), "%s/%s/%s", mnt, p->parent_cgroup, p->id);
		hh->create = true;
		hh->cg_fd = -1;
		open_back(j, hh, 1);
		j->n_hier++;
	}
}

/* Writes "value\n" to NAME beneath DIRFD. */
static int write_at(int dirfd, const char *name, const char *value)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s\n", value);
	int r = write(fd, buf, (size_t)n) == n ? 0 : -errno;
	close(fd);
	return r;
}

static int read_at(int dirfd, const char *name, char *buf, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Makes <mount>/<parent>/<id> (each level remembered if made), enabling the
 * plan's controllers in every level's cgroup.subtree_control on the way
 * (v2), or copying cpuset.cpus/mems down into each new level (v1 cpuset:
 * a new cpuset is empty, and no task may join it so). */
static void make_cgroup(struct jail *j, struct hier *h)
{
	const struct jailer_plan *p = j->p;
	unsigned version = h->ctrl[0] ? 1 : 2;
	char rel[PATH_MAX], shown[PATH_MAX * 2];
	snprintf(rel, sizeof(rel), "%s/%s", p->parent_cgroup, p->id);
	int fd = open(h->mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die(j, JAILER_EXIT_CGROUP, "%s: %s", h->mount, strerror(errno));
	snprintf(shown, sizeof(shown), "%s", h->mount);
	for (char *save = NULL, *c = strtok_r(rel, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (version == 2)
			for (unsigned k = 0; k < p->n_cgroups; k++) {
				char plus[80];
				snprintf(plus, sizeof(plus), "+%.*s",
					 (int)p->cgroups[k].controller_len, p->cgroups[k].file);
				int r = write_at(fd, "cgroup.subtree_control", plus);
				if (r < 0)
					die(j, JAILER_EXIT_CGROUP,
					    "cannot enable %s in %s/cgroup.subtree_control: %s",
					    plus + 1, shown, strerror(-r));
			}
		size_t at = strlen(shown);
		snprintf(shown + at, sizeof(shown) - at, "/%s", c);
		unsigned before = j->n_made;
		int next = make_dir(j, fd, c, 0755, shown, JAILER_EXIT_CGROUP);
		if (version == 1 && !strcmp(h->ctrl, "cpuset") && j->n_made > before) {
			static const char *const inherit[] = {"cpuset.cpus", "cpuset.mems"};
			for (unsigned k = 0; k < 2; k++) {
				char v[4096];
				int r = read_at(fd, inherit[k], v, sizeof(v));
				if (r == 0)
					r = write_at(next, inherit[k], v);
				if (r < 0)
					die(j, JAILER_EXIT_CGROUP, "cannot copy %s into %s: %s",
					    inherit[k], shown, strerror(-r));
			}
		}
		close(fd);
		fd = next;
	}
	h->cg_fd = fd;
	for (unsigned k = 0; k < p->n_cgroups; k++) {
		const struct jailer_cgroup *cg = &p->cgroups[k];
		if (version == 1 && (strlen(h->ctrl) != cg->controller_len ||
				     memcmp(h->ctrl, cg->file, cg->controller_len))) {
			/* another controller: its own hierarchy, unless mounted together */
			char ctrl[64], mnt[PATH_MAX];
			snprintf(ctrl, sizeof(ctrl), "%.*s", (int)cg->controller_len, cg->file);
			if (!find_mount(1, ctrl, mnt, sizeof(mnt)) || strcmp(mnt, h->mount))
				continue;
		}
		int r = write_at(fd, cg->file, cg->value);
		if (r < 0)
			die(j, JAILER_EXIT_CGROUP, "cannot write %s to %s/%s: %s", cg->value,
			    h->path, cg->file, strerror(-r));
	}
}

static void join_cgroups(struct jail *j)
{
	char pid[24];
	snprintf(pid, sizeof(pid), "%d", getpid());
	for (unsigned i = 0; i < j->n_hier; i++) {
		struct hier *h = &j->hier[i];
		if (h->create)
			make_cgroup(j, h);
		if (h->cg_fd < 0)
			continue;
		j->joined = true;
		int r = write_at(h->cg_fd, h->ctrl[0] ? "tasks" : "cgroup.procs", pid);
		if (r < 0)
			die(j, JAILER_EXIT_CGROUP,
			    "cannot move the process into the cgroup %s: %s%s", h->path,
			    strerror(-r),
			    h->create
				    ? ""
				    : " (a cgroup with controllers in its subtree_control holds "
				      "no process: pass --cgroup to have a child made for the VM)");
	}
}

/* ---- the chroot ----------------------------------------------------------- */

static void copy_exec(struct jail *j)
{
	const char *name = j->p->exec_name;
	int out = openat(j->root_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			 0700);
	if (out < 0)
		die(j, JAILER_EXIT_CHROOT, "cannot create %s/%s: %s%s", j->root, name,
		    strerror(errno),
		    errno == EEXIST ? " (a jail with this id exists: ids are unique, or remove it)"
				    : "");
	remember(j, j->root_fd, name, false);
	struct stat st;
	if (fstat(j->exec_fd, &st) < 0)
		die(j, JAILER_EXIT_EXEC_FILE, "%s: %s", j->exec_real, strerror(errno));
	off_t off = 0;
	while (off < st.st_size) {
		ssize_t n = sendfile(out, j->exec_fd, &off, (size_t)(st.st_size - off));
		if (n <= 0)
			die(j, JAILER_EXIT_CHROOT, "cannot copy %s to %s/%s: %s", j->exec_real,
			    j->root, name, n == 0 ? "the file shrank" : strerror(errno));
	}
	/* root's, read and run by anyone: the VMM cannot change its own program */
	if (fchmod(out, 0555) < 0 || close(out) < 0)
		die(j, JAILER_EXIT_CHROOT, "%s/%s: %s", j->root, name, strerror(errno));
}

/* A directory of the jail owned by the VMM's ids, 0700 (as Firecracker's:
 * the VMM makes its API socket in /run). */
static int jail_dir(struct jail *j, int dirfd, const char *name, const char *shown)
{
	int fd = make_dir(j, dirfd, name, 0700, shown, JAILER_EXIT_CHROOT);
	if (fchownat(fd, "", j->p->uid, j->p->gid, AT_EMPTY_PATH) < 0 ||
	    fchmodat(dirfd, name, 0700, 0) < 0)
		die(j, JAILER_EXIT_CHROOT, "%s: %s", shown, strerror(errno));
	return fd;
}

static int node(struct jail *j, int dirfd, const char *name, unsigned maj, unsigned min,
		const char *shown)
{
	if (mknodat(dirfd, name, S_IFCHR | 0600, makedev(maj, min)) < 0)
		return -errno;
	remember(j, dirfd, name, false);
	if (fchownat(dirfd, name, j->p->uid, j->p->gid, AT_SYMLINK_NOFOLLOW) < 0)
		die(j, JAILER_EXIT_CHROOT, "%s: %s", shown, strerror(errno));
	return 0;
}

/* /dev/userfaultfd's minor (a misc device, /proc/misc), or -1. */
static int uffd_minor(void)
{
	FILE *f = fopen("/proc/misc", "re");
	int minor = -1, m;
	char name[64];
	while (f && minor < 0 && fscanf(f, "%d %63s", &m, name) == 2)
		if (!strcmp(name, "userfaultfd"))
			minor = m;
	if (f)
		fclose(f);
	return minor;
}

static void build_chroot(struct jail *j)
{
	const struct jailer_plan *p = j->p;
	char base[PATH_MAX], shown[PATH_MAX * 2];
	if (!realpath(p->chroot_base, base))
		die(j, JAILER_EXIT_BASE, "--chroot-base-dir %s: %s", p->chroot_base,
		    strerror(errno));
	struct stat st;
	if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode))
		die(j, JAILER_EXIT_BASE, "--chroot-base-dir %s: not a directory", p->chroot_base);
	struct statvfs vfs;
	if (statvfs(base, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
		die(j, JAILER_EXIT_BASE, "--chroot-base-dir %s: on a read-only file system",
		    p->chroot_base);
	int fd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die(j, JAILER_EXIT_BASE, "--chroot-base-dir %s: %s", p->chroot_base,
		    strerror(errno));
	const char *levels[] = {p->exec_name, p->id, "root"};
	snprintf(shown, sizeof(shown), "%s", base);
	for (unsigned l = 0; l < 3; l++) {
		size_t at = strlen(shown);
		snprintf(shown + at, sizeof(shown) - at, "/%s", levels[l]);
		int next = make_dir(j, fd, levels[l], 0755, shown,
				    l == 0 ? JAILER_EXIT_BASE : JAILER_EXIT_CHROOT);
		close(fd);
		fd = next;
	}
	j->root_fd = fd;
	snprintf(j->root, sizeof(j->root), "%s", shown);
	if (statvfs(j->root, &vfs) == 0 && (vfs.f_flag & (ST_NOEXEC | ST_NODEV)))
		die(j, JAILER_EXIT_BASE,
		    "%s is on a mount with %s: the jailed VMM could not %s (mount it without, "
		    "or choose another --chroot-base-dir)",
		    j->root, vfs.f_flag & ST_NOEXEC ? "noexec" : "nodev",
		    vfs.f_flag & ST_NOEXEC ? "run" : "open /dev/kvm");
	copy_exec(j);
	/* the root itself, /dev, /dev/net and /run: the VMM's (Firecracker's) */
	if (fchownat(j->root_fd, "", p->uid, p->gid, AT_EMPTY_PATH) < 0 ||
	    fchmodat(AT_FDCWD, j->root, 0700, 0) < 0)
		die(j, JAILER_EXIT_CHROOT, "%s: %s", j->root, strerror(errno));
	snprintf(shown, sizeof(shown), "%s/dev", j->root);
	int dev = jail_dir(j, j->root_fd, "dev", shown);
	snprintf(shown, sizeof(shown), "%s/dev/net", j->root);
	int net = jail_dir(j, dev, "net", shown);
	snprintf(shown, sizeof(shown), "%s/run", j->root);
	close(jail_dir(j, j->root_fd, "run", shown));
	int r;
	if ((r = node(j, dev, "kvm", 10, 232, "/dev/kvm")) < 0 ||
	    (r = node(j, net, "tun", 10, 200, "/dev/net/tun")) < 0)
		die(j, JAILER_EXIT_CHROOT, "cannot make the device nodes in %s/dev: %s", j->root,
		    strerror(-r));
	int uffd = uffd_minor();
	if (uffd >= 0 &&
	    (r = node(j, dev, "userfaultfd", 10, (unsigned)uffd, "/dev/userfaultfd")) < 0)
		die(j, JAILER_EXIT_CHROOT, "cannot make %s/dev/userfaultfd: %s", j->root,
		    strerror(-r));
	/* as Firecracker's: only its MMDS v2 tokens need it; a warning */
	if ((r = node(j, dev, "urandom", 1, 9, "/dev/urandom")) < 0)
		say("warning: cannot make %s/dev/urandom: %s", j->root, strerror(-r));
	close(net);
	close(dev);
	/* a dynamically linked VMM needs its interpreter in the jail: say so now
	 * rather than have execve fail with ENOENT after the drop */
	if (j->interp[0] == '/' && faccessat(j->root_fd, j->interp + 1, F_OK, 0) < 0)
		die(j, JAILER_EXIT_EXEC_FILE,
		    "--exec-file %s needs %s, which the jail does not have: the jailed VMM "
		    "must be statically linked (cvmm-static; Firecracker's rule too)",
		    p->exec_file, j->interp);
	snprintf(j->pid_name, sizeof(j->pid_name), "%s.pid", p->exec_name);
}

/* New mount namespace whose root is the chroot: host mounts are slaves of
 * the host's (as Firecracker's: Kata bind-mounts drives into a running
 * jail's root, which must propagate in), the chroot bind-mounted onto
 * itself (with what is mounted beneath it: Kata's kernel and disks),
 * pivot_root'ed into, and the old root detached. */
static void enter_root(struct jail *j)
{
	if (unshare(CLONE_NEWNS) < 0)
		die(j, JAILER_EXIT_NAMESPACE, "cannot enter a new mount namespace: %s",
		    strerror(errno));
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		die(j, JAILER_EXIT_NAMESPACE, "cannot make / a slave mount: %s", strerror(errno));
	if (mount(j->root, j->root, NULL, MS_BIND | MS_REC, NULL) < 0)
		die(j, JAILER_EXIT_NAMESPACE, "cannot bind-mount %s: %s", j->root, strerror(errno));
	if (chdir(j->root) < 0)
		die(j, JAILER_EXIT_NAMESPACE, "chdir %s: %s", j->root, strerror(errno));
	/* pivot_root(".", "."): the old root is stacked on the new one, then
	 * detached: no directory needed for it */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die(j, JAILER_EXIT_NAMESPACE, "pivot_root %s: %s", j->root, strerror(errno));
	if (umount2(".", MNT_DETACH) < 0)
		die(j, JAILER_EXIT_NAMESPACE, "cannot detach the old root: %s", strerror(errno));
	if (chdir("/") < 0)
		die(j, JAILER_EXIT_NAMESPACE, "chdir /: %s", strerror(errno));
}

static void set_limits(struct jail *j)
{
	const struct jailer_plan *p = j->p;
	struct rlimit nofile = {p->no_file, p->no_file}, fsize = {p->fsize, p->fsize};
	if (setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		die(j, JAILER_EXIT_RLIMIT, "--resource-limit no-file=%llu: %s",
		    (unsigned long long)p->no_file,
		    errno == EPERM ? "above the system's limit (fs.nr_open)" : strerror(errno));
	if (p->fsize_set && setrlimit(RLIMIT_FSIZE, &fsize) < 0)
		die(j, JAILER_EXIT_RLIMIT, "--resource-limit fsize=%llu: %s",
		    (unsigned long long)p->fsize, strerror(errno));
}

static void write_pid_file(struct jail *j, pid_t pid)
{
	int fd = openat(j->root_fd, j->pid_name,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		die(j, JAILER_EXIT_PROCESS, "cannot create %s/%s: %s", j->root, j->pid_name,
		    strerror(errno));
	remember(j, j->root_fd, j->pid_name, false);
	if (dprintf(fd, "%d", (int)pid) < 0 || close(fd) < 0)
		die(j, JAILER_EXIT_PROCESS, "cannot write %s/%s", j->root, j->pid_name);
}

/* Drops to the VMM's ids (supplementary groups first) and execs it with
 * Firecracker's jailer's arguments first, then the caller's. Returns only
 * on failure, with the exit status. */
static int drop_and_exec(struct jail *j, uint64_t parent_cpu_us)
{
	const struct jailer_plan *p = j->p;
	uid_t r, e, s;
	if (setgroups(0, NULL) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0 || getresuid(&r, &e, &s) < 0 || e != p->uid ||
	    s != p->uid) {
		say("cannot drop to uid %u gid %u: %s", p->uid, p->gid, strerror(errno));
		return JAILER_EXIT_PRIVILEGES;
	}
	/* nothing the VMM runs gains privileges; no ambient capabilities */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)) {
		say("cannot set no_new_privs: %s", strerror(errno));
		return JAILER_EXIT_PRIVILEGES;
	}
	char path[NAME_MAX + 2], start[24], cpu[24], parent[24];
	snprintf(path, sizeof(path), "/%s", p->exec_name);
	snprintf(start, sizeof(start), "%llu", (unsigned long long)j->start_us);
	snprintf(cpu, sizeof(cpu), "%llu", (unsigned long long)clock_us(CLOCK_PROCESS_CPUTIME_ID));
	snprintf(parent, sizeof(parent), "%llu", (unsigned long long)parent_cpu_us);
	const char *fixed[] = {path,  "--id",
			       p->id, "--start-time-us",
			       start, "--start-time-cpu-us",
			       cpu,   "--parent-cpu-time-us",
			       parent};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	char **argv = calloc(nf + (size_t)p->vmm_argc + 1, sizeof(char *));
	if (!argv)
		return JAILER_EXIT_EXEC;
	memcpy(argv, fixed, sizeof(fixed));
	for (int i = 0; i < p->vmm_argc; i++)
		argv[nf + (size_t)i] = p->vmm_argv[i];
	char *envp[] = {NULL};
	execve(path, argv, envp);
	say("cannot run %s in the jail: %s", path, strerror(errno));
	free(argv);
	return JAILER_EXIT_EXEC;
}

int main(int argc, char *argv[])
{
	struct jailer_plan plan;
	struct jail jail = {
		.p = &plan, .exec_fd = -1, .root_fd = -1, .netns_fd = -1, .null_fd = -1};
	struct jail *j = &jail;
	j->start_us = clock_us(CLOCK_MONOTONIC);
	j->start_cpu_us = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	/* nothing inherited reaches the VMM: descriptors above 2, environment */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_UNSHARE) < 0) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	}
	clearenv();
	char err[512];
	if (jailer_parse(argc, argv, &plan, err, sizeof(err)) < 0) {
		say("%s (see --help)", err);
		return JAILER_EXIT_USAGE;
	}
	if (plan.help) {
		fputs(jailer_usage, stdout);
		return 0;
	}
	if (plan.version) {
		printf("Jailer v1.12.0\ncvmm-jailer " CVMM_VERSION "\n");
		return 0;
	}
	if (geteuid() != 0)
		die(NULL, JAILER_EXIT_PRIVILEGES,
		    "must run as root (it makes device nodes, "
		    "namespaces and cgroups)");
	/* everything that can be checked before anything is made */
	open_exec_file(j);
	if (plan.netns) {
		j->netns_fd = open(plan.netns, O_RDONLY | O_CLOEXEC);
		if (j->netns_fd < 0 || setns(j->netns_fd, CLONE_NEWNET) < 0)
			die(j, JAILER_EXIT_NETNS, "--netns %s: %s", plan.netns,
			    errno == EINVAL ? "not a network namespace" : strerror(errno));
		close(j->netns_fd);
	}
	if (plan.daemonize && (j->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		die(j, JAILER_EXIT_PROCESS, "/dev/null: %s", strerror(errno));
	plan_cgroups(j);
	/* then made, each step undone if a later one fails */
	build_chroot(j);
	set_limits(j);
	join_cgroups(j);
	enter_root(j);
	uint64_t parent_cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID) - j->start_cpu_us;
	if (plan.daemonize) {
		/* fork, setsid, fork: no controlling terminal ever again */
		pid_t pid = fork();
		if (pid < 0)
			die(j, JAILER_EXIT_PROCESS, "fork: %s", strerror(errno));
		if (pid > 0)
			_exit(0);
		if (setsid() < 0)
			die(j, JAILER_EXIT_PROCESS, "setsid: %s", strerror(errno));
		if ((pid = fork()) < 0)
			die(j, JAILER_EXIT_PROCESS, "fork: %s", strerror(errno));
		if (pid > 0)
			_exit(0);
		if (dup2(j->null_fd, 0) < 0 || dup2(j->null_fd, 1) < 0 || dup2(j->null_fd, 2) < 0)
			die(j, JAILER_EXIT_PROCESS, "dup2: %s", strerror(errno));
		close(j->null_fd);
	}
	if (!plan.new_pid_ns) {
		write_pid_file(j, getpid());
		int st = drop_and_exec(j, parent_cpu);
		undo(j); /* best effort: the ids are dropped now */
		return st;
	}
	/* a new PID namespace: the child is its PID 1; the jailer waits until
	 * it has exec'd (the pipe closes) or failed (its status comes back),
	 * writes the pid file and leaves, or undoes everything */
	int pipefd[2];
	if (unshare(CLONE_NEWPID) < 0)
		die(j, JAILER_EXIT_NAMESPACE, "cannot make a new PID namespace: %s",
		    strerror(errno));
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die(j, JAILER_EXIT_PROCESS, "pipe: %s", strerror(errno));
	pid_t child = fork();
	if (child < 0)
		die(j, JAILER_EXIT_NAMESPACE, "cannot fork into the new PID namespace: %s",
		    strerror(errno));
	if (child == 0) {
		close(pipefd[0]);
		unsigned char st = (unsigned char)drop_and_exec(j, parent_cpu);
		(void)!write(pipefd[1], &st, 1);
		_exit(st);
	}
	close(pipefd[1]);
	unsigned char st;
	ssize_t n;
	while ((n = read(pipefd[0], &st, 1)) < 0 && errno == EINTR)
		;
	if (n == 1) {
		waitpid(child, NULL, 0);
		undo(j);
		return st;
	}
	write_pid_file(j, child);
	return 0;
}
