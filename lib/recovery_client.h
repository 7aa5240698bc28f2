/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recovery_client (internal to recovery_client*.c): what the client gave
 * a context as it is kept (recovery_client.c), written into the state
 * area (recovery_client_save.c) and read back by the next process
 * (recovery_client_restore.c).
 *
 * Block "client" version 1, little-endian:
 *   u32 format (1) | u32 0 | u64 next id |
 *   u32 n | n x (u64 addr | u64 size | u64 offset | u32 prot | u32 0 |
 *                u64 file id, 0: no fd)                      DMA mappings
 *   u32 n | n x (u32 index | u32 vector | u64 trigger | u64 mask |
 *                u64 unmask ids, 0: none)                    bound vectors
 *   u32 n | n x (u32 region | u32 doorbell | u64 id)         doorbells
 */
#ifndef VUS_RECOVERY_CLIENT_H
#define VUS_RECOVERY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dma_table.h"
#include "irq_table.h"
#include "recovery_priv.h"

#define KC_FORMAT 1u
#define KC_HEAD 16u
#define KC_DMA_ENTRY 40u
#define KC_VEC_ENTRY 32u
#define KC_DB_ENTRY 16u
#define KC_CHECK 0x1u /* the vector's fds may have changed */
#define KC_FRESH 0x2u /* ... and any bound one is a new file */

struct kc_file {
	uint64_t dev, ino, id;
	int mode;
	bool used;
};

struct kc_db {
	uint32_t region;
	unsigned int index;
	uint64_t id;
	bool used;
};

struct kept_client {
	uint64_t next_id;
	struct kc_file files[DMA_MAX_FILES];
	uint32_t nr_files;
	uint32_t vec_base[IRQ_MAX_INDEX], vec_count[IRQ_MAX_INDEX], nr_vec;
	uint64_t *vec_ids;  /* 3 per vector: trigger, mask, unmask */
	uint8_t *vec_flag;  /* KC_* per vector */
	struct kc_db *db;
	uint32_t nr_db, max_db;
	uint64_t *gone;     /* ids to remove once the commit is made */
	uint32_t nr_gone, max_gone;
};

/** The store's name of id @id: "<prefix>.fd.<id>". */
int recovery_client_id_name(struct recovery *r, uint64_t id, char *buf,
			    size_t len);

/** Store @fd (borrowed) under a new id: the id, or 0 on failure. */
uint64_t recovery_client_put(struct recovery *r, int fd);

/** @id (0: none) leaves the store once the block without it is committed. */
void recovery_client_drop_id(struct recovery *r, uint64_t id);

/** The kept doorbell @index of @region, or NULL. */
struct kc_db *recovery_client_db_find(struct kept_client *k, uint32_t region,
				      unsigned int index);

#endif /* VUS_RECOVERY_CLIENT_H */
