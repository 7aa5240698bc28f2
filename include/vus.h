/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvus: write vfio-user device servers in bus terms.
 *
 * The one header a device includes. The vfio-user protocol is an
 * implementation detail: nothing here exposes message layouts.
 */
#ifndef VUS_H
#define VUS_H

#include "vus/ctx.h"
#include "vus/dma.h"
#include "vus/irq.h"
#include "vus/migration.h"
#include "vus/pci.h"
#include "vus/recovery.h"
#include "vus/region.h"
#include "vus/sandbox.h"
#include "vus/sysbus.h"

#endif /* VUS_H */
