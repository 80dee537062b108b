/* SPDX-License-Identifier: MIT */
/* PCI: a host bridge for bus 0 (00:00.0), configuration mechanism #1 on
 * ports 0xCF8-0xCFF and an ECAM window, and the slots its functions plug
 * into (devices/virtio/pci.c's virtio-pci transport is one). */
#ifndef CVMM_PCI_HOST_H
#define CVMM_PCI_HOST_H

#include <linux/pci_regs.h>
#include <stdint.h>

#include "core/bus.h"

#define PCI_SLOTS      32		  /* bus 0, function 0 of each device */
#define PCI_CFG_SIZE   PCI_CFG_SPACE_SIZE /* conventional configuration space */
#define PCI_ECAM_SIZE  (1u << 20)	  /* ECAM for bus 0 */
#define PCI_CONF1_PORT 0xcf8		  /* 0xcf8 address, 0xcfc-0xcff data */
#define PCI_CONF1_LEN  8

/* A function on bus 0: its configuration space accessors. off + len never
 * crosses a dword; len is 1, 2 or 4. Called under no lock. */
struct pci_fn_ops {
	void (*cfg_read)(void *fn, uint32_t off, uint8_t *data, unsigned len);
	void (*cfg_write)(void *fn, uint32_t off, const uint8_t *data, unsigned len);
};

struct pci_host {
	_Atomic uint32_t cf8; /* configuration mechanism #1 address */
	struct {
		const struct pci_fn_ops *ops; /* NULL: empty slot */
		void *fn;		      /* borrowed */
	} slot[PCI_SLOTS];
};

/* Slot 0 is the host bridge itself. */
void pci_host_init(struct pci_host *h);
/* -EINVAL for slot 0 or past the end, -EBUSY when taken. */
__attribute__((warn_unused_result)) int pci_host_add(struct pci_host *h, unsigned slot,
						     const struct pci_fn_ops *ops, void *fn);
/* Configuration access by bus/device/function/register, for both. */
void pci_cfg_read(struct pci_host *h, uint32_t bdf, uint32_t reg, uint8_t *data, unsigned len);
void pci_cfg_write(struct pci_host *h, uint32_t bdf, uint32_t reg, const uint8_t *data,
		   unsigned len);
extern const struct bus_ops pci_conf1_ops; /* dev: the pci_host, at PCI_CONF1_PORT */
extern const struct bus_ops pci_ecam_ops;  /* dev: the pci_host, PCI_ECAM_SIZE bytes */

#endif
