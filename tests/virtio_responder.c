/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio_responder: a tiny IPv4 host at the far end of a vus-virtio-net-pci
 * datagram link, for guest tests. It answers ARP for its address and ICMP
 * echo (ping), and serves TFTP (RFC 1350, with the blksize and tsize
 * options of RFC 2347-2349) so that a guest's busybox can move bulk data
 * both ways with block numbers and acknowledgements:
 *
 *   get "blob"       SIZE bytes of a fixed pseudo-random stream
 *   get "NAME.crc"   "CRC32 LENGTH" of blob, or of the last upload NAME
 *   get "boot"       how many times "boot" was asked for, this one
 *                    included: a guest learns whether it is the first
 *                    boot this host has seen (a reset or a new VM comes
 *                    back to the same responder)
 *   put NAME         any data: its CRC-32 and length are recorded
 *
 * CRC-32 is zlib's (busybox crc32 prints the same). Every IPv4, ICMP and
 * UDP checksum of what arrives is verified. Frames it does not handle
 * (IPv6, multicast chatter) are counted and ignored.
 *
 *   virtio_responder --bind PATH --peer PATH [--ip A.B.C.D]
 *                    [--mac XX:XX:XX:XX:XX:XX] [--blob-size BYTES]
 *
 * --bind is the device's --peer, --peer the device's --bind: one Ethernet
 * frame per datagram. SIGTERM/SIGINT: print the counters and exit 0, or 1
 * if any checksum was wrong or a transfer broke the protocol.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ETH_HLEN 14u
#define IP_HLEN 20u
#define UDP_HLEN 8u
#define MAX_FRAME 65550u
#define TFTP_PORT 69u
#define TFTP_TID_BASE 40000u
#define TFTP_MAX_BLK 65464u
#define RESEND_MS 1000

enum { OP_RRQ = 1, OP_WRQ, OP_DATA, OP_ACK, OP_ERROR, OP_OACK };

struct stats {
	unsigned long long frames, arp, echo, ignored, bad_csum, bad_proto;
	unsigned long long tftp_get, tftp_put, bytes_out, bytes_in;
	unsigned long long resent, dup_data, dup_ack;
};

/* The one TFTP transfer at a time (kept once done, for duplicates). */
struct xfer {
	bool active, put, done;
	uint8_t mac[6];
	uint32_t ip;        /* network order */
	uint16_t port;      /* client's, host order */
	uint16_t tid;       /* ours */
	uint32_t blksize;
	uint32_t block;     /* last block sent (get) or acknowledged (put) */
	uint64_t size, off; /* get: file size, bytes sent through @block */
	bool last;          /* get: @block is the final one */
	char name[64];
	const char *text;   /* get of a .crc file: its contents */
	uint32_t crc;       /* put */
	uint64_t len;
};

static struct {
	int fd;
	struct sockaddr_un peer;
	uint8_t mac[6];
	uint32_t ip;
	uint64_t blob_size;
	uint32_t blob_crc;
	char blob_text[64], up_text[64], up_name[64], boot_text[16];
	unsigned int boots;
	uint16_t ip_id;
	uint16_t next_tid;
	struct xfer x;
	struct stats st;
	uint8_t out[MAX_FRAME];
} g;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* CRC-32 (reflected, polynomial 0xEDB88320: zlib's and busybox's). */
static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* Running CRC: start with 0, feed pieces, the result is final. */
static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* The blob: little-endian 8-byte words, splitmix64 of their index. */
static uint64_t blob_word(uint64_t w)
{
	uint64_t z = w * 0x9e3779b97f4a7c15ull + 1;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void blob_fill(uint8_t *dst, uint64_t off, size_t len)
{
	uint64_t w = off / 8, z = blob_word(w);

	for (size_t i = 0; i < len; i++) {
		if ((off + i) / 8 != w) {
			w = (off + i) / 8;
			z = blob_word(w);
		}
		dst[i] = (uint8_t)(z >> (8 * ((off + i) % 8)));
	}
}

static void blob_init(void)
{
	static uint8_t buf[1 << 16];
	uint32_t crc = 0;

	for (uint64_t off = 0; off < g.blob_size; off += sizeof(buf)) {
		size_t n = g.blob_size - off < sizeof(buf) ? g.blob_size - off
							  : sizeof(buf);

		blob_fill(buf, off, n);
		crc = crc_update(crc, buf, n);
	}
	g.blob_crc = crc;
	snprintf(g.blob_text, sizeof(g.blob_text), "%08x %llu\n", crc,
		 (unsigned long long)g.blob_size);
}

/* Internet checksum of @len bytes, continuing from @sum (unfolded). */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* UDP checksum with the IPv4 pseudo-header; @udp covers header + data. */
static uint16_t udp_csum(const uint8_t *src, const uint8_t *dst,
			 const uint8_t *udp, size_t len)
{
	uint32_t sum = csum_add(0, src, 4);

	sum = csum_add(sum, dst, 4);
	sum += 17 + (uint32_t)len;
	return csum_fold(csum_add(sum, udp, len));
}

static void send_frame(size_t len)
{
	if (sendto(g.fd, g.out, len, 0, (struct sockaddr *)&g.peer,
		   sizeof(g.peer)) < 0)
		fprintf(stderr, "virtio_responder: send: %s\n", strerror(errno));
}

/* Ethernet + IPv4 headers into g.out for @payload bytes after them. */
static uint8_t *ip_header(const uint8_t *dst_mac, uint32_t dst_ip,
			  uint8_t proto, size_t payload)
{
	uint8_t *ip = g.out + ETH_HLEN;

	memcpy(g.out, dst_mac, 6);
	memcpy(g.out + 6, g.mac, 6);
	put16(g.out + 12, 0x0800);
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_HLEN + payload));
	put16(ip + 4, g.ip_id++);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &g.ip, 4);
	memcpy(ip + 16, &dst_ip, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
	return ip + IP_HLEN;
}

/* A UDP datagram whose @len payload bytes the caller put at the result. */
static uint8_t *udp_begin(void)
{
	return g.out + ETH_HLEN + IP_HLEN + UDP_HLEN;
}

static void udp_send(const uint8_t *mac, uint32_t ip, uint16_t sport,
		     uint16_t dport, size_t len)
{
	uint8_t *udp = ip_header(mac, ip, 17, UDP_HLEN + len);
	uint16_t c;

	put16(udp, sport);
	put16(udp + 2, dport);
	put16(udp + 4, (uint16_t)(UDP_HLEN + len));
	put16(udp + 6, 0);
	c = udp_csum(g.out + ETH_HLEN + 12, g.out + ETH_HLEN + 16, udp,
		     UDP_HLEN + len);
	put16(udp + 6, c ? c : 0xffff);
	send_frame(ETH_HLEN + IP_HLEN + UDP_HLEN + len);
}

static void arp(const uint8_t *f, size_t len)
{
	const uint8_t *a = f + ETH_HLEN;
	uint8_t *r = g.out + ETH_HLEN;

	if (len < ETH_HLEN + 28 || get16(a) != 1 || get16(a + 2) != 0x0800 ||
	    a[4] != 6 || a[5] != 4 || get16(a + 6) != 1 ||
	    memcmp(a + 24, &g.ip, 4) != 0) {
		g.st.ignored++;
		return;
	}
	memcpy(g.out, a + 8, 6);
	memcpy(g.out + 6, g.mac, 6);
	put16(g.out + 12, 0x0806);
	memcpy(r, a, 6);          /* htype, ptype, hlen, plen */
	put16(r + 6, 2);          /* reply */
	memcpy(r + 8, g.mac, 6);
	memcpy(r + 14, &g.ip, 4);
	memcpy(r + 18, a + 8, 10); /* the asker's hardware and IP address */
	g.st.arp++;
	send_frame(ETH_HLEN + 28);
}

static void echo(const uint8_t *f, const uint8_t *ip, const uint8_t *icmp,
		 size_t len)
{
	uint32_t src;
	uint8_t *r;

	if (csum_fold(csum_add(0, icmp, len)) != 0) {
		g.st.bad_csum++;
		return;
	}
	if (len < 8 || icmp[0] != 8) {
		g.st.ignored++;
		return;
	}
	memcpy(&src, ip + 12, 4);
	r = ip_header(f + 6, src, 1, len);
	memcpy(r, icmp, len);
	r[0] = 0;
	put16(r + 2, 0);
	put16(r + 2, csum_fold(csum_add(0, r, len)));
	g.st.echo++;
	send_frame(ETH_HLEN + IP_HLEN + len);
}

/* TFTP. */

static void tftp_error(const uint8_t *mac, uint32_t ip, uint16_t sport,
		       uint16_t dport, uint16_t code, const char *msg)
{
	uint8_t *p = udp_begin();
	size_t n = strlen(msg) + 1;

	put16(p, OP_ERROR);
	put16(p + 2, code);
	memcpy(p + 4, msg, n);
	udp_send(mac, ip, sport, dport, 4 + n);
}

static void x_send(size_t len)
{
	udp_send(g.x.mac, g.x.ip, g.x.tid, g.x.port, len);
}

static size_t x_size(void)
{
	return g.x.text ? strlen(g.x.text) : g.x.size;
}

/* Send (or send again) data block g.x.block. */
static void get_send_block(void)
{
	uint8_t *p = udp_begin();
	uint64_t off = (uint64_t)(g.x.block - 1) * g.x.blksize;
	size_t n = off >= x_size() ? 0 : x_size() - off;

	if (n > g.x.blksize)
		n = g.x.blksize;
	put16(p, OP_DATA);
	put16(p + 2, (uint16_t)g.x.block);
	if (g.x.text)
		memcpy(p + 4, g.x.text + off, n);
	else
		blob_fill(p + 4, off, n);
	g.x.last = n < g.x.blksize;
	g.x.off = off + n;
	x_send(4 + n);
}

static void get_ack(uint16_t block)
{
	if (block != (uint16_t)g.x.block) {
		g.st.dup_ack++; /* never answered: no Sorcerer's Apprentice */
		return;
	}
	if (g.x.last) {
		g.x.done = true;
		g.st.bytes_out += x_size();
		printf("virtio_responder: sent %s, %zu bytes\n", g.x.name, x_size());
		return;
	}
	g.x.block++;
	get_send_block();
}

static void put_data(const uint8_t *p, size_t len)
{
	uint16_t block = get16(p);
	uint8_t *a = udp_begin();

	if (block == (uint16_t)(g.x.block + 1) && !g.x.done) {
		g.x.crc = crc_update(g.x.crc, p + 2, len - 2);
		g.x.len += len - 2;
		g.x.block++;
	} else if (block == (uint16_t)g.x.block) {
		g.st.dup_data++; /* our ACK was late or lost: acknowledge again */
	} else {
		g.st.bad_proto++;
		return;
	}
	put16(a, OP_ACK);
	put16(a + 2, block);
	x_send(4);
	if (block == (uint16_t)g.x.block && len - 2 < g.x.blksize && !g.x.done) {
		g.x.done = true;
		g.st.bytes_in += g.x.len;
		snprintf(g.up_name, sizeof(g.up_name), "%s", g.x.name);
		snprintf(g.up_text, sizeof(g.up_text), "%08x %llu\n", g.x.crc,
			 (unsigned long long)g.x.len);
		printf("virtio_responder: received %s, %llu bytes, crc32 %08x%s\n",
		       g.x.name, (unsigned long long)g.x.len, g.x.crc,
		       g.x.crc == g.blob_crc && g.x.len == g.blob_size ?
		       " (= blob)" : "");
	}
}

/* A packet to the transfer's port. */
static void tftp_transfer(const uint8_t *p, size_t len, uint16_t sport)
{
	if (!g.x.active || sport != g.x.port || len < 4) {
		g.st.bad_proto++;
		return;
	}
	if (get16(p) == OP_ACK && !g.x.put && g.x.done)
		g.st.dup_ack++;
	else if (get16(p) == OP_ACK && !g.x.put)
		get_ack(get16(p + 2));
	else if (get16(p) == OP_DATA && g.x.put && len - 4 <= g.x.blksize)
		put_data(p + 2, len - 2);
	else
		g.st.bad_proto++;
}

/*
 * "opt\0val\0" pairs after the mode: blksize and tsize are honoured, each
 * once (the acknowledgement in @oack, 128 bytes, then always fits).
 */
static void tftp_options(const char *p, const char *end, char *oack,
			 size_t *olen, bool put)
{
	bool blk = false, tsize = false;

	while (p < end) {
		const char *opt = p, *val = opt + strnlen(opt, (size_t)(end - opt)) + 1;
		size_t vlen;
		unsigned long v;

		if (val >= end)
			break;
		vlen = strnlen(val, (size_t)(end - val));
		if (vlen == (size_t)(end - val))
			break; /* unterminated: ignore the rest */
		p = val + vlen + 1;
		v = strtoul(val, NULL, 10);
		if (strcasecmp(opt, "blksize") == 0 && v >= 8 && !blk) {
			blk = true;
			g.x.blksize = v > TFTP_MAX_BLK ? TFTP_MAX_BLK : (uint32_t)v;
			*olen += (size_t)sprintf(oack + *olen, "blksize%c%u%c", 0,
						 g.x.blksize, 0);
		} else if (strcasecmp(opt, "tsize") == 0 && !tsize) {
			tsize = true;
			*olen += (size_t)sprintf(oack + *olen, "tsize%c%llu%c", 0,
						 put ? (unsigned long long)v :
						 (unsigned long long)x_size(), 0);
		}
	}
}

/* The file a get asks for: 0, or -ENOENT. */
static int get_open(const char *name)
{
	size_t n = strlen(name);

	g.x.text = NULL;
	g.x.size = 0;
	if (strcmp(name, "blob") == 0) {
		g.x.size = g.blob_size;
		return 0;
	}
	if (strcmp(name, "boot") == 0) {
		snprintf(g.boot_text, sizeof(g.boot_text), "%u\n", ++g.boots);
		g.x.text = g.boot_text;
		return 0;
	}
	if (n > 4 && strcmp(name + n - 4, ".crc") == 0) {
		if (strncmp(name, "blob", n - 4) == 0 && n - 4 == 4)
			g.x.text = g.blob_text;
		else if (strncmp(name, g.up_name, n - 4) == 0 &&
			 strlen(g.up_name) == n - 4 && g.up_text[0])
			g.x.text = g.up_text;
		return g.x.text ? 0 : -ENOENT;
	}
	return -ENOENT;
}

static void tftp_request(const uint8_t *f, uint32_t src, const uint8_t *p,
			 size_t len, uint16_t sport)
{
	const char *name = (const char *)p + 2, *end = (const char *)p + len;
	const char *mode = name + strnlen(name, (size_t)(end - name)) + 1;
	uint16_t op = get16(p);
	char oack[128];
	size_t olen = 0;

	if (mode >= end || strnlen(mode, (size_t)(end - mode)) == (size_t)(end - mode)) {
		g.st.bad_proto++;
		return;
	}
	g.x = (struct xfer){ .active = true, .put = op == OP_WRQ, .ip = src,
			     .port = sport, .blksize = 512,
			     .tid = (uint16_t)(TFTP_TID_BASE + g.next_tid++ % 1000) };
	memcpy(g.x.mac, f + 6, 6);
	snprintf(g.x.name, sizeof(g.x.name), "%s", name);
	if (!g.x.put && get_open(g.x.name) < 0) {
		g.x.active = false;
		tftp_error(f + 6, src, g.x.tid, sport, 1, "file not found");
		return;
	}
	tftp_options(mode + strlen(mode) + 1, end, oack, &olen, g.x.put);
	g.st.tftp_get += !g.x.put;
	g.st.tftp_put += g.x.put;
	if (olen > 0) { /* OACK; a get waits for ACK 0 */
		uint8_t *o = udp_begin();

		put16(o, OP_OACK);
		memcpy(o + 2, oack, olen);
		x_send(2 + olen);
	} else if (g.x.put) {
		uint8_t *a = udp_begin();

		put16(a, OP_ACK);
		put16(a + 2, 0);
		x_send(4);
	} else {
		g.x.block = 1;
		get_send_block();
	}
}

static void udp(const uint8_t *f, const uint8_t *ip, const uint8_t *u,
		size_t len)
{
	uint16_t sport, dport;
	uint32_t src;

	if (len < UDP_HLEN || get16(u + 4) != len) {
		g.st.bad_proto++;
		return;
	}
	sport = get16(u);
	dport = get16(u + 2);
	if (get16(u + 6) != 0 && udp_csum(ip + 12, ip + 16, u, len) != 0) {
		g.st.bad_csum++;
		return;
	}
	memcpy(&src, ip + 12, 4);
	if (dport == TFTP_PORT && len >= UDP_HLEN + 4 &&
	    (get16(u + 8) == OP_RRQ || get16(u + 8) == OP_WRQ))
		tftp_request(f, src, u + UDP_HLEN, len - UDP_HLEN, sport);
	else if (g.x.active && dport == g.x.tid)
		tftp_transfer(u + UDP_HLEN, len - UDP_HLEN, sport);
	else
		g.st.ignored++;
}

static void ipv4(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + ETH_HLEN;
	size_t ihl, total;

	if (len < ETH_HLEN + IP_HLEN || (ip[0] >> 4) != 4) {
		g.st.ignored++;
		return;
	}
	ihl = (ip[0] & 15u) * 4;
	total = get16(ip + 2);
	if (ihl < IP_HLEN || total < ihl || total > len - ETH_HLEN) {
		g.st.bad_proto++;
		return;
	}
	if (csum_fold(csum_add(0, ip, ihl)) != 0) {
		g.st.bad_csum++;
		return;
	}
	/* Not for us, or a fragment (the test never needs them). */
	if (memcmp(ip + 16, &g.ip, 4) != 0 || (get16(ip + 6) & 0x3fff)) {
		g.st.ignored++;
		return;
	}
	if (ip[9] == 1)
		echo(f, ip, ip + ihl, total - ihl);
	else if (ip[9] == 17)
		udp(f, ip, ip + ihl, total - ihl);
	else
		g.st.ignored++;
}

static void frame(const uint8_t *f, size_t len)
{
	g.st.frames++;
	if (len < ETH_HLEN) {
		g.st.bad_proto++;
		return;
	}
	if (get16(f + 12) == 0x0806)
		arp(f, len);
	else if (get16(f + 12) == 0x0800)
		ipv4(f, len);
	else
		g.st.ignored++;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static int parse_opts(int argc, char **argv, const char **bind_path)
{
	static const struct option lo[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "peer", required_argument, NULL, 'p' },
		{ "ip", required_argument, NULL, 'i' },
		{ "mac", required_argument, NULL, 'm' },
		{ "blob-size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *peer = NULL;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b': *bind_path = optarg; break;
		case 'p': peer = optarg; break;
		case 'i': err |= inet_pton(AF_INET, optarg, &g.ip) != 1; break;
		case 'm': err |= parse_mac(optarg, g.mac) < 0; break;
		case 's': g.blob_size = strtoull(optarg, NULL, 0); break;
		default: err = 1; break;
		}
	}
	if (err || optind != argc || *bind_path == NULL || peer == NULL ||
	    make_addr(peer, &g.peer) < 0)
		return -EINVAL;
	return 0;
}

static int open_socket(const char *path)
{
	struct sockaddr_un sa;
	int sz = 4 << 20;

	if (make_addr(path, &sa) < 0)
		return -ENAMETOOLONG;
	g.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (g.fd < 0)
		return -errno;
	unlink(path);
	if (bind(g.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	setsockopt(g.fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return 0;
}

static void print_stats(void)
{
	const struct stats *s = &g.st;

	printf("virtio_responder: %llu frames: %llu arp, %llu echo, %llu tftp get, "
	       "%llu tftp put, %llu ignored; %llu bytes out, %llu in; %llu resent, "
	       "%llu duplicate data, %llu duplicate acks; %llu bad checksums, "
	       "%llu protocol errors\n", s->frames, s->arp, s->echo, s->tftp_get,
	       s->tftp_put, s->ignored, s->bytes_out, s->bytes_in, s->resent,
	       s->dup_data, s->dup_ack, s->bad_csum, s->bad_proto);
}

/* Nothing came for a while during a get: our block may be lost. */
static void on_timeout(void)
{
	if (g.x.active && !g.x.put && !g.x.done && g.x.block > 0) {
		g.st.resent++;
		get_send_block();
	}
}

static void serve(void)
{
	static uint8_t buf[MAX_FRAME];
	struct pollfd pfd = { .fd = g.fd, .events = POLLIN };

	while (!stopping) {
		int r = poll(&pfd, 1, RESEND_MS);
		ssize_t n;

		if (r == 0)
			on_timeout();
		if (r <= 0)
			continue;
		n = recv(g.fd, buf, sizeof(buf), 0);
		if (n >= 0)
			frame(buf, (size_t)n);
	}
}

int main(int argc, char **argv)
{
	const char *bind_path = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	g.ip = htonl(0x0a000201); /* 10.0.2.1 */
	memcpy(g.mac, "\x02\x00\x00\x00\x0a\x01", 6);
	g.blob_size = 64u << 20;
	if (parse_opts(argc, argv, &bind_path) < 0) {
		fprintf(stderr, "usage: virtio_responder --bind PATH --peer PATH "
			"[--ip A.B.C.D] [--mac MAC] [--blob-size BYTES]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	crc_init();
	blob_init();
	ret = open_socket(bind_path);
	if (ret < 0) {
		fprintf(stderr, "virtio_responder: %s: %s\n", bind_path, strerror(-ret));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("virtio_responder: ready; blob %llu bytes crc32 %08x\n",
	       (unsigned long long)g.blob_size, g.blob_crc);
	serve();
	print_stats();
	close(g.fd);
	unlink(bind_path);
	return g.st.bad_csum || g.st.bad_proto ? 1 : 0;
}
