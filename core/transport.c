/* SPDX-License-Identifier: BSD-3-Clause */
/* transport: ownership helpers for received messages (see transport.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "transport.h"

int msg_take_fd(struct msg *m, unsigned int i)
{
	int fd;

	if (i >= m->nfds)
		return -1;
	fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}

void msg_release(struct msg *m)
{
	if (m->fds != NULL)
		close_fds(m->fds, m->nfds);
	if (m->owned) {
		free(m->store != NULL ? m->store : m->payload);
		free(m->fds);
	}
	m->payload = NULL;
	m->store = NULL;
	m->fds = NULL;
	m->nfds = 0;
	m->len = 0;
	m->owned = false;
}

int msg_detach(struct msg *m)
{
	uint8_t *p = NULL;
	int *fds = NULL;

	if (m->owned)
		return 0;
	if (m->len > 0) {
		p = malloc(m->len);
		if (p == NULL)
			return -ENOMEM;
		memcpy(p, m->payload, m->len);
	}
	if (m->nfds > 0) {
		fds = malloc(m->nfds * sizeof(int));
		if (fds == NULL) {
			free(p);
			return -ENOMEM;
		}
		memcpy(fds, m->fds, m->nfds * sizeof(int));
	}
	m->payload = p;
	m->store = NULL;
	m->fds = fds;
	m->owned = true;
	return 0;
}
