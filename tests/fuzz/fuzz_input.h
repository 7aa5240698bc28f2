/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_input: the input format of the engine fuzz targets, shared by the
 * harness (fuzz_engine.c) and the seed generator (gen_corpus.c).
 *
 *   input  := config chunk*
 *   config := u8, FZ_CFG_* bits: how the device and the harness behave
 *   chunk  := op:u8 aux:u8 len:u16le bytes[len]   (len cut at the end)
 *
 * A chunk's bytes go to the server socket as they are: they need not be
 * whole messages, so framing in pieces is reachable. The fds the op asks
 * for travel with the chunk's first byte. The last chunk may be short.
 */
#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H

#include <stdint.h>

/* Config byte. */
#define FZ_CFG_NEGOTIATE 0x01u  /* the harness sends QEMU's VERSION first */
#define FZ_CFG_QUIESCE 0x02u    /* the device has quiesce/resume callbacks */
#define FZ_CFG_REPLY_MASK 0x0cu /* how server DMA requests are answered */
#define FZ_CFG_REPLY_INPUT 0x00u /* only by bytes from the input */
#define FZ_CFG_REPLY_GOOD 0x04u  /* the harness answers correctly */
#define FZ_CFG_REPLY_MIXED 0x08u /* correct, error, bad length, ... in turn */
#define FZ_CFG_REPLY_JUNK 0x0cu  /* the next chunk, whatever it holds */
#define FZ_CFG_SMALL 0x10u      /* 4 KiB transfers, 4 fds, 8 DMA maps */
#define FZ_CFG_BUSY 0x20u       /* quiesce starts out answering -EBUSY */
#define FZ_CFG_TINY_BUF 0x40u   /* smallest socket buffers: replies queue */
#define FZ_CFG_ABRUPT 0x80u     /* at the end close outright and destroy
				 * the context without waiting for teardown */

/* Chunk op byte. */
#define FZ_OP_NFDS_MASK 0x07u   /* fds attached to the chunk's first byte */
#define FZ_OP_KIND_SHIFT 3
#define FZ_OP_KIND_MASK 0x18u
#define FZ_FD_EVENTFD 0u        /* the harness keeps a copy to signal */
#define FZ_FD_MEMFD 1u          /* (aux + 1) pages */
#define FZ_FD_PIPE 2u
#define FZ_FD_SOCKET 3u
#define FZ_OP_RUN 0x20u         /* let the server run after the chunk */
#define FZ_OP_ACT_SHIFT 6       /* what the harness does before the chunk */
#define FZ_OP_ACT_MASK 0xc0u
#define FZ_ACT_NONE 0u
#define FZ_ACT_QUIESCED 1u      /* the device confirms a pending quiesce */
#define FZ_ACT_BUSY 2u          /* aux 0 or bit 0: toggle quiesce -EBUSY;
				 * aux bit 1: toggle not reading replies;
				 * aux bit 2: replay the migration stream */
#define FZ_ACT_SIGNAL 3u        /* signal kept eventfds; raise interrupts
				 * chosen by aux */

#define FZ_CHUNK_HDR 4u

/*
 * Device registers of the fuzz devices (region 0 / BAR 0, 4 KiB). A write
 * of 8 bytes at these offsets makes the device act with the value.
 */
#define FZ_REG_DMA_READ 0x200u  /* vus_dma_read(value, LEN) */
#define FZ_REG_DMA_WRITE 0x208u /* vus_dma_write(value, LEN) */
#define FZ_REG_DMA_LEN 0x210u   /* LEN - 1 (one byte: 1..256) */
#define FZ_REG_DMA_SG 0x218u    /* vus_dma_sg(value, LEN) and touch it */
#define FZ_REG_DMA_UNTORN 0x220u /* vus_dma_read64/write32 at value */
#define FZ_REG_IRQ 0x228u       /* raise/lower interrupts by value bits */
#define FZ_REG_HOOKS 0x230u     /* one byte: which callbacks also do DMA */
#define FZ_HOOK_MAP 0x01u       /* dma_map */
#define FZ_HOOK_IRQ_STATE 0x02u /* the interrupt binding callback */
#define FZ_HOOK_RESET 0x04u     /* reset */
#define FZ_HOOK_UNMAP 0x08u     /* dma_unmap */
#define FZ_REG_HOOK_ADDR 0x238u /* where those DMA reads go (8 bytes) */
#define FZ_REG_MIG 0x240u       /* one byte: migration misbehaviour */
#define FZ_MIG_SAVE_FAIL 0x01u  /* save() fails */
#define FZ_MIG_LIVE_FAIL 0x02u  /* save_live() fails */
#define FZ_MIG_STATE_DMA 0x04u  /* the state callback reads HOOK_ADDR */
#define FZ_MIG_MAX_STREAM 12288u /* the devices' max_stream_size (a section's bound) */
#define FZ_REG_DOORBELL 0x100u  /* ioeventfd, 4 bytes */
#define FZ_REG_DOORBELL_DM 0x108u /* ioeventfd, 8 bytes, datamatch */
#define FZ_DOORBELL_DATA 0x1234u

#endif /* FUZZ_INPUT_H */
