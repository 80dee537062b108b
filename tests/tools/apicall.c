/* SPDX-License-Identifier: MIT */
/* apicall: one HTTP/1.1 request to cvmm's API socket, for test hosts with
 * no curl (the arm64 one: tests/linux/arm-cases.sh).
 *   apicall SOCKET METHOD PATH [JSON]
 * Prints the answer's status code on stdout and its body on stderr; exits
 * 0 once an answer came, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: apicall SOCKET METHOD PATH [JSON]\n");
		return 2;
	}
	const char *body = argc == 5 ? argv[4] : "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "apicall: socket path too long\n");
		return 1;
	}
	strcpy(sa.sun_path, argv[1]);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("apicall: connect");
		return 1;
	}
	char req[8192];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 argv[2], argv[3], strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		fprintf(stderr, "apicall: request too long\n");
		return 1;
	}
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, req + off, (size_t)(n - off));
		if (w <= 0) {
			perror("apicall: write");
			return 1;
		}
		off += (int)w;
	}
	static char resp[65536];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);
		if (r <= 0)
			break;
		got += (size_t)r;
		resp[got] = 0;
		/* the whole answer once its head and Content-Length bytes are in */
		char *end = strstr(resp, "\r\n\r\n");
		const char *cl = strstr(resp, "Content-Length:");
		if (end && (!cl || cl > end))
			cl = strstr(resp, "content-length:");
		if (end && cl && cl < end &&
		    got >= (size_t)(end + 4 - resp) + strtoul(cl + 15, NULL, 10))
			break;
		if (got == sizeof(resp) - 1)
			break;
	}
	close(fd);
	int code;
	if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1) {
		fprintf(stderr, "apicall: no HTTP answer\n");
		return 1;
	}
	printf("%d\n", code);
	char *b = strstr(resp, "\r\n\r\n");
	if (b && b[4])
		fprintf(stderr, "%s\n", b + 4);
	return 0;
}
