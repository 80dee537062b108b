/* SPDX-License-Identifier: MIT */
/* Guest side of the power-button test: waits for one ACPI event on the
 * kernel's "acpi_event" generic-netlink family (what acpid reads; the ACPI
 * button driver sends one per press) and prints it:
 *   ACPIEVENT READY                       (subscribed)
 *   ACPIEVENT <class> <bus_id> 0x<type> <data>
 * Exits 0 after the first event, 1 on error. Static: it runs in the
 * busybox test guests. */
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct acpi_genl_event { /* drivers/acpi/event.c */
	char device_class[20];
	char bus_id[15];
	uint32_t type;
	uint32_t data;
};

#define NLA_DATA(a) ((char *)(a) + NLA_HDRLEN)
#define NLA_NEXT(a) ((struct nlattr *)((char *)(a) + NLA_ALIGN((a)->nla_len)))
#define NLA_OK(a, end)                                                                             \
	((char *)(a) + NLA_HDRLEN <= (end) && (a)->nla_len >= NLA_HDRLEN &&                        \
	 (char *)(a) + (a)->nla_len <= (end))

static char buf[8192];

/* The multicast group id of family/group, or -1. */
static int group_id(int fd, const char *family, const char *group)
{
	struct {
		struct nlmsghdr n;
		struct genlmsghdr g;
		char attrs[64];
	} req = {0};
	size_t flen = strlen(family) + 1;
	struct nlattr *a = (struct nlattr *)req.attrs;
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = (uint16_t)(NLA_HDRLEN + flen);
	memcpy(NLA_DATA(a), family, flen);
	req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + NLA_ALIGN(a->nla_len));
	req.n.nlmsg_type = GENL_ID_CTRL;
	req.n.nlmsg_flags = NLM_F_REQUEST;
	req.g.cmd = CTRL_CMD_GETFAMILY;
	req.g.version = 1;
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
		return -1;
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	if (n < (ssize_t)NLMSG_HDRLEN || !NLMSG_OK(h, (unsigned)n) || h->nlmsg_type == NLMSG_ERROR)
		return -1;
	char *end = (char *)h + h->nlmsg_len;
	for (a = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN); NLA_OK(a, end);
	     a = NLA_NEXT(a)) {
		if ((a->nla_type & NLA_TYPE_MASK) != CTRL_ATTR_MCAST_GROUPS)
			continue;
		char *gend = (char *)a + a->nla_len;
		for (struct nlattr *g = (struct nlattr *)NLA_DATA(a); NLA_OK(g, gend);
		     g = NLA_NEXT(g)) {
			char *iend = (char *)g + g->nla_len;
			const char *name = NULL;
			int id = -1;
			for (struct nlattr *i = (struct nlattr *)NLA_DATA(g); NLA_OK(i, iend);
			     i = NLA_NEXT(i)) {
				if (i->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
					name = NLA_DATA(i);
				else if (i->nla_type == CTRL_ATTR_MCAST_GRP_ID)
					memcpy(&id, NLA_DATA(i), 4);
			}
			if (name && !strcmp(name, group))
				return id;
		}
	}
	return -1;
}

int main(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("acpievent: netlink");
		return 1;
	}
	int grp = group_id(fd, "acpi_event", "acpi_mc_group");
	if (grp < 0 || setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0) {
		fprintf(stderr, "acpievent: no acpi_event netlink family\n");
		return 1;
	}
	printf("ACPIEVENT READY\n");
	fflush(stdout);
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			perror("acpievent: recv");
			return 1;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n);
		     h = NLMSG_NEXT(h, n)) {
			char *end = (char *)h + h->nlmsg_len;
			for (struct nlattr *a =
				     (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
			     NLA_OK(a, end); a = NLA_NEXT(a)) {
				if (a->nla_type != 1 /* ACPI_GENL_ATTR_EVENT */ ||
				    a->nla_len < NLA_HDRLEN + sizeof(struct acpi_genl_event))
					continue;
				struct acpi_genl_event ev;
				memcpy(&ev, NLA_DATA(a), sizeof(ev));
				ev.device_class[sizeof(ev.device_class) - 1] = '\0';
				ev.bus_id[sizeof(ev.bus_id) - 1] = '\0';
				printf("ACPIEVENT %s %s 0x%x %u\n", ev.device_class, ev.bus_id,
				       ev.type, ev.data);
				fflush(stdout);
				return 0;
			}
		}
	}
}
