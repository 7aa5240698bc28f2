/* SPDX-License-Identifier: BSD-3-Clause */
/* port: the UART model on a SysBus window and line (see port.h). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "port.h"

#define LINE 0 /* the one interrupt line */

/* ---- keeping the world in line with the model ---- */

static void pump_tx(struct port *p)
{
	uint8_t buf[UART16550_FIFO_SIZE];
	size_t n, w;

	while ((n = uart16550_tx_peek(&p->uart, buf, sizeof(buf))) > 0) {
		w = backend_write(p->be, buf, n);
		uart16550_tx_consume(&p->uart, w);
		if (w < n)
			break; /* THRE stays clear until the backend drains */
	}
}

static void pump_rx(struct port *p)
{
	uint8_t buf[UART16550_FIFO_SIZE];
	size_t room = uart16550_rx_room(&p->uart), n;

	/* Never more than the FIFO can hold: backpressure, not buffering. */
	if (room > sizeof(buf))
		room = sizeof(buf);
	n = backend_read(p->be, buf, room);
	for (size_t i = 0; i < n; i++)
		uart16550_rx_push(&p->uart, buf[i], 0);
}

static void timer_arm(struct port *p, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(ns / 1000000000u),
			      .tv_nsec = (long)(ns % 1000000000u) },
	};

	/* ns 0 disarms (a character time is never 0). */
	(void)timerfd_settime(p->timer_fd, 0, &its, NULL);
}

/*
 * The character timeout: 4 character times after the last RX FIFO
 * activity (a byte in, a byte read), measured by a timerfd restarted at
 * each activity, at the programmed baud rate and frame format.
 */
static void update_timer(struct port *p)
{
	bool need = uart16550_timer_needed(&p->uart);
	uint32_t epoch = uart16550_rx_epoch(&p->uart);

	if (need == p->timer_armed && (!need || epoch == p->timer_epoch))
		return;
	p->timer_armed = need;
	p->timer_epoch = epoch;
	timer_arm(p, need ? 4 * uart16550_char_ns(&p->uart) : 0);
}

static void update_line(struct port *p)
{
	bool level = uart16550_irq(&p->uart);

	if (level == p->line)
		return;
	p->line = level;
	/* Unbound or masked: the library keeps it pending; nothing to do. */
	(void)vus_sysbus_irq_set(p->ctx, LINE, level);
}

void port_sync(void *opaque)
{
	struct port *p = opaque;

	if (p->stopped) {
		/* Frozen for migration: nothing moves, nothing fires. */
		if (p->be != NULL)
			backend_want_input(p->be, false);
		p->timer_armed = false;
		timer_arm(p, 0);
		return;
	}
	if (p->be != NULL) {
		pump_tx(p);
		pump_rx(p);
		backend_want_input(p->be, uart16550_rx_room(&p->uart) > 0);
	}
	update_timer(p);
	update_line(p);
	/* Crash recovery (when on) keeps the registers and FIFOs. */
	(void)vus_ctx_state_changed(p->ctx, "uart16550");
}

static void on_timer(vus_ctx *ctx, void *opaque, int fd, uint32_t events)
{
	struct port *p = opaque;
	uint64_t ticks;

	(void)events;
	if (read(fd, &ticks, sizeof(ticks)) != (ssize_t)sizeof(ticks))
		return; /* re-armed after it fired: that expiry is void */
	p->timer_armed = false;
	if (p->stopped)
		return; /* an expiry from before the stop: void too */
	if (uart16550_rx_epoch(&p->uart) == p->timer_epoch)
		uart16550_char_timeout(&p->uart);
	port_sync(p);
}

/* ---- the MMIO window ---- */

/*
 * Which register an access of 1-4 bytes at @off hits. With reg-shift 0 an
 * access at a register's offset is that register, whatever its width.
 * With reg-shift 2 each register is a 32-bit word whose upper bytes read
 * as 0 (*reg = UART_NR_REGS: no side effects); an access crossing into
 * the next word is refused.
 */
static int decode(const struct port *p, uint64_t off, size_t len,
		  unsigned int *reg)
{
	uint64_t width = 1ull << p->shift, in = off & (width - 1);

	if (len == 0 || len > 4)
		return -EINVAL;
	if (p->shift > 0 && in + len > width)
		return -EINVAL;
	*reg = in == 0 ? (unsigned int)(off >> p->shift) : UART_NR_REGS;
	return *reg <= UART_NR_REGS ? 0 : -EINVAL;
}

static int mmio_read(vus_ctx *ctx, void *opaque, uint64_t off, void *buf,
		     size_t len)
{
	struct port *p = opaque;
	unsigned int reg;
	int ret = decode(p, off, len, &reg);

	if (ret < 0)
		return ret;
	memset(buf, 0, len);
	if (reg < UART_NR_REGS)
		((uint8_t *)buf)[0] = uart16550_read(&p->uart, reg);
	port_sync(p);
	return 0;
}

static int mmio_write(vus_ctx *ctx, void *opaque, uint64_t off, const void *buf,
		      size_t len)
{
	struct port *p = opaque;
	unsigned int reg;
	int ret = decode(p, off, len, &reg);

	if (ret < 0)
		return ret;
	/* Little-endian: the register is the lowest byte. */
	if (reg < UART_NR_REGS)
		uart16550_write(&p->uart, reg, ((const uint8_t *)buf)[0]);
	port_sync(p);
	return 0;
}

/* ---- set-up ---- */

static int on_reset(vus_ctx *ctx, void *opaque, enum vus_reset_reason why)
{
	struct port *p = opaque;

	(void)why;
	/* The backend stays connected; the line goes down for sure. */
	uart16550_reset(&p->uart);
	p->line = true;
	port_sync(p);
	return 0;
}

static int describe(struct port *p, const struct port_config *cfg)
{
	static const char *const compat[] = { "ns16550a", NULL };
	static const struct vus_region_ops ops = {
		.struct_size = sizeof(ops), .read = mmio_read,
		.write = mmio_write };
	struct vus_sysbus_info info = { .struct_size = sizeof(info),
					.compatible = compat, .name = "uart0" };
	struct vus_region_desc win = {
		.struct_size = sizeof(win), .size = 8u << cfg->reg_shift,
		.flags = VUS_REGION_READ | VUS_REGION_WRITE, .ops = &ops,
		.opaque = p };
	int ret = vus_sysbus_init(p->ctx, &info);

	if (ret == 0)
		ret = vus_sysbus_add_mmio(p->ctx, &win, cfg->base);
	if (ret >= 0)
		ret = vus_sysbus_add_irq(p->ctx, VUS_SYSBUS_LEVEL_HIGH);
	if (ret < 0)
		return ret;
	ret = vus_sysbus_set_prop_u64(p->ctx, "clock-frequency", cfg->clock_hz);
	if (ret == 0)
		ret = vus_sysbus_set_prop_u64(p->ctx, "reg-shift", cfg->reg_shift);
	if (ret == 0)
		ret = vus_sysbus_set_prop_u64(p->ctx, "reg-io-width",
					      cfg->reg_shift ? 4 : 1);
	if (ret == 0)
		ret = vus_sysbus_set_prop_u64(p->ctx, "current-speed", cfg->speed);
	return ret;
}

/* A hand-over: the line's fds go to (or come from) the other process. */
static int save_fds(void *opaque, vus_handover_fds *h)
{
	struct port *p = opaque;

	return p->be ? backend_save_fds(p->be, h) : 0;
}

static int load_fds(void *opaque, vus_handover_fds *h)
{
	struct port *p = opaque;
	int ret = p->be ? backend_load_fds(p->be, h) : -EINVAL;

	if (ret == 0)
		port_sync(p);
	return ret;
}

static void handed_over(void *opaque)
{
	struct port *p = opaque;

	if (p->be != NULL)
		backend_keep_path(p->be);
}

int port_setup(struct port *p, vus_ctx *ctx, const struct port_config *cfg)
{
	static const struct vus_handover_ops ho = {
		.struct_size = sizeof(ho), .save_fds = save_fds,
		.load_fds = load_fds, .handed_over = handed_over,
	};
	struct vus_device_ops dev = { .struct_size = sizeof(dev),
				      .reset = on_reset };
	uint64_t div;
	int ret;

	if ((cfg->reg_shift != 0 && cfg->reg_shift != 2) || cfg->speed == 0)
		return -EINVAL;
	div = cfg->clock_hz / (16ull * cfg->speed);
	if (div == 0 || div > 0xffff)
		return -EINVAL; /* that speed cannot be reached from that clock */
	*p = (struct port){ .ctx = ctx, .shift = cfg->reg_shift, .timer_fd = -1 };
	uart16550_init(&p->uart, cfg->clock_hz, (uint16_t)div);
	ret = describe(p, cfg);
	if (ret == 0)
		ret = vus_ctx_set_device_ops(ctx, &dev, p);
	if (ret == 0)
		ret = vus_ctx_set_handover_ops(ctx, &ho, p);
	if (ret < 0)
		return ret;
	p->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->timer_fd < 0)
		return -errno;
	ret = vus_ctx_add_fd(ctx, p->timer_fd, EPOLLIN, on_timer, p);
	if (ret < 0)
		port_teardown(p);
	return ret;
}

void port_attach(struct port *p, struct backend *be)
{
	p->be = be;
	port_sync(p);
}

void port_teardown(struct port *p)
{
	if (p->timer_fd < 0)
		return;
	(void)vus_ctx_del_fd(p->ctx, p->timer_fd);
	close(p->timer_fd);
	p->timer_fd = -1;
}
