/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_client_input: the input format of fuzz_client (a hostile server
 * scripted against the client library), shared with gen_corpus.c.
 *
 *   input := config step*
 *   config := u8, FC_CFG_* bits
 *   step   := op:u8 a:u8 b:u32le        one client call (FC_OP_*)
 *   reply  := kind:u8 len:u16le bytes[len]
 *
 * Steps and replies come from the same stream, in the order they are
 * needed: the harness reads a step, makes the call, and each time the
 * client waits for the server it reads the next reply item. When the
 * input runs out the server hangs up.
 */
#ifndef FUZZ_CLIENT_INPUT_H
#define FUZZ_CLIENT_INPUT_H

#define FC_CFG_AUTO_VERSION 0x01u /* the harness answers VERSION well */
#define FC_CFG_SMALL 0x02u        /* the client accepts 4 KiB, 2 fds */

#define FC_STEP_LEN 6u
#define FC_REPLY_HDR 3u

/* Reply kind: what the server sends when the client waits. */
#define FC_K_MASK 0x03u
#define FC_K_REPLY 0u    /* a reply to the pending request, bytes as payload */
#define FC_K_ERROR 1u    /* an error reply: errno = first 4 bytes */
#define FC_K_RAW 2u      /* the bytes as they are (header and all) */
#define FC_K_REQUEST 3u  /* a server request first: DMA_READ (bytes:
			  * addr, count) or with FC_F_ALT DMA_WRITE (addr,
			  * count, data); the client's request stays pending */
#define FC_F_FD 0x04u    /* an eventfd travels with the message */
#define FC_F_STALE 0x08u /* under the previous message id */
#define FC_F_ALT 0x10u   /* another command number (reply), DMA_WRITE */
#define FC_F_SILENT 0x20u /* send nothing: the client's wait times out */

/* Client calls. */
enum {
	FC_OP_DEVICE_INFO,
	FC_OP_REGION_INFO,      /* index a */
	FC_OP_IRQ_INFO,         /* index a */
	FC_OP_MIG_FLAGS,
	FC_OP_MIG_GET_STATE,
	FC_OP_MIG_SET_STATE,    /* state a & 7 */
	FC_OP_MIG_READ,         /* b % 65536 bytes */
	FC_OP_MIG_WRITE,        /* b % 8192 bytes */
	FC_OP_MIG_DATA_SIZE,
	FC_OP_MIG_SAVE,
	FC_OP_MIG_LOAD,         /* a stream of b % 8192 bytes */
	FC_OP_DIRTY_START,      /* a & 3 ranges */
	FC_OP_DIRTY_STOP,
	FC_OP_DIRTY_REPORT,     /* (b % 4096 + 1) pages of 4 KiB << (a & 3) */
	FC_OP_REGION_READ,      /* region a, offset b >> 16, b % 2048 bytes */
	FC_OP_REGION_WRITE,     /* as READ */
	FC_OP_RESET,
	FC_OP_IO_FDS,           /* index a, at most a % 8 entries */
	FC_OP_SYSBUS_DESC,
	FC_OP_DMA_MAP_MEM,      /* 16 KiB at 0x100000 << (a & 1), no fd */
	FC_OP_DMA_MAP_MEMFD,    /* 16 KiB at 0x400000 */
	FC_OP_DMA_UNMAP_ALL,
	FC_OP_IRQ_ENABLE,       /* index a, a >> 4 vectors, then poll */
	FC_OP_WRITE_POSTED,     /* as REGION_WRITE, NO_REPLY */
	FC_OP_RAW_REQUEST,      /* command a, b % 64 bytes */
	FC_OP_PROCESS,          /* serve what the server sent */
	FC_NR_OPS
};

#endif /* FUZZ_CLIENT_INPUT_H */
