/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus: write vfio-user device servers in bus terms.
 *
 * The one header a device includes. The vfio-user protocol is an
 * implementation detail: nothing here exposes message layouts.
 *
 * Structs the device fills start with size_t struct_size =
 * sizeof(struct ...): a smaller size (a program built against an older
 * header) is accepted, the fields it lacks counting as zero; a larger one
 * is refused with -EINVAL. Array elements (vus_sg, vus_mmap_area) and
 * structs the library hands to callbacks have a fixed layout.
 */
#ifndef VUS_H
#define VUS_H

#include "vus/ctx.h"
#include "vus/dma.h"
#include "vus/handover.h"
#include "vus/irq.h"
#include "vus/migration.h"
#include "vus/pci.h"
#include "vus/recovery.h"
#include "vus/region.h"
#include "vus/rpc.h"
#include "vus/sandbox.h"
#include "vus/sysbus.h"

#endif /* VUS_H */
