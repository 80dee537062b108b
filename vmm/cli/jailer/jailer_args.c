/* SPDX-License-Identifier: MIT */
/* The jailer's command line: Firecracker's jailer flags (`--name value`, no
 * `--name=value`, as its parser), each value checked here so that the
 * executor starts only on a whole, valid plan. */
#include "vmm/cli/jailer/jailer_args.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char jailer_usage[] =
	"usage: jailer --id ID --exec-file FILE --uid UID --gid GID [options] [-- VMM ARGS...]\n"
	"\n"
	"Runs FILE (a static VMM: cvmm-static, installed as firecracker) jailed: a copy in\n"
	"BASE/<FILE's name>/ID/root, which becomes its root in a new mount namespace\n"
	"(pivot_root), with /dev/kvm, /dev/net/tun, /dev/userfaultfd and /dev/urandom made\n"
	"there for UID:GID, in its own cgroup, with resource limits, as UID:GID, started\n"
	"as: /FILE --id ID --start-time-us T --start-time-cpu-us C --parent-cpu-time-us P\n"
	"VMM ARGS... (Firecracker's jailer's contract: docs/jailer.md).\n"
	"\n"
	"  --id ID                  the VM's id: 1..64 letters, digits, '-'\n"
	"  --exec-file FILE         the VMM to copy and run\n"
	"  --uid UID, --gid GID     the ids it runs as (numbers)\n"
	"  --chroot-base-dir BASE   where jails are built (default " JAILER_BASE ")\n"
	"  --netns PATH             join this network namespace (e.g. /var/run/netns/NAME)\n"
	"  --daemonize              setsid, standard I/O to /dev/null, the jailer exits\n"
	"  --new-pid-ns             the VMM runs as PID 1 of a new PID namespace\n"
	"  --cgroup FILE=VALUE      a cgroup setting (e.g. memory.max=512M), repeatable\n"
	"  --cgroup-version 1|2     the cgroup hierarchy (default 1, as Firecracker's)\n"
	"  --parent-cgroup PATH     the cgroup's parent, relative (default FILE's name)\n"
	"  --resource-limit R=N     fsize=BYTES or no-file=N (default no-file=2048), repeatable\n"
	"  --version, --help\n"
	"Exit status: the VMM's once it runs; else 160 bad command line, 161 exec file,\n"
	"162 chroot base, 163 chroot set-up, 164 cgroup, 165 netns, 166 namespaces,\n"
	"167 resource limits, 168 uid/gid, 169 exec, 170 fork/pid file (docs/jailer.md).\n";

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

bool jailer_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > JAILER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return false;
	return true;
}

/* A decimal number with no sign, no blanks, no trailing characters. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* A relative path with no empty, "." or ".." component (the cgroup parent:
 * it must stay beneath the hierarchy's root). */
static bool relative_path_ok(const char *p)
{
	if (!*p || *p == '/')
		return false;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++)
			if (p[i] == '\n')
				return false;
		p += n;
		if (*p == '/')
			p++;
		if (end && !*p)
			return false; /* a trailing '/' */
	}
	return true;
}

/* FILE=VALUE: FILE one name, CONTROLLER.SETTING (letters, digits, '_', '.',
 * '-'); VALUE non-empty, one line, no '=' (as Firecracker: one '=' only). */
static int parse_cgroup(const char *arg, struct jailer_cgroup *c, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	if (!eq || strchr(eq + 1, '='))
		return fail(err, errlen, "--cgroup %s: expected FILE=VALUE (one '=')", arg);
	size_t n = (size_t)(eq - arg);
	const char *dot = memchr(arg, '.', n);
	if (n == 0 || n >= sizeof(c->file) || !dot || dot == arg || dot == eq - 1)
		return fail(err, errlen,
			    "--cgroup %s: FILE is a cgroup file's name, CONTROLLER.SETTING "
			    "(e.g. memory.max)",
			    arg);
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)arg[i]) && !strchr("_.-", arg[i]))
			return fail(
				err, errlen,
				"--cgroup %s: FILE may hold letters, digits, '_', '.', '-' only",
				arg);
	if (!eq[1] || strchr(eq + 1, '\n'))
		return fail(err, errlen, "--cgroup %s: VALUE must be one non-empty line", arg);
	memcpy(c->file, arg, n);
	c->file[n] = '\0';
	c->controller_len = (size_t)(dot - arg);
	c->value = eq + 1;
	return 0;
}

static int parse_rlimit(const char *arg, struct jailer_plan *p, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	uint64_t v;
	if (!eq)
		return fail(err, errlen, "--resource-limit %s: expected RESOURCE=VALUE", arg);
	if (!parse_u64(eq + 1, UINT64_MAX, &v))
		return fail(err, errlen, "--resource-limit %s: VALUE must be a decimal number",
			    arg);
	size_t n = (size_t)(eq - arg);
	if (n == 5 && !memcmp(arg, "fsize", 5)) {
		p->fsize_set = true;
		p->fsize = v;
	} else if (n == 7 && !memcmp(arg, "no-file", 7)) {
		if (v == 0)
			return fail(err, errlen, "--resource-limit no-file=0: the VMM needs files");
		p->no_file = v;
	} else {
		return fail(err, errlen, "--resource-limit %s: unknown resource (fsize or no-file)",
			    arg);
	}
	return 0;
}

enum { O_ID, O_EXEC, O_UID, O_GID, O_BASE, O_NETNS, O_CGVER, O_PARENT, O_NOPTS };
static const char *const once_names[O_NOPTS] = {
	"id",	 "exec-file",	   "uid",	    "gid", "chroot-base-dir",
	"netns", "cgroup-version", "parent-cgroup",
};

int jailer_parse(int argc, char *const argv[], struct jailer_plan *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (errlen > 0)
		err[0] = '\0';
	p->chroot_base = JAILER_BASE;
	p->cgroup_version = 1;
	p->no_file = JAILER_NO_FILE;
	const char *once[O_NOPTS] = {0};
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			p->vmm_argc = argc - i - 1;
			p->vmm_argv = argv + i + 1;
			break;
		}
		if (strncmp(a, "--", 2) != 0 || !a[2])
			return fail(err, errlen,
				    "unexpected argument '%s' (flags are --name value; "
				    "the VMM's arguments go after --)",
				    a);
		const char *name = a + 2;
		if (!strcmp(name, "help") || !strcmp(name, "h")) {
			p->help = true;
			continue;
		}
		if (!strcmp(name, "version")) {
			p->version = true;
			continue;
		}
		if (!strcmp(name, "daemonize") || !strcmp(name, "new-pid-ns")) {
			bool *f = name[0] == 'd' ? &p->daemonize : &p->new_pid_ns;
			if (*f)
				return fail(err, errlen, "--%s given more than once", name);
			*f = true;
			continue;
		}
		if (strchr(name, '='))
			return fail(err, errlen,
				    "%s: give the value as a separate argument (--name value)", a);
		unsigned k = 0;
		while (k < O_NOPTS && strcmp(name, once_names[k]))
			k++;
		bool multi = !strcmp(name, "cgroup") || !strcmp(name, "resource-limit");
		if (k == O_NOPTS && !multi)
			return fail(err, errlen, "unknown flag %s (see --help)", a);
		if (i + 1 >= argc)
			return fail(err, errlen, "%s needs a value", a);
		const char *v = argv[++i];
		if (!strcmp(name, "cgroup")) {
			if (p->n_cgroups == JAILER_MAX_CGROUPS)
				return fail(err, errlen, "more than %d --cgroup settings",
					    JAILER_MAX_CGROUPS);
			int r = parse_cgroup(v, &p->cgroups[p->n_cgroups], err, errlen);
			if (r < 0)
				return r;
			for (unsigned c = 0; c < p->n_cgroups; c++)
				if (!strcmp(p->cgroups[c].file, p->cgroups[p->n_cgroups].file))
					return fail(err, errlen, "--cgroup %s given more than once",
						    p->cgroups[c].file);
			p->n_cgroups++;
			continue;
		}
		if (!strcmp(name, "resource-limit")) {
			int r = parse_rlimit(v, p, err, errlen);
			if (r < 0)
				return r;
			continue;
		}
		if (once[k])
			return fail(err, errlen, "%s given more than once", a);
		once[k] = v;
	}
	if (p->help || p->version)
		return 0;
	for (unsigned k = O_ID; k <= O_GID; k++)
		if (!once[k])
			return fail(err, errlen, "--%s is required", once_names[k]);
	p->id = once[O_ID];
	if (!jailer_id_valid(p->id))
		return fail(err, errlen,
			    "--id %s: 1 to %d characters, each a letter, a digit or '-'", p->id,
			    JAILER_ID_MAX);
	p->exec_file = once[O_EXEC];
	const char *slash = strrchr(p->exec_file, '/');
	p->exec_name = slash ? slash + 1 : p->exec_file;
	if (!*p->exec_name || !strcmp(p->exec_name, ".") || !strcmp(p->exec_name, ".."))
		return fail(err, errlen, "--exec-file %s: must name a file", p->exec_file);
	uint64_t v;
	if (!parse_u64(once[O_UID], UINT32_MAX - 1, &v))
		return fail(err, errlen, "--uid %s: a number below 4294967295", once[O_UID]);
	p->uid = (uint32_t)v;
	if (!parse_u64(once[O_GID], UINT32_MAX - 1, &v))
		return fail(err, errlen, "--gid %s: a number below 4294967295", once[O_GID]);
	p->gid = (uint32_t)v;
	if (once[O_BASE]) {
		if (!*once[O_BASE])
			return fail(err, errlen, "--chroot-base-dir: empty");
		p->chroot_base = once[O_BASE];
	}
	if (once[O_NETNS]) {
		if (!*once[O_NETNS])
			return fail(err, errlen, "--netns: empty");
		p->netns = once[O_NETNS];
	}
	if (once[O_CGVER]) {
		if (strcmp(once[O_CGVER], "1") && strcmp(once[O_CGVER], "2"))
			return fail(err, errlen, "--cgroup-version %s: 1 or 2", once[O_CGVER]);
		p->cgroup_version = once[O_CGVER][0] == '2' ? 2 : 1;
	}
	p->parent_cgroup = p->exec_name;
	if (once[O_PARENT]) {
		if (!relative_path_ok(once[O_PARENT]))
			return fail(err, errlen,
				    "--parent-cgroup %s: a relative path with no '.', '..' or "
				    "empty components",
				    once[O_PARENT]);
		p->parent_cgroup = once[O_PARENT];
		p->parent_cgroup_given = true;
	}
	if (!relative_path_ok(p->parent_cgroup))
		return fail(err, errlen, "--exec-file %s: its name cannot name a cgroup",
			    p->exec_file);
	return 0;
}
