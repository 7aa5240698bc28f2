/* SPDX-License-Identifier: BSD-3-Clause */
/* Drive the example device as a VMM would: write and read back a register
 * of BAR 0. Run it against the server: ./client-example /tmp/example.sock */
#include <stdio.h>
#include <vus/client.h>

int main(int argc, char **argv)
{
	struct vus_client_device_info info = { .struct_size = sizeof(info) };
	uint32_t v = 0x1234, back = 0;
	vus_client *c;
	int ret;

	if (argc != 2 || vus_client_connect(argv[1], NULL, &c) < 0)
		return 1;
	ret = vus_client_device_info(c, &info);
	if (ret == 0)
		ret = vus_client_region_write(c, 0, 0x4, &v, sizeof(v));
	if (ret == 0)
		ret = vus_client_region_read(c, 0, 0x4, &back, sizeof(back));
	if (ret == 0)
		printf("%u regions, %u IRQ indexes; BAR 0 at 0x4: %#x\n",
		       info.num_regions, info.num_irqs, back);
	vus_client_close(c);
	return ret < 0 || back != v;
}
