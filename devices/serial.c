/* SPDX-License-Identifier: MIT */
#include "core/clock.h"
#include "devices/serial.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Register offsets (DLAB = 0 unless noted). */
enum {
	REG_DATA = 0,
	REG_IER = 1,
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7
};

#define IER_RDI	      0x01 /* receive data available */
#define IER_THRI      0x02 /* transmitter holding register empty */
#define IER_MASK      0x0f
#define IIR_NONE      0x01
#define IIR_THRI      0x02
#define IIR_RDI	      0x04
#define IIR_FIFO_BITS 0xc0
#define FCR_ENABLE    0x01
#define FCR_CLEAR_RX  0x02
#define LCR_DLAB      0x80
#define MCR_DTR	      0x01
#define MCR_RTS	      0x02
#define MCR_OUT1      0x04
#define MCR_OUT2      0x08
#define MCR_LOOP      0x10
#define LSR_DR	      0x01
#define LSR_THRE      0x20
#define LSR_TEMT      0x40
#define MSR_CTS	      0x10
#define MSR_DSR	      0x20
#define MSR_RI	      0x40
#define MSR_DCD	      0x80

int serial_init(struct serial *s, const struct irq_line *irq, int out_fd)
{
	memset(s, 0, sizeof(*s));
	int r = pthread_mutex_init(&s->lock, NULL);
	if (r)
		return -r;
	s->irq = *irq;
	s->out_fd = out_fd;
	s->mcr = MCR_OUT2;
	s->dll = 12; /* 9600 baud, what firmware would leave */
	return 0;
}

void serial_set_limit(struct serial *s, const struct rl_cfg *c)
{
	pthread_mutex_lock(&s->lock);
	s->limited = c && rl_bucket_on(&c->bw);
	if (s->limited) {
		struct rl_cfg bw = {.bw = c->bw};
		rl_init(&s->limit, &bw);
	}
	pthread_mutex_unlock(&s->lock);
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* Caller holds the lock. The line follows the interrupt condition; the
 * IOAPIC sees an edge whenever it rises. */
static void serial_update_irq(struct serial *s)
{
	bool level =
		((s->ier & IER_RDI) && s->rx_count) || ((s->ier & IER_THRI) && s->thre_pending);
	if (level != s->irq_level) {
		s->irq_level = level;
		irq_set_level(&s->irq, level);
	}
}

static void rx_push(struct serial *s, uint8_t c)
{
	if (s->rx_count == SERIAL_FIFO)
		return; /* overrun: the byte is lost, as on real hardware */
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO] = c;
	s->rx_count++;
}

/* How long a full console may hold a vCPU for room (serial_tx). */
#define SERIAL_STALL_MS 100

static void serial_tx(struct serial *s, uint8_t c)
{
	if (s->mcr & MCR_LOOP) {
		rx_push(s, c);
	} else if (s->limited && rl_take(&s->limit, 1, 0, clock_mono_ns()) != 0) {
		s->tx_limited++;
	} else if (s->out_fd >= 0) {
		ssize_t n;
		for (;;) {
			n = write(s->out_fd, &c, 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n >= 0 || errno != EAGAIN || s->out_stalled)
				break;
			/* Full (the descriptor is non-blocking, vmm/vm.c): a
			 * console that drains, only slower than the guest
			 * writes (a terminal over a slow link), gets up to
			 * SERIAL_STALL_MS for room, so it loses nothing. One
			 * that took nothing for that long has stopped (nobody
			 * reads it): from then on its bytes are dropped at once
			 * until it takes one again, so the guest can stall the
			 * vCPU, and with it a pause or the VM's exit, for that
			 * long at most, never for good. */
			struct pollfd p = {.fd = s->out_fd, .events = POLLOUT};
			struct timespec t = {0, SERIAL_STALL_MS * 1000000L};
			if (ppoll(&p, 1, &t, NULL) != 1) {
				s->out_stalled = true;
				break;
			}
		}
		if (n == 1)
			s->out_stalled = false;
		else
			s->tx_missed++; /* dropped: full, or failed (a closed pty) */
	}
	s->tx_bytes++;
	/* We transmit at once, so the holding register is empty again. */
	s->thre_pending = true;
}

static uint8_t serial_msr(const struct serial *s)
{
	if (!(s->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	uint8_t v = 0;
	if (s->mcr & MCR_DTR)
		v |= MSR_DSR;
	if (s->mcr & MCR_RTS)
		v |= MSR_CTS;
	if (s->mcr & MCR_OUT1)
		v |= MSR_RI;
	if (s->mcr & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t reg)
{
	uint8_t v = 0;
	switch (reg) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_FIFO;
			s->rx_count--;
		}
		break;
	case REG_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case REG_IIR_FCR:
		if ((s->ier & IER_RDI) && s->rx_count) {
			v = IIR_RDI;
		} else if ((s->ier & IER_THRI) && s->thre_pending) {
			v = IIR_THRI;
			s->thre_pending = false; /* reading IIR acknowledges THRE */
		} else {
			v = IIR_NONE;
		}
		if (s->fcr & FCR_ENABLE)
			v |= IIR_FIFO_BITS;
		break;
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		return (s->rx_count ? LSR_DR : 0) | LSR_THRE | LSR_TEMT;
	case REG_MSR:
		return serial_msr(s);
	case REG_SCR:
		return s->scr;
	}
	return v;
}

static void serial_write_reg(struct serial *s, uint64_t reg, uint8_t v)
{
	switch (reg) {
	case REG_DATA:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			serial_tx(s, v);
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling THRI with an empty THR raises it at once. */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thre_pending = true;
			s->ier = v & IER_MASK;
		}
		break;
	case REG_IIR_FCR:
		s->fcr = v & FCR_ENABLE;
		if (v & FCR_CLEAR_RX)
			s->rx_count = 0;
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		s->mcr = v & 0x1f;
		break;
	case REG_SCR:
		s->scr = v;
		break;
	default: /* LSR, MSR: read-only */
		break;
	}
}

static void serial_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct serial *s = dev;
	memset(data, 0xff, len);
	if (len != 1 || off > REG_SCR)
		return;
	pthread_mutex_lock(&s->lock);
	data[0] = serial_read_reg(s, off);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct serial *s = dev;
	if (len != 1 || off > REG_SCR)
		return;
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, off, data[0]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_ops serial_ops = {
	.read = serial_read,
	.write = serial_write,
};

size_t serial_input(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	if (!(s->mcr & MCR_LOOP)) {
		while (n < len && s->rx_count < SERIAL_FIFO)
			rx_push(s, buf[n++]);
		serial_update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}
