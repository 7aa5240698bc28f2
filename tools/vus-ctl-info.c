/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vus-ctl info: what the server negotiated, the device flags, every region
 * (flags, size, mmap areas, type) and every interrupt index (count,
 * flags), as text or JSON. GPL-2.0-or-later because vus-ctl links libpci
 * (GPL-2.0-or-later).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vus-ctl.h"

/* A server may claim any count; we describe at most this many. */
#define INFO_MAX_INDEXES 256u

struct flag_name {
	uint32_t bit;
	const char *name;
};

static const struct flag_name dev_flags[] = {
	{ VUS_CLIENT_DEV_RESET, "RESET" },
	{ VUS_CLIENT_DEV_PCI, "PCI" },
	{ VUS_CLIENT_DEV_PLATFORM, "PLATFORM" },
	{ 0, NULL },
};

static const struct flag_name region_flags[] = {
	{ VUS_CLIENT_REGION_READ, "READ" },
	{ VUS_CLIENT_REGION_WRITE, "WRITE" },
	{ VUS_CLIENT_REGION_MMAP, "MMAP" },
	{ 0, NULL },
};

static const struct flag_name irq_flags[] = {
	{ VUS_CLIENT_IRQ_EVENTFD, "EVENTFD" },
	{ VUS_CLIENT_IRQ_MASKABLE, "MASKABLE" },
	{ VUS_CLIENT_IRQ_AUTOMASKED, "AUTOMASKED" },
	{ VUS_CLIENT_IRQ_NORESIZE, "NORESIZE" },
	{ 0, NULL },
};

/* Everything info reports, gathered before any of it is printed. */
struct info {
	struct vus_client_caps caps;
	struct vus_client_device_info dev;
	uint32_t nr_regions;
	uint32_t nr_irqs;
	struct vus_client_region_info *regions;
	struct vus_client_irq_info *irqs;
	struct vus_client_sysbus_desc *desc; /* platform devices */
};

static void print_flags(uint32_t flags, const struct flag_name *names)
{
	uint32_t known = 0;

	for (const struct flag_name *f = names; f->name != NULL; f++) {
		known |= f->bit;
		if (flags & f->bit)
			printf(" %s", f->name);
	}
	/* Bits we have no name for are shown, not hidden. */
	if (flags & ~known)
		printf(" 0x%" PRIx32, flags & ~known);
}

static struct json_object *json_flags(uint32_t flags,
				      const struct flag_name *names)
{
	struct json_object *a = json_object_new_array();

	for (const struct flag_name *f = names; a != NULL && f->name != NULL; f++)
		if (flags & f->bit)
			json_object_array_add(a, json_object_new_string(f->name));
	return a;
}

static int gather(struct ctl *x, struct info *in)
{
	bool pci;
	int ret;

	in->caps.struct_size = sizeof(in->caps);
	ret = vus_client_server_caps(x->c, &in->caps);
	if (ret < 0)
		return ctl_fail(ret, "VERSION");
	in->dev.struct_size = sizeof(in->dev);
	ret = vus_client_device_info(x->c, &in->dev);
	if (ret < 0)
		return ctl_fail(ret, "DEVICE_GET_INFO");
	pci = in->dev.flags & VUS_CLIENT_DEV_PCI;
	in->nr_regions = in->dev.num_regions < INFO_MAX_INDEXES ?
			 in->dev.num_regions : INFO_MAX_INDEXES;
	in->nr_irqs = in->dev.num_irqs < INFO_MAX_INDEXES ?
		      in->dev.num_irqs : INFO_MAX_INDEXES;
	in->regions = calloc(in->nr_regions + 1, sizeof(*in->regions));
	in->irqs = calloc(in->nr_irqs + 1, sizeof(*in->irqs));
	if (in->regions == NULL || in->irqs == NULL)
		return ctl_fail(-ENOMEM, "info");
	for (uint32_t i = 0; i < in->nr_regions; i++) {
		/* The PCI VGA region is optional; servers may refuse it. */
		in->regions[i].struct_size = sizeof(in->regions[i]);
		ret = vus_client_region_info(x->c, i, &in->regions[i]);
		if (ret < 0 && pci && i == 8) {
			in->regions[i] = (struct vus_client_region_info){
				.struct_size = sizeof(in->regions[i]),
				.index = i, .fd = -1 };
			continue;
		}
		if (ret < 0)
			return ctl_fail(ret, "DEVICE_GET_REGION_INFO region %"
					PRIu32, i);
		if (in->regions[i].fd >= 0)
			close(in->regions[i].fd);
	}
	for (uint32_t i = 0; i < in->nr_irqs; i++) {
		in->irqs[i].struct_size = sizeof(in->irqs[i]);
		ret = vus_client_irq_info(x->c, i, &in->irqs[i]);
		if (ret < 0)
			return ctl_fail(ret, "DEVICE_GET_IRQ_INFO index %"
					PRIu32, i);
	}
	if (in->dev.flags & VUS_CLIENT_DEV_PLATFORM) {
		ret = vus_client_sysbus_desc(x->c, &in->desc);
		if (ret < 0 && ret != -ENOENT)
			return ctl_fail(ret, "platform device description");
	}
	return 0;
}

static const char *const trigger_names[] = {
	"level-high", "level-low", "edge-rising", "edge-falling",
};

static void print_desc(const struct vus_client_sysbus_desc *d)
{
	printf("platform device (description in region %" PRIu32 "): ",
	       d->region);
	for (unsigned int i = 0; i < d->nr_compatible; i++)
		printf("%s\"%s\"", i ? ", " : "compatible ", d->compatible[i]);
	if (d->name != NULL)
		printf("; name %s", d->name);
	putchar('\n');
	for (unsigned int i = 0; i < d->nr_mmio; i++) {
		printf("\tmmio %" PRIu32 ": size 0x%" PRIx64, d->mmio[i].index,
		       d->mmio[i].size);
		if (d->mmio[i].has_base)
			printf(", suggested base 0x%" PRIx64, d->mmio[i].base);
		putchar('\n');
	}
	for (unsigned int i = 0; i < d->nr_irqs; i++)
		printf("\tirq %" PRIu32 ": %s\n", d->irqs[i].index,
		       trigger_names[d->irqs[i].trigger]);
	for (unsigned int i = 0; i < d->nr_props; i++) {
		if (d->props[i].is_str)
			printf("\t%s = \"%s\"\n", d->props[i].key, d->props[i].s);
		else
			printf("\t%s = %" PRIu64 "\n", d->props[i].key,
			       d->props[i].u);
	}
}

static void print_region(const struct vus_client_region_info *r, bool pci)
{
	const char *name = pci ? ctl_pci_region_name(r->index) : NULL;

	printf("region %" PRIu32 "%s%s:", r->index, name ? " " : "",
	       name ? name : "");
	if (r->size == 0) {
		puts(" not implemented");
		return;
	}
	printf(" size 0x%" PRIx64 " flags", r->size);
	print_flags(r->flags, region_flags);
	if (r->flags & VUS_CLIENT_REGION_MMAP)
		printf(" offset 0x%" PRIx64, r->offset);
	putchar('\n');
	for (uint32_t a = 0; a < r->nr_areas; a++)
		printf("\tmmap area 0x%" PRIx64 "-0x%" PRIx64 " (0x%" PRIx64
		       " bytes)\n", r->areas[a].offset,
		       r->areas[a].offset + r->areas[a].size - 1,
		       r->areas[a].size);
	if (r->has_type)
		printf("\ttype 0x%" PRIx32 " subtype 0x%" PRIx32 "\n", r->type,
		       r->subtype);
}

static int print_text(const struct ctl *x, const struct info *in)
{
	bool pci = in->dev.flags & VUS_CLIENT_DEV_PCI;

	printf("socket %s\n", x->socket);
	printf("protocol %u.%u\n", in->caps.major, in->caps.minor);
	printf("server max_msg_fds %" PRIu64 ", max_data_xfer_size %" PRIu64
	       ", pgsizes 0x%" PRIx64 ", max_dma_maps %" PRIu64
	       ", write_multiple %s\n", in->caps.max_msg_fds,
	       in->caps.max_data_xfer_size, in->caps.pgsizes,
	       in->caps.max_dma_maps, in->caps.write_multiple ? "yes" : "no");
	printf("device flags 0x%" PRIx32 ":", in->dev.flags);
	print_flags(in->dev.flags, dev_flags);
	printf("; %" PRIu32 " regions, %" PRIu32 " irq indexes\n",
	       in->dev.num_regions, in->dev.num_irqs);
	for (uint32_t i = 0; i < in->nr_regions; i++)
		print_region(&in->regions[i], pci);
	for (uint32_t i = 0; i < in->nr_irqs; i++) {
		const char *name = pci ? ctl_pci_irq_name(i) : NULL;

		printf("irq %" PRIu32 "%s%s: count %" PRIu32 " flags", i,
		       name ? " " : "", name ? name : "", in->irqs[i].count);
		print_flags(in->irqs[i].flags, irq_flags);
		putchar('\n');
	}
	if (in->desc != NULL)
		print_desc(in->desc);
	return 0;
}

static struct json_object *json_region(const struct vus_client_region_info *r,
				       bool pci)
{
	struct json_object *o = json_object_new_object(), *areas;
	const char *name = pci ? ctl_pci_region_name(r->index) : NULL;
	int err = o == NULL;

	err |= ctl_json_add(o, "index", json_object_new_int64(r->index));
	if (name != NULL)
		err |= ctl_json_add(o, "name", json_object_new_string(name));
	err |= ctl_json_add(o, "size", json_object_new_uint64(r->size));
	err |= ctl_json_add(o, "flags", json_flags(r->flags, region_flags));
	err |= ctl_json_add(o, "offset", json_object_new_uint64(r->offset));
	areas = json_object_new_array();
	for (uint32_t a = 0; areas != NULL && a < r->nr_areas; a++) {
		struct json_object *e = json_object_new_object();

		err |= ctl_json_add(e, "offset",
				    json_object_new_uint64(r->areas[a].offset));
		err |= ctl_json_add(e, "size",
				    json_object_new_uint64(r->areas[a].size));
		json_object_array_add(areas, e);
	}
	err |= ctl_json_add(o, "mmap_areas", areas);
	if (r->has_type) {
		err |= ctl_json_add(o, "type", json_object_new_int64(r->type));
		err |= ctl_json_add(o, "subtype",
				    json_object_new_int64(r->subtype));
	}
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static struct json_object *json_caps(const struct vus_client_caps *c)
{
	struct json_object *o = json_object_new_object();
	int err = o == NULL;

	err |= ctl_json_add(o, "major", json_object_new_int(c->major));
	err |= ctl_json_add(o, "minor", json_object_new_int(c->minor));
	err |= ctl_json_add(o, "max_msg_fds", json_object_new_uint64(c->max_msg_fds));
	err |= ctl_json_add(o, "max_data_xfer_size",
			    json_object_new_uint64(c->max_data_xfer_size));
	err |= ctl_json_add(o, "pgsizes", json_object_new_uint64(c->pgsizes));
	err |= ctl_json_add(o, "max_dma_maps",
			    json_object_new_uint64(c->max_dma_maps));
	err |= ctl_json_add(o, "write_multiple",
			    json_object_new_boolean(c->write_multiple));
	if (err) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int print_json(const struct ctl *x, const struct info *in)
{
	bool pci = in->dev.flags & VUS_CLIENT_DEV_PCI;
	struct json_object *o = json_object_new_object(), *dev, *a;
	int err = o == NULL;

	err |= ctl_json_add(o, "socket", json_object_new_string(x->socket));
	err |= ctl_json_add(o, "capabilities", json_caps(&in->caps));
	dev = json_object_new_object();
	err |= ctl_json_add(dev, "flags", json_object_new_int64(in->dev.flags));
	err |= ctl_json_add(dev, "flag_names", json_flags(in->dev.flags, dev_flags));
	err |= ctl_json_add(dev, "num_regions", json_object_new_int64(in->dev.num_regions));
	err |= ctl_json_add(dev, "num_irqs", json_object_new_int64(in->dev.num_irqs));
	err |= ctl_json_add(o, "device", dev);
	a = json_object_new_array();
	for (uint32_t i = 0; a != NULL && i < in->nr_regions; i++)
		json_object_array_add(a, json_region(&in->regions[i], pci));
	err |= ctl_json_add(o, "regions", a);
	a = json_object_new_array();
	for (uint32_t i = 0; a != NULL && i < in->nr_irqs; i++) {
		struct json_object *q = json_object_new_object();
		const char *name = pci ? ctl_pci_irq_name(i) : NULL;

		err |= ctl_json_add(q, "index", json_object_new_int64(i));
		if (name != NULL)
			err |= ctl_json_add(q, "name", json_object_new_string(name));
		err |= ctl_json_add(q, "count", json_object_new_int64(in->irqs[i].count));
		err |= ctl_json_add(q, "flags", json_flags(in->irqs[i].flags, irq_flags));
		json_object_array_add(a, q);
	}
	err |= ctl_json_add(o, "irqs", a);
	/* The description is JSON already: embed it as parsed. */
	if (in->desc != NULL)
		err |= ctl_json_add(o, "platform", json_tokener_parse(in->desc->json));
	if (err) {
		json_object_put(o);
		return ctl_fail(-ENOMEM, "info");
	}
	return ctl_print_json(o);
}

int ctl_info(struct ctl *x)
{
	struct info in = { 0 };
	int ret = gather(x, &in);

	if (ret == 0)
		ret = x->json ? print_json(x, &in) : print_text(x, &in);
	free(in.regions);
	free(in.irqs);
	vus_client_sysbus_desc_free(in.desc);
	return ret;
}
