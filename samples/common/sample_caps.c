/* SPDX-License-Identifier: BSD-3-Clause */
/* sample_caps: --print-capabilities (sample_caps.h). */
#include "sample_caps.h"

/* Names here are the program's own constants ([a-z0-9.-]): no escaping. */
static void list(FILE *f, const char *key, const char *const *names, size_t n)
{
	fprintf(f, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\"%s\"", i ? "," : "", names[i]);
	fputc(']', f);
}

static void bus_print(FILE *f, const struct sample_caps *c)
{
	if (c->bus == VUS_BUS_PCI)
		fprintf(f, ",\"bus\":\"pci\",\"pci\":{\"vendor-id\":%u,"
			"\"device-id\":%u,\"class-code\":%u}",
			c->vendor_id, c->device_id, c->class_code);
	else
		fprintf(f, ",\"bus\":\"sysbus\",\"sysbus\":{\"compatible\":"
			"[\"%s\"]}", c->compatible);
}

void sample_caps_print(FILE *f, const struct sample_caps *c,
		       const struct option *lo)
{
	const char *names[64];
	size_t n = 0;

	fprintf(f, "{\"type\":\"%s\",\"protocol\":\"vfio-user\"", c->type);
	bus_print(f, c);
	for (n = 0; c->features != NULL && c->features[n] != NULL; n++)
		;
	list(f, "features", c->features, n);
	for (n = 0; lo[n].name != NULL && n < 63; n++)
		names[n] = lo[n].name;
	/* sample_takeover_prepare() takes it out before getopt sees it. */
	names[n++] = "take-over";
	list(f, "options", names, n);
	for (n = 0; n < c->n_methods && n < 64; n++)
		names[n] = c->methods[n].name;
	list(f, "rpc-methods", names, n);
	fputs("}\n", f);
}
