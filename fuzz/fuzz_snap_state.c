/* SPDX-License-Identifier: MIT */
/* The state file's reader (core/snap.c) and what reads it before KVM is
 * touched: the configuration a restore rebuilds (vmm/snapshot_config.c)
 * and the platform devices' state (devices/legacy_snap.c). Input:
 *   [0] bit 0 clear: the rest is the file as is (header, checksums,
 *       bounds); set: the rest is sections made into a well-formed file
 *       (so that the fields, not the checksum, are what is fuzzed), each
 *       [name index, instance, nfields] then per field [tag, n] and
 *       n % 40 bytes
 * Invariants: a refused file says why; an accepted one's sections all lie
 * inside it; a configuration read back is one cvmm_config accepted; a
 * clock offset restored is within RTC_MAX_OFFSET. */
#include <stdint.h>

#include "core/snap.h"
#include "devices/legacy.h"
#include "devices/serial.h"
#include "fuzz_common.h"
#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"config", "disk",  "net",	 "serial", "rtc",
				    "i8042",  "pl031", "memory", "vdev"};

static void read_all(const uint8_t *file, size_t len)
{
	struct snap_r r;
	struct err e = {0};
	if (snap_open(&r, file, len, SNAP_ARCH_HOST, &e) < 0) {
		FZ_CHECK(e.msg[0]);
		return;
	}
	size_t pos = 0;
	struct snap_sec s;
	while (snap_next(&r, &pos, &s)) {
		FZ_CHECK(s.p >= file && s.p + s.len <= file + len);
		size_t n;
		(void)snap_get(&s, 1, &n);
	}
	struct cvmm_config *c;
	if (cvmm_config_new(&c) < 0)
		abort();
	struct cvmm_restore rs = {0};
	err_clear(&e);
	if (snapshot_config_read(&r, &rs, NULL, c, &e) < 0)
		FZ_CHECK(e.msg[0]);
	cvmm_config_free(c);
	struct irq_line irq = {0};
	struct sys_ctl sys = {0};
	struct serial ser;
	struct rtc rtc;
	struct i8042 kbd;
	struct pl031 pl;
	if (serial_init(&ser, &irq, -1) == 0) {
		if (serial_restore(&ser, &r, 0, &e) < 0)
			FZ_CHECK(e.msg[0]);
		err_clear(&e);
		FZ_CHECK(ser.rx_count <= SERIAL_FIFO);
		serial_destroy(&ser);
	}
	if (rtc_init(&rtc, NULL, NULL) == 0) {
		if (rtc_restore(&rtc, &r, 0, &e) < 0)
			FZ_CHECK(e.msg[0]);
		err_clear(&e);
		FZ_CHECK(rtc.index < 128);
		FZ_CHECK(rtc.offset >= -RTC_MAX_OFFSET && rtc.offset <= RTC_MAX_OFFSET);
		rtc_destroy(&rtc);
	}
	if (i8042_init(&kbd, &sys, &irq) == 0) {
		if (i8042_restore(&kbd, &r, 0, &e) < 0)
			FZ_CHECK(e.msg[0]);
		err_clear(&e);
		FZ_CHECK(kbd.count <= I8042_BUF_SIZE);
		i8042_destroy(&kbd);
	}
	if (pl031_init(&pl, NULL, NULL) == 0) {
		if (pl031_restore(&pl, &r, 0, &e) < 0)
			FZ_CHECK(e.msg[0]);
		err_clear(&e);
		FZ_CHECK(pl.offset >= -RTC_MAX_OFFSET && pl.offset <= RTC_MAX_OFFSET);
		pl031_destroy(&pl);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		read_all(data + 1, size - 1);
		return 0;
	}
	struct snap_w w;
	snap_w_init(&w);
	size_t i = 1;
	while (i + 3 <= size) {
		const char *name = names[data[i] % (sizeof(names) / sizeof(names[0]))];
		uint32_t inst = data[i + 1] % 4;
		unsigned nf = data[i + 2] % 16;
		i += 3;
		snap_section(&w, name, inst);
		for (unsigned f = 0; f < nf && i + 2 <= size; f++) {
			uint16_t tag = data[i] % 16;
			size_t n = data[i + 1] % 40;
			i += 2;
			if (n > size - i)
				n = size - i;
			if (data[i - 2] & 0x80)
				snap_put_opt(&w, tag, data + i, n);
			else
				snap_put(&w, tag, data + i, n);
			i += n;
		}
	}
	const uint8_t *file;
	size_t len;
	struct err e = {0};
	if (snap_w_finish(&w, SNAP_ARCH_HOST, &file, &len, &e) == 0)
		read_all(file, len);
	snap_w_free(&w);
	return 0;
}
