/* SPDX-License-Identifier: MIT */
/* The PCI host bridge and the virtio-pci transport (devices/virtio/pci.c)
 * driven by sequences of accesses as the buses would dispatch them:
 * configuration mechanism #1 (ports 0xcf8-0xcff), ECAM, and BAR0 (common
 * configuration, ISR, device configuration, notifications, MSI-X table and
 * PBA), against a fake device model and fake interrupt wiring (KVM's irqfd
 * and MSI routes) that check what the transport asks of them. Input:
 *   [0]      queues: 1 + b % VIRTIO_MAX_QUEUES
 *   [1]      bits 0-2 queue_max (from qmax[]); bit 3: activate fails
 *   [2..9]   offered features (le64; VERSION_1 always added)
 *   [10..]   ops of 7 bytes [ctl, off le16, value le32]:
 *            ctl & 3         width 1 << (ctl & 3)
 *            ctl & 4         write
 *            (ctl >> 3) & 3  0: conf1 port 0xcf8 + (off & 7);
 *                            1: ECAM, device (off >> 12) & 15, register
 *                               off & 0xfff; 2: BAR0 offset off & 0x7fff;
 *                            3: a worker raises queue (value >> 8) % queues'
 *                               interrupt (value bit 0) or the configuration
 *                               interrupt (bit 1)
 *            an 8-byte value is the le32 twice
 * Invariants after every op: each interrupt eventfd is bound (irqfd) to
 * exactly the GSI the state calls for: its vector's MSI GSI when MSI-X is
 * on and the vector unmasked, nothing when masked or without a vector, the
 * INTx GSI when MSI-X is off and INTx not disabled; never bound twice,
 * never unbound when not bound; an MSI GSI in use routes the vector's
 * current message; pending bits only for masked vectors; the identity reads
 * right; a sized BAR reads back its size; activate never twice without a
 * reset. */
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio/pci.h"
#include "fuzz_common.h"

#define OP_BYTES  7
#define VERSION_1 (1ULL << VIRTIO_F_VERSION_1)
#define INTX_GSI  5u
#define MSI_BASE  24u
#define SLOT	  1
#define FAKE_ID	  VIRTIO_ID_BLOCK

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t qmax[8] = {1, 2, 4, 16, 128, 256, 1024, 32768};

struct model {
	bool fail, active;
	uint8_t config[64];
};

struct fake_kvm {
	int fds[VIRTIO_PCI_MAX_VECTORS]; /* the sources' eventfds */
	unsigned nfds;
	uint32_t bound[VIRTIO_PCI_MAX_VECTORS]; /* per fd */
	bool routed[MSI_BASE + VIRTIO_PCI_MAX_VECTORS];
	uint64_t addr[MSI_BASE + VIRTIO_PCI_MAX_VECTORS];
	uint32_t data[MSI_BASE + VIRTIO_PCI_MAX_VECTORS];
};

static int fd_index(struct fake_kvm *k, int fd)
{
	for (unsigned i = 0; i < k->nfds; i++)
		if (k->fds[i] == fd)
			return (int)i;
	FZ_CHECK(!"an eventfd that is no source's");
	return -1;
}

static int fake_route(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data)
{
	struct fake_kvm *k = opaque;
	FZ_CHECK(gsi >= MSI_BASE && gsi < MSI_BASE + VIRTIO_PCI_MAX_VECTORS);
	k->routed[gsi] = true;
	k->addr[gsi] = addr;
	k->data[gsi] = data;
	return 0;
}

static int fake_irqfd(void *opaque, int fd, uint32_t gsi, bool assign)
{
	struct fake_kvm *k = opaque;
	int i = fd_index(k, fd);
	if (assign) {
		FZ_CHECK(k->bound[i] == PCI_GSI_NONE); /* KVM: EBUSY */
		FZ_CHECK(gsi == INTX_GSI || (gsi >= MSI_BASE && k->routed[gsi]));
		k->bound[i] = gsi;
	} else {
		FZ_CHECK(k->bound[i] == gsi);
		k->bound[i] = PCI_GSI_NONE;
	}
	return 0;
}

static const struct virtio_pci_irq_ops fake_ops_irq = {
	.msi_route = fake_route,
	.irqfd = fake_irqfd,
};

static void m_config_read(struct virtio_dev *d, uint32_t off, uint8_t *data, unsigned len)
{
	struct model *m = d->model;
	FZ_CHECK(off < VIRTIO_PCI_DEVCFG_LEN && len <= VIRTIO_PCI_DEVCFG_LEN - off);
	if (off < sizeof(m->config) && len <= sizeof(m->config) - off)
		memcpy(data, m->config + off, len);
}

static void m_config_write(struct virtio_dev *d, uint32_t off, const uint8_t *data, unsigned len)
{
	struct model *m = d->model;
	FZ_CHECK(off < VIRTIO_PCI_DEVCFG_LEN && len <= VIRTIO_PCI_DEVCFG_LEN - off);
	if (off < sizeof(m->config) && len <= sizeof(m->config) - off)
		memcpy(m->config + off, data, len);
}

static int m_activate(struct virtio_dev *d)
{
	struct model *m = d->model;
	FZ_CHECK(!m->active);
	for (unsigned q = 0; q < d->nqueues; q++)
		FZ_CHECK(d->qcfg[q].num <= d->queue_max);
	if (m->fail)
		return -EINVAL;
	m->active = true;
	return 0;
}

static void m_reset(struct virtio_dev *d)
{
	struct model *m = d->model;
	m->active = false;
}

static const struct virtio_dev_ops fake_dev_ops = {
	.device_id = FAKE_ID,
	.config_read = m_config_read,
	.config_write = m_config_write,
	.activate = m_activate,
	.reset = m_reset,
};

/* What the wiring must look like for p's state. */
static void check_wiring(const struct virtio_pci *p, const struct fake_kvm *k)
{
	const struct virtio_dev *d = p->vdev;
	bool msix = p->msix_ctrl & 0x8000, fmask = p->msix_ctrl & 0x4000;
	for (unsigned src = 0; src <= d->nqueues; src++) {
		uint16_t v = src == d->nqueues ? p->config_vector : p->queue_vector[src];
		uint32_t want;
		if (msix)
			want = v < p->nvec && !fmask && !(p->msix[v].ctrl & 1) ? MSI_BASE + v
									       : PCI_GSI_NONE;
		else
			want = (p->command & (1u << 10)) ? PCI_GSI_NONE : INTX_GSI;
		FZ_CHECK(k->bound[src] == want);
		if (want != PCI_GSI_NONE && want != INTX_GSI) {
			const struct virtio_pci_msix_entry *m = &p->msix[v];
			FZ_CHECK(k->addr[want] == (((uint64_t)m->addr_hi << 32) | m->addr_lo));
			FZ_CHECK(k->data[want] == m->data);
		}
	}
}

static bool readable(int fd)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	return poll(&pfd, 1, 0) == 1;
}

static void drain(int fd)
{
	uint64_t v;
	while (read(fd, &v, sizeof(v)) == sizeof(v)) {
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int efd[VIRTIO_PCI_MAX_VECTORS];
	static bool made;
	if (!made) {
		for (unsigned i = 0; i < VIRTIO_PCI_MAX_VECTORS; i++)
			if ((efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
				abort();
		made = true;
	}
	if (size < 10)
		return 0;
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_VECTORS; i++)
		drain(efd[i]);

	struct model m;
	memset(&m, 0, sizeof(m));
	m.fail = data[1] & 8;
	for (unsigned i = 0; i < sizeof(m.config); i++)
		m.config[i] = (uint8_t)(i * 5 + 3);
	struct virtio_dev d;
	memset(&d, 0, sizeof(d));
	if (pthread_mutex_init(&d.lock, NULL) != 0)
		abort();
	d.ops = &fake_dev_ops;
	d.model = &m;
	d.mem = fz_mem(FZ_MiB, 0);
	d.nqueues = 1 + data[0] % VIRTIO_MAX_QUEUES;
	d.queue_max = qmax[data[1] & 7];
	d.features = fz_rd64(data + 2) | VERSION_1;
	struct virtio_irqfds irq = {.config = efd[d.nqueues]};
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		irq.vq[q] = efd[q < d.nqueues ? q : d.nqueues];
	virtio_set_irqfds(&d, &irq);

	struct fake_kvm k;
	memset(&k, 0, sizeof(k));
	k.nfds = d.nqueues + 1;
	for (unsigned i = 0; i < k.nfds; i++) {
		k.fds[i] = efd[i];
		k.bound[i] = PCI_GSI_NONE;
	}
	int kick[VIRTIO_MAX_QUEUES];
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		kick[q] = -1; /* a notification KVM missed writes nowhere */

	const uint64_t bar = 0xe1000000;
	struct virtio_pci p;
	virtio_pci_init(&p, &d, bar, INTX_GSI, MSI_BASE, &fake_ops_irq, &k, kick);
	struct pci_host h;
	pci_host_init(&h);
	FZ_CHECK(pci_host_add(&h, SLOT, &virtio_pci_fn_ops, &p) == 0);
	FZ_CHECK(pci_host_add(&h, SLOT, &virtio_pci_fn_ops, &p) == -EBUSY);
	FZ_CHECK(pci_host_add(&h, 0, &virtio_pci_fn_ops, &p) == -EINVAL);
	check_wiring(&p, &k);

	/* identity through ECAM and conf1 */
	uint8_t b[8];
	pci_ecam_ops.read(&h, (uint64_t)SLOT << 15, b, 4);
	FZ_CHECK(fz_rd32(b) == (0x1af4u | (uint32_t)(VIRTIO_PCI_DEVICE_BASE + FAKE_ID) << 16));
	pci_ecam_ops.read(&h, 2u << 15, b, 2);
	FZ_CHECK(b[0] == 0xff && b[1] == 0xff); /* empty slot */

	for (size_t at = 10; at + OP_BYTES <= size; at += OP_BYTES) {
		const uint8_t *op = data + at;
		unsigned len = 1u << (op[0] & 3);
		bool wr = op[0] & 4;
		unsigned off = op[1] | (unsigned)op[2] << 8;
		uint32_t val = fz_rd32(op + 3);
		uint8_t buf[8];
		memcpy(buf, &val, 4);
		memcpy(buf + 4, &val, 4);
		switch ((op[0] >> 3) & 3) {
		case 0:
			if (wr)
				pci_conf1_ops.write(&h, off & 7, buf, len > 4 ? 4 : len);
			else
				pci_conf1_ops.read(&h, off & 7, buf, len > 4 ? 4 : len);
			break;
		case 1: {
			uint64_t e = (uint64_t)((off >> 12) & 15) << 15 | (off & 0xfff);
			if (wr)
				pci_ecam_ops.write(&h, e, buf, len > 4 ? 4 : len);
			else
				pci_ecam_ops.read(&h, e, buf, len > 4 ? 4 : len);
			break;
		}
		case 2:
			if (wr) {
				virtio_pci_bar_ops.write(&p, off & 0x7fff, buf, len);
			} else {
				virtio_pci_bar_ops.read(&p, off & 0x7fff, buf, len);
				bool live = (p.command & 2) && p.bar_reg == (uint32_t)bar;
				if ((off & 0x7fff) == VIRTIO_PCI_PBA_OFF && len == 8 && live &&
				    (p.msix_ctrl & 0x8000)) {
					uint64_t pend = fz_rd64(buf);
					for (unsigned v = 0; v < 64; v++)
						if (pend & (1ULL << v))
							FZ_CHECK(v < p.nvec &&
								 ((p.msix_ctrl & 0x4000) ||
								  (p.msix[v].ctrl & 1)));
					/* and every masked vector whose source's
					 * eventfd holds a count is pending */
					for (unsigned src = 0; src <= d.nqueues; src++) {
						uint16_t v = src == d.nqueues ? p.config_vector
									      : p.queue_vector[src];
						if (v < p.nvec &&
						    ((p.msix_ctrl & 0x4000) ||
						     (p.msix[v].ctrl & 1)) &&
						    readable(efd[src]))
							FZ_CHECK(pend & (1ULL << v));
					}
				}
			}
			break;
		case 3:
			if (val & 1)
				virtio_notify_vq(&d, (val >> 8) % d.nqueues);
			if (val & 2)
				virtio_notify(&d, VIRTIO_INT_CONFIG);
			break;
		}
		check_wiring(&p, &k);
	}

	/* BAR sizing, with decoding off as a driver does it */
	uint8_t z[4] = {0, 0, 0, 0}, ones[4] = {0xff, 0xff, 0xff, 0xff};
	pci_cfg_write(&h, SLOT << 3, 0x04, z, 2);
	pci_cfg_write(&h, SLOT << 3, 0x10, ones, 4);
	pci_cfg_read(&h, SLOT << 3, 0x10, b, 4);
	FZ_CHECK(fz_rd32(b) == (uint32_t) ~(VIRTIO_PCI_BAR_SIZE - 1));
	virtio_pci_bar_ops.read(&p, 0, b, 4); /* not decoding: all ones */
	FZ_CHECK(fz_rd32(b) == 0xffffffffu);
	virtio_pci_unbind(&p);
	for (unsigned i = 0; i < k.nfds; i++)
		FZ_CHECK(k.bound[i] == PCI_GSI_NONE);
	pthread_mutex_destroy(&d.lock);
	return 0;
}
