/* SPDX-License-Identifier: BSD-3-Clause */
/* The migration tests' state sections (test_mig_sections.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_mig_sections.h"

static int counter_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	return vus_mig_put_u64(out, ((struct tmig_state *)o)->counter);
}

static int counter_check(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	return vus_mig_remaining(in) == 8 && v == 1 ? 0 : -EBADMSG;
}

static int counter_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	return vus_mig_get_u64(in, &((struct tmig_state *)o)->counter);
}

/* Live: the state in parts, then nothing until the stop. */
static int big_live(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	struct tmig_state *s = o;
	size_t left = s->big_size - s->big_sent;
	size_t n = left < s->big_part ? left : s->big_part;
	int ret = vus_mig_put(out, s->big + s->big_sent, n);

	if (ret < 0)
		return ret;
	s->big_sent += n;
	return s->big_sent == s->big_size ? 1 : 0;
}

/*
 * Final part: whatever pre-copy did not send (all of it without
 * PRE_COPY), sent from the array itself: the device is stopped.
 */
static int big_save(vus_ctx *ctx, void *o, vus_mig_out *out)
{
	struct tmig_state *s = o;
	int ret = vus_mig_put_ref(out, s->big + s->big_sent,
				  s->big_size - s->big_sent);

	s->big_sent = 0;
	return ret;
}

static int big_check(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	return vus_mig_remaining(in) == ((struct tmig_state *)o)->big_size
		       ? 0 : -EBADMSG;
}

static int big_load(vus_ctx *ctx, void *o, vus_mig_in *in, uint32_t v)
{
	struct tmig_state *s = o;

	return vus_mig_get(in, s->big, s->big_size);
}

void tmig_add_sections(vus_ctx *ctx, struct tmig_state *s)
{
	static const struct vus_mig_section_ops counter_ops = {
		.struct_size = sizeof(counter_ops), .save = counter_save,
		.check = counter_check, .load = counter_load };
	static const struct vus_mig_section_ops big_ops = {
		.struct_size = sizeof(big_ops), .save = big_save,
		.check = big_check, .load = big_load, .save_live = big_live };

	assert_int_equal(vus_mig_add_section(ctx, "counter", 1, &counter_ops, s), 0);
	assert_int_equal(vus_mig_add_section(ctx, "big", 1, &big_ops, s), 0);
}
