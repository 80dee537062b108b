/* SPDX-License-Identifier: MIT */
/* The i8042 PS/2 controller, modelled on what Firecracker offers on x86_64
 * (src/vmm/src/devices/legacy/i8042.rs; the same ports, IRQ, buffer size,
 * status and configuration bytes and Ctrl-Alt-Del scan codes), with the
 * answers Linux's i8042 and atkbd drivers probe for:
 *
 *   0x64 read    status: OBF (a byte waits on 0x60), SYS (the configuration
 *                byte's), CMD (a command waits for its data byte), the
 *                keyboard not inhibited; never IBF nor AUXDATA
 *   0x64 write   a command: 0x20 reads the configuration byte, 0x60 writes
 *                it (data next), 0xd0 reads the output port, 0xd1 writes it
 *                (data next), 0xaa self test (0x55), 0xab keyboard port
 *                test (0x00), 0xa9 second port test (0x02: nothing is
 *                attached there), 0xad/0xae disable/enable the keyboard
 *                (configuration bit 4), 0xf0-0xff pulse output port lines:
 *                bit 0 low (0xfe, ...) is the CPU reset. Any other command
 *                is ignored (as on a controller without a second port, so
 *                0xd3/0xd4's data byte goes to the keyboard)
 *   0x60 read    the output buffer's next byte (0 when empty)
 *   0x60 write   a command's data byte, else a byte for the keyboard: it
 *                answers 0xfa (ack), 0xfa 0xab 0x83 to 0xf2 (identify: an
 *                MF2 keyboard), 0xfa 0xaa to 0xff (reset, self test passed)
 *
 * An answer to a command replaces what the buffer held (Firecracker's
 * flush). Bytes from the keyboard pulse IRQ 1 when the configuration byte
 * enables the keyboard interrupt, and so does each read that leaves a byte
 * behind; controller answers raise nothing (the guest polls for them).
 * Writing the output port with bit 0 low resets the machine too. Accesses
 * wider than a byte, and to 0x61-0x63 (0x61 is the in-kernel PIT's), read
 * all ones and do nothing. No translation to scan code set 1 is done
 * whatever the configuration byte says (Firecracker's keyboard neither). */
#include "devices/legacy.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define PORT_DATA   0 /* 0x60 */
#define PORT_STATUS 4 /* 0x64 */

#define STS_OBF	   0x01 /* output buffer full */
#define STS_SYS	   0x04 /* system flag (the configuration byte's) */
#define STS_CMD	   0x08 /* the controller waits for a command's data byte */
#define STS_UNLOCK 0x10 /* keyboard not inhibited */

#define CTR_KBDINT 0x01 /* interrupt on keyboard bytes */
#define CTR_SYS	   0x04 /* POST passed */
#define CTR_KBDDIS 0x10 /* keyboard clock off */

#define CMD_READ_CTR	0x20
#define CMD_WRITE_CTR	0x60
#define CMD_AUX_TEST	0xa9
#define CMD_SELF_TEST	0xaa
#define CMD_KBD_TEST	0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE	0xae
#define CMD_READ_OUTP	0xd0
#define CMD_WRITE_OUTP	0xd1
#define CMD_PULSE	0xf0 /* 0xf0-0xff: pulse the output lines whose bit is 0 */

#define OUTP_RESET 0x01 /* the CPU reset line (active low) */
#define OUTP_A20   0x02

#define KBD_ACK	     0xfa
#define KBD_GETID    0xf2
#define KBD_RESET    0xff
#define KBD_BAT_OK   0xaa
#define SELF_TEST_OK 0x55
#define AUX_NONE     0x02 /* the second port's clock line stuck high: nothing there */

/* Scan code set 2 make codes (Firecracker's KEY_CTRL, KEY_ALT, KEY_DEL). */
static const uint8_t ctrl_alt_del[] = {0x14, 0x11, 0xe0, 0x71};

int i8042_init(struct i8042 *k, const struct sys_ctl *sys, const struct irq_line *kbd_irq)
{
	memset(k, 0, sizeof(*k));
	k->sys = *sys;
	k->kbd_irq = *kbd_irq;
	k->ctr = CTR_KBDINT | CTR_SYS; /* Firecracker's: interrupt on, no translation */
	k->outp = OUTP_RESET | OUTP_A20;
	return -pthread_mutex_init(&k->lock, NULL);
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

/* ---- the output buffer (under k->lock) ------------------------------------ */

static bool push(struct i8042 *k, uint8_t b)
{
	if (k->count == I8042_BUF_SIZE)
		return false;
	k->buf[(k->head + k->count++) % I8042_BUF_SIZE] = b;
	return true;
}

static uint8_t pop(struct i8042 *k)
{
	if (!k->count)
		return 0;
	uint8_t b = k->buf[k->head];
	k->head = (k->head + 1) % I8042_BUF_SIZE;
	k->count--;
	return b;
}

/* A controller answer: it alone is in the buffer. */
static void answer(struct i8042 *k, uint8_t b)
{
	k->head = k->count = 0;
	push(k, b);
}

/* Whether bytes from the keyboard interrupt the guest. */
static bool kbd_irq_on(const struct i8042 *k)
{
	return k->ctr & CTR_KBDINT;
}

/* IRQ 1 is edge-triggered (ISA): one pulse per byte the guest should read. */
static void pulse(const struct i8042 *k)
{
	irq_set_level(&k->kbd_irq, 1);
	irq_set_level(&k->kbd_irq, 0);
}

/* ---- the guest's port I/O -------------------------------------------------- */

static void i8042_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;
	memset(data, 0xff, len);
	if (len != 1 || (off != PORT_DATA && off != PORT_STATUS))
		return;
	bool irq = false;
	pthread_mutex_lock(&k->lock);
	if (off == PORT_STATUS) {
		data[0] = (uint8_t)((k->count ? STS_OBF : 0) | (k->ctr & CTR_SYS ? STS_SYS : 0) |
				    (k->pending_cmd ? STS_CMD : 0) | STS_UNLOCK);
	} else {
		data[0] = pop(k);
		irq = k->count && kbd_irq_on(k); /* the next byte */
	}
	pthread_mutex_unlock(&k->lock);
	if (irq)
		pulse(k);
}

/* A byte for the keyboard; true if it answered (with an interrupt due). */
static bool kbd_write(struct i8042 *k, uint8_t b)
{
	k->head = k->count = 0;
	push(k, KBD_ACK);
	if (b == KBD_GETID) {
		push(k, 0xab);
		push(k, 0x83);
	} else if (b == KBD_RESET) {
		push(k, KBD_BAT_OK);
	}
	return kbd_irq_on(k);
}

/* A command on 0x64; true when it resets the machine. */
static bool command(struct i8042 *k, uint8_t c)
{
	k->pending_cmd = 0;
	switch (c) {
	case CMD_READ_CTR:
		answer(k, k->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
		k->head = k->count = 0;
		k->pending_cmd = c;
		break;
	case CMD_READ_OUTP:
		answer(k, k->outp);
		break;
	case CMD_SELF_TEST:
		answer(k, SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		answer(k, 0);
		break;
	case CMD_AUX_TEST:
		answer(k, AUX_NONE);
		break;
	case CMD_KBD_DISABLE:
		k->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ctr &= (uint8_t)~CTR_KBDDIS;
		break;
	default:
		if (c >= CMD_PULSE)
			return !(c & OUTP_RESET);
		break;
	}
	return false;
}

static void i8042_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;
	if (len != 1 || (off != PORT_DATA && off != PORT_STATUS))
		return;
	bool reset = false, irq = false;
	pthread_mutex_lock(&k->lock);
	if (off == PORT_STATUS) {
		reset = command(k, data[0]);
	} else if (k->pending_cmd == CMD_WRITE_CTR) {
		k->ctr = data[0];
		k->pending_cmd = 0;
	} else if (k->pending_cmd == CMD_WRITE_OUTP) {
		k->outp = data[0];
		k->pending_cmd = 0;
		reset = !(data[0] & OUTP_RESET);
	} else {
		irq = kbd_write(k, data[0]);
	}
	pthread_mutex_unlock(&k->lock);
	if (irq)
		pulse(k);
	if (reset)
		sys_event(&k->sys, SYS_EVENT_RESET, "i8042 reset command");
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	pthread_mutex_lock(&k->lock);
	if (I8042_BUF_SIZE - k->count < sizeof(ctrl_alt_del)) {
		pthread_mutex_unlock(&k->lock);
		return -ENOSPC;
	}
	for (size_t i = 0; i < sizeof(ctrl_alt_del); i++)
		push(k, ctrl_alt_del[i]);
	bool irq = kbd_irq_on(k);
	pthread_mutex_unlock(&k->lock);
	if (irq)
		pulse(k);
	return 0;
}

const struct bus_ops i8042_ops = {
	.read = i8042_read,
	.write = i8042_write,
};
