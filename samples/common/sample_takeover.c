/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sample_takeover: --take-over RPC_PATH, a sample replacing a running
 * one without its client noticing (doc/persistence.md). Before parsing,
 * the running server is asked for the hand-over; its command line (the
 * configuration it gives) comes first and ours after it, so the new
 * process serves the same device with whatever we add. Every sample
 * gives its own effective command line as its configuration, so a
 * process that took over can be taken over in turn.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample_cli.h"

static struct {
	vus_takeover *tk;
	char **inherited;  /* the running server's command line */
	int nr_inherited;
	char **argv;       /* the command line parsed */
	int argc;
	char *config;      /* the effective command line, as JSON */
} boot;

/* Our own arguments without --take-over (and its value). */
static int own_args(int argc, char **argv, const char **path, char ***out,
		    int *n)
{
	char **v = calloc((size_t)argc + 1, sizeof(*v));

	if (v == NULL)
		return -ENOMEM;
	*n = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--take-over") == 0 && i + 1 < argc) {
			*path = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--take-over=", 12) == 0) {
			*path = argv[i] + 12;
			continue;
		}
		v[(*n)++] = argv[i];
	}
	*out = v;
	return 0;
}

/* argv[0], then @a (@na), then @b (@nb): pointers, not copies. */
static int join_args(char *argv0, char **a, int na, char **b, int nb)
{
	boot.argv = calloc((size_t)(na + nb) + 2, sizeof(*boot.argv));
	if (boot.argv == NULL)
		return -ENOMEM;
	boot.argv[0] = argv0;
	if (na > 0) /* memcpy() takes no NULL, even for 0 bytes */
		memcpy(boot.argv + 1, a, (size_t)na * sizeof(*a));
	if (nb > 0)
		memcpy(boot.argv + 1 + na, b, (size_t)nb * sizeof(*b));
	boot.argc = na + nb + 1;
	return sample_args_to_json(boot.argc - 1, boot.argv + 1, &boot.config);
}

int sample_takeover_prepare(int *argc, char ***argv)
{
	const char *path = NULL;
	char **own = NULL;
	int n = 0, ret = own_args(*argc, *argv, &path, &own, &n);

	if (ret == 0 && path != NULL) {
		ret = vus_takeover_begin(path, NULL, &boot.tk);
		if (ret == 0 &&
		    sample_args_from_json(vus_takeover_config(boot.tk),
					  &boot.nr_inherited, &boot.inherited) < 0) {
			fprintf(stderr, "take-over: the running server's "
				"configuration is not a command line\n");
			ret = -EPROTO;
		}
	}
	ret = ret ? ret : join_args((*argv)[0], boot.inherited, boot.nr_inherited, own, n);
	free(own);
	if (ret < 0) {
		sample_takeover_abort("the new process could not start");
		return ret;
	}
	*argc = boot.argc;
	*argv = boot.argv;
	return 0;
}

bool sample_taking_over(void)
{
	return boot.tk != NULL;
}

int sample_takeover_serve(vus_ctx *ctx)
{
	int ret = 0;

	if (boot.tk != NULL) {
		ret = vus_ctx_take_over(ctx, boot.tk);
		boot.tk = NULL; /* freed by vus_ctx_take_over() */
	}
	if (ret == 0 && boot.config != NULL)
		ret = vus_ctx_set_handover_config(ctx, boot.config);
	return ret;
}

void sample_takeover_abort(const char *why)
{
	vus_takeover_abort(boot.tk, why);
	boot.tk = NULL;
}

void sample_takeover_free(void)
{
	sample_takeover_abort("the new process gave up");
	sample_args_free(boot.nr_inherited, boot.inherited);
	free(boot.argv);
	free(boot.config);
	memset(&boot, 0, sizeof(boot));
}
