/* SPDX-License-Identifier: MIT */
/* The PCI host bridge and configuration access (pci_host.h). */
#include "devices/virtio/pci_host.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "core/le.h"

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
	le_put16(img + PCI_VENDOR_ID, 0x1b36); /* Red Hat: "PCIe host bridge" */
	le_put16(img + PCI_DEVICE_ID, 0x0008);
	img[PCI_CLASS_DEVICE + 1] = 0x06; /* bridge */
	img[PCI_CLASS_DEVICE] = 0x00;	  /* host */
	le_put16(img + PCI_SUBSYSTEM_VENDOR_ID, 0x1b36);
	le_put16(img + PCI_SUBSYSTEM_ID, 0x0008);
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
