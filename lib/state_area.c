/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * state_area: the crash-consistent state area (state_area.h for the
 * scheme). In the memfd:
 *
 *   page 0   header: magic, format, size, identity, layout CRC, header
 *            CRC; two commit records (epoch, CRC), written alternately
 *   then     the directory (one entry per block), then each block's
 *            slots: element i has slots 2i and 2i+1, each a 16-byte head
 *            (epoch, length, CRC) and the element's capacity, 64-byte
 *            aligned
 *
 * Only this process writes the area; a dead process's stores are all
 * there (a crash stops between two instructions, it tears no single
 * store), so a slot is written in the order: epoch 0, bytes, length and
 * CRC, then its epoch; a cut anywhere leaves it empty or whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "mig_stream.h"
#include "state_area.h"

#define SA_MAGIC "VUSSTATE"
#define SA_FORMAT 1u
#define SA_HDR_SIZE 4096u
#define SA_LINE 64u
#define SA_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

struct sa_commit_rec {
	uint64_t epoch;
	uint32_t crc;
	uint32_t pad;
};

struct sa_header {
	char magic[8];
	uint32_t format;
	uint32_t nr_blocks;
	uint64_t size;
	uint32_t layout_crc;
	uint32_t hdr_crc; /* of everything above, this field as 0 */
	char identity[SA_IDENTITY_MAX + 1];
	struct sa_commit_rec commit[2] __attribute__((aligned(SA_LINE)));
	/* sa_mark(): one word, stored whole, outside the commit scheme. */
	uint64_t mark __attribute__((aligned(SA_LINE)));
};

struct sa_dirent {
	char name[SA_NAME_MAX + 1];
	uint32_t version;
	uint32_t elem_size;
	uint32_t count;
	uint32_t stride;
	uint64_t offset;
};

struct sa_slot {
	uint64_t epoch;
	uint32_t len;
	uint32_t crc;
	uint8_t data[];
};

_Static_assert(sizeof(struct sa_slot) == 16, "slot head is 16 bytes");
_Static_assert(sizeof(struct sa_header) <= SA_HDR_SIZE, "header fits page 0");

struct state_area {
	char identity[SA_IDENTITY_MAX + 1];
	struct sa_dirent dir[SA_MAX_BLOCKS];
	unsigned int nr_blocks;
	uint64_t size;      /* computed layout size */
	int fd;
	uint8_t *map;
	uint64_t epoch;     /* last committed */
	unsigned int rec;   /* the commit record that holds it */
	/* A write begun and not ended: its slot. */
	struct sa_slot *open_slot;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* a is before or equal to b, as serial numbers. */
static bool epoch_le(uint64_t a, uint64_t b)
{
	return (int64_t)(b - a) >= 0;
}

static struct sa_header *hdr(struct state_area *sa)
{
	return (struct sa_header *)sa->map;
}

static uint64_t dir_bytes(unsigned int n)
{
	return align_up((uint64_t)n * sizeof(struct sa_dirent), SA_LINE);
}

int sa_create(const char *identity, struct state_area **out)
{
	struct state_area *sa;
	size_t n = identity ? strlen(identity) : 0;

	if (n == 0 || n > SA_IDENTITY_MAX)
		return -EINVAL;
	sa = calloc(1, sizeof(*sa));
	if (sa == NULL)
		return -ENOMEM;
	memcpy(sa->identity, identity, n);
	sa->fd = -1;
	*out = sa;
	return 0;
}

void sa_destroy(struct state_area *sa)
{
	if (sa == NULL)
		return;
	if (sa->map != NULL)
		munmap(sa->map, sa->size);
	close_fd(&sa->fd);
	free(sa);
}

static bool name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n > 0 && n <= SA_NAME_MAX;
}

int sa_add_block(struct state_area *sa, const char *name, uint32_t version,
		 uint32_t elem_size, uint32_t count)
{
	struct sa_dirent *d;
	uint64_t stride, bytes;

	if (sa->map != NULL)
		return -EBUSY;
	if (!name_ok(name) || count == 0 || count > SA_MAX_ELEMS ||
	    elem_size > SA_ELEM_MAX || sa->nr_blocks >= SA_MAX_BLOCKS)
		return -EINVAL;
	if (sa_block(sa, name) >= 0)
		return -EEXIST;
	stride = align_up(sizeof(struct sa_slot) + (uint64_t)elem_size, SA_LINE);
	bytes = stride * 2 * count;
	/* The area so far (header and directory counted at the end). */
	if (bytes > SA_AREA_MAX - SA_HDR_SIZE - dir_bytes(SA_MAX_BLOCKS) - sa->size)
		return -E2BIG;
	d = &sa->dir[sa->nr_blocks];
	memset(d, 0, sizeof(*d));
	memcpy(d->name, name, strlen(name));
	d->version = version;
	d->elem_size = elem_size;
	d->count = count;
	d->stride = (uint32_t)stride;
	d->offset = sa->size; /* relative until the layout is fixed */
	sa->size += bytes;
	return (int)sa->nr_blocks++;
}

int sa_block(const struct state_area *sa, const char *name)
{
	for (unsigned int i = 0; i < sa->nr_blocks; i++)
		if (strcmp(sa->dir[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

/* Fix the block offsets behind the header and directory. */
static void fix_layout(struct state_area *sa)
{
	uint64_t base = SA_HDR_SIZE + dir_bytes(sa->nr_blocks);

	for (unsigned int i = 0; i < sa->nr_blocks; i++)
		sa->dir[i].offset += base;
	sa->size += base;
}

static uint32_t layout_crc(const struct state_area *sa)
{
	uint32_t crc = mig_crc32c(0, sa->identity, sizeof(sa->identity));

	return mig_crc32c(crc, sa->dir, sa->nr_blocks * sizeof(sa->dir[0]));
}

static uint32_t header_crc(const struct sa_header *h)
{
	struct sa_header c;

	memset(&c, 0, sizeof(c));
	memcpy(&c, h, offsetof(struct sa_header, commit));
	c.hdr_crc = 0;
	return mig_crc32c(0, &c, offsetof(struct sa_header, commit));
}

static uint32_t commit_crc(uint64_t epoch)
{
	return mig_crc32c(0x5a5a5a5au, &epoch, sizeof(epoch));
}

static void write_commit(struct state_area *sa, uint64_t e);

static int map_area(struct state_area *sa)
{
	void *p = mmap(NULL, sa->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       sa->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	/* Device state has no place in our core dumps either. */
	(void)madvise(p, sa->size, MADV_DONTDUMP);
	sa->map = p;
	return 0;
}

int sa_open_new(struct state_area *sa)
{
	struct sa_header *h;
	int ret;

	if (sa->map != NULL || sa->nr_blocks == 0)
		return -EINVAL;
	fix_layout(sa);
	/* Sealed (SA_SEALS): a successor can trust the size it maps. */
	ret = sealed_memfd("vus-state", sa->size, &sa->fd);
	if (ret == 0)
		ret = map_area(sa);
	if (ret < 0)
		return ret;
	h = hdr(sa);
	memcpy(h->magic, SA_MAGIC, 8);
	h->format = SA_FORMAT;
	h->nr_blocks = sa->nr_blocks;
	h->size = sa->size;
	h->layout_crc = layout_crc(sa);
	memcpy(h->identity, sa->identity, sizeof(h->identity));
	h->hdr_crc = header_crc(h);
	memcpy(sa->map + SA_HDR_SIZE, sa->dir, sa->nr_blocks * sizeof(sa->dir[0]));
	/* Epoch 0 committed: an area whose writer died before its first
	 * commit is valid and empty. */
	write_commit(sa, 0);
	return 0;
}

int sa_fd(const struct state_area *sa)
{
	return sa->fd;
}

uint32_t sa_elem_size(const struct state_area *sa, unsigned int block)
{
	return block < sa->nr_blocks ? sa->dir[block].elem_size : 0;
}

static struct sa_slot *slot(struct state_area *sa, unsigned int block,
			    uint32_t elem, unsigned int which)
{
	const struct sa_dirent *d = &sa->dir[block];

	return (struct sa_slot *)(sa->map + d->offset +
				  (uint64_t)d->stride * (2u * elem + which));
}

static uint32_t slot_crc(unsigned int block, uint32_t elem, uint64_t epoch,
			 uint32_t len, const void *data)
{
	uint32_t place[2] = { block, elem }, crc;

	crc = mig_crc32c(0, place, sizeof(place));
	crc = mig_crc32c(crc, &epoch, sizeof(epoch));
	crc = mig_crc32c(crc, &len, sizeof(len));
	return mig_crc32c(crc, data, len);
}

static bool elem_ok(const struct state_area *sa, unsigned int block,
		    uint32_t elem)
{
	return sa->map != NULL && block < sa->nr_blocks &&
	       elem < sa->dir[block].count;
}

static uint64_t next_epoch(uint64_t e)
{
	return e + 1 != 0 ? e + 1 : 1; /* 0 means "never written" */
}

/* The slot holding the newest committed copy, or NULL if none. */
static struct sa_slot *newest(struct state_area *sa, unsigned int block,
			      uint32_t elem)
{
	struct sa_slot *best = NULL;

	for (unsigned int w = 0; w < 2; w++) {
		struct sa_slot *s = slot(sa, block, elem, w);
		uint64_t e = __atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE);

		if (e == 0 || !epoch_le(e, sa->epoch))
			continue;
		if (best == NULL || epoch_le(best->epoch, e))
			best = s;
	}
	return best;
}

static bool slot_verifies(const struct state_area *sa, unsigned int block,
			  uint32_t elem, const struct sa_slot *s)
{
	return s->len <= sa->dir[block].elem_size &&
	       s->crc == slot_crc(block, elem, s->epoch, s->len, s->data);
}

int sa_get(struct state_area *sa, unsigned int block, uint32_t elem,
	   const void **data, uint32_t *len)
{
	struct sa_slot *s;

	if (!elem_ok(sa, block, elem))
		return -EINVAL;
	s = newest(sa, block, elem);
	*data = NULL;
	*len = 0;
	if (s == NULL)
		return 0;
	if (!slot_verifies(sa, block, elem, s))
		return -EBADMSG;
	*data = s->data;
	*len = s->len;
	return 0;
}

void *sa_write_begin(struct state_area *sa, unsigned int block, uint32_t elem)
{
	uint64_t w = next_epoch(sa->epoch);
	struct sa_slot *a, *b, *t;

	if (!elem_ok(sa, block, elem))
		return NULL;
	a = slot(sa, block, elem, 0);
	b = slot(sa, block, elem, 1);
	/* Again in this epoch: the same slot. Else the older one (an empty
	 * slot is the oldest): never the newest committed copy. */
	if (a->epoch == w || b->epoch == w)
		t = a->epoch == w ? a : b;
	else if (a->epoch == 0 || (b->epoch != 0 && epoch_le(a->epoch, b->epoch)))
		t = a;
	else
		t = b;
	__atomic_store_n(&t->epoch, 0, __ATOMIC_RELAXED);
	/* The epoch is cleared before any byte changes. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	sa->open_slot = t;
	return t->data;
}

int sa_write_end(struct state_area *sa, unsigned int block, uint32_t elem,
		 uint32_t len)
{
	uint64_t w = next_epoch(sa->epoch);
	struct sa_slot *t = sa->open_slot;

	if (t == NULL || !elem_ok(sa, block, elem) ||
	    len > sa->dir[block].elem_size)
		return -EINVAL;
	if (t != slot(sa, block, elem, 0) && t != slot(sa, block, elem, 1))
		return -EINVAL; /* begun for another element */
	t->len = len;
	t->crc = slot_crc(block, elem, w, len, t->data);
	/* Bytes, length and CRC before the epoch that makes them count. */
	__atomic_store_n(&t->epoch, w, __ATOMIC_RELEASE);
	sa->open_slot = NULL;
	return 0;
}

int sa_write(struct state_area *sa, unsigned int block, uint32_t elem,
	     const void *data, uint32_t len)
{
	void *p;

	if (!elem_ok(sa, block, elem) || len > sa->dir[block].elem_size)
		return -EINVAL;
	p = sa_write_begin(sa, block, elem);
	if (len)
		memcpy(p, data, len);
	return sa_write_end(sa, block, elem, len);
}

static void write_commit(struct state_area *sa, uint64_t e)
{
	/* Always the other record: the one holding the committed epoch
	 * stays whole while this one is written. */
	unsigned int i = sa->map != NULL && e != 0 ? sa->rec ^ 1u : 0;
	struct sa_commit_rec *r = &hdr(sa)->commit[i];

	/* Every slot written before the record that makes it count; a record
	 * cut between its two stores fails its CRC. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&r->epoch, e, __ATOMIC_RELAXED);
	__atomic_store_n(&r->crc, commit_crc(e), __ATOMIC_RELEASE);
	sa->epoch = e;
	sa->rec = i;
}

void sa_commit(struct state_area *sa)
{
	if (sa->map != NULL)
		write_commit(sa, next_epoch(sa->epoch));
}

uint64_t sa_epoch(const struct state_area *sa)
{
	return sa->epoch;
}

void sa_set_mark(struct state_area *sa, uint64_t v)
{
	if (sa->map != NULL)
		__atomic_store_n(&hdr(sa)->mark, v, __ATOMIC_RELEASE);
}

uint64_t sa_get_mark(struct state_area *sa)
{
	return sa->map ? __atomic_load_n(&hdr(sa)->mark, __ATOMIC_ACQUIRE) : 0;
}

void sa_set_epoch(struct state_area *sa, uint64_t e)
{
	if (sa->map != NULL)
		write_commit(sa, e);
}

#define WHY(...) snprintf(why, why_len, __VA_ARGS__)

/* The fd must be a memfd sealed as we seal ours, of the layout's size. */
static int check_kind(const struct state_area *sa, int fd, char *why,
		      size_t why_len)
{
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0)
		return -errno;
	seals = fcntl(fd, F_GET_SEALS);
	if (!S_ISREG(st.st_mode) || seals < 0 || (seals & SA_SEALS) != SA_SEALS) {
		WHY("the state area is not a sealed memfd");
		return -EINVAL;
	}
	if ((uint64_t)st.st_size != sa->size) {
		WHY("the state area has %lld bytes, the layout needs %llu",
		    (long long)st.st_size, (unsigned long long)sa->size);
		return -EINVAL;
	}
	return 0;
}

static int check_header(struct state_area *sa, char *why, size_t why_len)
{
	struct sa_header *h = hdr(sa);

	if (memcmp(h->magic, SA_MAGIC, 8) != 0 || h->hdr_crc != header_crc(h)) {
		WHY("the state area's header is damaged");
		return -EBADMSG;
	}
	if (h->format != SA_FORMAT || h->size != sa->size ||
	    h->nr_blocks != sa->nr_blocks) {
		WHY("the state area has another format or size");
		return -EPROTO;
	}
	if (memcmp(h->identity, sa->identity, sizeof(h->identity)) != 0) {
		WHY("the state area belongs to another device or version");
		return -EPROTO;
	}
	if (h->layout_crc != layout_crc(sa) ||
	    memcmp(sa->map + SA_HDR_SIZE, sa->dir,
		   sa->nr_blocks * sizeof(sa->dir[0])) != 0) {
		WHY("the state area has another layout (another build or options)");
		return -EPROTO;
	}
	return 0;
}

/* The newest commit record that verifies. */
static int pick_commit(struct state_area *sa, char *why, size_t why_len)
{
	struct sa_header *h = hdr(sa);
	bool found = false;

	for (unsigned int i = 0; i < 2; i++) {
		struct sa_commit_rec r = h->commit[i];

		if (r.crc != commit_crc(r.epoch))
			continue;
		if (!found || epoch_le(sa->epoch, r.epoch)) {
			sa->epoch = r.epoch;
			sa->rec = i;
		}
		found = true;
	}
	if (!found) {
		WHY("the state area has no valid commit record");
		return -EBADMSG;
	}
	return 0;
}

/* Wipe what the dead process wrote after its last commit; check the rest. */
static int check_elements(struct state_area *sa, char *why, size_t why_len)
{
	for (unsigned int b = 0; b < sa->nr_blocks; b++) {
		for (uint32_t i = 0; i < sa->dir[b].count; i++) {
			struct sa_slot *s;

			for (unsigned int w = 0; w < 2; w++) {
				s = slot(sa, b, i, w);
				if (s->epoch != 0 && !epoch_le(s->epoch, sa->epoch))
					__atomic_store_n(&s->epoch, 0, __ATOMIC_RELEASE);
			}
			s = newest(sa, b, i);
			if (s != NULL && !slot_verifies(sa, b, i, s)) {
				WHY("state \"%s\" element %u fails its checksum",
				    sa->dir[b].name, i);
				return -EBADMSG;
			}
		}
	}
	return 0;
}

int sa_open_fd(struct state_area *sa, int fd, char *why, size_t why_len)
{
	int ret = -EINVAL;

	if (sa->map != NULL || sa->nr_blocks == 0) {
		close_fd(&fd);
		return -EINVAL;
	}
	fix_layout(sa);
	ret = check_kind(sa, fd, why, why_len);
	if (ret == 0) {
		sa->fd = fd;
		fd = -1;
		ret = map_area(sa);
	}
	if (ret == 0)
		ret = check_header(sa, why, why_len);
	if (ret == 0)
		ret = pick_commit(sa, why, why_len);
	if (ret == 0)
		ret = check_elements(sa, why, why_len);
	close_fd(&fd);
	return ret;
}
