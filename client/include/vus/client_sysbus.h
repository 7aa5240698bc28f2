/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus client, platform (SysBus) devices: reading the description of
 * doc/sysbus.md that a platform device serves in a region of its own.
 * Part of libvus-client; included by vus/client.h (errors and threading as
 * described there).
 */
#ifndef VUS_CLIENT_SYSBUS_H
#define VUS_CLIENT_SYSBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VUS_CLIENT_TYPEDEF
#define VUS_CLIENT_TYPEDEF
/** Opaque client connection. */
typedef struct vus_client vus_client;
#endif

/** Interrupt line triggers, as in vus/sysbus.h. */
enum vus_client_trigger {
	VUS_CLIENT_LEVEL_HIGH = 0,
	VUS_CLIENT_LEVEL_LOW = 1,
	VUS_CLIENT_EDGE_RISING = 2,
	VUS_CLIENT_EDGE_FALLING = 3,
};

struct vus_client_sysbus_mmio {
	uint32_t index;   /**< region index */
	uint64_t size;
	bool has_base;    /**< the device suggests a base address */
	uint64_t base;
};

struct vus_client_sysbus_irq {
	uint32_t index;   /**< IRQ index (one vector) */
	enum vus_client_trigger trigger;
};

struct vus_client_sysbus_prop {
	char *key;
	bool is_str;
	uint64_t u;       /**< when !is_str */
	char *s;          /**< when is_str */
};

/** A platform device's description. Free with vus_client_sysbus_desc_free(). */
struct vus_client_sysbus_desc {
	uint32_t region;  /**< the region index that holds it */
	unsigned int version;
	char **compatible;
	unsigned int nr_compatible;
	char *name;       /**< NULL if the device gave none */
	struct vus_client_sysbus_mmio *mmio;
	unsigned int nr_mmio;
	struct vus_client_sysbus_irq *irqs;
	unsigned int nr_irqs;
	struct vus_client_sysbus_prop *props;
	unsigned int nr_props;
	char *json;       /**< the document as received, NUL-terminated */
};

/**
 * Find and read a platform device's description: the region with the TYPE
 * capability VUS_SYSBUS_DESC_TYPE/SUBTYPE (0x8000ffff/1). Everything is
 * checked: strict JSON, known version, windows that exist with the sizes
 * GET_REGION_INFO reports, lines that exist with one vector each.
 * On success *out owns a new description. -ENOENT if the device has none
 * (e.g. a PCI device), -EPROTO if it is malformed or inconsistent, or the
 * errors of the requests involved.
 */
int vus_client_sysbus_desc(vus_client *c, struct vus_client_sysbus_desc **out);

void vus_client_sysbus_desc_free(struct vus_client_sysbus_desc *d);

/** A numeric property of @d: 0, or -ENOENT (absent), -EINVAL (a string). */
int vus_client_sysbus_prop_u64(const struct vus_client_sysbus_desc *d,
			       const char *key, uint64_t *out);

/** A string property of @d (owned by @d), or NULL. */
const char *vus_client_sysbus_prop_str(const struct vus_client_sysbus_desc *d,
				       const char *key);

#ifdef __cplusplus
}
#endif

#endif /* VUS_CLIENT_SYSBUS_H */
