/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vus-ctl: a PCI function's interrupt modes, as a guest driver turns them
 * on (msi-enable, msix-enable: the capability's enable bit, Bus Master,
 * MSI-X vectors unmasked, eventfds bound), and the check irq-wait makes
 * first: an interrupt of a mode the guest side left off never comes, so
 * say that instead of timing out. GPL-2.0-or-later as the rest of vus-ctl.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "vus-ctl.h"

#define CFG 7u
#define CFG_COMMAND 0x04u
#define CMD_MASTER 0x0004u
#define CMD_INTX_DISABLE 0x0400u
#define CAP_MSI 0x05u
#define CAP_MSIX 0x11u
#define MSI_ENABLE 0x0001u
#define MSI_MMC(ctl) (((ctl) >> 1) & 0x7u)
#define MSIX_ENABLE 0x8000u
#define MSIX_MASKALL 0x4000u
#define MSIX_ENTRY 16u
#define MSIX_VECTOR_CTRL 12u

enum { IDX_INTX = 0, IDX_MSI = 1, IDX_MSIX = 2 };

static int cfg16(struct ctl *x, uint32_t off, uint16_t *v, bool write)
{
	uint8_t b[2] = { (uint8_t)*v, (uint8_t)(*v >> 8) };
	int ret = write ? vus_client_region_write(x->c, CFG, off, b, 2)
			: vus_client_region_read(x->c, CFG, off, b, 2);

	if (!write)
		*v = (uint16_t)(b[0] | b[1] << 8);
	return ret;
}

/* The control register of capability @id, and where it is (0: none). */
static int cap_control(struct ctl *x, uint8_t id, uint32_t *at, uint16_t *ctl)
{
	int ret = vus_client_pci_find_cap(x->c, id, false, 0);

	*at = 0;
	*ctl = 0;
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	*at = (uint32_t)ret;
	return cfg16(x, *at + 2, ctl, false);
}

static bool is_pci(struct ctl *x)
{
	struct vus_client_device_info di = { .struct_size = sizeof(di) };

	return vus_client_device_info(x->c, &di) == 0 &&
	       (di.flags & VUS_CLIENT_DEV_PCI);
}

int ctl_irq_check(struct ctl *x, uint32_t index)
{
	uint16_t msi, msix, cmd = 0;
	uint32_t at;
	int ret;

	if (index > IDX_MSIX || !is_pci(x))
		return 0;
	ret = cap_control(x, CAP_MSI, &at, &msi);
	if (ret == 0)
		ret = cap_control(x, CAP_MSIX, &at, &msix);
	if (ret == 0)
		ret = cfg16(x, CFG_COMMAND, &cmd, false);
	if (ret < 0)
		return ctl_fail(ret, "reading config space");
	if (index == IDX_MSI && !(msi & MSI_ENABLE))
		return ctl_error("irq-wait: MSI is off in config space (msi-enable)");
	if (index == IDX_MSIX && !(msix & MSIX_ENABLE))
		return ctl_error("irq-wait: MSI-X is off in config space (msix-enable)");
	if (index != IDX_INTX && !(cmd & CMD_MASTER))
		return ctl_error("irq-wait: Bus Master is off in config space");
	if (index == IDX_INTX && ((msi & MSI_ENABLE) || (msix & MSIX_ENABLE)))
		return ctl_error("irq-wait: INTx is not used while MSI or MSI-X is on");
	if (index == IDX_INTX && (cmd & CMD_INTX_DISABLE))
		return ctl_error("irq-wait: INTx is disabled in the command register");
	return 0;
}

/* Every MSI-X vector unmasked, in the table in its BAR. */
static int msix_unmask(struct ctl *x, uint32_t at, uint16_t ctl)
{
	uint8_t t[4], zero[4] = { 0 };
	uint32_t table, n = (ctl & 0x7ffu) + 1u;
	int ret = vus_client_region_read(x->c, CFG, at + 4, t, 4);

	table = (uint32_t)(t[0] | t[1] << 8 | t[2] << 16 | (uint32_t)t[3] << 24);
	for (uint32_t i = 0; ret == 0 && i < n; i++)
		ret = vus_client_region_write(x->c, table & 7u,
					      (table & ~7u) + i * MSIX_ENTRY +
					      MSIX_VECTOR_CTRL, zero, 4);
	return ret;
}

/* Turn MSI (@index 1) or MSI-X (2) on, as a driver would, and bind it. */
static int irq_enable(struct ctl *x, uint32_t index, const char *name)
{
	struct vus_client_irq_info ii = { .struct_size = sizeof(ii) };
	uint16_t ctl, cmd = 0;
	uint32_t at;
	int ret;

	if (!is_pci(x))
		return ctl_error("%s: not a PCI device", x->socket);
	ret = cap_control(x, index == IDX_MSI ? CAP_MSI : CAP_MSIX, &at, &ctl);
	if (ret == 0 && at == 0)
		return ctl_error("%s: the device has no %s capability", name, name);
	if (ret == 0 && index == IDX_MSI) /* all the vectors it offers */
		ctl = (uint16_t)((ctl & ~0x70u) | MSI_MMC(ctl) << 4 | MSI_ENABLE);
	else if (ret == 0)
		ctl = (uint16_t)((ctl & ~MSIX_MASKALL) | MSIX_ENABLE);
	ret = ret ? ret : cfg16(x, at + 2, &ctl, true);
	if (ret == 0 && index == IDX_MSIX)
		ret = msix_unmask(x, at, ctl);
	ret = ret ? ret : cfg16(x, CFG_COMMAND, &cmd, false);
	cmd |= CMD_MASTER;
	ret = ret ? ret : cfg16(x, CFG_COMMAND, &cmd, true);
	if (ret < 0)
		return ctl_fail(ret, "%s: config space", name);
	ret = vus_client_irq_info(x->c, index, &ii);
	if (ret == 0)
		ret = vus_client_irq_enable(x->c, index, ii.count);
	return ret < 0 ? ctl_fail(ret, "%s: DEVICE_SET_IRQS", name) : 0;
}

int ctl_msi_enable(struct ctl *x)
{
	return irq_enable(x, IDX_MSI, "MSI");
}

int ctl_msix_enable(struct ctl *x)
{
	return irq_enable(x, IDX_MSIX, "MSI-X");
}
