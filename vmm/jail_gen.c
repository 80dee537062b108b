/* SPDX-License-Identifier: MIT */
/* jail-gen OUT.c: a build step (meson.build). Compiles, with libseccomp,
 * the seccomp program of every set of tables a thread kind's filter is
 * made of (vmm/jail.h: each kind alone; the control thread with each
 * combination of its extras), in both modes that have one (JAIL_ON,
 * JAIL_LOG), and writes them as C arrays (jail_progs, core/jail.h) with
 * JAIL_FD_PLACEHOLDER(slot) where a rule names a descriptor. Built from
 * the same table sources as the library, in the same configuration, so a
 * table changed is a program rebuilt; tests/unit/test_jail.c checks that
 * each program is what libseccomp makes of its tables. */
#include <errno.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <stdio.h>
#include <string.h>

#include "core/jail.h"
#include "vmm/jail.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: jail-gen OUT.c\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		fprintf(stderr, "jail-gen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	static struct sock_filter prog[BPF_MAXINSNS];
	static char what[64][160];
	static uint64_t keys[64];
	static unsigned lens[64];
	unsigned n = 0;
	fprintf(f, "/* Written by vmm/jail_gen.c when cvmm was built: do not edit. */\n"
		   "#include <linux/filter.h>\n\n#include \"core/jail.h\"\n\n");
	for (unsigned k = 0; k < JAIL_NKINDS; k++) {
		unsigned nextras = k == JAIL_CONTROL ? JAIL_EXTRAS_ALL : 0;
		for (unsigned x = 0; x <= nextras; x++) {
			for (int mode = JAIL_ON; mode <= JAIL_LOG; mode++) {
				const struct jail_table *t[4];
				unsigned nt = jail_kind_tables((enum jail_kind)k, x, t);
				if (!nt || n == 64) {
					fprintf(stderr, "jail-gen: thread kind %u: %s\n", k,
						nt ? "more than 64 programs" : "no table");
					fclose(f);
					return 1;
				}
				struct err e = {0};
				unsigned len = 0;
				if (jail_filter_compile(t, nt, (enum jail_mode)mode,
							&jail_placeholder_fds, prog, BPF_MAXINSNS,
							&len, &e) < 0) {
					fprintf(stderr, "jail-gen: %s: %s\n", t[0]->name, e.msg);
					fclose(f);
					return 1;
				}
				int w = snprintf(what[n], sizeof(what[n]), "%s", t[0]->name);
				for (unsigned i = 1; i < nt && w > 0 && (size_t)w < sizeof(what[n]);
				     i++)
					w += snprintf(what[n] + w, sizeof(what[n]) - (size_t)w,
						      " + %s", t[i]->name);
				if (w > 0 && (size_t)w < sizeof(what[n]))
					snprintf(what[n] + w, sizeof(what[n]) - (size_t)w, ", %s",
						 mode == JAIL_ON ? "on" : "log");
				keys[n] = jail_key(t, nt, (enum jail_mode)mode);
				lens[n] = len;
				fprintf(f, "static const struct sock_filter prog%u[%u] = {\n", n,
					len);
				for (unsigned i = 0; i < len; i++)
					fprintf(f, "\t{0x%04x, %u, %u, 0x%08x},\n", prog[i].code,
						prog[i].jt, prog[i].jf, prog[i].k);
				fprintf(f, "};\n");
				n++;
			}
		}
	}
	fprintf(f, "\nconst struct jail_prog jail_progs[] = {\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "\t{0x%016" PRIx64 "ULL, \"%s\", %u, prog%u},\n", keys[i], what[i],
			lens[i], i);
	fprintf(f, "};\nconst unsigned jail_nprogs = %u;\n", n);
	if (fclose(f) != 0) {
		fprintf(stderr, "jail-gen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
