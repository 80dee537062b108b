/* SPDX-License-Identifier: MIT */
/* The virtio-pci modern transport (virtio 1.x capabilities, one memory BAR,
 * MSI-X with one vector per queue plus one for configuration changes, INTx
 * when MSI-X is off): a function in a slot of the host bridge
 * (devices/virtio/pci_host.h).
 *
 * Interrupts: every queue and the configuration change have their own
 * eventfd (virtio_dev's vq_irqfd[] and irqfd), written by the workers. The
 * transport binds each eventfd as a KVM irqfd to the GSI it must raise: the
 * GSI routed to its MSI-X vector (KVM_IRQ_ROUTING_MSI) when MSI-X is on and
 * the vector unmasked; the function's INTx GSI when MSI-X is off; nothing
 * while the vector is masked, so that the eventfd keeps the count: that is
 * the pending bit, and binding it again on unmask delivers it. */
#ifndef CVMM_VIRTIO_PCI_H
#define CVMM_VIRTIO_PCI_H

#include <linux/virtio_pci.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/pci_host.h"
#include "devices/virtio/virtio.h"
#include "core/bus.h"

#define PCI_GSI_NONE UINT32_MAX

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + virtio device id: modern */

/* BAR0 layout (a 32-bit memory BAR). */
#define VIRTIO_PCI_BAR_SIZE    0x8000u
#define VIRTIO_PCI_COMMON_OFF  0x0000u
#define VIRTIO_PCI_COMMON_LEN  ((uint32_t)sizeof(struct virtio_pci_common_cfg))
#define VIRTIO_PCI_ISR_OFF     0x1000u
#define VIRTIO_PCI_DEVCFG_OFF  0x2000u
#define VIRTIO_PCI_DEVCFG_LEN  0x1000u
#define VIRTIO_PCI_NOTIFY_OFF  0x3000u
#define VIRTIO_PCI_NOTIFY_MULT 4u /* queue q notifies at NOTIFY_OFF + 4 q */
#define VIRTIO_PCI_MSIX_OFF    0x4000u
#define VIRTIO_PCI_PBA_OFF     0x5000u
#define VIRTIO_PCI_MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)

/* How the transport rewires interrupts at run time (KVM in the VMM, fakes in
 * tests). Called on vCPU threads with the device lock held. */
struct virtio_pci_irq_ops {
	/* GSI gsi delivers the MSI (addr, data). */
	int (*msi_route)(void *opaque, uint32_t gsi, uint64_t addr, uint32_t data);
	/* Binds (assign) or unbinds eventfd fd as an irqfd for gsi. */
	int (*irqfd)(void *opaque, int fd, uint32_t gsi, bool assign);
};

struct virtio_pci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl; /* ctrl bit 0: masked */
};

struct virtio_pci {
	struct virtio_dev *vdev; /* borrowed; its lock guards everything here */
	uint64_t bar;		 /* where cvmm put BAR0 */
	uint32_t intx_gsi;	 /* INTA's GSI (the DSDT's _PRT says so) */
	uint32_t msi_gsi_base;	 /* vector v raises GSI msi_gsi_base + v */
	const struct virtio_pci_irq_ops *irq_ops;
	void *irq_opaque;
	const int *kick_fd; /* borrowed: queue q's ioeventfd (notify writes KVM missed) */
	unsigned nvec;	    /* MSI-X table size: queues + 1 */
	uint8_t class_code[3];
	/* configuration space */
	uint16_t command;
	uint32_t bar_reg;
	uint8_t intr_line;
	uint16_t msix_ctrl; /* enable (15) and function mask (14) */
	struct virtio_pci_msix_entry msix[VIRTIO_PCI_MAX_VECTORS];
	uint16_t config_vector, queue_vector[VIRTIO_MAX_QUEUES];
	/* VIRTIO_PCI_CAP_PCI_CFG's window: bar, offset, length */
	uint8_t cfgcap_bar;
	uint32_t cfgcap_off, cfgcap_len;
	/* which GSI each interrupt source's eventfd is bound to (queues, then
	 * the configuration change at index nqueues) */
	uint32_t bound[VIRTIO_PCI_MAX_VECTORS];
	uint64_t irq_errors; /* failed rewiring calls, for tests and logs */
};

/* Sets up p for d (whose nqueues and irqfds are set). */
void virtio_pci_init(struct virtio_pci *p, struct virtio_dev *d, uint64_t bar, uint32_t intx_gsi,
		     uint32_t msi_gsi_base, const struct virtio_pci_irq_ops *ops, void *opaque,
		     const int *kick_fd);
/* Unbinds every irqfd (teardown). */
void virtio_pci_unbind(struct virtio_pci *p);
/* Snapshot: the configuration space, the MSI-X table and its masks, the
 * vectors, as section "virtio-pci" inst; restore rewires what they say
 * (MSI routes, irqfds) through irq_ops, before virtio_dev_restore. */
struct snap_w;
struct snap_r;
void virtio_pci_save(const struct virtio_pci *p, struct snap_w *w, uint32_t inst);
__attribute__((warn_unused_result)) int
virtio_pci_restore(struct virtio_pci *p, const struct snap_r *r, uint32_t inst, struct err *e);
extern const struct pci_fn_ops virtio_pci_fn_ops; /* fn: struct virtio_pci */
extern const struct bus_ops virtio_pci_bar_ops;	  /* dev: struct virtio_pci, BAR0 */

#endif
