/* SPDX-License-Identifier: MIT */
/* MMDS: the store (the VM's document, shared by the interfaces) and the
 * responder (one per interface that allows MMDS). Both are created on the
 * main thread with every buffer they will use; the responder runs on its
 * interface's workers (frames in: the TX workers; frames out: RX pair 0),
 * under its own lock, and takes the store's lock to answer a request (lock
 * order: responder, then store). The API thread takes the store's lock
 * alone to replace the document. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "devices/mmds.h"

int mmds_store_new(struct mmds_store **out, int version, uint32_t ip, bool imds_compat,
		   size_t limit, struct err *e)
{
	*out = NULL;
	if (version != 1 && version != 2)
		return err_set(e, EINVAL, "MMDS version %d: V1 or V2", version);
	struct mmds_store *s = calloc(1, sizeof(*s));
	if (!s)
		return err_set(e, ENOMEM, "out of memory");
	if (getrandom(s->key.k, sizeof(s->key.k), 0) != (ssize_t)sizeof(s->key.k)) {
		free(s);
		return err_set(e, errno ? errno : EIO, "MMDS: getrandom failed");
	}
	pthread_mutex_init(&s->lock, NULL);
	s->version = version;
	s->ip = ip ? ip : MMDS_DEFAULT_IPV4;
	s->imds_compat = imds_compat;
	s->limit = limit ? limit : MMDS_DEFAULT_LIMIT;
	*out = s;
	return 0;
}

int mmds_store_put(struct mmds_store *s, const char *json, size_t len)
{
	if (len > s->limit)
		return -EFBIG;
	if (!mmds_json_valid(json, len))
		return -EINVAL;
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, json, len);
	copy[len] = '\0';
	pthread_mutex_lock(&s->lock);
	char *old = s->json;
	s->json = copy;
	s->json_len = len;
	pthread_mutex_unlock(&s->lock);
	free(old);
	return 0;
}

void mmds_store_free(struct mmds_store *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->json);
	free(s);
}

int mmds_resp_new(struct mmds_resp **out, struct mmds_store *store, struct err *e)
{
	*out = NULL;
	struct mmds_resp *r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(e, ENOMEM, "out of memory");
	uint32_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		seed = 0x6d6d6473;
	/* a response: its head and the largest document */
	int rc = mmds_tcp_init(&r->tcp, store->ip, store->limit + MMDS_HDR_ROOM + 64, seed);
	if (rc < 0) {
		mmds_tcp_fini(&r->tcp);
		free(r);
		return err_set(e, -rc, "out of memory");
	}
	pthread_mutex_init(&r->lock, NULL);
	r->store = store;
	static const uint8_t fc_mac[6] = {0x06, 0x01, 0x23, 0x45, 0x67, 0x01};
	memcpy(r->mac, fc_mac, 6);
	*out = r;
	return 0;
}

void mmds_resp_free(struct mmds_resp *r)
{
	if (!r)
		return;
	mmds_tcp_fini(&r->tcp);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* mmds_tcp's callback: a request answered from the store. */
static size_t answer(void *ctx, const struct mmds_req *req, bool bad, char *out, size_t cap)
{
	struct mmds_resp *r = ctx;
	struct mmds_store *s = r->store;
	pthread_mutex_lock(&s->lock);
	struct mmds_view v = {.version = s->version,
			      .imds_compat = s->imds_compat,
			      .json = s->json,
			      .json_len = s->json_len,
			      .key = &s->key};
	size_t n = mmds_http_answer(req, bad, &v, r->now_ms, out, cap);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void mmds_resp_input(struct mmds_resp *r, const uint8_t *f, size_t len, uint64_t now_ms)
{
	uint16_t type;
	const uint8_t *p;
	size_t plen;
	pthread_mutex_lock(&r->lock);
	r->frames_in++;
	if (mmds_eth_parse(f, len, &type, &p, &plen) < 0) {
		r->frames_bad++;
		goto out;
	}
	if (type == MMDS_ETH_ARP) {
		struct mmds_arp a;
		if (mmds_arp_parse(p, plen, &a) < 0 || a.op != 1 || a.tpa != r->tcp.ip) {
			r->frames_bad++;
			goto out;
		}
		memcpy(r->guest_mac, a.sha, 6);
		r->arp_due = true;
		r->arp_ip = a.spa;
		goto out;
	}
	struct mmds_tcp_seg s;
	if (type != MMDS_ETH_IPV4 || mmds_ipv4_tcp_parse(p, plen, &s) < 0) {
		r->frames_bad++; /* not TCP over IPv4: nothing answers it */
		goto out;
	}
	memcpy(r->guest_mac, f + 6, 6);
	r->now_ms = now_ms;
	mmds_tcp_input(&r->tcp, &s, now_ms, answer, r);
out:
	pthread_mutex_unlock(&r->lock);
}

size_t mmds_resp_output(struct mmds_resp *r, uint8_t *out)
{
	size_t n = 0;
	pthread_mutex_lock(&r->lock);
	if (r->arp_due) {
		r->arp_due = false;
		n = mmds_arp_reply(out, r->mac, r->tcp.ip, r->guest_mac, r->arp_ip);
	} else {
		struct mmds_tcp_seg s;
		if (mmds_tcp_output(&r->tcp, &s) == 1)
			n = mmds_tcp_build(out, MMDS_FRAME_MAX, r->mac, r->guest_mac, &s);
	}
	r->frames_out += n > 0;
	pthread_mutex_unlock(&r->lock);
	return n;
}
