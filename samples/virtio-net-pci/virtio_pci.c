/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio_pci: the modern virtio PCI transport (see virtio_pci.h). This
 * file holds the PCI wiring: identity, capabilities, BARs, doorbells,
 * interrupts and the PCI configuration access capability. The common
 * configuration registers and the status state machine are in
 * virtio_pci_common.c.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio_pci_priv.h"

/* Capability types (virtio_pci_cap.cfg_type). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

/*
 * Offsets inside a virtio capability, counted from its first byte (the
 * capability ID); libvus builds the 3-byte header, we supply the rest.
 */
#define CAP_BODY 3u
#define CAP_BAR 4u
#define CAP_OFFSET 8u
#define CAP_LENGTH 12u
#define CAP_EXTRA 16u /* notify_off_multiplier, or pci_cfg_data */
#define CAP_LEN_PLAIN 16u
#define CAP_LEN_EXTRA 20u

#define MSIX_BAR_SIZE 0x1000u
#define MSIX_PBA_OFF 0x800u
_Static_assert(VPCI_MAX_QUEUES + 1 <= MSIX_PBA_OFF / 16, "MSI-X table fits");
_Static_assert(VPCI_MAX_QUEUES * VPCI_NOTIFY_MULT <= VPCI_NOTIFY_LEN,
	       "doorbells fit the notification page");

#define NOTIFY_NONE 0xffffu /* mmap doorbell word with no kick pending */

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* Intersect [off, off + len) with [base, base + size): offsets relative to both. */
static bool clip(uint64_t off, size_t len, uint32_t base, uint32_t size,
		 uint32_t *rel, size_t *skip, size_t *n)
{
	uint64_t lo = off > base ? off : base;
	uint64_t hi = off + len < (uint64_t)base + size ? off + len
						      : (uint64_t)base + size;

	if (lo >= hi)
		return false;
	*rel = (uint32_t)(lo - base);
	*skip = (size_t)(lo - off);
	*n = (size_t)(hi - lo);
	return true;
}

/* Interrupts. */

static void isr_raise(struct vpci *vp, uint8_t bits)
{
	pthread_mutex_lock(&vp->isr_lock);
	vp->isr |= bits;
	(void)vus_pci_intx(vp->ctx, true);
	pthread_mutex_unlock(&vp->isr_lock);
}

/* Reading the ISR clears it and lowers INTx. */
static uint8_t isr_read(struct vpci *vp)
{
	uint8_t v;

	pthread_mutex_lock(&vp->isr_lock);
	v = vp->isr;
	vp->isr = 0;
	(void)vus_pci_intx(vp->ctx, false);
	pthread_mutex_unlock(&vp->isr_lock);
	return v;
}

void vpci_irq_reset(struct vpci *vp)
{
	(void)isr_read(vp);
}

static void irq_raise(struct vpci *vp, uint16_t vector, uint8_t isr_bit)
{
	if (vus_pci_irq_mode(vp->ctx) == VUS_PCI_IRQ_MODE_MSIX) {
		/* NO_VECTOR (or one the library refuses): no interrupt. */
		if (vector != VIRTIO_MSI_NO_VECTOR)
			(void)vus_pci_msix(vp->ctx, vector);
		return;
	}
	isr_raise(vp, isr_bit);
}

void vpci_notify_queue(struct vpci *vp, unsigned int q)
{
	if (q < vp->d.nr_queues)
		irq_raise(vp, atomic_load(&vp->q[q].vector), VPCI_ISR_QUEUE);
}

void vpci_config_irq(struct vpci *vp)
{
	irq_raise(vp, atomic_load(&vp->msix_config), VPCI_ISR_CONFIG);
}

void vpci_config_changed(struct vpci *vp)
{
	atomic_fetch_add(&vp->generation, 1);
	vpci_config_irq(vp);
}

void vpci_needs_reset(struct vpci *vp)
{
	if (!atomic_exchange(&vp->needs_reset, true))
		vpci_config_irq(vp);
}

bool vpci_needs_reset_set(struct vpci *vp)
{
	return atomic_load(&vp->needs_reset);
}

/* Doorbells. */

int vpci_kick_fd(const struct vpci *vp, unsigned int q)
{
	return q < vp->d.nr_queues && vp->kick_fds ? vp->kick_fds[q] : -1;
}

static uint16_t *notify_word(struct vpci *vp, unsigned int q)
{
	return vp->notify_mem + q * (VPCI_NOTIFY_MULT / 2);
}

bool vpci_kick_poll(struct vpci *vp, unsigned int q)
{
	if (vp->notify_mem == NULL || q >= vp->d.nr_queues)
		return false;
	/* A driver's store replaces NOTIFY_NONE; swapping loses none. */
	return __atomic_exchange_n(notify_word(vp, q), (uint16_t)NOTIFY_NONE,
				   __ATOMIC_ACQ_REL) != NOTIFY_NONE;
}

void vpci_kick_clear(struct vpci *vp)
{
	for (unsigned int q = 0; vp->notify_mem && q < vp->d.nr_queues; q++)
		__atomic_store_n(notify_word(vp, q), (uint16_t)NOTIFY_NONE,
				 __ATOMIC_RELEASE);
}

/* A write into the notification area that no doorbell absorbed. */
static void notify_write(struct vpci *vp, uint32_t rel)
{
	unsigned int q = rel / VPCI_NOTIFY_MULT;

	if (q >= vp->d.nr_queues)
		return;
	if (q >= (unsigned int)vp->d.nr_queues - vp->d.nr_ctx_queues)
		vp->ops.ctx_kick(vp->d.opaque, q);
	else if (vp->kick_fds != NULL)
		(void)eventfd_write(vp->kick_fds[q], 1);
	else
		__atomic_store_n(notify_word(vp, q), (uint16_t)q,
				 __ATOMIC_RELEASE);
}

/* The register BAR. */

static int bar_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		    size_t len)
{
	struct vpci *vp = opaque;
	uint8_t *b = buf;
	uint32_t rel;
	size_t skip, n;

	memset(buf, 0, len);
	if (clip(off, len, VPCI_COMMON_OFF, VPCI_COMMON_LEN, &rel, &skip, &n))
		vpci_common_read(vp, rel, b + skip, n);
	/* Only a read of the ISR byte itself clears it. */
	if (clip(off, len, VPCI_ISR_OFF, 1, &rel, &skip, &n))
		b[skip] = isr_read(vp);
	if (clip(off, len, VPCI_DEVCFG_OFF, vp->d.config_size, &rel, &skip, &n))
		vp->ops.config_read(vp->d.opaque, rel, b + skip, (uint32_t)n);
	return 0;
}

static int bar_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		     size_t len)
{
	struct vpci *vp = opaque;
	const uint8_t *b = buf;
	uint32_t rel;
	size_t skip, n;

	if (clip(off, len, VPCI_COMMON_OFF, VPCI_COMMON_LEN, &rel, &skip, &n))
		vpci_common_write(vp, rel, b + skip, n);
	if (clip(off, len, VPCI_DEVCFG_OFF, vp->d.config_size, &rel, &skip, &n))
		vp->ops.config_write(vp->d.opaque, rel, b + skip, (uint32_t)n);
	if (clip(off, len, VPCI_NOTIFY_OFF, VPCI_NOTIFY_LEN, &rel, &skip, &n))
		notify_write(vp, rel);
	return 0;
}

/* The MSI-X BAR: libvus serves the table and PBA; the rest reads 0. */
static int msix_bar_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
			 size_t len)
{
	memset(buf, 0, len);
	return 0;
}

static int msix_bar_write(vus_ctx *ctx, void *opaque, uint64_t off,
			  const void *buf, size_t len)
{
	return 0;
}

/*
 * The PCI configuration access capability: the driver picks a BAR, an
 * offset and a length, then reads or writes pci_cfg_data to access the
 * BAR through configuration space. Only our register BAR is reachable.
 */
static void pcicfg_access(struct vpci *vp, bool write)
{
	uint8_t *img = vp->pcicfg;
	uint32_t off = get32(img + CAP_OFFSET), len = get32(img + CAP_LENGTH);

	if (img[CAP_BAR] != VPCI_BAR || (len != 1 && len != 2 && len != 4))
		return;
	if (off % len || off > VPCI_BAR_SIZE - len)
		return;
	if (write)
		(void)bar_write(vp->ctx, vp, off, img + CAP_EXTRA, len);
	else
		(void)bar_read(vp->ctx, vp, off, img + CAP_EXTRA, len);
}

/* Bytes of the PCI_CFG capability the driver may write. */
static bool pcicfg_writable(uint32_t rel)
{
	return rel == CAP_BAR || (rel >= CAP_OFFSET && rel < CAP_LEN_EXTRA);
}

static int cfg_read(vus_ctx *ctx, void *opaque, uint32_t off, void *buf,
		    size_t len)
{
	struct vpci *vp = opaque;
	uint32_t rel;

	/* Other virtio capabilities read as the body libvus prefilled. */
	if (off < vp->pcicfg_off || off - vp->pcicfg_off >= CAP_LEN_EXTRA)
		return 0;
	rel = off - vp->pcicfg_off;
	if (rel >= CAP_EXTRA)
		pcicfg_access(vp, false);
	if (len > CAP_LEN_EXTRA - rel)
		len = CAP_LEN_EXTRA - rel;
	memcpy(buf, vp->pcicfg + rel, len);
	return 0;
}

static int cfg_write(vus_ctx *ctx, void *opaque, uint32_t off, const void *buf,
		     size_t len)
{
	struct vpci *vp = opaque;
	const uint8_t *b = buf;
	uint32_t rel;

	if (off < vp->pcicfg_off || off - vp->pcicfg_off >= CAP_LEN_EXTRA)
		return 0; /* read-only capability bodies */
	rel = off - vp->pcicfg_off;
	for (size_t i = 0; i < len && rel + i < CAP_LEN_EXTRA; i++)
		if (pcicfg_writable(rel + (uint32_t)i))
			vp->pcicfg[rel + i] = b[i];
	if (rel >= CAP_EXTRA)
		pcicfg_access(vp, true);
	return 0;
}

/* Setup. */

/* One virtio vendor capability; returns its config offset or -errno. */
static int add_cap(vus_ctx *ctx, uint8_t type, uint8_t bar, uint32_t off,
		   uint32_t len, bool extra, uint32_t extra_val, uint8_t *image)
{
	uint8_t cap[CAP_LEN_EXTRA] = { 0 };
	size_t size = extra ? CAP_LEN_EXTRA : CAP_LEN_PLAIN;

	cap[CAP_BODY] = type;
	cap[CAP_BAR] = bar;
	put32(cap + CAP_OFFSET, off);
	put32(cap + CAP_LENGTH, len);
	if (extra)
		put32(cap + CAP_EXTRA, extra_val);
	if (image != NULL)
		memcpy(image, cap, sizeof(cap));
	return vus_pci_add_cap_vendor(ctx, cap + CAP_BODY, size - CAP_BODY);
}

static int add_caps(struct vpci *vp)
{
	vus_ctx *ctx = vp->ctx;
	int ret;

	ret = add_cap(ctx, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_BAR, VPCI_COMMON_OFF,
		      VPCI_COMMON_LEN, false, 0, NULL);
	if (ret >= 0)
		ret = add_cap(ctx, VIRTIO_PCI_CAP_NOTIFY_CFG, VPCI_BAR,
			      VPCI_NOTIFY_OFF,
			      vp->d.nr_queues * VPCI_NOTIFY_MULT, true,
			      VPCI_NOTIFY_MULT, NULL);
	if (ret >= 0)
		ret = add_cap(ctx, VIRTIO_PCI_CAP_ISR_CFG, VPCI_BAR, VPCI_ISR_OFF,
			      VPCI_ISR_LEN, false, 0, NULL);
	if (ret >= 0 && vp->d.config_size > 0)
		ret = add_cap(ctx, VIRTIO_PCI_CAP_DEVICE_CFG, VPCI_BAR,
			      VPCI_DEVCFG_OFF, vp->d.config_size, false, 0, NULL);
	if (ret >= 0)
		ret = add_cap(ctx, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 0, true, 0,
			      vp->pcicfg);
	if (ret < 0)
		return ret;
	vp->pcicfg_off = (uint32_t)ret;
	return 0;
}

static int setup_doorbells(struct vpci *vp)
{
	unsigned int n = vp->d.nr_queues;
	int ret;

	if (vp->d.notify == VPCI_NOTIFY_MMAP) {
		vp->notify_mem = (uint16_t *)((uint8_t *)vus_region_mem(
			vp->ctx, VUS_PCI_REGION_BAR(VPCI_BAR)) + VPCI_NOTIFY_OFF);
		vpci_kick_clear(vp);
		return 0;
	}
	vp->kick_fds = malloc(n * sizeof(int));
	if (vp->kick_fds == NULL)
		return -ENOMEM;
	for (unsigned int q = 0; q < n; q++)
		vp->kick_fds[q] = -1;
	/* The context thread's queues: their writes reach bar_write(). */
	for (unsigned int q = 0; q < n - vp->d.nr_ctx_queues; q++) {
		struct vus_ioeventfd io = { .struct_size = sizeof(io),
			.offset = VPCI_NOTIFY_OFF + q * VPCI_NOTIFY_MULT,
			.size = 2,
		};

		vp->kick_fds[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (vp->kick_fds[q] < 0)
			return -errno;
		io.fd = vp->kick_fds[q];
		ret = vus_region_add_ioeventfd(vp->ctx,
					       VUS_PCI_REGION_BAR(VPCI_BAR), &io);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int setup_bars(struct vpci *vp)
{
	static const struct vus_region_ops bar_ops = {
		.struct_size = sizeof(bar_ops), .read = bar_read,
		.write = bar_write,
	};
	static const struct vus_region_ops msix_ops = {
		.struct_size = sizeof(msix_ops), .read = msix_bar_read,
		.write = msix_bar_write,
	};
	static const struct vus_mmap_area notify_area = {
		.offset = VPCI_NOTIFY_OFF, .size = VPCI_NOTIFY_LEN,
	};
	struct vus_region_desc bar = {
		.struct_size = sizeof(bar), .size = VPCI_BAR_SIZE,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &bar_ops,
		.opaque = vp,
	};
	struct vus_region_desc msix = {
		.struct_size = sizeof(msix), .size = MSIX_BAR_SIZE,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &msix_ops,
		.opaque = vp,
	};
	int ret;

	if (vp->d.notify == VPCI_NOTIFY_MMAP) {
		bar.backing = VUS_BACKING_MEM;
		bar.mmap_areas = &notify_area;
		bar.nr_mmap_areas = 1;
		/* Doorbells, not state: the queues' indexes travel in ours. */
		bar.no_migrate = true;
	}
	ret = vus_pci_setup_bar(vp->ctx, VPCI_BAR, VUS_PCI_BAR_MEM64, &bar);
	if (ret == 0)
		ret = vus_pci_setup_bar(vp->ctx, VPCI_MSIX_BAR, 0, &msix);
	return ret;
}

static int dev_reset(vus_ctx *ctx, void *opaque, enum vus_reset_reason why)
{
	struct vpci *vp = opaque;

	if (vp->ops.bus_reset != NULL)
		vp->ops.bus_reset(vp->d.opaque, why);
	/* Quiesced: the data path is parked, so the reset completes now. */
	vpci_reset(vp);
	return 0;
}

static int dev_quiesce(vus_ctx *ctx, void *opaque)
{
	struct vpci *vp = opaque;

	return vp->ops.quiesce(vp->d.opaque);
}

static void dev_resume(vus_ctx *ctx, void *opaque)
{
	struct vpci *vp = opaque;

	vp->ops.resume(vp->d.opaque);
}

static void dev_client_lost(vus_ctx *ctx, void *opaque)
{
	struct vpci *vp = opaque;

	vp->ops.client_lost(vp->d.opaque);
}

static void dev_dma_map(vus_ctx *ctx, void *opaque,
			const struct vus_dma_region *r)
{
	struct vpci *vp = opaque;

	(void)r;
	vp->ops.client_progress(vp->d.opaque);
}

static void irq_bindings_changed(vus_ctx *ctx, void *opaque, uint32_t index,
				 uint32_t start, uint32_t count)
{
	struct vpci *vp = opaque;

	(void)index;
	(void)start;
	(void)count;
	vp->ops.client_progress(vp->d.opaque);
}

bool vpci_irqs_bound(struct vpci *vp)
{
	/*
	 * INTx needs no eventfd: a driver may poll ISR and the rings without
	 * one, and the library holds a raised line and fires it when an
	 * eventfd is bound later. Waiting for one could wait for ever.
	 */
	if (vus_pci_irq_mode(vp->ctx) != VUS_PCI_IRQ_MODE_MSIX)
		return true;
	for (unsigned int q = 0; q < vp->d.nr_queues; q++) {
		uint16_t v = atomic_load(&vp->q[q].vector);

		if (vp->q[q].enabled && v != VIRTIO_MSI_NO_VECTOR &&
		    !vus_irq_is_bound(vp->ctx, VUS_PCI_IRQ_MSIX, v))
			return false;
	}
	return true;
}

static int setup_pci(struct vpci *vp)
{
	static const struct vus_device_ops dev_ops = {
		.struct_size = sizeof(dev_ops), .reset = dev_reset,
		.quiesce = dev_quiesce, .resume = dev_resume,
		.client_lost = dev_client_lost, .dma_map = dev_dma_map,
	};
	static const struct vus_pci_config_ops cfg_ops = {
		.struct_size = sizeof(cfg_ops), .read = cfg_read,
		.write = cfg_write,
	};
	const struct vus_pci_info info = {
		.struct_size = sizeof(info), .vendor_id = VPCI_VENDOR,
		.device_id = (uint16_t)(VPCI_DEVICE_BASE + vp->d.device_id),
		.subsys_vendor_id = VPCI_VENDOR,
		.subsys_id = (uint16_t)(VPCI_SUBSYS_BASE + vp->d.device_id),
		.revision = 1, .class_code = vp->d.class_code,
		.interrupt_pin = 1,
	};
	const struct vus_pci_msix_desc msix = { .struct_size = sizeof(msix),
		.nr_vectors = vp->d.nr_queues + 1u, .table_bar = VPCI_MSIX_BAR,
		.table_offset = 0, .pba_bar = VPCI_MSIX_BAR,
		.pba_offset = MSIX_PBA_OFF,
	};
	int ret;

	ret = vus_pci_init(vp->ctx, &info);
	if (ret == 0)
		ret = setup_bars(vp);
	if (ret == 0)
		ret = setup_doorbells(vp);
	if (ret == 0)
		ret = add_caps(vp);
	if (ret == 0) {
		ret = vus_pci_add_cap_msix(vp->ctx, &msix);
		ret = ret < 0 ? ret : 0;
	}
	if (ret == 0)
		ret = vus_pci_set_config_ops(vp->ctx, &cfg_ops, vp);
	if (ret == 0)
		ret = vus_ctx_set_device_ops(vp->ctx, &dev_ops, vp);
	if (ret == 0)
		ret = vus_irq_set_state_cb(vp->ctx, irq_bindings_changed, vp);
	return ret;
}

static int desc_check(const struct vpci_desc *d)
{
	if (d->ops == NULL || d->ops->client_lost == NULL ||
	    d->ops->client_progress == NULL || d->nr_queues == 0 ||
	    d->nr_queues > VPCI_MAX_QUEUES)
		return -EINVAL;
	if (d->queue_size == 0 || (d->queue_size & (d->queue_size - 1)))
		return -EINVAL;
	if (d->nr_ctx_queues >= d->nr_queues || (d->nr_ctx_queues > 0 &&
	    (d->notify != VPCI_NOTIFY_IOEVENTFD || d->ops->ctx_kick == NULL)))
		return -EINVAL;
	if (d->config_size > VPCI_NOTIFY_OFF - VPCI_DEVCFG_OFF)
		return -EINVAL;
	if (!(d->features & (1ull << VIRTIO_F_VERSION_1)))
		return -EINVAL;
	return 0;
}

int vpci_create(vus_ctx *ctx, const struct vpci_desc *d, struct vpci **out)
{
	struct vpci *vp;
	int ret = desc_check(d);

	if (ret < 0)
		return ret;
	vp = calloc(1, sizeof(*vp));
	if (vp == NULL)
		return -ENOMEM;
	vp->q = calloc(d->nr_queues, sizeof(*vp->q));
	if (vp->q == NULL) {
		free(vp);
		return -ENOMEM;
	}
	vp->ctx = ctx;
	vp->d = *d;
	vp->ops = *d->ops;
	pthread_mutex_init(&vp->isr_lock, NULL);
	vpci_common_init(vp);
	ret = setup_pci(vp);
	if (ret < 0) {
		vpci_destroy(vp);
		return ret;
	}
	*out = vp;
	return 0;
}

void vpci_destroy(struct vpci *vp)
{
	if (vp == NULL)
		return;
	for (unsigned int q = 0; vp->kick_fds && q < vp->d.nr_queues; q++)
		if (vp->kick_fds[q] >= 0)
			close(vp->kick_fds[q]);
	free(vp->kick_fds);
	pthread_mutex_destroy(&vp->isr_lock);
	free(vp->q);
	free(vp);
}
