/* SPDX-License-Identifier: MIT */
/* The jail's policy as text (cvmm_jail_policy, `cvmm --print-jail`): per
 * thread kind, its seccomp table (vmm/jail.c, devices/virtio/worker_jail.c)
 * with each rule's argument bounds and reason, then the threads that load it and what their
 * io_uring may do (each device's grants, devices/virtio/worker.h). The
 * output is Markdown, the tables of docs/seccomp.md: scripts/seccomp-doc
 * writes them there and the cli/seccomp-doc test checks that they agree.
 * This build's own: its architecture's syscalls, a sanitizer build's
 * extra rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmm/cvmm.h"
#include "devices/virtio/worker.h"
#include "vmm/jail.h"
#include "vmm/vdevs.h"

#define API __attribute__((visibility("default")))

#define KIND(k) [k] = #k
static const char *const kind_ids[JAIL_NKINDS] = {
	KIND(JAIL_VIRTIO_WORKER), KIND(JAIL_NET_CTRL),	     KIND(JAIL_FS_WORKER),
	KIND(JAIL_VCPU),	  KIND(JAIL_CONTROL),	     KIND(JAIL_RNG_WORKER),
	KIND(JAIL_SNAPMEM),	  KIND(JAIL_BALLOON_WORKER), KIND(JAIL_NET_TX),
};

/* A table cell: '|' escaped (GitHub's tables split on it, code or not). */
static void cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void bounds(FILE *f, const struct jail_rule *rl)
{
	if (rl->args[0].cmp == JAIL_CMP_NONE) {
		fputs("any", f);
		return;
	}
	for (unsigned i = 0; i < JAIL_MAX_ARGS && rl->args[i].cmp != JAIL_CMP_NONE; i++) {
		const struct jail_arg *a = &rl->args[i];
		fprintf(f, "%sarg%u ", i ? ", " : "", a->arg);
		switch ((enum jail_cmp)a->cmp) {
		case JAIL_CMP_FD:
			fprintf(f, "= %s", jail_fd_name((enum jail_fd)a->fd));
			break;
		case JAIL_CMP_EQ:
			fputs("= `", f);
			cell(f, a->text);
			fputc('`', f);
			break;
		case JAIL_CMP_CLEAR:
			fputs("without `", f);
			cell(f, a->text);
			fputc('`', f);
			break;
		case JAIL_CMP_NONE:
			break;
		}
	}
}

static void table(FILE *f, const struct jail_rule *rules, unsigned n)
{
	fputs("| syscall | arguments | why |\n| --- | --- | --- |\n", f);
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "| `%s` | ", rules[i].name);
		bounds(f, &rules[i]);
		fputs(" | ", f);
		cell(f, rules[i].why);
		fputs(" |\n", f);
	}
}

static bool same_rule(const struct jail_rule *a, const struct jail_rule *b)
{
	if (a->nr != b->nr || strcmp(a->why, b->why))
		return false;
	for (unsigned i = 0; i < JAIL_MAX_ARGS; i++)
		if (a->args[i].arg != b->args[i].arg || a->args[i].cmp != b->args[i].cmp ||
		    a->args[i].fd != b->args[i].fd || a->args[i].value != b->args[i].value)
			return false;
	return true;
}

/* One line per worker that loads this kind's table: its io_uring. */
static void grant(FILE *f, const struct vdev_desc *d, const struct vq_grant *g)
{
	fprintf(f, "- `%s` (%s): io_uring `READ`", g->thread, d->name);
	for (unsigned i = 0; i < g->nuring_ops; i++) {
		const char *op = vq_uring_op_name(g->uring_ops[i]);
		if (g->uring_ops[i] == IORING_OP_READ)
			continue;
		if (op)
			fprintf(f, ", `%s`", op);
		else
			fprintf(f, ", opcode %u", g->uring_ops[i]);
	}
	if (g->files_update)
		fputs("; register `FILES_UPDATE`", f);
	fprintf(f, "; files: its two eventfds%s%s\n", g->files ? ", " : "",
		g->files ? g->files : "");
}

static void kind(FILE *f, enum jail_kind k)
{
	unsigned n, nw;
	const struct jail_rule *rules = jail_rules(k, &n);
	const struct jail_rule *w = jail_rules(JAIL_VIRTIO_WORKER, &nw);
	fprintf(f, "## %s: %s\n\n", kind_ids[k], jail_kind_name(k));
	/* A worker kind's table starts with the virtqueue worker's: only
	 * what it adds. */
	unsigned common = 0;
	while (k != JAIL_VIRTIO_WORKER && common < nw && common < n &&
	       same_rule(&rules[common], &w[common]))
		common++;
	if (common == nw)
		fprintf(f, "The rules of `%s`, and:\n\n", kind_ids[JAIL_VIRTIO_WORKER]);
	else
		common = 0;
	table(f, rules + common, n - common);
	fputc('\n', f);
	if (k == JAIL_VCPU) {
		fputs("- `cvmm-vcpu<N>`: no io_uring\n", f);
		return;
	}
	if (k == JAIL_SNAPMEM) {
		fputs("- `cvmm-snapmem` (a VM restored with the LAZY or UFFD memory backend): no "
		      "io_uring\n",
		      f);
		return;
	}
	if (k == JAIL_CONTROL) {
		fputs("- `cvmm-control` (the CLI's main thread): no io_uring\n", f);
		return;
	}
	for (unsigned s = 0; s < vm_nvdev_srcs; s++) {
		const struct vdev_desc *d = vm_vdev_srcs[s].desc;
		for (unsigned i = 0; i < d->ngrants; i++)
			if (d->grants[i].jail == jail_table(k))
				grant(f, d, &d->grants[i]);
	}
}

API int cvmm_jail_policy(char **text)
{
	size_t len;
	*text = NULL;
	FILE *f = open_memstream(text, &len);
	if (!f)
		return -ENOMEM;
#ifdef __aarch64__
	fputs("# cvmm's seccomp policy (aarch64)\n", f);
#else
	fputs("# cvmm's seccomp policy (x86_64)\n", f);
#endif
	for (unsigned k = 0; k < JAIL_NKINDS; k++) {
		fputc('\n', f);
		kind(f, (enum jail_kind)k);
	}
	unsigned n;
	const struct jail_rule *disk = jail_disk_rules(&n);
	fputs("\n## JAIL_CONTROL_DISKS: control, disk updates\n\n", f);
	fputs("The rules of `JAIL_CONTROL`, and, where the VM's disks may be replaced while it "
	      "runs (`cvmm_jail.update_disks`; the CLI's `--api-socket`):\n\n",
	      f);
	table(f, disk, n);
	fputs("\n- `cvmm-control` (the CLI's main thread, `--api-socket`): no io_uring of its "
	      "own; it registers the new disk file in the blk workers' rings\n",
	      f);
	const struct jail_rule *snap = jail_snapshot_rules(&n);
	fputs("\n## JAIL_CONTROL_SNAPSHOTS: control, snapshots\n\n", f);
	fputs("The rules of `JAIL_CONTROL`, and, where the VM may be snapshotted "
	      "(`cvmm_jail.snapshot_dir`; the CLI's `--api-socket`):\n\n",
	      f);
	table(f, snap, n);
	fputs("\n- `cvmm-control` (the CLI's main thread, `--api-socket`): PUT /snapshot/create\n",
	      f);
	const struct jail_rule *san = jail_sanitizer_rules(false, &n);
	if (n) {
		fputs("\n## Sanitizer build: every table, besides\n\n", f);
		table(f, san, n);
		san = jail_sanitizer_rules(true, &n);
		fputs("\n## Sanitizer build: JAIL_CONTROL, besides\n\n", f);
		table(f, san, n);
	}
	if (fclose(f) != 0) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}
