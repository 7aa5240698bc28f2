/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio_pci_common: the common configuration structure (feature
 * negotiation, device status, queue registers) of the modern virtio PCI
 * transport. Registers are described once in a table; an access of any
 * width is split into the registers it covers, each read or updated as a
 * whole value, so 64-bit addresses written as two 32-bit halves (as Linux
 * does) and byte accesses work alike.
 *
 * Device status: bits only accumulate, in the order the spec gives
 * (ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK); FEATURES_OK sticks only if
 * the device accepts the features; DRIVER_OK starts the data path; writing
 * 0 resets, which completes once the data path has stopped -- until then
 * the status reads non-zero, and the driver waits for 0 as the spec asks.
 */
#include <errno.h>
#include <string.h>

#include "virtio_pci_priv.h"

enum reg {
	R_DFSELECT, R_DF, R_GFSELECT, R_GF, R_MSIX_CONFIG, R_NUM_QUEUES,
	R_STATUS, R_GENERATION, R_Q_SELECT, R_Q_SIZE, R_Q_MSIX, R_Q_ENABLE,
	R_Q_NOTIFY_OFF, R_Q_DESC_LO, R_Q_DESC_HI, R_Q_DRIVER_LO, R_Q_DRIVER_HI,
	R_Q_DEVICE_LO, R_Q_DEVICE_HI, R_COUNT
};

/* struct virtio_pci_common_cfg, as offsets and widths. */
static const struct {
	uint8_t off;
	uint8_t size;
} regs[R_COUNT] = {
	[R_DFSELECT] = { 0x00, 4 },    [R_DF] = { 0x04, 4 },
	[R_GFSELECT] = { 0x08, 4 },    [R_GF] = { 0x0c, 4 },
	[R_MSIX_CONFIG] = { 0x10, 2 }, [R_NUM_QUEUES] = { 0x12, 2 },
	[R_STATUS] = { 0x14, 1 },      [R_GENERATION] = { 0x15, 1 },
	[R_Q_SELECT] = { 0x16, 2 },    [R_Q_SIZE] = { 0x18, 2 },
	[R_Q_MSIX] = { 0x1a, 2 },      [R_Q_ENABLE] = { 0x1c, 2 },
	[R_Q_NOTIFY_OFF] = { 0x1e, 2 }, [R_Q_DESC_LO] = { 0x20, 4 },
	[R_Q_DESC_HI] = { 0x24, 4 },   [R_Q_DRIVER_LO] = { 0x28, 4 },
	[R_Q_DRIVER_HI] = { 0x2c, 4 }, [R_Q_DEVICE_LO] = { 0x30, 4 },
	[R_Q_DEVICE_HI] = { 0x34, 4 },
};

_Static_assert(VPCI_COMMON_LEN == 0x38, "common configuration size");

/* A status bit may be set only once the bits it needs are set. */
static const struct {
	uint8_t bit;
	uint8_t needs;
} status_order[] = {
	{ VIRTIO_STATUS_DRIVER, VIRTIO_STATUS_ACKNOWLEDGE },
	{ VIRTIO_STATUS_FEATURES_OK,
	  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER },
	{ VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_ACKNOWLEDGE |
	  VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK },
};


static int reg_at(uint32_t off)
{
	for (int r = 0; r < R_COUNT; r++)
		if (off >= regs[r].off && off - regs[r].off < regs[r].size)
			return r;
	return -1;
}

static struct vpci_q *selected(struct vpci *vp)
{
	return vp->queue_select < vp->d.nr_queues ? &vp->q[vp->queue_select]
						  : NULL;
}

static uint32_t half(uint64_t v, bool hi)
{
	return (uint32_t)(hi ? v >> 32 : v);
}

static void set_half(uint64_t *v, bool hi, uint32_t val)
{
	*v = hi ? (*v & 0xffffffffull) | ((uint64_t)val << 32)
		: (*v & ~0xffffffffull) | val;
}

/* Reset completes once the data path is stopped (see the file comment). */
bool vpci_reset_try_finish(struct vpci *vp)
{
	if (!vp->reset_pending)
		return true;
	if (!vp->ops.stopped(vp->d.opaque))
		return false;
	vpci_reset(vp);
	return true;
}

static uint8_t status_read(struct vpci *vp)
{
	if (!vpci_reset_try_finish(vp))
		return vp->status;
	return (uint8_t)(vp->status |
			 (atomic_load(&vp->needs_reset) ? VIRTIO_STATUS_NEEDS_RESET
							: 0));
}

static uint32_t queue_read(struct vpci *vp, enum reg r)
{
	struct vpci_q *q = selected(vp);

	if (q == NULL)
		return r == R_Q_MSIX ? VIRTIO_MSI_NO_VECTOR : 0; /* size 0: absent */
	switch (r) {
	case R_Q_SIZE: return q->size;
	case R_Q_MSIX: return atomic_load(&q->vector);
	case R_Q_ENABLE: return q->enabled;
	case R_Q_NOTIFY_OFF: return vp->queue_select; /* x VPCI_NOTIFY_MULT */
	case R_Q_DESC_LO: case R_Q_DESC_HI:
		return half(q->desc, r == R_Q_DESC_HI);
	case R_Q_DRIVER_LO: case R_Q_DRIVER_HI:
		return half(q->driver, r == R_Q_DRIVER_HI);
	case R_Q_DEVICE_LO: case R_Q_DEVICE_HI:
		return half(q->device, r == R_Q_DEVICE_HI);
	default: return 0;
	}
}

static uint32_t reg_read(struct vpci *vp, enum reg r)
{
	switch (r) {
	case R_DFSELECT: return vp->dfselect;
	case R_DF: return vp->dfselect < 2 ? half(vp->d.features, vp->dfselect) : 0;
	case R_GFSELECT: return vp->gfselect;
	case R_GF:
		return vp->gfselect < 2 ? half(vp->driver_features, vp->gfselect) : 0;
	case R_MSIX_CONFIG: return atomic_load(&vp->msix_config);
	case R_NUM_QUEUES: return vp->d.nr_queues;
	case R_STATUS: return status_read(vp);
	case R_GENERATION: return atomic_load(&vp->generation);
	case R_Q_SELECT: return vp->queue_select;
	default: return queue_read(vp, r);
	}
}

int vpci_features_check(const struct vpci *vp, uint64_t f)
{
	if (f & ~vp->d.features)
		return -ENODEV;
	if (!(f & (1ull << VIRTIO_F_VERSION_1)))
		return -EBADMSG;
	return vp->ops.features_check(vp->d.opaque, f) == 0 ? 0 : -EBADMSG;
}

bool vpci_status_reachable(uint8_t s)
{
	if (s & ~STATUS_DRIVER_BITS)
		return false;
	for (size_t i = 0; i < sizeof(status_order) / sizeof(status_order[0]); i++)
		if ((s & status_order[i].bit) &&
		    (s & status_order[i].needs) != status_order[i].needs)
			return false;
	return true;
}

void vpci_start(struct vpci *vp)
{
	struct vpci_queue qs[VPCI_MAX_QUEUES];

	for (unsigned int i = 0; i < vp->d.nr_queues; i++)
		qs[i] = (struct vpci_queue){
			.enabled = vp->q[i].enabled, .size = vp->q[i].size,
			.desc = vp->q[i].desc, .driver = vp->q[i].driver,
			.device = vp->q[i].device,
		};
	vp->ops.start(vp->d.opaque, vp->driver_features, qs, vp->d.nr_queues);
}

static void status_write(struct vpci *vp, uint8_t v)
{
	uint8_t added;

	if (v == 0) {
		vp->reset_pending = true;
		vp->ops.stop(vp->d.opaque);
		(void)vpci_reset_try_finish(vp);
		return;
	}
	/* Until a reset has completed the driver must not go on. */
	if (vp->reset_pending)
		return;
	v &= STATUS_DRIVER_BITS;
	added = (uint8_t)(v & ~vp->status);
	for (size_t i = 0; i < sizeof(status_order) / sizeof(status_order[0]); i++)
		if ((added & status_order[i].bit) &&
		    (v & status_order[i].needs) != status_order[i].needs)
			added &= (uint8_t)~status_order[i].bit;
	if ((added & VIRTIO_STATUS_FEATURES_OK) &&
	    vpci_features_check(vp, vp->driver_features) < 0)
		added &= (uint8_t)~(VIRTIO_STATUS_FEATURES_OK |
				    VIRTIO_STATUS_DRIVER_OK);
	vp->status |= added;
	if (added & VIRTIO_STATUS_DRIVER_OK)
		vpci_start(vp);
	if (added & VIRTIO_STATUS_FAILED)
		vp->ops.stop(vp->d.opaque); /* the driver gave up on us */
}

bool vpci_vector_valid(const struct vpci *vp, uint32_t v)
{
	return v < vp->d.nr_queues + 1u || v == VIRTIO_MSI_NO_VECTOR;
}

static uint16_t vector_check(const struct vpci *vp, uint32_t v)
{
	/* An MSI-X vector we do not have reads back as NO_VECTOR. */
	return v < vp->d.nr_queues + 1u ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

/*
 * Queue registers are the driver's until DRIVER_OK. Afterwards the data
 * path has its own copy; changing an enabled queue under it is a driver
 * error that only a reset can repair.
 */
static bool queue_locked(struct vpci *vp, struct vpci_q *q, enum reg r,
			 uint32_t v)
{
	if (!(vp->status & VIRTIO_STATUS_DRIVER_OK))
		return false;
	if (q->enabled && r != R_Q_MSIX && queue_read(vp, r) != v)
		vpci_needs_reset(vp);
	return r != R_Q_MSIX;
}

static void queue_write(struct vpci *vp, enum reg r, uint32_t v)
{
	struct vpci_q *q = selected(vp);

	if (q == NULL || queue_locked(vp, q, r, v))
		return;
	switch (r) {
	case R_Q_SIZE:
		/* The driver may only lower the size we offer (the spec's
		 * "maximum"); a larger one would let it make every walk and
		 * budget of ours that much longer. Refused writes are dropped,
		 * as for read-only bits. */
		if (v != 0 && v <= vp->d.queue_size)
			q->size = (uint16_t)v;
		break;
	case R_Q_MSIX: atomic_store(&q->vector, vector_check(vp, v)); break;
	case R_Q_ENABLE: q->enabled = q->enabled || v == 1; break;
	case R_Q_DESC_LO: case R_Q_DESC_HI:
		set_half(&q->desc, r == R_Q_DESC_HI, v);
		break;
	case R_Q_DRIVER_LO: case R_Q_DRIVER_HI:
		set_half(&q->driver, r == R_Q_DRIVER_HI, v);
		break;
	case R_Q_DEVICE_LO: case R_Q_DEVICE_HI:
		set_half(&q->device, r == R_Q_DEVICE_HI, v);
		break;
	default: break; /* read-only */
	}
}

static void driver_features_write(struct vpci *vp, uint32_t v)
{
	/* Frozen once the device accepted them. */
	if (vp->gfselect >= 2 || (vp->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	set_half(&vp->driver_features, vp->gfselect == 1, v);
}

static void reg_write(struct vpci *vp, enum reg r, uint32_t v)
{
	/* Only a status read or a write of 0 moves a pending reset on. */
	if (vp->reset_pending && r != R_STATUS)
		return;
	switch (r) {
	case R_DFSELECT: vp->dfselect = v; break;
	case R_GFSELECT: vp->gfselect = v; break;
	case R_GF: driver_features_write(vp, v); break;
	case R_MSIX_CONFIG: atomic_store(&vp->msix_config, vector_check(vp, v)); break;
	case R_STATUS: status_write(vp, (uint8_t)v); break;
	case R_Q_SELECT: vp->queue_select = (uint16_t)v; break;
	default: queue_write(vp, r, v); break;
	}
}

void vpci_common_read(struct vpci *vp, uint32_t off, uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		int r = reg_at(off + (uint32_t)i);
		uint32_t v;

		if (r < 0) {
			buf[i++] = 0;
			continue;
		}
		v = reg_read(vp, (enum reg)r);
		for (; i < len && off + i < (size_t)regs[r].off + regs[r].size; i++)
			buf[i] = (uint8_t)(v >> (8 * (off + i - regs[r].off)));
	}
}

void vpci_common_write(struct vpci *vp, uint32_t off, const uint8_t *buf,
		       size_t len)
{
	size_t i = 0;

	while (i < len) {
		int r = reg_at(off + (uint32_t)i);
		uint32_t v;

		if (r < 0) {
			i++;
			continue;
		}
		/* A partial write keeps the register's other bytes. */
		v = r == R_STATUS ? 0 : reg_read(vp, (enum reg)r);
		for (; i < len && off + i < (size_t)regs[r].off + regs[r].size; i++) {
			unsigned int sh = 8 * (unsigned int)(off + i - regs[r].off);

			v = (v & ~(0xffu << sh)) | ((uint32_t)buf[i] << sh);
		}
		reg_write(vp, (enum reg)r, v);
	}
	/* Crash recovery (when on) keeps what the driver wrote. */
	(void)vus_ctx_state_changed(vp->ctx, "virtio-pci");
}

void vpci_common_init(struct vpci *vp)
{
	atomic_init(&vp->msix_config, VIRTIO_MSI_NO_VECTOR);
	atomic_init(&vp->needs_reset, false);
	atomic_init(&vp->generation, 0);
	for (unsigned int i = 0; i < vp->d.nr_queues; i++) {
		vp->q[i].size = vp->d.queue_size;
		atomic_init(&vp->q[i].vector, VIRTIO_MSI_NO_VECTOR);
	}
}

void vpci_reset(struct vpci *vp)
{
	vp->ops.stop(vp->d.opaque);
	vp->ops.reset(vp->d.opaque);
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->status = 0;
	vp->reset_pending = false;
	vp->queue_select = 0;
	atomic_store(&vp->msix_config, VIRTIO_MSI_NO_VECTOR);
	for (unsigned int i = 0; i < vp->d.nr_queues; i++) {
		struct vpci_q *q = &vp->q[i];

		q->size = vp->d.queue_size;
		atomic_store(&q->vector, VIRTIO_MSI_NO_VECTOR);
		q->enabled = false;
		q->desc = q->driver = q->device = 0;
	}
	atomic_store(&vp->needs_reset, false);
	vpci_kick_clear(vp);
	vpci_irq_reset(vp);
}
