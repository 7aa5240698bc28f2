/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mig_refs: large blocks of a STOP_COPY save that the stream refers to
 * instead of copying. The device is stopped, so the bytes a section
 * handed to vus_mig_put_ref() stay as they are until the session ends:
 * the replies are sent from them (the socket's copy is the only one), and
 * no buffer of the state's size is ever touched. A fresh buffer costs a
 * page fault per page, many times a memcpy of it on a VM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "mig_priv.h"

int mig_refs_add(struct mig_refs *r, const struct mig_buf *b, const void *p,
		 size_t len)
{
	struct mig_ref *last = r->nr ? &r->v[r->nr - 1] : NULL;

	/* Adjacent puts of one block go out as one piece. */
	if (last != NULL && last->at == b->len &&
	    last->p + last->len == (const uint8_t *)p) {
		last->len += len;
		r->bytes += len;
		return 0;
	}
	if (r->nr == r->cap) {
		unsigned int cap = r->cap ? r->cap * 2 : 16;
		struct mig_ref *n = realloc(r->v, cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		r->v = n;
		r->cap = cap;
	}
	r->v[r->nr++] = (struct mig_ref){ .at = b->len, .p = p, .len = len };
	r->bytes += len;
	return 0;
}

void mig_refs_trim(struct mig_refs *r, size_t at)
{
	while (r->nr > 0 && r->v[r->nr - 1].at > at) {
		r->nr--;
		r->bytes -= r->v[r->nr].len;
	}
}

/*
 * Fold the referenced blocks into @b's running CRC in stream order, so
 * the end record sums each byte once. Called when the last record is
 * written: a block that changes after that makes the destination refuse
 * the stream (its CRC no longer matches) rather than load torn state.
 */
void mig_refs_crc(const struct mig_refs *r, struct mig_buf *b)
{
	for (unsigned int i = 0; i < r->nr; i++) {
		const struct mig_ref *f = &r->v[i];

		b->crc = mig_crc32c(b->crc, b->p + b->crc_len,
				    f->at - b->crc_len);
		b->crc_len = f->at;
		b->crc = mig_crc32c(b->crc, f->p, f->len);
	}
}

void mig_refs_clear(struct mig_refs *r)
{
	r->nr = 0;
	r->next = 0;
	r->off = 0;
	r->bytes = 0;
	r->sent = 0;
}

void mig_refs_free(struct mig_refs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}
