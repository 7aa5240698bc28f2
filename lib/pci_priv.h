/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pci_priv: the PCI adapter's state, shared by its files:
 *   pci.c         lifecycle (init, realize, reset, destroy), BARs, ROM
 *   pci_config.c  config space: ownership map, masks, access splitting
 *   pci_caps.c    capability chain builder and capability write rules
 *   pci_msix.c    MSI-X table and PBA inside BARs (BAR access wrapper)
 *   pci_irq.c     INTx / MSI / MSI-X routing onto interrupt indexes 0-2
 *
 * Config space is a byte image plus per-byte tables: which owner (header,
 * a capability, or the device) each byte belongs to, which bits a client
 * write may change, and which bits are write-1-to-clear. Everything that
 * changes after realize (the image, MSI-X table and PBA, interrupt state)
 * is guarded by pci->lock; the tables are frozen at realize.
 */
#ifndef VUS_PCI_INTERNAL_H
#define VUS_PCI_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctx_internal.h"
#include "vus/pci.h"

struct log;
struct irq_table;
struct region_table;

/* Geometry. */
#define PCI_CONV_SIZE 256u   /* conventional config space */
#define PCI_EXP_SIZE 4096u   /* PCI Express config space */
#define PCI_HDR_END 0x40u    /* end of the type-0 header; first cap */
#define PCI_EXT_START 0x100u /* first extended capability */
#define PCI_NR_BARS 6u

/* Type-0 header registers. */
#define PCI_REG_VENDOR 0x00u
#define PCI_REG_DEVICE 0x02u
#define PCI_REG_COMMAND 0x04u
#define PCI_REG_STATUS 0x06u
#define PCI_REG_REVISION 0x08u
#define PCI_REG_CLASS 0x09u /* prog-if, subclass, base class */
#define PCI_REG_CACHE_LINE 0x0cu
#define PCI_REG_LATENCY 0x0du
#define PCI_REG_HDR_TYPE 0x0eu
#define PCI_REG_BAR0 0x10u
#define PCI_REG_SUBSYS_VENDOR 0x2cu
#define PCI_REG_SUBSYS 0x2eu
#define PCI_REG_ROM 0x30u
#define PCI_REG_CAP_PTR 0x34u
#define PCI_REG_INT_LINE 0x3cu
#define PCI_REG_INT_PIN 0x3du

#define PCI_CMD_IO 0x0001u
#define PCI_CMD_MEM 0x0002u
#define PCI_CMD_MASTER 0x0004u
#define PCI_CMD_PARITY 0x0040u
#define PCI_CMD_SERR 0x0100u
#define PCI_CMD_INTX_DISABLE 0x0400u

#define PCI_STS_INTX 0x0008u
#define PCI_STS_CAP_LIST 0x0010u
/* Master data parity, signalled/received target abort, received master
 * abort, signalled system error, detected parity error. */
#define PCI_STS_W1C 0xf900u

#define PCI_BAR_IO 0x1u
#define PCI_BAR_MEM64 0x4u
#define PCI_BAR_PREFETCH 0x8u
#define PCI_ROM_ENABLE 0x1u
#define PCI_ROM_MIN 2048u

/* Capability IDs. */
#define PCI_CAPID_PM 0x01u
#define PCI_CAPID_MSI 0x05u
#define PCI_CAPID_VNDR 0x09u
#define PCI_CAPID_EXP 0x10u
#define PCI_CAPID_MSIX 0x11u
#define PCI_EXTID_DSN 0x0003u
#define PCI_EXTID_VSEC 0x000bu
#define PCI_EXTID_DVSEC 0x0023u

/* Power management capability. */
#define PCI_PM_PMC 2u
#define PCI_PM_PMCSR 4u
#define PCI_PM_LEN 8u
#define PCI_PM_STATE_MASK 0x0003u
#define PCI_PM_D3HOT 0x0003u
#define PCI_PM_NO_SOFT_RESET 0x0008u

/* MSI capability. */
#define PCI_MSI_CTRL 2u
#define PCI_MSI_ADDR 4u
#define PCI_MSI_CTRL_ENABLE 0x0001u
#define PCI_MSI_CTRL_MMC_SHIFT 1
#define PCI_MSI_CTRL_MME_SHIFT 4
#define PCI_MSI_CTRL_MME_MASK 0x0070u
#define PCI_MSI_CTRL_64BIT 0x0080u
#define PCI_MSI_CTRL_PVM 0x0100u
#define PCI_MSI_MAX_VECTORS 32u

/* MSI-X capability and table. */
#define PCI_MSIX_CTRL 2u
#define PCI_MSIX_TABLE 4u
#define PCI_MSIX_PBA 8u
#define PCI_MSIX_LEN 12u
#define PCI_MSIX_CTRL_SIZE_MASK 0x07ffu
#define PCI_MSIX_CTRL_MASKALL 0x4000u
#define PCI_MSIX_CTRL_ENABLE 0x8000u
#define PCI_MSIX_MAX_VECTORS 2048u
#define PCI_MSIX_ENTRY_SIZE 16u
#define PCI_MSIX_ENTRY_CTRL 12u
#define PCI_MSIX_ENTRY_MASKED 0x1u

/* PCI Express capability (version 2, endpoint layout). */
#define PCI_EXP_FLAGS 2u
#define PCI_EXP_DEVCAP 4u
#define PCI_EXP_DEVCTL 8u
#define PCI_EXP_DEVSTA 10u
#define PCI_EXP_LNKCAP 12u
#define PCI_EXP_LNKCTL 16u
#define PCI_EXP_LNKSTA 18u
#define PCI_EXP_DEVCAP2 36u
#define PCI_EXP_DEVCTL2 40u
#define PCI_EXP_LNKCAP2 44u
#define PCI_EXP_LNKCTL2 48u
#define PCI_EXP_LEN 60u

/* Device Serial Number extended capability. */
#define PCI_DSN_LEN 12u

/*
 * Owners of config bytes. Owner 0 is the device (bytes no capability
 * claims), owner 1 the header; every capability adds one owner, and a
 * vendor-specific capability a second one (kind DEVICE) for its body.
 */
enum pci_kind {
	PCI_KIND_DEVICE = 0, /* device-owned: config ops, else image/RO */
	PCI_KIND_HEADER,
	PCI_KIND_PM,
	PCI_KIND_MSI,
	PCI_KIND_MSIX,
	PCI_KIND_EXP,
	PCI_KIND_VENDOR, /* the 3-byte header of a vendor capability */
	PCI_KIND_EXT,    /* extended capabilities (DSN, generic) */
	PCI_KIND_COUNT,
};

#define PCI_OWNER_DEVICE 0u
#define PCI_OWNER_HEADER 1u
#define PCI_MAX_OWNERS 128u /* ids fit the uint8_t owner map */

struct pci_owner {
	uint16_t start;
	uint16_t len;
	uint8_t kind; /* enum pci_kind */
	uint16_t id;  /* capability ID (extended ones are 16 bits) */
};

struct pci;

/* One BAR: what the device gave us and where our wrapper forwards to. */
struct pci_bar {
	struct pci *pci;
	unsigned int index;
	uint64_t size;  /* 0: not implemented here */
	uint32_t flags; /* VUS_PCI_BAR_* */
	bool upper;     /* upper half of the 64-bit BAR index - 1 */
	struct vus_region_ops ops;
	void *opaque;
};

struct pci_msi {
	uint16_t cap; /* 0: no MSI capability */
	uint32_t nr;  /* vectors capable */
	bool addr64;
	bool pvm;     /* per-vector masking */
	uint16_t mask_reg; /* absolute offsets when pvm */
	uint16_t pend_reg;
};

struct pci_msix {
	uint16_t cap; /* 0: no MSI-X capability */
	uint32_t nr;
	unsigned int table_bar;
	unsigned int pba_bar;
	uint32_t table_off;
	uint32_t pba_off;
	uint8_t *table; /* nr * 16 bytes */
	uint64_t *pba;  /* DIV_ROUND_UP(nr, 64) words */
	/*
	 * Whether the client has written the table through us since the
	 * last reset. QEMU emulates the table itself and never forwards
	 * table accesses, so our per-vector masks (1 after reset) only mean
	 * something once a client has shown that it uses our table.
	 */
	bool table_written;
};

struct pci {
	vus_ctx *ctx;
	struct log *log;
	struct irq_table *irqs;
	struct region_table *regions;
	pthread_mutex_t lock;
	struct vus_pci_info info;
	uint32_t size; /* config space size: 256 or 4096 */

	uint8_t cfg[PCI_EXP_SIZE];   /* current image (lock) */
	uint8_t reset[PCI_EXP_SIZE]; /* power-on image, set at realize */
	uint8_t wmask[PCI_EXP_SIZE]; /* bits a client write may change */
	uint8_t w1c[PCI_EXP_SIZE];   /* bits a client write of 1 clears */
	uint8_t owner[PCI_EXP_SIZE]; /* index into owners[] */
	struct pci_owner owners[PCI_MAX_OWNERS];
	unsigned int nr_owners;

	/* Capability chain building. */
	uint16_t cap_last; /* offset of the last conventional cap, or 0 */
	uint16_t cap_free; /* next free conventional offset */
	uint16_t ext_last; /* offset of the last extended cap, or 0 */
	uint16_t ext_free;
	uint16_t pm_cap;
	uint16_t exp_cap;

	struct pci_bar bars[PCI_NR_BARS];
	uint8_t *rom;
	uint64_t rom_size;

	struct vus_pci_config_ops cfg_ops;
	void *cfg_opaque;

	struct pci_msi msi;
	struct pci_msix msix;
	bool intx_level; /* the device's line (lock) */
	bool intx_out;   /* what we last told the irq table (lock) */
	/*
	 * Interrupt sources raised with vus_pci_irq_raise() and not lowered
	 * (lock): under INTx the line is their OR. One bit per vector of the
	 * widest mode the function has.
	 */
	uint64_t src[PCI_MSIX_MAX_VECTORS / 64];
	uint32_t nr_src_up;
};

extern const struct bus_ops pci_bus_ops;

/* pci.c */

/** The PCI state of @ctx, or -EINVAL (NULL ctx, not a PCI function). */
int pci_get(vus_ctx *ctx, struct pci **out);
/** As pci_get(), and -EBUSY once realized (setup calls). */
int pci_get_setup(vus_ctx *ctx, struct pci **out);

/* pci_mig.c */

/** bus_ops.mig_section: the "pci" section (config space, MSI-X, INTx). */
extern const struct bus_mig_section pci_mig_section;
/** bus_ops.identity: "pci:vendor:device:subvendor:subdevice:revision". */
int pci_identity(void *bus, char *buf, size_t len);

/* pci_config.c */

/** Build the header from @p->info; claim owners 0 and 1. */
void pci_config_init(struct pci *p);
/** Header masks that depend on BARs/ROM; snapshot the power-on image. */
void pci_config_finish(struct pci *p);
/** Restore the power-on image. Lock held. */
void pci_config_reset(struct pci *p);
/**
 * Serve a client access to config space: any @off/@len within p->size,
 * split into naturally aligned pieces that never cross owners. -EINVAL
 * outside config space, or a config callback's -errno.
 */
int pci_config_access(struct pci *p, uint64_t off, void *buf, size_t len,
		      bool is_write);
/** Region ops of the config region (opaque: struct pci). */
extern const struct vus_region_ops pci_config_region_ops;
/** Claim [start, start + len) for a new owner. Returns its id or -ENOSPC. */
int pci_owner_add(struct pci *p, uint16_t start, uint16_t len,
		  enum pci_kind kind, uint16_t id);
/** Set a register's power-on value and masks (little-endian, 1-4 bytes). */
void pci_reg_init(struct pci *p, uint32_t off, unsigned int size,
		  uint32_t value, uint32_t wmask, uint32_t w1c);

static inline uint16_t pci_get16(const struct pci *p, uint32_t off)
{
	return (uint16_t)(p->cfg[off] | p->cfg[off + 1] << 8);
}

static inline uint32_t pci_get32(const struct pci *p, uint32_t off)
{
	return (uint32_t)pci_get16(p, off) |
	       (uint32_t)pci_get16(p, off + 2) << 16;
}

static inline void pci_put16(struct pci *p, uint32_t off, uint16_t v)
{
	p->cfg[off] = (uint8_t)v;
	p->cfg[off + 1] = (uint8_t)(v >> 8);
}

static inline void pci_put32(struct pci *p, uint32_t off, uint32_t v)
{
	pci_put16(p, off, (uint16_t)v);
	pci_put16(p, off + 2, (uint16_t)(v >> 16));
}

/* pci_caps.c */

/** After a client write of [off, off + len) inside the PM cap. Lock held. */
void pci_pm_written(struct pci *p, uint32_t off, uint32_t len,
		    const uint8_t *old);
/** After a client write inside the MSI capability. Lock held. */
void pci_msi_written(struct pci *p, uint32_t off, uint32_t len,
		     const uint8_t *old);

/* pci_msix.c */

/** Allocate table and PBA for @nr vectors; all vectors masked. */
int pci_msix_alloc(struct pci *p, uint32_t nr);
void pci_msix_free(struct pci *p);
/** Mask every vector, clear the PBA and the table-written flag. Lock held. */
void pci_msix_reset(struct pci *p);
/** -EINVAL if an ioeventfd overlaps the MSI-X table or PBA. */
int pci_msix_doorbells_check(const struct pci *p);
/**
 * Whether the BAR's mmap areas leave the MSI-X table and PBA pages alone
 * (check before accepting the capability). 0 or -EINVAL.
 */
int pci_msix_areas_check(const struct pci *p,
			 const struct vus_pci_msix_desc *d);
/** Whether vector @v is masked in our table (and our table counts). */
bool pci_msix_vector_masked(const struct pci *p, uint32_t v);
/** Region ops wrapping every BAR (opaque: struct pci_bar). */
extern const struct vus_region_ops pci_bar_region_ops;

/* pci_irq.c */

/** Declare interrupt indexes 0-4 from the capabilities (realize). */
int pci_irq_declare(struct pci *p);
/**
 * Recompute Status.Interrupt and the INTx output after the line level,
 * Command.INTx-Disable or MSI/MSI-X Enable changed (a function with
 * either enabled must not use its pin). Lock held. Returns as
 * irq_set_level() when the output changed, else 0.
 */
int pci_intx_update(struct pci *p);
/** Vectors vus_pci_irq_raise() accepts: the widest mode's count. */
uint32_t pci_irq_sources(const struct pci *p);
/** Fire held MSI vectors that are no longer masked. Lock held. */
void pci_msi_flush(struct pci *p);
/** Fire held MSI-X vectors that are no longer masked. Lock held. */
void pci_msix_flush(struct pci *p);
/** After a client write inside the MSI-X capability. Lock held. */
void pci_msix_written(struct pci *p, uint32_t off, uint32_t len,
		      const uint8_t *old);

#endif /* VUS_PCI_INTERNAL_H */
