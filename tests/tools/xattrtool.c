/* SPDX-License-Identifier: MIT */
/* xattrtool: extended attributes from the shell, for the busybox test
 * guest (whose busybox has no setfattr/getfattr) and the test host
 * (tests/linux/fs-cases.sh, fs-xattr*). Static.
 *   xattrtool set PATH NAME VALUE   prints "XT OK"
 *   xattrtool get PATH NAME         prints "XT VALUE <value>"
 *   xattrtool list PATH             prints "XT LIST <name> <name> ..."
 *   xattrtool remove PATH NAME      prints "XT OK"
 * A failure prints "XT ERR <ENAME>" (EOPNOTSUPP, ENODATA, ... or the
 * number) and exits 1. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/xattr.h>

static int fail(void)
{
	int e = errno;
	const char *n = e == EOPNOTSUPP ? "EOPNOTSUPP"
			: e == ENODATA	? "ENODATA"
			: e == EPERM	? "EPERM"
			: e == EACCES	? "EACCES"
			: e == EROFS	? "EROFS"
			: e == ENOENT	? "ENOENT"
					: NULL;
	if (n)
		printf("XT ERR %s\n", n);
	else
		printf("XT ERR %d\n", e);
	return 1;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	if (argc == 5 && !strcmp(argv[1], "set")) {
		if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), 0) < 0)
			return fail();
		printf("XT OK\n");
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "get")) {
		ssize_t n = getxattr(argv[2], argv[3], buf, sizeof(buf) - 1);
		if (n < 0)
			return fail();
		buf[n] = 0;
		printf("XT VALUE %s\n", buf);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "list")) {
		ssize_t n = listxattr(argv[2], buf, sizeof(buf));
		if (n < 0)
			return fail();
		printf("XT LIST");
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
			printf(" %s", buf + i);
		printf("\n");
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "remove")) {
		if (removexattr(argv[2], argv[3]) < 0)
			return fail();
		printf("XT OK\n");
		return 0;
	}
	fprintf(stderr, "usage: xattrtool set|get|list|remove PATH [NAME [VALUE]]\n");
	return 2;
}
