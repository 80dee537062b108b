/* SPDX-License-Identifier: MIT */
/* mg-bench: the VMM benchmark guest (bench/run). It drives the virtio-mmio
 * devices the command line names from a polled loop, times each job with
 * kvmclock and prints one line per job on COM1:
 *
 *   MGB <job> n=<ops> bytes=<bytes> ns=<elapsed> kicks=<notifications>
 *
 * Keys: mg.case=blk|net-tx|net-rx|exits|idle|flushlog|console (required; idle
 * only boots, finds the devices and powers off; console prints mg.n lines
 * of 64 bytes), mg.job=NAME (only that job of the
 * case), mg.ms=MS per job
 * (default 1000), mg.n=N at most N operations per job (0: no cap),
 * mg.verify=1 (blk: reads must return the pattern of bench/run and the
 * tests, writes write the second pattern and are read back at the end),
 * mg.qd=N (blk: the deep queue depth, default 32). mg.case=flushlog
 * writes block i (4 KiB at i * 4 KiB, every word FLUSHLOG_WORD), FLUSHes
 * and prints "MGF i" once both were acknowledged, for mg.n blocks (0: to
 * the disk's end); no RAM beyond 16 MiB needed. See README.md. */
#include "virtio.h"

#define BUF_BASE      0x1000000ull /* 16 MiB: data buffers, not in the image */
#define BLK_BIG	      (1u << 20)
#define BLK_SMALL     4096u
#define BLK_QD_MAX    32u
#define NET_BUF	      2048u
#define NET_HDR	      12u	     /* virtio_net_hdr with VERSION_1 */
#define PATTERN_READ  0x6d31ull	     /* top 16 bits of each 8-byte word; the low */
#define PATTERN_WRITE 0x6d32ull	     /* 48 are the word's byte offset in the disk */
#define RX_WAIT_NS    10000000000ull /* net-rx: first frame within 10 s */
#define STALL_NS      10000000000ull /* no completion for 10 s: a lost kick */

/* A job whose requests stopped coming back: say where the rings stand. */
static void stalled(const char *name, const struct mgv_queue *q, unsigned inflight)
{
	mg_fail(name,
		"stalled: %u in flight, avail idx %u, used idx %u (seen %u), "
		"avail_event %u, kicks %llu",
		inflight, q->avail[1], *(const volatile uint16_t *)(q->used + 2), q->used_seen,
		*(const volatile uint16_t *)(q->used + 4 + 8 * q->size),
		(unsigned long long)q->kicks);
}

struct opts {
	const char *which, *job;
	size_t which_len, job_len;
	uint64_t ms, n, qd;
	bool verify;
};

static struct opts o = {.ms = 1000, .qd = BLK_QD_MAX};
static bool have_clock;

static uint64_t now(void)
{
	return have_clock ? mg_clock_ns() : 0;
}

static bool case_is(const char *s)
{
	size_t n = mg_strnlen(s, 16);
	return o.which_len == n && !memcmp(o.which, s, n);
}

/* mg.job=NAME runs only the job NAME of its case. */
static bool job_selected(const char *name)
{
	size_t n = mg_strnlen(name, 64);
	return !o.job || (o.job_len == n && !memcmp(o.job, name, n));
}

static bool parse_args(const struct mg_boot *b)
{
	const char *pos = b->cmdline, *end = b->cmdline + b->cmdline_len;
	struct mg_tok t;
	while (b->cmdline && mg_cmdline_next(&pos, end, &t)) {
		if (t.key_len < 3 || memcmp(t.key, "mg.", 3))
			continue;
		bool ok = t.val != NULL;
		if (ok && mg_tok_is(&t, "mg.case")) {
			o.which = t.val;
			o.which_len = t.val_len;
		} else if (ok && mg_tok_is(&t, "mg.job")) {
			o.job = t.val;
			o.job_len = t.val_len;
		} else if (ok && mg_tok_is(&t, "mg.ms")) {
			ok = mg_parse_u64(t.val, t.val_len, false, &o.ms);
		} else if (ok && mg_tok_is(&t, "mg.n")) {
			ok = mg_parse_u64(t.val, t.val_len, false, &o.n);
		} else if (ok && mg_tok_is(&t, "mg.qd")) {
			ok = mg_parse_u64(t.val, t.val_len, false, &o.qd) && o.qd >= 1 &&
			     o.qd <= BLK_QD_MAX;
		} else if (ok && mg_tok_is(&t, "mg.verify")) {
			uint64_t v;
			ok = mg_parse_u64(t.val, t.val_len, false, &v) && v <= 1;
			o.verify = v;
		} else {
			ok = false;
		}
		if (!ok) {
			mg_fail("args", "bad or unknown mg.* key");
			return false;
		}
	}
	if (!o.which) {
		mg_fail("args", "no mg.case=");
		return false;
	}
	return true;
}

static bool ram_covers(const struct mg_boot *b, uint64_t addr, uint64_t len)
{
	for (uint32_t i = 0; i < b->nmap; i++)
		if (b->map[i].type == 1 && b->map[i].addr <= addr &&
		    addr + len <= b->map[i].addr + b->map[i].size)
			return true;
	return false;
}

static void *buf(uint64_t off)
{
	return (void *)(uintptr_t)(BUF_BASE + off);
}

/* Writes every page once, so that no job pays the first touch. */
static void touch(uint64_t len)
{
	for (uint64_t off = 0; off < len; off += 4096)
		*(volatile uint8_t *)buf(off) = 0;
}

static void report(const char *job, uint64_t n, uint64_t bytes, uint64_t ns, uint64_t kicks)
{
	mg_printf("MGB %s n=%llu bytes=%llu ns=%llu kicks=%llu\n", job, (unsigned long long)n,
		  (unsigned long long)bytes, (unsigned long long)ns, (unsigned long long)kicks);
}

static struct mgv_dev *find(struct mgv_dev *devs, unsigned n, uint32_t id)
{
	for (unsigned i = 0; i < n; i++)
		if (devs[i].id == id)
			return &devs[i];
	mg_fail("virtio", "no device with ID %u on the command line", id);
	return NULL;
}

/* ---- virtio-blk ---- */
struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};
static struct blk_hdr blk_hdrs[BLK_QD_MAX];
static volatile uint8_t blk_status[BLK_QD_MAX];
static uint64_t blk_off[BLK_QD_MAX];
static uint64_t blk_cap;     /* bytes */
static uint64_t blk_written; /* end of what the write jobs wrote */
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t xorshift(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void pattern_fill(uint64_t *p, uint64_t off, uint32_t len, uint64_t tag)
{
	for (uint32_t i = 0; i < len / 8; i++)
		p[i] = (off + 8ull * i) | tag << 48;
}

static bool pattern_check(const uint64_t *p, uint64_t off, uint32_t len, uint64_t tag)
{
	for (uint32_t i = 0; i < len / 8; i++) {
		uint64_t want = (off + 8ull * i) | tag << 48;
		if (p[i] != want) {
			mg_fail("verify", "disk offset 0x%llx: 0x%llx, want 0x%llx",
				(unsigned long long)(off + 8ull * i), (unsigned long long)p[i],
				(unsigned long long)want);
			return false;
		}
	}
	return true;
}

/* Chain of slot s: descriptors 3s (header), 3s+1 (data), 3s+2 (status). */
static void blk_issue(struct mgv_queue *q, unsigned s, bool write, uint64_t off, uint32_t bs,
		      uint64_t tag)
{
	uint16_t h = (uint16_t)(3 * s);
	blk_hdrs[s] = (struct blk_hdr){.type = write ? 1 : 0, .sector = off / 512};
	blk_status[s] = 0xff;
	blk_off[s] = off;
	if (write && tag)
		pattern_fill(buf((uint64_t)s * BLK_BIG), off, bs, tag);
	q->desc[h] = (struct mgv_desc){(uintptr_t)&blk_hdrs[s], sizeof(blk_hdrs[s]),
				       MGV_DESC_F_NEXT, (uint16_t)(h + 1)};
	q->desc[h + 1] = (struct mgv_desc){
		BUF_BASE + (uint64_t)s * BLK_BIG, bs,
		(uint16_t)(MGV_DESC_F_NEXT | (write ? 0 : MGV_DESC_F_WRITE)), (uint16_t)(h + 2)};
	q->desc[h + 2] = (struct mgv_desc){(uintptr_t)&blk_status[s], 1, MGV_DESC_F_WRITE, 0};
	mgv_publish(q, h);
}

/* One job: `qd` requests in flight until o.ms passed or o.n were issued;
 * returns false on a device error. Sequential jobs start at 0 and wrap. */
static bool blk_job(struct mgv_queue *q, const char *name, bool write, bool random, uint32_t bs,
		    unsigned qd, uint64_t read_tag)
{
	uint64_t blocks = blk_cap / bs, seq = 0, issued = 0, done = 0, bytes = 0;
	uint64_t kicks0 = q->kicks, write_tag = o.verify ? PATTERN_WRITE : 0;
	uint64_t limit = o.ms * 1000000ull;
	unsigned inflight = 0;
	if (!job_selected(name))
		return true;
	if (!blocks) {
		mg_fail(name, "disk smaller than one block");
		return false;
	}
	uint64_t t0 = now();
	bool more = true;
	for (unsigned s = 0; s < qd && more; s++) {
		uint64_t blk = random ? xorshift() % blocks : seq++ % blocks;
		blk_issue(q, s, write, blk * bs, bs, write_tag);
		issued++;
		inflight++;
		more = !o.n || issued < o.n;
	}
	mgv_kick(q);
	uint64_t last = now();
	while (inflight) {
		uint32_t id, len;
		bool got = false;
		while (mgv_used(q, &id, &len)) {
			got = true;
			unsigned s = id / 3;
			if (id % 3 || s >= qd) {
				mg_fail(name, "used id %u is no chain head", id);
				return false;
			}
			if (blk_status[s] != 0) {
				mg_fail(name, "request status %u at offset 0x%llx", blk_status[s],
					(unsigned long long)blk_off[s]);
				return false;
			}
			if (!write && read_tag &&
			    !pattern_check(buf((uint64_t)s * BLK_BIG), blk_off[s], bs, read_tag))
				return false;
			if (write && blk_off[s] + bs > blk_written)
				blk_written = blk_off[s] + bs;
			done++;
			bytes += bs;
			inflight--;
			if (more && o.ms && now() - t0 >= limit)
				more = false;
			if (more) {
				uint64_t blk = random ? xorshift() % blocks : seq++ % blocks;
				blk_issue(q, s, write, blk * bs, bs, write_tag);
				issued++;
				inflight++;
				more = !o.n || issued < o.n;
			}
		}
		if (got) {
			mgv_kick(q);
			last = now();
		} else if (have_clock && now() - last > STALL_NS) {
			stalled(name, q, inflight);
			return false;
		}
	}
	report(name, done, bytes, now() - t0, q->kicks - kicks0);
	mg_pass(name);
	return true;
}

static void case_blk(struct mgv_dev *devs, unsigned ndev)
{
	struct mgv_dev *d = find(devs, ndev, MGV_ID_BLK);
	struct mgv_queue q;
	if (!d || mgv_init(d, 1ull << MGV_F_EVENT_IDX) < 0 || mgv_queue_setup(d, &q, 0, 128) < 0)
		return;
	mgv_driver_ok(d);
	blk_cap = ((uint64_t)mgv_config32(d, 4) << 32 | mgv_config32(d, 0)) * 512;
	unsigned qd = (unsigned)o.qd;
	if (qd > q.size / 3u)
		qd = q.size / 3u;
	touch((uint64_t)qd * BLK_BIG);
	mg_printf("MGB-INFO blk capacity=%llu qd=%u queue=%u event_idx=%u\n",
		  (unsigned long long)blk_cap, qd, q.size, (unsigned)q.event_idx);
	uint64_t tag = o.verify ? PATTERN_READ : 0;
	if (!blk_job(&q, "blk-randread-4k-qd1", false, true, BLK_SMALL, 1, tag) ||
	    !blk_job(&q, "blk-randread-4k-qdN", false, true, BLK_SMALL, qd, tag) ||
	    !blk_job(&q, "blk-read-1m-qd1", false, false, BLK_BIG, 1, tag) ||
	    !blk_job(&q, "blk-read-1m-qdN", false, false, BLK_BIG, qd, tag) ||
	    !blk_job(&q, "blk-write-1m-qd1", true, false, BLK_BIG, 1, 0) ||
	    !blk_job(&q, "blk-write-1m-qdN", true, false, BLK_BIG, qd, 0))
		return;
	if (o.verify && !o.job) {
		/* What the writes wrote comes back: one pass of 1 MiB reads. */
		uint64_t saved_n = o.n, saved_ms = o.ms;
		o.n = (blk_written + BLK_BIG - 1) / BLK_BIG;
		o.ms = 0;
		if (o.n)
			blk_job(&q, "blk-readback", false, false, BLK_BIG, 1, PATTERN_WRITE);
		o.n = saved_n;
		o.ms = saved_ms;
	}
}

/* ---- flushlog: write, FLUSH, say so (tests/tools/flushkill checks the
 * disks of VMs killed mid-write: every block said flushed is there) ---- */
#define VIRTIO_BLK_F_FLUSH 9
#define BLK_T_OUT	   1
#define BLK_T_FLUSH	   4
/* Word w of block i: "MGF" in the top bits, i, w (flushkill.c agrees). */
#define FLUSHLOG_WORD(i, w) (0x4d4746ull << 40 | (uint64_t)(i) << 12 | (uint64_t)(w))
static uint64_t flog_buf[BLK_SMALL / 8] __attribute__((aligned(4096)));

/* One request (the write, or with data NULL the flush), waited for. */
static bool flog_req(struct mgv_queue *q, const char *what, uint32_t type, uint64_t sector,
		     void *data, uint32_t len)
{
	blk_hdrs[0] = (struct blk_hdr){.type = type, .sector = sector};
	blk_status[0] = 0xff;
	uint16_t n = 0;
	q->desc[n] = (struct mgv_desc){(uintptr_t)&blk_hdrs[0], sizeof(blk_hdrs[0]),
				       MGV_DESC_F_NEXT, (uint16_t)(n + 1)};
	n++;
	if (data) {
		q->desc[n] =
			(struct mgv_desc){(uintptr_t)data, len, MGV_DESC_F_NEXT, (uint16_t)(n + 1)};
		n++;
	}
	q->desc[n] = (struct mgv_desc){(uintptr_t)&blk_status[0], 1, MGV_DESC_F_WRITE, 0};
	mgv_publish(q, 0);
	mgv_kick(q);
	uint32_t id, l;
	uint64_t t0 = now();
	while (!mgv_used(q, &id, &l)) {
		if (have_clock && now() - t0 > STALL_NS) {
			stalled(what, q, 1);
			return false;
		}
	}
	if (id != 0 || blk_status[0] != 0) {
		mg_fail(what, "sector %llu: used id %u, status %u", (unsigned long long)sector, id,
			blk_status[0]);
		return false;
	}
	return true;
}

static void case_flushlog(struct mgv_dev *devs, unsigned ndev)
{
	struct mgv_dev *d = find(devs, ndev, MGV_ID_BLK);
	struct mgv_queue q;
	if (!d || mgv_init(d, 1ull << MGV_F_EVENT_IDX | 1ull << VIRTIO_BLK_F_FLUSH) < 0 ||
	    mgv_queue_setup(d, &q, 0, 16) < 0)
		return;
	if (!(d->features & (1ull << VIRTIO_BLK_F_FLUSH))) {
		mg_fail("flushlog", "the device offers no FLUSH");
		return;
	}
	mgv_driver_ok(d);
	uint64_t blocks =
		((uint64_t)mgv_config32(d, 4) << 32 | mgv_config32(d, 0)) * 512 / BLK_SMALL;
	if (o.n && o.n < blocks)
		blocks = o.n;
	for (uint64_t i = 0; i < blocks; i++) {
		for (uint32_t w = 0; w < BLK_SMALL / 8; w++)
			flog_buf[w] = FLUSHLOG_WORD(i, w);
		if (!flog_req(&q, "flushlog-write", BLK_T_OUT, i * (BLK_SMALL / 512), flog_buf,
			      BLK_SMALL) ||
		    !flog_req(&q, "flushlog-flush", BLK_T_FLUSH, 0, NULL, 0))
			return;
		mg_printf("MGF %llu\n", (unsigned long long)i);
	}
	mg_pass("flushlog");
}

/* ---- virtio-net ---- */
static const uint8_t net_dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static bool net_tx_job(struct mgv_queue *q, const char *name, uint32_t frame)
{
	uint64_t issued = 0, done = 0, bytes = 0, kicks0 = q->kicks;
	uint64_t limit = o.ms * 1000000ull;
	unsigned inflight = 0;
	if (!job_selected(name))
		return true;
	for (unsigned s = 0; s < q->size; s++) {
		uint8_t *p = buf((uint64_t)s * NET_BUF);
		memset(p, 0, NET_HDR);
		memcpy(p + NET_HDR, net_dst, 6);
		memcpy(p + NET_HDR + 6, "\x52\x54\x00\x6d\x67\x62", 6);
		p[NET_HDR + 12] = 0x88; /* local experimental ethertype 0x88b5 */
		p[NET_HDR + 13] = 0xb5;
		q->desc[s] =
			(struct mgv_desc){BUF_BASE + (uint64_t)s * NET_BUF, NET_HDR + frame, 0, 0};
	}
	uint64_t t0 = now(), last = t0;
	bool more = true;
	for (unsigned s = 0; s < q->size && more; s++) {
		mgv_publish(q, (uint16_t)s);
		issued++;
		inflight++;
		more = !o.n || issued < o.n;
	}
	mgv_kick(q);
	while (inflight) {
		uint32_t id, len;
		bool got = false;
		while (mgv_used(q, &id, &len)) {
			got = true;
			if (id >= q->size) {
				mg_fail(name, "used id %u out of range", id);
				return false;
			}
			done++;
			bytes += frame;
			inflight--;
			if (more && o.ms && now() - t0 >= limit)
				more = false;
			if (more) {
				mgv_publish(q, (uint16_t)id);
				issued++;
				inflight++;
				more = !o.n || issued < o.n;
			}
		}
		if (got) {
			mgv_kick(q);
			last = now();
		} else if (have_clock && now() - last > STALL_NS) {
			stalled(name, q, inflight);
			return false;
		}
	}
	report(name, done, bytes, now() - t0, q->kicks - kicks0);
	mg_pass(name);
	return true;
}

/* Times from the first frame received to the last one counted. */
static void net_rx_job(struct mgv_queue *q, const char *name)
{
	uint64_t done = 0, bytes = 0, kicks0 = q->kicks;
	uint64_t limit = o.ms * 1000000ull;
	for (unsigned s = 0; s < q->size; s++) {
		q->desc[s] = (struct mgv_desc){BUF_BASE + (uint64_t)s * NET_BUF, NET_BUF,
					       MGV_DESC_F_WRITE, 0};
		mgv_publish(q, (uint16_t)s);
	}
	mgv_kick(q);
	uint64_t t0 = 0, wait0 = now();
	for (;;) {
		uint32_t id, len;
		bool got = false;
		while (mgv_used(q, &id, &len)) {
			if (id >= q->size || len < NET_HDR || len > NET_BUF) {
				mg_fail(name, "used id %u len %u out of range", id, len);
				return;
			}
			if (!done)
				t0 = now();
			got = true;
			done++;
			bytes += len - NET_HDR;
			mgv_publish(q, (uint16_t)id);
		}
		if (got)
			mgv_kick(q);
		if (done && ((o.n && done >= o.n) || (o.ms && now() - t0 >= limit)))
			break;
		if (!done && have_clock && now() - wait0 > RX_WAIT_NS) {
			mg_fail(name, "no frame within %llu s",
				(unsigned long long)(RX_WAIT_NS / 1000000000ull));
			return;
		}
	}
	report(name, done, bytes, now() - t0, q->kicks - kicks0);
	mg_pass(name);
}

static void case_net(struct mgv_dev *devs, unsigned ndev, bool tx)
{
	struct mgv_dev *d = find(devs, ndev, MGV_ID_NET);
	struct mgv_queue rxq, txq;
	if (!d || mgv_init(d, 1ull << MGV_F_EVENT_IDX) < 0 ||
	    mgv_queue_setup(d, &rxq, 0, 256) < 0 || mgv_queue_setup(d, &txq, 1, 256) < 0)
		return;
	mgv_driver_ok(d);
	touch((uint64_t)MGV_QSIZE_MAX * NET_BUF);
	mg_printf("MGB-INFO net queue=%u event_idx=%u\n", txq.size, (unsigned)txq.event_idx);
	if (tx) {
		if (net_tx_job(&txq, "net-tx-60", 60))
			net_tx_job(&txq, "net-tx-1514", 1514);
	} else {
		net_rx_job(&rxq, "net-rx");
	}
}

/* ---- exits: a device register read in a tight loop ---- */
static void exits_job(const char *name, uint64_t mmio)
{
	uint64_t n = 0, limit = o.ms * 1000000ull, t0 = now();
	volatile uint32_t sink = 0;
	if (!job_selected(name))
		return;
	for (;;) {
		for (unsigned i = 0; i < 100; i++) {
			if (mmio)
				sink += mgv_read32(mmio);
			else
				sink += mg_inb(0x3f8 + 5); /* COM1 LSR */
		}
		n += 100;
		if ((o.n && n >= o.n) || (o.ms && now() - t0 >= limit) || (!o.n && !o.ms))
			break;
	}
	report(name, n, 0, now() - t0, 0);
	mg_pass(name);
}

static void case_exits(struct mgv_dev *devs, unsigned ndev)
{
	exits_job("exit-pio", 0);
	if (!ndev) {
		mg_fail("exit-mmio", "no virtio-mmio device on the command line");
		return;
	}
	exits_job("exit-mmio", devs[0].base); /* MagicValue */
}

void mg_main(struct mg_boot *b)
{
	if (!b->info_ok || !parse_args(b))
		goto out;
	have_clock = mg_clock_init();
	if (!have_clock)
		mg_printf("MGB-INFO no kvmclock: times are 0\n");
	if (!case_is("flushlog") && !ram_covers(b, BUF_BASE, 32ull << 20)) {
		mg_fail("mem", "need RAM at 16..48 MiB (use 64 MiB or more)");
		goto out;
	}
	struct mgv_dev devs[MGV_MAX_DEVS];
	unsigned ndev = mgv_discover(b, devs, MGV_MAX_DEVS);
	if (case_is("blk"))
		case_blk(devs, ndev);
	else if (case_is("net-tx"))
		case_net(devs, ndev, true);
	else if (case_is("net-rx"))
		case_net(devs, ndev, false);
	else if (case_is("exits"))
		case_exits(devs, ndev);
	else if (case_is("flushlog"))
		case_flushlog(devs, ndev);
	else if (case_is("idle"))
		mg_printf("MGB-INFO idle: %u virtio-mmio devices\n", ndev);
	else if (case_is("console")) /* mg.n lines of 64 bytes on COM1 */
		for (uint64_t i = 0; i < o.n; i++)
			mg_printf(
				"MGB-LINE %08llu ...............................................\n",
				(unsigned long long)i);
	else
		mg_fail("args", "unknown mg.case");
out:
	mg_done();
	/* QEMU microvm with acpi=off (which it needs to list the devices on
	 * the command line) has no ACPI power-off: end through the debug exit
	 * port (cvmm --debug-exit, QEMU isa-debug-exit), else through ACPI. */
	mg_outb(MG_DEBUG_EXIT_PORT, MG_DEBUG_EXIT_VALUE);
	mg_acpi_discover(b, &mg_acpi_info);
}
