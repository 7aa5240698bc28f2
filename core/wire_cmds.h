/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wire_cmds: the vfio-user command list, written once as X(NAME, number).
 * wire.h makes enum wire_cmd and wire.c the names from it; the test-only
 * raw client header makes VUS_CMD_* from it. No other list of commands
 * exists: the engine's table is indexed by these numbers.
 */
#ifndef VUS_WIRE_CMDS_H
#define VUS_WIRE_CMDS_H

/* 14 was DIRTY_PAGES, removed with migration v2. */
#define WIRE_COMMANDS(X)                    \
	X(VERSION, 1)                       \
	X(DMA_MAP, 2)                       \
	X(DMA_UNMAP, 3)                     \
	X(DEVICE_GET_INFO, 4)               \
	X(DEVICE_GET_REGION_INFO, 5)        \
	X(DEVICE_GET_REGION_IO_FDS, 6)      \
	X(DEVICE_GET_IRQ_INFO, 7)           \
	X(DEVICE_SET_IRQS, 8)               \
	X(REGION_READ, 9)                   \
	X(REGION_WRITE, 10)                 \
	X(DMA_READ, 11)                     \
	X(DMA_WRITE, 12)                    \
	X(DEVICE_RESET, 13)                 \
	X(REGION_WRITE_MULTI, 15)           \
	X(DEVICE_FEATURE, 16)               \
	X(MIG_DATA_READ, 17)                \
	X(MIG_DATA_WRITE, 18)

#endif /* VUS_WIRE_CMDS_H */
