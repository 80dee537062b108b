/* SPDX-License-Identifier: MIT */
#include "devices/virtio/pci.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/le.h"

/* Configuration space header (type 0) and capabilities. */
enum {
	CFG_VENDOR = 0x00,
	CFG_DEVICE = 0x02,
	CFG_COMMAND = 0x04,
	CFG_STATUS = 0x06,
	CFG_REVISION = 0x08,
	CFG_CLASS = 0x09, /* prog-if, subclass, class */
	CFG_HEADER_TYPE = 0x0e,
	CFG_BAR0 = 0x10,
	CFG_SUBSYS_VENDOR = 0x2c,
	CFG_SUBSYS = 0x2e,
	CFG_CAP_PTR = 0x34,
	CFG_INTR_LINE = 0x3c,
	CFG_INTR_PIN = 0x3d,
	CAP_COMMON = 0x40,
	CAP_NOTIFY = 0x50,
	CAP_ISR = 0x64,
	CAP_DEVCFG = 0x74,
	CAP_MSIX = 0x84,
	CAP_PCICFG = 0x90, /* a window onto BAR0 through configuration space */
};

#define CMD_MEM		  (1u << 1)
#define CMD_MASTER	  (1u << 2)
#define CMD_INTX_DISABLE  (1u << 10)
#define CMD_WRITABLE	  (CMD_MEM | CMD_MASTER | CMD_INTX_DISABLE)
#define STATUS_INTX	  (1u << 3)
#define STATUS_CAPS	  (1u << 4)
#define PCI_CAP_VENDOR	  0x09
#define PCI_CAP_MSIX	  0x11
#define MSIX_ENABLE	  (1u << 15)
#define MSIX_FMASK	  (1u << 14)
#define MSIX_CTRL_MASKED  1u
#define VIRTIO_CAP_COMMON 1
#define VIRTIO_CAP_NOTIFY 2
#define VIRTIO_CAP_ISR	  3
#define VIRTIO_CAP_PCICFG 5
#define VIRTIO_CAP_DEVICE 4

/* ---- the host bridge and configuration access ---------------------------- */

void pci_host_init(struct pci_host *h)
{
	memset(h, 0, sizeof(*h));
}

int pci_host_add(struct pci_host *h, unsigned slot, const struct pci_fn_ops *ops, void *fn)
{
	if (slot == 0 || slot >= PCI_SLOTS || !ops)
		return -EINVAL;
	if (h->slot[slot].ops)
		return -EBUSY;
	h->slot[slot].ops = ops;
	h->slot[slot].fn = fn;
	return 0;
}

/* 00:00.0: a host bridge with no BARs; all of it reads only. */
static void bridge_cfg(uint8_t img[64])
{
	memset(img, 0, 64);
	le_put16(img + CFG_VENDOR, 0x1b36); /* Red Hat: "PCIe host bridge" */
	le_put16(img + CFG_DEVICE, 0x0008);
	img[CFG_CLASS + 2] = 0x06; /* bridge */
	img[CFG_CLASS + 1] = 0x00; /* host */
	le_put16(img + CFG_SUBSYS_VENDOR, 0x1b36);
	le_put16(img + CFG_SUBSYS, 0x0008);
}

/* bdf: bus << 8 | device << 3 | function */
void pci_cfg_read(struct pci_host *h, uint32_t bdf, uint32_t reg, uint8_t *data, unsigned len)
{
	memset(data, 0xff, len);
	unsigned bus = bdf >> 8, dev = (bdf >> 3) & 31, fn = bdf & 7;
	if (bus != 0 || fn != 0 || (reg & 3) + len > 4 || len == 0)
		return;
	if (reg >= PCI_CFG_SIZE) { /* no extended capabilities */
		if (dev == 0 || h->slot[dev].ops)
			memset(data, 0, len);
		return;
	}
	if (dev == 0) {
		uint8_t img[64];
		bridge_cfg(img);
		if (reg < sizeof(img))
			memcpy(data, img + reg, len);
		else
			memset(data, 0, len);
		return;
	}
	if (h->slot[dev].ops)
		h->slot[dev].ops->cfg_read(h->slot[dev].fn, reg, data, len);
}

void pci_cfg_write(struct pci_host *h, uint32_t bdf, uint32_t reg, const uint8_t *data,
		   unsigned len)
{
	unsigned bus = bdf >> 8, dev = (bdf >> 3) & 31, fn = bdf & 7;
	if (bus != 0 || fn != 0 || dev == 0 || reg >= PCI_CFG_SIZE || (reg & 3) + len > 4 ||
	    len == 0)
		return;
	if (h->slot[dev].ops)
		h->slot[dev].ops->cfg_write(h->slot[dev].fn, reg, data, len);
}

/* Mechanism #1: bit 31 enable, bus 23:16, device 15:11, function 10:8,
 * register 7:2; the data port's low bits pick the byte. */
static bool conf1_target(struct pci_host *h, uint64_t off, unsigned len, uint32_t *bdf,
			 uint32_t *reg)
{
	uint32_t a = atomic_load(&h->cf8);
	if (!(a & 0x80000000u) || off < 4 || (off & 3) + len > 4)
		return false;
	*bdf = (a >> 8) & 0xffff;
	*reg = (a & 0xfc) + (uint32_t)(off & 3);
	return true;
}

static void conf1_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct pci_host *h = dev;
	memset(data, 0xff, len);
	if (off == 0 && len == 4) {
		le_put32(data, atomic_load(&h->cf8));
		return;
	}
	uint32_t bdf, reg;
	if (conf1_target(h, off, len, &bdf, &reg))
		pci_cfg_read(h, bdf, reg, data, len);
}

static void conf1_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct pci_host *h = dev;
	if (off == 0 && len == 4) {
		atomic_store(&h->cf8, le_get32(data) & 0x80fffffcu);
		return;
	}
	uint32_t bdf, reg;
	if (conf1_target(h, off, len, &bdf, &reg))
		pci_cfg_write(h, bdf, reg, data, len);
}

const struct bus_ops pci_conf1_ops = {
	.read = conf1_read,
	.write = conf1_write,
};

/* ECAM: bus 27:20 (one bus here), device 19:15, function 14:12, 11:0 reg. */
static void ecam_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	if (off >= PCI_ECAM_SIZE) {
		memset(data, 0xff, len);
		return;
	}
	pci_cfg_read(dev, (uint32_t)(off >> 12), (uint32_t)(off & 0xfff), data, len);
}

static void ecam_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	if (off < PCI_ECAM_SIZE)
		pci_cfg_write(dev, (uint32_t)(off >> 12), (uint32_t)(off & 0xfff), data, len);
}

const struct bus_ops pci_ecam_ops = {
	.read = ecam_read,
	.write = ecam_write,
};

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
	return (p->msix_ctrl & MSIX_FMASK) || (p->msix[v].ctrl & MSIX_CTRL_MASKED);
}

/* Where source src's eventfd should be bound now. */
static uint32_t source_gsi(const struct virtio_pci *p, unsigned src)
{
	if (p->msix_ctrl & MSIX_ENABLE) {
		uint16_t v = source_vector(p, src);
		if (v >= p->nvec || vector_masked(p, v))
			return PCI_GSI_NONE; /* no vector, or pending while masked */
		return p->msi_gsi_base + v;
	}
	if (p->command & CMD_INTX_DISABLE)
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
		if (p->msix_ctrl & MSIX_ENABLE)
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
	if (!(p->msix_ctrl & MSIX_ENABLE))
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

static void put_cap(uint8_t *img, unsigned at, unsigned next, unsigned cap_len, uint8_t type,
		    uint32_t off, uint32_t len)
{
	img[at] = PCI_CAP_VENDOR;
	img[at + 1] = (uint8_t)next;
	img[at + 2] = (uint8_t)cap_len;
	img[at + 3] = type;
	img[at + 4] = 0; /* BAR0 */
	le_put32(img + at + 8, off);
	le_put32(img + at + 12, len);
}

static void cfg_image(const struct virtio_pci *p, uint8_t img[PCI_CFG_SIZE])
{
	memset(img, 0, PCI_CFG_SIZE);
	le_put16(img + CFG_VENDOR, VIRTIO_PCI_VENDOR);
	le_put16(img + CFG_DEVICE, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + p->vdev->ops->device_id));
	le_put16(img + CFG_COMMAND, p->command);
	uint16_t status = STATUS_CAPS;
	if (atomic_load(&p->vdev->isr) && !(p->msix_ctrl & MSIX_ENABLE))
		status |= STATUS_INTX;
	le_put16(img + CFG_STATUS, status);
	img[CFG_REVISION] = 1; /* modern only */
	memcpy(img + CFG_CLASS, p->class_code, 3);
	le_put32(img + CFG_BAR0, p->bar_reg); /* 32-bit memory, not prefetchable */
	le_put16(img + CFG_SUBSYS_VENDOR, VIRTIO_PCI_VENDOR);
	le_put16(img + CFG_SUBSYS, 0x0040);
	img[CFG_CAP_PTR] = CAP_COMMON;
	img[CFG_INTR_LINE] = p->intr_line;
	img[CFG_INTR_PIN] = 1; /* INTA */
	put_cap(img, CAP_COMMON, CAP_NOTIFY, 16, VIRTIO_CAP_COMMON, VIRTIO_PCI_COMMON_OFF,
		VIRTIO_PCI_COMMON_LEN);
	put_cap(img, CAP_NOTIFY, CAP_ISR, 20, VIRTIO_CAP_NOTIFY, VIRTIO_PCI_NOTIFY_OFF,
		VIRTIO_PCI_NOTIFY_MULT * p->vdev->nqueues);
	le_put32(img + CAP_NOTIFY + 16, VIRTIO_PCI_NOTIFY_MULT);
	put_cap(img, CAP_ISR, CAP_DEVCFG, 16, VIRTIO_CAP_ISR, VIRTIO_PCI_ISR_OFF, 4);
	put_cap(img, CAP_DEVCFG, CAP_MSIX, 16, VIRTIO_CAP_DEVICE, VIRTIO_PCI_DEVCFG_OFF,
		VIRTIO_PCI_DEVCFG_LEN);
	img[CAP_MSIX] = PCI_CAP_MSIX;
	img[CAP_MSIX + 1] = CAP_PCICFG;
	le_put16(img + CAP_MSIX + 2, (uint16_t)(p->msix_ctrl | (p->nvec - 1)));
	le_put32(img + CAP_MSIX + 4, VIRTIO_PCI_MSIX_OFF); /* BIR 0 */
	le_put32(img + CAP_MSIX + 8, VIRTIO_PCI_PBA_OFF);
	/* the window's bar, offset and length are the driver's */
	put_cap(img, CAP_PCICFG, 0, 20, VIRTIO_CAP_PCICFG, p->cfgcap_off, p->cfgcap_len);
	img[CAP_PCICFG + 4] = p->cfgcap_bar;
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
	if (p->cfgcap_bar != 0 || (l != 1 && l != 2 && l != 4) || off != 0 || len < l ||
	    o % l || o >= VIRTIO_PCI_BAR_SIZE)
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
	bool window = off >= CAP_PCICFG + 16 && off < CAP_PCICFG + 20 &&
		      cfgcap_window(p, off - (CAP_PCICFG + 16), len, &at, &wlen);
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
	case CFG_COMMAND:
		p->command = (uint16_t)(v & CMD_WRITABLE);
		rewire(p); /* INTx disable */
		break;
	case CFG_BAR0:
		p->bar_reg = v & ~(VIRTIO_PCI_BAR_SIZE - 1);
		break;
	case CFG_INTR_LINE:
		p->intr_line = (uint8_t)v;
		break;
	case CAP_MSIX:
		p->msix_ctrl = (uint16_t)((v >> 16) & (MSIX_ENABLE | MSIX_FMASK));
		rewire(p);
		break;
	case CAP_PCICFG + 4:
		p->cfgcap_bar = (uint8_t)v;
		break;
	case CAP_PCICFG + 8:
		p->cfgcap_off = v;
		break;
	case CAP_PCICFG + 12:
		p->cfgcap_len = v;
		break;
	case CAP_PCICFG + 16: {
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

/* The common configuration structure's fields (virtio 1.2 4.1.4.3). */
struct common_field {
	uint8_t off, size;
};
static const struct common_field common_fields[] = {
	{0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0c, 4}, {0x10, 2}, {0x12, 2}, {0x14, 1}, {0x15, 1},
	{0x16, 2}, {0x18, 2}, {0x1a, 2}, {0x1c, 2}, {0x1e, 2}, {0x20, 8}, {0x28, 8}, {0x30, 8},
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
	case 0x00:
		return d->dev_features_sel;
	case 0x04:
		return d->dev_features_sel < 2
			       ? (uint32_t)(d->features >> (32 * d->dev_features_sel))
			       : 0;
	case 0x08:
		return d->drv_features_sel;
	case 0x0c:
		return d->drv_features_sel < 2
			       ? (uint32_t)(d->driver_features >> (32 * d->drv_features_sel))
			       : 0;
	case 0x10:
		return p->config_vector;
	case 0x12:
		return d->nqueues;
	case 0x14:
		return virtio_status(d) & 0xff;
	case 0x15:
		return __atomic_load_n(&d->config_generation, __ATOMIC_SEQ_CST) & 0xff;
	case 0x16:
		return d->queue_sel;
	case 0x18:
		return q ? q->num : 0;
	case 0x1a:
		return q ? p->queue_vector[d->queue_sel] : VIRTIO_PCI_NO_VECTOR;
	case 0x1c:
		return q ? q->ready : 0;
	case 0x1e:
		return q ? d->queue_sel : 0;
	case 0x20:
		return q ? q->desc : 0;
	case 0x28:
		return q ? q->avail : 0;
	case 0x30:
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
		p->queue_vector[q] = VIRTIO_PCI_NO_VECTOR;
	}
	p->config_vector = VIRTIO_PCI_NO_VECTOR;
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
	return v < p->nvec ? (uint16_t)v : VIRTIO_PCI_NO_VECTOR;
}

static void common_set(struct virtio_pci *p, unsigned off, uint64_t v)
{
	struct virtio_dev *d = p->vdev;
	struct virtio_queue_cfg *q = selected_queue(p);
	/* Queue fields change only before DRIVER_OK, on a queue not enabled. */
	struct virtio_queue_cfg *qw =
		q && !(d->status & VIRTIO_STATUS_DRIVER_OK) && !q->ready ? q : NULL;
	bool features_open =
		(d->status & VIRTIO_STATUS_DRIVER) && !(d->status & VIRTIO_STATUS_FEATURES_OK);
	switch (off) {
	case 0x00:
		d->dev_features_sel = (uint32_t)v;
		break;
	case 0x08:
		d->drv_features_sel = (uint32_t)v;
		break;
	case 0x0c:
		if (features_open && d->drv_features_sel < 2) {
			unsigned sh = 32 * d->drv_features_sel;
			d->driver_features = (d->driver_features & ~(0xffffffffULL << sh)) |
					     ((v & 0xffffffffULL) << sh);
		}
		break;
	case 0x10:
		p->config_vector = valid_vector(p, v);
		rewire(p);
		break;
	case 0x14:
		/* 0: a reset; its end restores vectors and queue sizes
		 * (pci_reset), maybe later, when the workers are done */
		virtio_set_status(d, (uint32_t)v & 0xff);
		break;
	case 0x16:
		d->queue_sel = (uint32_t)v;
		break;
	case 0x18:
		/* a power of two no larger than the maximum (split rings) */
		if (qw && v && v <= d->queue_max && !(v & (v - 1)))
			qw->num = (uint16_t)v;
		break;
	case 0x1a:
		if (q && !(d->status & VIRTIO_STATUS_DRIVER_OK)) {
			p->queue_vector[d->queue_sel] = valid_vector(p, v);
			rewire(p);
		}
		break;
	case 0x1c:
		if (qw && v == 1)
			qw->ready = true;
		break;
	case 0x20:
		if (qw)
			qw->desc = v;
		break;
	case 0x28:
		if (qw)
			qw->avail = v;
		break;
	case 0x30:
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
	unsigned v = (unsigned)(off / 16);
	if (v >= p->nvec)
		return 0;
	const struct virtio_pci_msix_entry *m = &p->msix[v];
	switch (off & 15) {
	case 0:
		return m->addr_lo;
	case 4:
		return m->addr_hi;
	case 8:
		return m->data;
	default:
		return m->ctrl;
	}
}

static void msix_write32(struct virtio_pci *p, uint64_t off, uint32_t val)
{
	unsigned v = (unsigned)(off / 16);
	if (v >= p->nvec)
		return;
	struct virtio_pci_msix_entry *m = &p->msix[v];
	switch (off & 15) {
	case 0:
		m->addr_lo = val & ~3u;
		break;
	case 4:
		m->addr_hi = val;
		break;
	case 8:
		m->data = val;
		break;
	default:
		m->ctrl = val & MSIX_CTRL_MASKED;
		rewire(p); /* (un)mask */
		return;
	}
	/* A new message for a vector in use takes effect at once. */
	if ((p->msix_ctrl & MSIX_ENABLE) && !vector_masked(p, (uint16_t)v))
		route_vector(p, (uint16_t)v);
}

/* Whether the BAR decodes at the address cvmm mapped it. */
static bool bar_live(const struct virtio_pci *p)
{
	return (p->command & CMD_MEM) && p->bar_reg == (uint32_t)p->bar;
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
	} else if (off >= VIRTIO_PCI_MSIX_OFF && off < VIRTIO_PCI_MSIX_OFF + 16u * p->nvec &&
		   !(off & 3) && (len == 4 || len == 8)) {
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
	} else if (off >= VIRTIO_PCI_MSIX_OFF && off < VIRTIO_PCI_MSIX_OFF + 16u * p->nvec &&
		   !(off & 3) && (len == 4 || len == 8)) {
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
		p->msix[v].ctrl = MSIX_CTRL_MASKED;
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
