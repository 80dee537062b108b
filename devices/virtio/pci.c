/* SPDX-License-Identifier: MIT */
#include "devices/virtio/pci.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/le.h"
#include "core/snap.h"

/* Where the capabilities lie in configuration space (after the type 0
 * header, PCI_STD_HEADER_SIZEOF bytes), each list entry pointing to the
 * next. */
enum {
	CAP_COMMON = 0x40, /* struct virtio_pci_cap */
	CAP_NOTIFY = 0x50, /* struct virtio_pci_notify_cap */
	CAP_ISR = 0x64,
	CAP_DEVCFG = 0x74,
	CAP_MSIX = 0x84,
	CAP_PCICFG = 0x90, /* struct virtio_pci_cfg_cap: a window onto BAR0 */
};
/* pci_cfg_data of the CAP_PCICFG window */
#define PCICFG_DATA (CAP_PCICFG + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data))

#define CMD_WRITABLE (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE)

/* ---- virtio-pci: interrupts ----------------------------------------------- */

static unsigned nsources(const struct virtio_pci *p)
{
	return p->vdev->nqueues + 1; /* the queues, then the configuration change */
}

static int source_fd(const struct virtio_pci *p, unsigned src)
{
	return src == p->vdev->nqueues ? p->vdev->irqfd : p->vdev->vq_irqfd[src];
}

static uint16_t source_vector(const struct virtio_pci *p, unsigned src)
{
	return src == p->vdev->nqueues ? p->config_vector : p->queue_vector[src];
}

static bool vector_masked(const struct virtio_pci *p, uint16_t v)
{
	return (p->msix_ctrl & PCI_MSIX_FLAGS_MASKALL) ||
	       (p->msix[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Where source src's eventfd should be bound now. */
static uint32_t source_gsi(const struct virtio_pci *p, unsigned src)
{
	if (p->msix_ctrl & PCI_MSIX_FLAGS_ENABLE) {
		uint16_t v = source_vector(p, src);
		if (v >= p->nvec || vector_masked(p, v))
			return PCI_GSI_NONE; /* no vector, or pending while masked */
		return p->msi_gsi_base + v;
	}
	if (p->command & PCI_COMMAND_INTX_DISABLE)
		return PCI_GSI_NONE;
	return p->intx_gsi;
}

static void route_vector(struct virtio_pci *p, uint16_t v)
{
	const struct virtio_pci_msix_entry *m = &p->msix[v];
	uint64_t addr = ((uint64_t)m->addr_hi << 32) | m->addr_lo;
	if (p->irq_ops->msi_route(p->irq_opaque, p->msi_gsi_base + v, addr, m->data) < 0)
		p->irq_errors++;
}

/* Binds every source's eventfd where source_gsi says, and nowhere else. */
static void rewire(struct virtio_pci *p)
{
	for (unsigned src = 0; src < nsources(p); src++) {
		uint32_t want = source_gsi(p, src);
		if (want == p->bound[src])
			continue;
		int fd = source_fd(p, src);
		if (p->bound[src] != PCI_GSI_NONE) {
			if (p->irq_ops->irqfd(p->irq_opaque, fd, p->bound[src], false) < 0)
				p->irq_errors++;
			p->bound[src] = PCI_GSI_NONE;
		}
		if (want == PCI_GSI_NONE)
			continue;
		if (p->msix_ctrl & PCI_MSIX_FLAGS_ENABLE)
			route_vector(p, (uint16_t)(want - p->msi_gsi_base));
		/* A count the eventfd gathered while unbound (masked) is
		 * delivered now: KVM injects at once for a readable eventfd. */
		if (p->irq_ops->irqfd(p->irq_opaque, fd, want, true) < 0)
			p->irq_errors++;
		else
			p->bound[src] = want;
	}
}

static bool fd_readable(int fd)
{
	/* ppoll, not poll: the vCPU thread's filter allows that one */
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct timespec zero = {0, 0};
	return fd >= 0 && ppoll(&pfd, 1, &zero, NULL) == 1 && (pfd.revents & POLLIN);
}

/* The pending bits: a masked vector whose sources' eventfds hold a count. */
static uint64_t pending_bits(const struct virtio_pci *p)
{
	uint64_t bits = 0;
	if (!(p->msix_ctrl & PCI_MSIX_FLAGS_ENABLE))
		return 0;
	for (unsigned src = 0; src < nsources(p); src++) {
		uint16_t v = source_vector(p, src);
		if (v < p->nvec && vector_masked(p, v) && !(bits & (1ULL << v)) &&
		    fd_readable(source_fd(p, src)))
			bits |= 1ULL << v;
	}
	return bits;
}

/* ---- virtio-pci: configuration space -------------------------------------- */

/* A virtio capability: BAR0's [off, off + len) is a structure of `type`. */
static struct virtio_pci_cap vcap(unsigned next, unsigned cap_len, uint8_t type, uint32_t off,
				  uint32_t len)
{
	return (struct virtio_pci_cap){
		.cap_vndr = PCI_CAP_ID_VNDR,
		.cap_next = (uint8_t)next,
		.cap_len = (uint8_t)cap_len,
		.cfg_type = type,
		.bar = 0,
		.offset = htole32(off),
		.length = htole32(len),
	};
}

static void put_cap(uint8_t *img, unsigned at, unsigned next, uint8_t type, uint32_t off,
		    uint32_t len)
{
	struct virtio_pci_cap c = vcap(next, sizeof(c), type, off, len);
	memcpy(img + at, &c, sizeof(c));
}

static void cfg_image(const struct virtio_pci *p, uint8_t img[PCI_CFG_SIZE])
{
	memset(img, 0, PCI_CFG_SIZE);
	le_put16(img + PCI_VENDOR_ID, VIRTIO_PCI_VENDOR);
	le_put16(img + PCI_DEVICE_ID, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + p->vdev->ops->device_id));
	le_put16(img + PCI_COMMAND, p->command);
	uint16_t status = PCI_STATUS_CAP_LIST;
	if (atomic_load(&p->vdev->isr) && !(p->msix_ctrl & PCI_MSIX_FLAGS_ENABLE))
		status |= PCI_STATUS_INTERRUPT;
	le_put16(img + PCI_STATUS, status);
	img[PCI_REVISION_ID] = 1; /* modern only */
	memcpy(img + PCI_CLASS_PROG, p->class_code, 3);
	le_put32(img + PCI_BASE_ADDRESS_0, p->bar_reg); /* 32-bit memory, not prefetchable */
	le_put16(img + PCI_SUBSYSTEM_VENDOR_ID, VIRTIO_PCI_VENDOR);
	le_put16(img + PCI_SUBSYSTEM_ID, 0x0040);
	img[PCI_CAPABILITY_LIST] = CAP_COMMON;
	img[PCI_INTERRUPT_LINE] = p->intr_line;
	img[PCI_INTERRUPT_PIN] = 1; /* INTA */
	put_cap(img, CAP_COMMON, CAP_NOTIFY, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF,
		VIRTIO_PCI_COMMON_LEN);
	struct virtio_pci_notify_cap notify = {
		.cap = vcap(CAP_ISR, sizeof(notify), VIRTIO_PCI_CAP_NOTIFY_CFG,
			    VIRTIO_PCI_NOTIFY_OFF, VIRTIO_PCI_NOTIFY_MULT * p->vdev->nqueues),
		.notify_off_multiplier = htole32(VIRTIO_PCI_NOTIFY_MULT),
	};
	memcpy(img + CAP_NOTIFY, &notify, sizeof(notify));
	put_cap(img, CAP_ISR, CAP_DEVCFG, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 4);
	put_cap(img, CAP_DEVCFG, CAP_MSIX, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVCFG_OFF,
		VIRTIO_PCI_DEVCFG_LEN);
	img[CAP_MSIX + PCI_CAP_LIST_ID] = PCI_CAP_ID_MSIX;
	img[CAP_MSIX + PCI_CAP_LIST_NEXT] = CAP_PCICFG;
	le_put16(img + CAP_MSIX + PCI_MSIX_FLAGS, (uint16_t)(p->msix_ctrl | (p->nvec - 1)));
	le_put32(img + CAP_MSIX + PCI_MSIX_TABLE, VIRTIO_PCI_MSIX_OFF); /* BIR 0 */
	le_put32(img + CAP_MSIX + PCI_MSIX_PBA, VIRTIO_PCI_PBA_OFF);
	/* the window's bar, offset and length are the driver's */
	struct virtio_pci_cfg_cap window = {
		.cap = vcap(0, sizeof(window), VIRTIO_PCI_CAP_PCI_CFG, p->cfgcap_off,
			    p->cfgcap_len),
	};
	window.cap.bar = p->cfgcap_bar;
	memcpy(img + CAP_PCICFG, &window, sizeof(window));
}

static void bar_read(void *dev, uint64_t off, uint8_t *data, unsigned len);
static void bar_write(void *dev, uint64_t off, const uint8_t *data, unsigned len);

/* VIRTIO_PCI_CAP_PCI_CFG: an access to pci_cfg_data is one of `length`
 * bytes at `offset` in BAR0 (the driver's choice); off is the access's
 * offset inside pci_cfg_data. Returns false when the window is not valid
 * (another BAR, a bad length, past the BAR, or the access not the whole
 * window): the access then reads 0 and writes nothing. */
static bool cfgcap_window(const struct virtio_pci *p, uint32_t off, unsigned len, uint32_t *at,
			  unsigned *wlen)
{
	uint32_t l = p->cfgcap_len, o = p->cfgcap_off;
	if (p->cfgcap_bar != 0 || (l != 1 && l != 2 && l != 4) || off != 0 || len < l || o % l ||
	    o >= VIRTIO_PCI_BAR_SIZE)
		return false;
	*at = o;
	*wlen = l;
	return true;
}

static void vpci_cfg_read(void *fn, uint32_t off, uint8_t *data, unsigned len)
{
	struct virtio_pci *p = fn;
	uint8_t img[PCI_CFG_SIZE];
	uint32_t at = 0;
	unsigned wlen = 0;
	pthread_mutex_lock(&p->vdev->lock);
	cfg_image(p, img);
	bool window = off >= PCICFG_DATA && off < PCICFG_DATA + 4 &&
		      cfgcap_window(p, (uint32_t)(off - PCICFG_DATA), len, &at, &wlen);
	pthread_mutex_unlock(&p->vdev->lock);
	if (window) { /* bar_read takes the lock itself */
		memset(data, 0, len);
		bar_read(p, at, data, wlen);
		return;
	}
	if (off < PCI_CFG_SIZE && len <= PCI_CFG_SIZE - off)
		memcpy(data, img + off, len);
	else
		memset(data, 0xff, len);
}

static void vpci_cfg_write(void *fn, uint32_t off, const uint8_t *data, unsigned len)
{
	struct virtio_pci *p = fn;
	if (off >= PCI_CFG_SIZE || len > 4 || (off & 3) + len > 4)
		return;
	pthread_mutex_lock(&p->vdev->lock);
	uint8_t img[PCI_CFG_SIZE];
	cfg_image(p, img);
	uint32_t dw = off & ~3u;
	memcpy(img + off, data, len); /* the dword as the guest leaves it */
	uint32_t v = le_get32(img + dw);
	switch (dw) {
	case PCI_COMMAND:
		p->command = (uint16_t)(v & CMD_WRITABLE);
		rewire(p); /* INTx disable */
		break;
	case PCI_BASE_ADDRESS_0:
		p->bar_reg = v & ~(VIRTIO_PCI_BAR_SIZE - 1);
		break;
	case PCI_INTERRUPT_LINE:
		p->intr_line = (uint8_t)v;
		break;
	case CAP_MSIX: /* its PCI_MSIX_FLAGS are the dword's upper half */
		p->msix_ctrl =
			(uint16_t)((v >> 16) & (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL));
		rewire(p);
		break;
	case CAP_PCICFG + offsetof(struct virtio_pci_cap, bar):
		p->cfgcap_bar = (uint8_t)v;
		break;
	case CAP_PCICFG + offsetof(struct virtio_pci_cap, offset):
		p->cfgcap_off = v;
		break;
	case CAP_PCICFG + offsetof(struct virtio_pci_cap, length):
		p->cfgcap_len = v;
		break;
	case PCICFG_DATA: {
		uint32_t at;
		unsigned wlen;
		if (cfgcap_window(p, off - dw, len, &at, &wlen)) {
			pthread_mutex_unlock(&p->vdev->lock);
			bar_write(p, at, data, wlen); /* takes the lock itself */
			return;
		}
		break;
	}
	default: /* read-only */
		break;
	}
	pthread_mutex_unlock(&p->vdev->lock);
}

const struct pci_fn_ops virtio_pci_fn_ops = {
	.cfg_read = vpci_cfg_read,
	.cfg_write = vpci_cfg_write,
};

/* ---- virtio-pci: BAR0 ------------------------------------------------------ */

/* The common configuration structure's fields (virtio 1.2 4.1.4.3,
 * struct virtio_pci_common_cfg); a queue address is one 64-bit field here
 * (its _lo and _hi halves). */
struct common_field {
	uint8_t off, size;
};
#define COMMON_FIELD(off, field)                                                                   \
	{                                                                                          \
		off, sizeof(((struct virtio_pci_common_cfg *)0)->field)                            \
	}
static const struct common_field common_fields[] = {
	COMMON_FIELD(VIRTIO_PCI_COMMON_DFSELECT, device_feature_select),
	COMMON_FIELD(VIRTIO_PCI_COMMON_DF, device_feature),
	COMMON_FIELD(VIRTIO_PCI_COMMON_GFSELECT, guest_feature_select),
	COMMON_FIELD(VIRTIO_PCI_COMMON_GF, guest_feature),
	COMMON_FIELD(VIRTIO_PCI_COMMON_MSIX, msix_config),
	COMMON_FIELD(VIRTIO_PCI_COMMON_NUMQ, num_queues),
	COMMON_FIELD(VIRTIO_PCI_COMMON_STATUS, device_status),
	COMMON_FIELD(VIRTIO_PCI_COMMON_CFGGENERATION, config_generation),
	COMMON_FIELD(VIRTIO_PCI_COMMON_Q_SELECT, queue_select),
	COMMON_FIELD(VIRTIO_PCI_COMMON_Q_SIZE, queue_size),
	COMMON_FIELD(VIRTIO_PCI_COMMON_Q_MSIX, queue_msix_vector),
	COMMON_FIELD(VIRTIO_PCI_COMMON_Q_ENABLE, queue_enable),
	COMMON_FIELD(VIRTIO_PCI_COMMON_Q_NOFF, queue_notify_off),
	{VIRTIO_PCI_COMMON_Q_DESCLO, 8},
	{VIRTIO_PCI_COMMON_Q_AVAILLO, 8},
	{VIRTIO_PCI_COMMON_Q_USEDLO, 8},
};

static struct virtio_queue_cfg *selected_queue(struct virtio_pci *p)
{
	struct virtio_dev *d = p->vdev;
	return d->queue_sel < d->nqueues ? &d->qcfg[d->queue_sel] : NULL;
}

static uint64_t common_get(struct virtio_pci *p, unsigned off)
{
	struct virtio_dev *d = p->vdev;
	const struct virtio_queue_cfg *q = selected_queue(p);
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		return d->dev_features_sel;
	case VIRTIO_PCI_COMMON_DF:
		return d->dev_features_sel < 2
			       ? (uint32_t)(d->features >> (32 * d->dev_features_sel))
			       : 0;
	case VIRTIO_PCI_COMMON_GFSELECT:
		return d->drv_features_sel;
	case VIRTIO_PCI_COMMON_GF:
		return d->drv_features_sel < 2
			       ? (uint32_t)(d->driver_features >> (32 * d->drv_features_sel))
			       : 0;
	case VIRTIO_PCI_COMMON_MSIX:
		return p->config_vector;
	case VIRTIO_PCI_COMMON_NUMQ:
		return d->nqueues;
	case VIRTIO_PCI_COMMON_STATUS:
		return virtio_status(d) & 0xff;
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return __atomic_load_n(&d->config_generation, __ATOMIC_SEQ_CST) & 0xff;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		return d->queue_sel;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		return q ? q->num : 0;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		return q ? p->queue_vector[d->queue_sel] : VIRTIO_MSI_NO_VECTOR;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		return q ? q->ready : 0;
	case VIRTIO_PCI_COMMON_Q_NOFF:
		return q ? d->queue_sel : 0;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		return q ? q->desc : 0;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		return q ? q->avail : 0;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		return q ? q->used : 0;
	default:
		return 0;
	}
}

/* After a reset: queue sizes at their maximum, no vectors. */
static void pci_defaults(struct virtio_pci *p)
{
	struct virtio_dev *d = p->vdev;
	for (unsigned q = 0; q < d->nqueues; q++) {
		d->qcfg[q].num = d->queue_max;
		p->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
	}
	p->config_vector = VIRTIO_MSI_NO_VECTOR;
}

/* virtio_dev's transport_reset: a reset completed. */
static void pci_reset(void *transport)
{
	struct virtio_pci *p = transport;
	pci_defaults(p);
	rewire(p);
}

static uint16_t valid_vector(const struct virtio_pci *p, uint64_t v)
{
	return v < p->nvec ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

static void common_set(struct virtio_pci *p, unsigned off, uint64_t v)
{
	struct virtio_dev *d = p->vdev;
	struct virtio_queue_cfg *q = selected_queue(p);
	/* Queue fields change only before DRIVER_OK, on a queue not enabled. */
	struct virtio_queue_cfg *qw =
		q && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK) && !q->ready ? q : NULL;
	bool features_open =
		(d->status & VIRTIO_CONFIG_S_DRIVER) && !(d->status & VIRTIO_CONFIG_S_FEATURES_OK);
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT:
		d->dev_features_sel = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GFSELECT:
		d->drv_features_sel = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_GF:
		if (features_open && d->drv_features_sel < 2) {
			unsigned sh = 32 * d->drv_features_sel;
			d->driver_features = (d->driver_features & ~(0xffffffffULL << sh)) |
					     ((v & 0xffffffffULL) << sh);
		}
		break;
	case VIRTIO_PCI_COMMON_MSIX:
		p->config_vector = valid_vector(p, v);
		rewire(p);
		break;
	case VIRTIO_PCI_COMMON_STATUS:
		/* 0: a reset; its end restores vectors and queue sizes
		 * (pci_reset), maybe later, when the workers are done */
		virtio_set_status(d, (uint32_t)v & 0xff);
		break;
	case VIRTIO_PCI_COMMON_Q_SELECT:
		d->queue_sel = (uint32_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_SIZE:
		/* a power of two no larger than the maximum (split rings) */
		if (qw && v && v <= d->queue_max && !(v & (v - 1)))
			qw->num = (uint16_t)v;
		break;
	case VIRTIO_PCI_COMMON_Q_MSIX:
		if (q && !(d->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
			p->queue_vector[d->queue_sel] = valid_vector(p, v);
			rewire(p);
		}
		break;
	case VIRTIO_PCI_COMMON_Q_ENABLE:
		if (qw && v == 1)
			qw->ready = true;
		break;
	case VIRTIO_PCI_COMMON_Q_DESCLO:
		if (qw)
			qw->desc = v;
		break;
	case VIRTIO_PCI_COMMON_Q_AVAILLO:
		if (qw)
			qw->avail = v;
		break;
	case VIRTIO_PCI_COMMON_Q_USEDLO:
		if (qw)
			qw->used = v;
		break;
	default:
		break; /* read-only */
	}
}

static void common_read(struct virtio_pci *p, uint64_t off, uint8_t *data, unsigned len)
{
	for (unsigned i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
		const struct common_field *f = &common_fields[i];
		if (off + len <= f->off || off >= (uint64_t)f->off + f->size)
			continue;
		uint8_t b[8];
		le_put64(b, common_get(p, f->off));
		for (unsigned k = 0; k < len; k++) {
			uint64_t a = off + k;
			if (a >= f->off && a < (uint64_t)f->off + f->size)
				data[k] = b[a - f->off];
		}
	}
}

static void common_write(struct virtio_pci *p, uint64_t off, const uint8_t *data, unsigned len)
{
	for (unsigned i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
		const struct common_field *f = &common_fields[i];
		if (off + len <= f->off || off >= (uint64_t)f->off + f->size)
			continue;
		/* The field's value with the written bytes in: a 64-bit
		 * address arrives as two 32-bit halves. */
		uint8_t b[8];
		le_put64(b, common_get(p, f->off));
		for (unsigned k = 0; k < len; k++) {
			uint64_t a = off + k;
			if (a >= f->off && a < (uint64_t)f->off + f->size)
				b[a - f->off] = data[k];
		}
		uint64_t v = le_get64(b);
		if (f->size < 8)
			v &= (1ULL << (8 * f->size)) - 1;
		common_set(p, f->off, v);
	}
}

static uint32_t msix_read32(struct virtio_pci *p, uint64_t off)
{
	unsigned v = (unsigned)(off / PCI_MSIX_ENTRY_SIZE);
	if (v >= p->nvec)
		return 0;
	const struct virtio_pci_msix_entry *m = &p->msix[v];
	switch (off % PCI_MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		return m->addr_lo;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		return m->addr_hi;
	case PCI_MSIX_ENTRY_DATA:
		return m->data;
	default:
		return m->ctrl;
	}
}

static void msix_write32(struct virtio_pci *p, uint64_t off, uint32_t val)
{
	unsigned v = (unsigned)(off / PCI_MSIX_ENTRY_SIZE);
	if (v >= p->nvec)
		return;
	struct virtio_pci_msix_entry *m = &p->msix[v];
	switch (off % PCI_MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		m->addr_lo = val & ~3u;
		break;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		m->addr_hi = val;
		break;
	case PCI_MSIX_ENTRY_DATA:
		m->data = val;
		break;
	default:
		m->ctrl = val & PCI_MSIX_ENTRY_CTRL_MASKBIT;
		rewire(p); /* (un)mask */
		return;
	}
	/* A new message for a vector in use takes effect at once. */
	if ((p->msix_ctrl & PCI_MSIX_FLAGS_ENABLE) && !vector_masked(p, (uint16_t)v))
		route_vector(p, (uint16_t)v);
}

/* Whether the BAR decodes at the address cvmm mapped it. */
static bool bar_live(const struct virtio_pci *p)
{
	return (p->command & PCI_COMMAND_MEMORY) && p->bar_reg == (uint32_t)p->bar;
}

static void bar_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_pci *p = dev;
	struct virtio_dev *d = p->vdev;
	memset(data, 0, len);
	pthread_mutex_lock(&d->lock);
	if (!bar_live(p)) {
		memset(data, 0xff, len);
	} else if (off < VIRTIO_PCI_COMMON_LEN) {
		common_read(p, off, data, len);
	} else if (off == VIRTIO_PCI_ISR_OFF) {
		data[0] = (uint8_t)atomic_exchange(&d->isr, 0); /* read clears */
	} else if (off >= VIRTIO_PCI_DEVCFG_OFF &&
		   off + len <= VIRTIO_PCI_DEVCFG_OFF + VIRTIO_PCI_DEVCFG_LEN) {
		if (d->ops->config_read)
			d->ops->config_read(d, (uint32_t)(off - VIRTIO_PCI_DEVCFG_OFF), data, len);
	} else if (off >= VIRTIO_PCI_MSIX_OFF &&
		   off < VIRTIO_PCI_MSIX_OFF + PCI_MSIX_ENTRY_SIZE * p->nvec && !(off & 3) &&
		   (len == 4 || len == 8)) {
		for (unsigned k = 0; k < len; k += 4)
			le_put32(data + k, msix_read32(p, off - VIRTIO_PCI_MSIX_OFF + k));
	} else if (off >= VIRTIO_PCI_PBA_OFF && off + len <= VIRTIO_PCI_PBA_OFF + 8) {
		uint8_t b[8];
		le_put64(b, pending_bits(p));
		memcpy(data, b + (off - VIRTIO_PCI_PBA_OFF), len);
	}
	pthread_mutex_unlock(&d->lock);
}

static void bar_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct virtio_pci *p = dev;
	struct virtio_dev *d = p->vdev;
	pthread_mutex_lock(&d->lock);
	if (!bar_live(p)) {
		/* not decoding */
	} else if (off < VIRTIO_PCI_COMMON_LEN) {
		common_write(p, off, data, len);
	} else if (off >= VIRTIO_PCI_DEVCFG_OFF &&
		   off + len <= VIRTIO_PCI_DEVCFG_OFF + VIRTIO_PCI_DEVCFG_LEN) {
		if (d->ops->config_write)
			d->ops->config_write(d, (uint32_t)(off - VIRTIO_PCI_DEVCFG_OFF), data, len);
	} else if (off >= VIRTIO_PCI_NOTIFY_OFF &&
		   off < VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * d->nqueues) {
		/* A notification KVM's ioeventfd did not take (another width):
		 * kick the queue's worker the same way. */
		unsigned q = (unsigned)((off - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT);
		if (p->kick_fd && p->kick_fd[q] >= 0) {
			uint64_t one = 1;
			ssize_t n = write(p->kick_fd[q], &one, sizeof(one));
			(void)n;
		}
	} else if (off >= VIRTIO_PCI_MSIX_OFF &&
		   off < VIRTIO_PCI_MSIX_OFF + PCI_MSIX_ENTRY_SIZE * p->nvec && !(off & 3) &&
		   (len == 4 || len == 8)) {
		for (unsigned k = 0; k < len; k += 4)
			msix_write32(p, off - VIRTIO_PCI_MSIX_OFF + k, le_get32(data + k));
	}
	pthread_mutex_unlock(&d->lock);
}

const struct bus_ops virtio_pci_bar_ops = {
	.read = bar_read,
	.write = bar_write,
};

void virtio_pci_init(struct virtio_pci *p, struct virtio_dev *d, uint64_t bar, uint32_t intx_gsi,
		     uint32_t msi_gsi_base, const struct virtio_pci_irq_ops *ops, void *opaque,
		     const int *kick_fd)
{
	memset(p, 0, sizeof(*p));
	p->vdev = d;
	p->bar = bar;
	p->bar_reg = (uint32_t)bar;
	p->intx_gsi = intx_gsi;
	p->intr_line = (uint8_t)intx_gsi;
	p->msi_gsi_base = msi_gsi_base;
	p->irq_ops = ops;
	p->irq_opaque = opaque;
	p->kick_fd = kick_fd;
	p->nvec = d->nqueues + 1;
	switch (d->ops->device_id) {
	case VIRTIO_ID_NET:
		p->class_code[2] = 0x02;
		break; /* network, ethernet */
	case VIRTIO_ID_BLOCK:
		p->class_code[2] = 0x01;
		p->class_code[1] = 0x80;
		break;
	default:
		p->class_code[2] = 0xff;
		break; /* unassigned */
	}
	for (unsigned v = 0; v < VIRTIO_PCI_MAX_VECTORS; v++) {
		p->msix[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
		p->bound[v] = PCI_GSI_NONE;
	}
	pci_defaults(p);
	rewire(p); /* INTx until the driver enables MSI-X */
	d->transport_reset = pci_reset;
	d->transport = p;
}

void virtio_pci_unbind(struct virtio_pci *p)
{
	if (!p->vdev)
		return;
	pthread_mutex_lock(&p->vdev->lock);
	for (unsigned src = 0; src < nsources(p); src++) {
		if (p->bound[src] != PCI_GSI_NONE)
			p->irq_ops->irqfd(p->irq_opaque, source_fd(p, src), p->bound[src], false);
		p->bound[src] = PCI_GSI_NONE;
	}
	pthread_mutex_unlock(&p->vdev->lock);
}

/* ---- snapshot ---------------------------------------------------------------- */

/* Section "virtio-pci"'s fields. The MSI-X table is nvec entries of four
 * little-endian u32 (address low, high, data, control); the queue vectors
 * nqueues little-endian u16. */
enum {
	SNAP_PCI_COMMAND = 1,
	SNAP_PCI_BAR,
	SNAP_PCI_INTR_LINE,
	SNAP_PCI_MSIX_CTRL,
	SNAP_PCI_NVEC,
	SNAP_PCI_MSIX_TABLE,
	SNAP_PCI_CONFIG_VECTOR,
	SNAP_PCI_QUEUE_VECTORS,
	SNAP_PCI_CFGCAP_BAR,
	SNAP_PCI_CFGCAP_OFF,
	SNAP_PCI_CFGCAP_LEN,
	SNAP_PCI_PENDING,
	SNAP_PCI_NFIELDS = SNAP_PCI_PENDING,
};

void virtio_pci_save(const struct virtio_pci *p, struct snap_w *w, uint32_t inst)
{
	struct virtio_dev *d = p->vdev;
	pthread_mutex_lock(&d->lock);
	snap_section(w, "virtio-pci", inst);
	snap_u32(w, SNAP_PCI_COMMAND, p->command);
	snap_u32(w, SNAP_PCI_BAR, p->bar_reg);
	snap_u32(w, SNAP_PCI_INTR_LINE, p->intr_line);
	snap_u32(w, SNAP_PCI_MSIX_CTRL, p->msix_ctrl);
	snap_u32(w, SNAP_PCI_NVEC, p->nvec);
	uint8_t table[VIRTIO_PCI_MAX_VECTORS * PCI_MSIX_ENTRY_SIZE];
	for (unsigned v = 0; v < p->nvec; v++) {
		const struct virtio_pci_msix_entry *m = &p->msix[v];
		uint8_t *at = table + v * PCI_MSIX_ENTRY_SIZE;
		le_put32(at + PCI_MSIX_ENTRY_LOWER_ADDR, m->addr_lo);
		le_put32(at + PCI_MSIX_ENTRY_UPPER_ADDR, m->addr_hi);
		le_put32(at + PCI_MSIX_ENTRY_DATA, m->data);
		le_put32(at + PCI_MSIX_ENTRY_VECTOR_CTRL, m->ctrl);
	}
	snap_put(w, SNAP_PCI_MSIX_TABLE, table, p->nvec * PCI_MSIX_ENTRY_SIZE);
	snap_u32(w, SNAP_PCI_CONFIG_VECTOR, p->config_vector);
	uint8_t qv[VIRTIO_MAX_QUEUES * 2];
	for (unsigned q = 0; q < d->nqueues; q++)
		le_put16(qv + 2 * q, p->queue_vector[q]);
	snap_put(w, SNAP_PCI_QUEUE_VECTORS, qv, 2 * d->nqueues);
	snap_u32(w, SNAP_PCI_CFGCAP_BAR, p->cfgcap_bar);
	snap_u32(w, SNAP_PCI_CFGCAP_OFF, p->cfgcap_off);
	snap_u32(w, SNAP_PCI_CFGCAP_LEN, p->cfgcap_len);
	/* the pending bits: interrupts a masked vector holds (its sources'
	 * eventfds' counts, which do not outlive this process) */
	snap_u64(w, SNAP_PCI_PENDING, pending_bits(p));
	pthread_mutex_unlock(&d->lock);
}

static bool vector_ok(const struct virtio_pci *p, uint32_t v)
{
	return v < p->nvec || v == VIRTIO_MSI_NO_VECTOR;
}

int virtio_pci_restore(struct virtio_pci *p, const struct snap_r *r, uint32_t inst, struct err *e)
{
	struct virtio_dev *d = p->vdev;
	const char *n = d->name ? d->name : "virtio-pci";
	struct snap_sec s;
	if (snap_find(r, "virtio-pci", inst, &s) < 0)
		return err_set(e, ENOENT, "%s: the state has no section virtio-pci/%u", n, inst);
	uint16_t known[SNAP_PCI_NFIELDS];
	for (unsigned k = 0; k < SNAP_PCI_NFIELDS; k++)
		known[k] = (uint16_t)(k + 1);
	uint32_t cmd, bar, line, ctrl, nvec, cvec, cbar, coff, clen;
	uint64_t pending;
	int rc;
	if ((rc = snap_check_known(&s, known, SNAP_PCI_NFIELDS, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_COMMAND, &cmd, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_BAR, &bar, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_INTR_LINE, &line, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_MSIX_CTRL, &ctrl, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_NVEC, &nvec, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_CONFIG_VECTOR, &cvec, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_CFGCAP_BAR, &cbar, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_CFGCAP_OFF, &coff, e)) < 0 ||
	    (rc = snap_get_u32(&s, SNAP_PCI_CFGCAP_LEN, &clen, e)) < 0 ||
	    (rc = snap_opt_u64(&s, SNAP_PCI_PENDING, 0, &pending, e)) < 0)
		return rc;
	if (nvec != p->nvec)
		return err_set(e, EINVAL, "%s: the state has %u MSI-X vectors, this function %u", n,
			       nvec, p->nvec);
	uint8_t table[VIRTIO_PCI_MAX_VECTORS * PCI_MSIX_ENTRY_SIZE];
	uint8_t qv[VIRTIO_MAX_QUEUES * 2];
	if ((rc = snap_get_exact(&s, SNAP_PCI_MSIX_TABLE, table, nvec * PCI_MSIX_ENTRY_SIZE, e)) <
		    0 ||
	    (rc = snap_get_exact(&s, SNAP_PCI_QUEUE_VECTORS, qv, 2 * d->nqueues, e)) < 0)
		return rc;
	/* what the guest's writes could have left, nothing else */
	if ((cmd & ~(uint32_t)CMD_WRITABLE) || (bar & (VIRTIO_PCI_BAR_SIZE - 1)) || line > 0xff ||
	    (ctrl & ~(uint32_t)(PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL)) || cbar > 0xff ||
	    !vector_ok(p, cvec))
		return err_set(e, EINVAL,
			       "%s: configuration space invalid (command 0x%x, BAR 0x%x, MSI-X "
			       "control 0x%x, configuration vector %u)",
			       n, cmd, bar, ctrl, cvec);
	struct virtio_pci_msix_entry msix[VIRTIO_PCI_MAX_VECTORS];
	for (unsigned v = 0; v < nvec; v++) {
		const uint8_t *at = table + v * PCI_MSIX_ENTRY_SIZE;
		msix[v] = (struct virtio_pci_msix_entry){
			.addr_lo = le_get32(at + PCI_MSIX_ENTRY_LOWER_ADDR),
			.addr_hi = le_get32(at + PCI_MSIX_ENTRY_UPPER_ADDR),
			.data = le_get32(at + PCI_MSIX_ENTRY_DATA),
			.ctrl = le_get32(at + PCI_MSIX_ENTRY_VECTOR_CTRL),
		};
		if ((msix[v].addr_lo & 3) ||
		    (msix[v].ctrl & ~(uint32_t)PCI_MSIX_ENTRY_CTRL_MASKBIT))
			return err_set(e, EINVAL, "%s: MSI-X table entry %u invalid", n, v);
	}
	uint16_t qvec[VIRTIO_MAX_QUEUES];
	for (unsigned q = 0; q < d->nqueues; q++) {
		qvec[q] = le_get16(qv + 2 * q);
		if (!vector_ok(p, qvec[q]))
			return err_set(e, EINVAL, "%s: queue %u's MSI-X vector %u (of %u)", n, q,
				       qvec[q], nvec);
	}

	pthread_mutex_lock(&d->lock);
	p->command = (uint16_t)cmd;
	p->bar_reg = bar;
	p->intr_line = (uint8_t)line;
	p->msix_ctrl = (uint16_t)ctrl;
	memcpy(p->msix, msix, nvec * sizeof(msix[0]));
	p->config_vector = (uint16_t)cvec;
	memcpy(p->queue_vector, qvec, d->nqueues * sizeof(qvec[0]));
	p->cfgcap_bar = (uint8_t)cbar;
	p->cfgcap_off = coff;
	p->cfgcap_len = clen;
	/* The driver's writes, as msix_write32 and rewire did them: each
	 * vector in use routed to its message, each source's eventfd bound
	 * where its vector (or INTx) says. */
	if (p->msix_ctrl & PCI_MSIX_FLAGS_ENABLE)
		for (unsigned v = 0; v < nvec; v++)
			if (!vector_masked(p, (uint16_t)v))
				route_vector(p, (uint16_t)v);
	rewire(p);
	/* A pending bit: a count on each of its sources' eventfds, unbound
	 * while masked; the unmask delivers it. */
	for (unsigned src = 0; src < nsources(p); src++) {
		uint16_t v = source_vector(p, src);
		if (v < nvec && (pending & (1ULL << v)) && vector_masked(p, v)) {
			uint64_t one = 1;
			ssize_t k = write(source_fd(p, src), &one, sizeof(one));
			(void)k;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}
