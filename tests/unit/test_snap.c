/* SPDX-License-Identifier: MIT */
/* The state format (core/snap.c): what is written reads back; a newer
 * format, another architecture, a truncated or corrupt file and an unknown
 * required field are each refused with their message; optional fields
 * unknown to the reader are skipped; a missing field is named. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "core/snap.h"
#include "vmm/config.h"
#include "vmm/snapshot.h"

static size_t build(uint8_t **out)
{
	struct snap_w w;
	snap_w_init(&w);
	snap_section(&w, "config", 0);
	snap_u64(&w, 1, 0x1122334455667788ull);
	snap_u32(&w, 2, 7);
	snap_str(&w, 3, "ttyS0 quiet");
	snap_section(&w, "vcpu", 1);
	uint8_t blob[300];
	for (unsigned i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)i;
	snap_put(&w, 10, blob, sizeof(blob));
	snap_put_opt(&w, 99, "x", 1); /* a newer writer's optional field */
	const uint8_t *p;
	size_t len;
	struct err e = {0};
	assert_int_equal(snap_w_finish(&w, SNAP_ARCH_X86_64, &p, &len, &e), 0);
	*out = malloc(len);
	memcpy(*out, p, len);
	snap_w_free(&w);
	return len;
}

static void test_round_trip(void **state)
{
	(void)state;
	uint8_t *b;
	size_t len = build(&b);
	struct snap_r r;
	struct err e = {0};
	assert_int_equal(snap_open(&r, b, len, SNAP_ARCH_X86_64, &e), 0);
	assert_int_equal(r.version, SNAP_VERSION);
	struct snap_sec s;
	assert_int_equal(snap_find(&r, "config", 0, &s), 0);
	uint64_t v;
	uint32_t u;
	char str[32];
	assert_int_equal(snap_get_u64(&s, 1, &v, &e), 0);
	assert_true(v == 0x1122334455667788ull);
	assert_int_equal(snap_get_u32(&s, 2, &u, &e), 0);
	assert_int_equal(u, 7);
	assert_int_equal(snap_get_str(&s, 3, str, sizeof(str), true, &e), 0);
	assert_string_equal(str, "ttyS0 quiet");
	/* absent: optional takes the default, required is named */
	assert_int_equal(snap_opt_u64(&s, 4, 42, &v, &e), 0);
	assert_true(v == 42);
	assert_int_equal(snap_get_u64(&s, 4, &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "lacks field 4"));
	/* wrong size */
	err_clear(&e);
	assert_int_equal(snap_get_u64(&s, 2, &v, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "expected 8"));
	assert_int_equal(snap_find(&r, "vcpu", 1, &s), 0);
	uint8_t blob[300];
	assert_int_equal(snap_get_exact(&s, 10, blob, sizeof(blob), &e), 0);
	assert_int_equal(blob[299], (uint8_t)299);
	/* an unknown optional field is fine, an unknown required one is not */
	const uint16_t known[] = {10};
	assert_int_equal(snap_check_known(&s, known, 1, &e), 0);
	assert_int_equal(snap_find(&r, "config", 0, &s), 0);
	err_clear(&e);
	assert_int_equal(snap_check_known(&s, known, 1, &e), -EPROTO);
	assert_non_null(strstr(e.msg, "newer cvmm"));
	assert_int_equal(snap_find(&r, "vcpu", 0, &s), -ENOENT);
	unsigned n = 0;
	size_t pos = 0;
	while (snap_next(&r, &pos, &s))
		n++;
	assert_int_equal(n, 2);
	free(b);
}

static void refuse(const uint8_t *b, size_t len, uint32_t arch, const char *msg)
{
	struct snap_r r;
	struct err e = {0};
	assert_true(snap_open(&r, b, len, arch, &e) < 0);
	if (!strstr(e.msg, msg))
		fail_msg("expected '%s', got '%s'", msg, e.msg);
}

static void test_refusals(void **state)
{
	(void)state;
	uint8_t *b;
	size_t len = build(&b);
	refuse(b, len, SNAP_ARCH_AARCH64, "made on x86_64, this host is aarch64");
	refuse(b, len - 1, SNAP_ARCH_X86_64, "truncated");
	refuse(b, 20, SNAP_ARCH_X86_64, "not a cvmm snapshot");
	refuse((const uint8_t *)"hello", 5, 0, "not a cvmm snapshot");
	/* one bit flipped anywhere in the body */
	for (size_t at = SNAP_HEADER_SIZE; at < len; at += 37) {
		b[at] ^= 0x10;
		refuse(b, len, SNAP_ARCH_X86_64, "corrupt");
		b[at] ^= 0x10;
	}
	/* in the header */
	b[17] ^= 1;
	refuse(b, len, SNAP_ARCH_X86_64, "header is corrupt");
	b[17] ^= 1;
	/* a newer format (header checksum made right) */
	le_put32(b + 8, SNAP_VERSION + 1);
	le_put32(b + 44, snap_crc32c(0, b, 44));
	refuse(b, len, SNAP_ARCH_X86_64, "newer than this cvmm");
	/* a field length past its section, checksums made right: the bounds
	 * walk refuses it, not the checksum */
	le_put32(b + 8, SNAP_VERSION);
	le_put32(b + 44, snap_crc32c(0, b, 44));
	size_t fld = SNAP_HEADER_SIZE + 1 + 6 + 8; /* "config": first field */
	le_put32(b + fld + 4, 1000);
	le_put32(b + 24, snap_crc32c(0, b + SNAP_HEADER_SIZE, len - SNAP_HEADER_SIZE));
	le_put32(b + 44, snap_crc32c(0, b, 44));
	refuse(b, len, SNAP_ARCH_X86_64, "overruns section");
	free(b);
}

static void test_crc(void **state)
{
	(void)state;
	/* the standard check value of CRC-32C */
	assert_int_equal(snap_crc32c(0, "123456789", 9), 0xe3069283);
}

/* The rate limiters a snapshot keeps (vmm/snapshot_config.c): a disk's,
 * an interface's RX and TX, the entropy device's come back as they were;
 * a configuration without them (an older cvmm's file) loads unlimited. */
/* The configuration w holds (snapshot_config_write's, perhaps edited)
 * read back as a load with rs reads it: a new configuration, the
 * caller's to free (w still holds the bytes). */
static struct cvmm_config *read_back(struct snap_w *w, const struct cvmm_restore *rs)
{
	const uint8_t *p;
	size_t len;
	struct err e = {0};
	assert_int_equal(snap_w_finish(w, SNAP_ARCH_HOST, &p, &len, &e), 0);
	struct snap_r r;
	assert_int_equal(snap_open(&r, p, len, SNAP_ARCH_HOST, &e), 0);
	struct cvmm_config *back;
	assert_int_equal(cvmm_config_new(&back), 0);
	assert_int_equal(snapshot_config_read(&r, rs, NULL, back, &e), 0);
	return back;
}

static void test_config_limiters(void **state)
{
	(void)state;
	struct cvmm_config *c, *back;
	assert_int_equal(cvmm_config_new(&c), 0);
	assert_int_equal(cvmm_config_set_kernel(c, "k"), 0);
	assert_int_equal(cvmm_config_add_disk(c, "/d0", 0, 1), 0);
	assert_int_equal(cvmm_config_add_disk(c, "/d1", 0, 1), 0);
	struct cvmm_net_config n = {.backend = CVMM_NET_STREAM, .target = "/s", .fd = -1};
	assert_int_equal(cvmm_config_add_net(c, &n), 0);
	assert_int_equal(cvmm_config_set_rng(c, 1), 0);
	struct cvmm_rate_limiter d1 = {.bandwidth = {2097152, 8388608, 1000},
				       .ops = {200, 0, 1000}};
	struct cvmm_rate_limiter rx = {.bandwidth = {131072, 0, 125}};
	struct cvmm_rate_limiter tx = {.ops = {10, 5, 100}};
	struct cvmm_rate_limiter rng = {.bandwidth = {1024, 0, 100}};
	assert_int_equal(cvmm_config_set_disk_limiter(c, 1, &d1), 0);
	assert_int_equal(cvmm_config_set_net_limiter(c, 0, &rx, &tx), 0);
	assert_int_equal(cvmm_config_set_rng_limiter(c, &rng), 0);
	assert_int_equal(cvmm_config_set_disk_limiter(c, 2, &d1), -ENODEV);
	struct cvmm_rate_limiter huge = {.ops = {(1ULL << 62) + 1, 0, 1}};
	assert_int_equal(cvmm_config_set_disk_limiter(c, 0, &huge), -EINVAL);
	for (int older = 0; older < 2; older++) {
		struct snap_w w;
		snap_w_init(&w);
		if (older) { /* as an older cvmm wrote it: no limiter fields */
			struct cvmm_rate_limiter none = {0};
			assert_int_equal(cvmm_config_set_disk_limiter(c, 1, &none), 0);
			assert_int_equal(cvmm_config_set_net_limiter(c, 0, NULL, NULL), 0);
			assert_int_equal(cvmm_config_set_rng_limiter(c, NULL), 0);
		}
		snapshot_config_write(c, false, &w);
		back = read_back(&w, &(struct cvmm_restore){0});
		struct cvmm_rate_limiter zero = {0};
		assert_memory_equal(&back->disks[0].limit, &zero, sizeof(zero));
		assert_memory_equal(&back->disks[1].limit, older ? &zero : &d1, sizeof(d1));
		assert_memory_equal(&back->net_limit[0][0], older ? &zero : &rx, sizeof(rx));
		assert_memory_equal(&back->net_limit[0][1], older ? &zero : &tx, sizeof(tx));
		assert_memory_equal(&back->rng_limit, older ? &zero : &rng, sizeof(rng));
		cvmm_config_free(back);
		snap_w_free(&w);
	}
	cvmm_config_free(c);
}

/* A disk's poll window is kept in the snapshot's configuration (a
 * snapshot of a cvmm before polling has no such field: the default). */
static void test_config_disk_poll(void **state)
{
	(void)state;
	struct cvmm_config *c, *back;
	assert_int_equal(cvmm_config_new(&c), 0);
	assert_int_equal(cvmm_config_set_kernel(c, "k"), 0);
	assert_int_equal(cvmm_config_add_disk(c, "/d0", 0, 1), 0);
	assert_int_equal(cvmm_config_add_disk(c, "/d1", 0, 1), 0);
	assert_int_equal(cvmm_config_add_disk(c, "/d2", 0, 1), 0);
	assert_int_equal(c->disks[0].poll_us, CVMM_DISK_POLL_DEFAULT_US);
	assert_int_equal(cvmm_config_set_disk_poll(c, 1, 0), 0);
	assert_int_equal(cvmm_config_set_disk_poll(c, 2, 777), 0);
	assert_int_equal(cvmm_config_set_disk_poll(c, 3, 7), -ENODEV);
	assert_int_equal(cvmm_config_set_disk_poll(c, 2, CVMM_DISK_POLL_MAX_US + 1), -EINVAL);
	assert_non_null(strstr(cvmm_config_error(c), "poll"));
	assert_int_equal(c->disks[2].poll_us, 777);
	{
		struct snap_w w;
		snap_w_init(&w);
		snapshot_config_write(c, false, &w);
		back = read_back(&w, &(struct cvmm_restore){0});
		assert_int_equal(back->disks[0].poll_us, CVMM_DISK_POLL_DEFAULT_US);
		assert_int_equal(back->disks[1].poll_us, 0);
		assert_int_equal(back->disks[2].poll_us, 777);
		cvmm_config_free(back);
		snap_w_free(&w);
	}
	cvmm_config_free(c);
}

/* An interface's TX poll window is kept in the snapshot's configuration;
 * a snapshot of a cvmm before net polling (its net section without the
 * field) loads with the default. */
static void test_config_net_poll(void **state)
{
	(void)state;
	struct cvmm_config *c, *back;
	assert_int_equal(cvmm_config_new(&c), 0);
	assert_int_equal(cvmm_config_set_kernel(c, "k"), 0);
	struct cvmm_net_config n = {.backend = CVMM_NET_STREAM, .target = "/s", .fd = -1};
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cvmm_config_add_net(c, &n), 0);
	assert_int_equal(c->net_poll_us[0], CVMM_NET_POLL_DEFAULT_US);
	assert_int_equal(cvmm_config_set_net_poll(c, 1, 0), 0);
	assert_int_equal(cvmm_config_set_net_poll(c, 2, 777), 0);
	assert_int_equal(cvmm_config_set_net_poll(c, 3, 7), -ENODEV);
	assert_int_equal(cvmm_config_set_net_poll(c, 2, CVMM_NET_POLL_MAX_US + 1), -EINVAL);
	assert_non_null(strstr(cvmm_config_error(c), "poll"));
	assert_int_equal(cvmm_config_set_net_poll(c, 0, CVMM_NET_POLL_MAX_US), 0);
	assert_string_equal(cvmm_config_error(c), ""); /* the setter cleared it */
	assert_int_equal(cvmm_config_set_net_poll(c, 0, CVMM_NET_POLL_DEFAULT_US), 0);
	assert_int_equal(c->net_poll_us[2], 777);
	for (int older = 0; older < 2; older++) {
		struct snap_w w;
		snap_w_init(&w);
		snapshot_config_write(c, false, &w);
		if (older) {
			/* as a cvmm before net polling wrote it: the last net
			 * section's last field (its poll window, 16 bytes with
			 * its tag, flags and length) left out */
			assert_true(w.len > 16);
			const uint8_t *f = w.buf + w.len - 16;
			assert_int_equal(f[4], 8); /* an 8-byte value */
			assert_int_equal(f[8], 777 & 0xff);
			assert_int_equal(f[9], 777 >> 8);
			w.len -= 16;
		}
		back = read_back(&w, &(struct cvmm_restore){0});
		assert_int_equal(back->nnets, 3);
		assert_int_equal(back->net_poll_us[0], CVMM_NET_POLL_DEFAULT_US);
		assert_int_equal(back->net_poll_us[1], 0);
		assert_int_equal(back->net_poll_us[2], older ? CVMM_NET_POLL_DEFAULT_US : 777);
		cvmm_config_free(back);
		snap_w_free(&w);
	}
	cvmm_config_free(c);
}

/* An interface's RX scheduling choice (rx_no_batch) and the VM's huge
 * pages are kept in the snapshot's configuration. */
static void test_config_rx_sched_huge(void **state)
{
	(void)state;
	struct cvmm_config *c, *back;
	assert_int_equal(cvmm_config_new(&c), 0);
	assert_int_equal(cvmm_config_set_kernel(c, "k"), 0);
	assert_int_equal(cvmm_config_set_memory(c, 128 << 20), 0);
	assert_int_equal(cvmm_config_set_huge_pages(c, CVMM_HUGE_2M), 0);
	assert_int_equal(cvmm_config_set_huge_pages(c, 7), -EINVAL);
	struct cvmm_net_config n = {.backend = CVMM_NET_STREAM, .target = "/s", .fd = -1};
	assert_int_equal(cvmm_config_add_net(c, &n), 0);
	n.rx_no_batch = 1;
	assert_int_equal(cvmm_config_add_net(c, &n), 0);
	for (int over = 0; over < 2; over++) {
		struct snap_w w;
		snap_w_init(&w);
		snapshot_config_write(c, false, &w);
		/* the load may ask for other huge pages */
		back = read_back(&w, &(struct cvmm_restore){.set_huge_pages = over,
							    .huge_pages = CVMM_HUGE_THP});
		assert_int_equal(back->nnets, 2);
		assert_int_equal(back->nets[0].rx_no_batch, 0);
		assert_int_equal(back->nets[1].rx_no_batch, 1);
		assert_int_equal(back->huge_pages, over ? CVMM_HUGE_THP : CVMM_HUGE_2M);
		cvmm_config_free(back);
		snap_w_free(&w);
	}
	cvmm_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_crc),
		cmocka_unit_test(test_config_limiters),
		cmocka_unit_test(test_config_disk_poll),
		cmocka_unit_test(test_config_net_poll),
		cmocka_unit_test(test_config_rx_sched_huge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
