/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wire: header checks, reply headers, command names and the SET_IRQS
 * validator. Pure functions only; see wire.h.
 */
#include <errno.h>
#include <string.h>

#include "wire.h"

const char *wire_cmd_name(uint32_t cmd)
{
	static const char *const names[WIRE_CMD_MAX] = {
#define WIRE_CMD_NAME(name, num) [num] = #name,
		WIRE_COMMANDS(WIRE_CMD_NAME)
#undef WIRE_CMD_NAME
	};

	if (cmd >= WIRE_CMD_MAX || names[cmd] == NULL)
		return "?";
	return names[cmd];
}

int wire_hdr_check(const struct wire_hdr *h, uint32_t max_msg)
{
	if (h->msg_size < WIRE_HDR_SIZE)
		return -EINVAL;
	if (h->msg_size > max_msg)
		return -EMSGSIZE;
	return 0;
}

void wire_reply_hdr(struct wire_hdr *out, const struct wire_hdr *req,
		    uint32_t payload, int err)
{
	memset(out, 0, sizeof(*out));
	out->msg_id = req->msg_id;
	out->cmd = req->cmd;
	out->flags = WIRE_F_TYPE_REPLY;
	if (err != 0) {
		/* An error reply is the bare header, errno always positive. */
		out->flags |= WIRE_F_ERROR;
		out->error = (uint32_t)(err < 0 ? -err : err);
		payload = 0;
	}
	out->msg_size = WIRE_HDR_SIZE + payload;
}

static bool one_bit(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

int wire_irq_set_check(const struct wire_irq_set *s, size_t payload_len,
		       uint32_t nvec, uint32_t index_flags, unsigned int nfds)
{
	uint32_t data = s->flags & WIRE_IRQ_DATA_TYPE_MASK;
	uint32_t action = s->flags & WIRE_IRQ_ACTION_TYPE_MASK;

	if (s->argsz < sizeof(*s))
		return -EINVAL;
	/* Exactly one data type and one action, nothing else. */
	if (s->flags & ~(WIRE_IRQ_DATA_TYPE_MASK | WIRE_IRQ_ACTION_TYPE_MASK))
		return -EINVAL;
	if (!one_bit(data) || !one_bit(action))
		return -EINVAL;
	/* MASK/UNMASK only where the index says it can be masked. */
	if (action != WIRE_IRQ_ACTION_TRIGGER &&
	    !(index_flags & WIRE_IRQ_MASKABLE))
		return -EINVAL;
	if (s->count == 0) {
		/* Only "disable the whole index" has no vectors. */
		if (data != WIRE_IRQ_DATA_NONE ||
		    action != WIRE_IRQ_ACTION_TRIGGER || s->start != 0)
			return -EINVAL;
	} else if (s->start >= nvec || s->count > nvec - s->start) {
		return -EINVAL;
	}
	/* The payload carries booleans only with DATA_BOOL. */
	if (data == WIRE_IRQ_DATA_BOOL) {
		if (payload_len != sizeof(*s) + (size_t)s->count)
			return -EINVAL;
	} else if (payload_len != sizeof(*s)) {
		return -EINVAL;
	}
	/* One fd per vector, or none to unbind; fds only with EVENTFD. */
	if (data == WIRE_IRQ_DATA_EVENTFD) {
		if (nfds != 0 && nfds != s->count)
			return -EINVAL;
	} else if (nfds != 0) {
		return -EINVAL;
	}
	return 0;
}
