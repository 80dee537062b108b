/* SPDX-License-Identifier: MIT */
/* uffdhandler: an external page-fault handler as Firecracker's managers
 * run one for a `Uffd` memory backend (docs/snapshot-memory.md), for the
 * restore tests (tests/linux/snap-cases.sh):
 *   uffdhandler SOCKET MEMFILE
 * listens on the unix socket SOCKET, takes one VMM's connection: a JSON
 * array of regions ({"base_host_virt_addr", "size", "offset",
 * "page_size"...}) with the userfaultfd as SCM_RIGHTS; then serves every
 * missing-page fault of those regions from MEMFILE (UFFDIO_COPY of the
 * page at the region's offset, 4 KiB or the 2 MiB of hugetlbfs regions; a
 * hole reads as zeros) until the VMM hangs
 * up. Prints "uffdhandler: N faults served" at the end; exits 0 then. */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 8

struct region {
	uint64_t base, size, offset;
};

/* The value of "key": N after `from` in the JSON text (0 if absent). */
static const char *num(const char *from, const char *key, uint64_t *v)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	const char *p = strstr(from, pat);
	if (!p)
		return NULL;
	p = strchr(p + strlen(pat), ':');
	if (!p)
		return NULL;
	*v = strtoull(p + 1, NULL, 10);
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: uffdhandler SOCKET MEMFILE\n");
		return 2;
	}
	int mfd = open(argv[2], O_RDONLY);
	struct stat st;
	if (mfd < 0 || fstat(mfd, &st) < 0) {
		perror("uffdhandler: memory file");
		return 1;
	}
	const uint8_t *mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (mem == MAP_FAILED) {
		perror("uffdhandler: mmap");
		return 1;
	}
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[1]);
	unlink(argv[1]);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1) < 0) {
		perror("uffdhandler: socket");
		return 1;
	}
	int s = accept(ls, NULL, NULL);
	if (s < 0) {
		perror("uffdhandler: accept");
		return 1;
	}
	char json[8192] = {0};
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {json, sizeof(json) - 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl,
			    .msg_controllen = sizeof(ctl)};
	ssize_t n = recvmsg(s, &mh, 0);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	if (n <= 0 || !c || c->cmsg_type != SCM_RIGHTS) {
		fprintf(stderr, "uffdhandler: no regions and userfaultfd from the VMM\n");
		return 1;
	}
	int uffd;
	memcpy(&uffd, CMSG_DATA(c), sizeof(uffd));
	struct region r[MAX_REGIONS];
	unsigned nr = 0;
	uint64_t psize = 0; /* every region's page: 4 KiB, or 2 MiB hugetlbfs */
	for (const char *p = json; nr < MAX_REGIONS && (p = strchr(p, '{')); p++) {
		const char *end = strchr(p, '}');
		if (!end)
			break;
		uint64_t page = 0;
		if (!num(p, "base_host_virt_addr", &r[nr].base) || !num(p, "size", &r[nr].size) ||
		    !num(p, "offset", &r[nr].offset) || !num(p, "page_size", &page) ||
		    (page != 4096 && page != 2u << 20) || (psize && page != psize) ||
		    r[nr].offset + r[nr].size > (uint64_t)st.st_size) {
			fprintf(stderr, "uffdhandler: a region I cannot serve: %.*s\n",
				(int)(end - p + 1), p);
			return 1;
		}
		psize = page;
		nr++;
		p = end;
	}
	if (!nr) {
		fprintf(stderr, "uffdhandler: no region in '%s'\n", json);
		return 1;
	}
	unsigned long faults = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = uffd, .events = POLLIN}, {.fd = s, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & (POLLHUP | POLLIN | POLLERR)) {
			char b;
			if (recv(s, &b, 1, MSG_DONTWAIT) <= 0 && errno != EAGAIN)
				break; /* the VMM is gone */
		}
		if (!(p[0].revents & POLLIN))
			continue;
		struct uffd_msg m;
		if (read(uffd, &m, sizeof(m)) != sizeof(m) || m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uint64_t addr = m.arg.pagefault.address & ~(psize - 1);
		unsigned i = 0;
		while (i < nr && (addr < r[i].base || addr >= r[i].base + r[i].size))
			i++;
		if (i == nr) {
			fprintf(stderr, "uffdhandler: a fault at 0x%llx outside every region\n",
				(unsigned long long)addr);
			return 1;
		}
		struct uffdio_copy cp = {
			.dst = addr,
			.src = (uint64_t)(uintptr_t)(mem + r[i].offset + (addr - r[i].base)),
			.len = psize};
		if (ioctl(uffd, UFFDIO_COPY, &cp) < 0 && errno != EEXIST) {
			perror("uffdhandler: UFFDIO_COPY");
			return 1;
		}
		faults++;
	}
	printf("uffdhandler: %lu faults served\n", faults);
	return 0;
}
