/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vus-ctl-rpc: vus-ctl as a client of a device server's management plane
 * (JSON-RPC 2.0, one JSON text per line; doc/management.md):
 *
 *   vus-ctl --rpc PATH [--json] [--timeout MS] METHOD [PARAMS]
 *
 * PARAMS is one JSON object ('{"inputs": 255}') or words NAME=VALUE, each
 * VALUE a JSON value (true, 12, "text"), a 0x hex number, or else taken
 * as a string. Prints the result readably, or with --json the response
 * line exactly as the server sent it. An error response goes to stderr
 * (code, message, data) and the exit status is 1. GPL-2.0-or-later with
 * the rest of vus-ctl.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vus-ctl.h"

#define REPLY_MAX (16u << 20) /* a reply line; the server's bound is 1 MiB */

/* @s as one whole strict JSON text, or NULL. */
static struct json_object *parse_whole(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL;
	size_t len = strlen(s);

	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	/* With its NUL: a number at the end is complete only then. */
	o = json_tokener_parse_ex(tok, s, (int)len + 1);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) < len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* NAME=VALUE: VALUE as JSON if it is one, 0x.. as a number, else text. */
static struct json_object *word_value(const char *v)
{
	struct json_object *o;
	char *end;

	if (strncmp(v, "0x", 2) == 0 || strncmp(v, "0X", 2) == 0) {
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &end, 16);
		if (errno == 0 && *end == '\0' && end != v + 2)
			return json_object_new_uint64(n);
	}
	o = v[0] != '\0' ? parse_whole(v) : NULL;
	return o != NULL ? o : json_object_new_string(v);
}

/* The params object from the words after METHOD, or NULL (message said). */
static struct json_object *build_params(int argc, char **argv)
{
	struct json_object *p;

	if (argc == 1 && (argv[0][0] == '{' || argv[0][0] == '[')) {
		p = parse_whole(argv[0]);
		if (p == NULL)
			ctl_error("PARAMS is not valid JSON: %s", argv[0]);
		return p;
	}
	p = json_object_new_object();
	for (int i = 0; p != NULL && i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		char name[64];

		if (eq == NULL || eq == argv[i] ||
		    (size_t)(eq - argv[i]) >= sizeof(name)) {
			ctl_error("bad parameter '%s': NAME=VALUE or one JSON "
				  "object", argv[i]);
			json_object_put(p);
			return NULL;
		}
		memcpy(name, argv[i], (size_t)(eq - argv[i]));
		name[eq - argv[i]] = '\0';
		if (ctl_json_add(p, name, word_value(eq + 1)) < 0) {
			json_object_put(p);
			p = NULL;
		}
	}
	return p;
}

static int rpc_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One reply line (without its newline) into a new buffer, or -errno. */
static int recv_line(int fd, int timeout_ms, char **out)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;

	while (buf != NULL) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		char *nl;

		if (len + 1 == cap) {
			nb = cap < REPLY_MAX ? realloc(buf, cap * 2) : NULL;
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		if (poll(&p, 1, timeout_ms) == 0) {
			free(buf);
			return -ETIMEDOUT;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0) {
			free(buf);
			return n == 0 ? -ECONNRESET : -errno;
		}
		len += (size_t)n;
		buf[len] = '\0';
		nl = strchr(buf, '\n');
		if (nl != NULL) {
			*nl = '\0';
			*out = buf;
			return 0;
		}
	}
	free(buf);
	return -ENOMEM;
}

static void print_scalar(struct json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		fputs(json_object_get_string(v), stdout);
	else
		fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), stdout);
}

/* Scalars, and empty containers ({} and [] are clearer than nothing). */
static bool is_scalar(struct json_object *v)
{
	if (json_object_is_type(v, json_type_object))
		return json_object_object_length(v) == 0;
	if (json_object_is_type(v, json_type_array))
		return json_object_array_length(v) == 0;
	return true;
}

static void print_value(struct json_object *v, int indent);
static void print_members(struct json_object *o, int indent);

/* An array of scalars on one line; of containers, one "-" item each. */
static void print_array(struct json_object *a, int indent)
{
	size_t n = json_object_array_length(a);
	bool flat = true;

	for (size_t i = 0; i < n; i++)
		flat = flat && is_scalar(json_object_array_get_idx(a, i));
	if (flat) {
		for (size_t i = 0; i < n; i++) {
			fputs(i ? ", " : " ", stdout);
			print_scalar(json_object_array_get_idx(a, i));
		}
		putchar('\n');
		return;
	}
	putchar('\n');
	for (size_t i = 0; i < n; i++) {
		printf("%*s-", indent, "");
		print_value(json_object_array_get_idx(a, i), indent + 2);
	}
}

/* After a key (or "-"): a scalar on the same line, containers below. */
static void print_value(struct json_object *v, int indent)
{
	if (is_scalar(v)) {
		putchar(' ');
		print_scalar(v);
		putchar('\n');
	} else if (json_object_is_type(v, json_type_array)) {
		print_array(v, indent);
	} else {
		putchar('\n');
		print_members(v, indent);
	}
}

/* Each member of object @o as "key:" at @indent, its value after it. */
static void print_members(struct json_object *o, int indent)
{
	json_object_object_foreach(o, key, val) {
		printf("%*s%s:", indent, "", key);
		print_value(val, indent + 2);
	}
}

static int report(const char *method, struct json_object *r, const char *line)
{
	struct json_object *res, *err;

	if (json_object_object_get_ex(r, "error", &err)) {
		struct json_object *data = NULL, *m = NULL, *e = NULL;

		json_object_object_get_ex(err, "data", &data);
		json_object_object_get_ex(data, "message", &m);
		json_object_object_get_ex(data, "errno", &e);
		fprintf(stderr, "vus-ctl: %s: %s (%d)%s%s%s%s\n", method,
			json_object_get_string(json_object_object_get(err, "message")),
			json_object_get_int(json_object_object_get(err, "code")),
			m ? ": " : "", m ? json_object_get_string(m) : "",
			e ? ", " : "", e ? json_object_get_string(e) : "");
		return 1;
	}
	if (!json_object_object_get_ex(r, "result", &res))
		return ctl_error("%s: not a JSON-RPC response: %s", method, line);
	if (json_object_is_type(res, json_type_object) &&
	    json_object_object_length(res) == 0)
		puts("ok");
	else if (is_scalar(res) || json_object_is_type(res, json_type_array))
		print_value(res, 0);
	else
		print_members(res, 0);
	return 0;
}

/* Send request @text on @fd (closed here); its reply line. */
static int call(int fd, int timeout_ms, const char *text, char **line)
{
	int ret;

	if (fd < 0)
		return fd;
	ret = send_all(fd, text, strlen(text));
	ret = ret ? ret : send_all(fd, "\n", 1);
	ret = ret ? ret : recv_line(fd, timeout_ms, line);
	close(fd);
	return ret;
}

static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v)
						      : NULL;
}

int ctl_rpc_load_error(const struct ctl *x, int timeout_ms, char *buf,
		       size_t len)
{
	static const char req[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"query-status\"}";
	struct json_object *r, *res, *mig, *e;
	const char *sec;
	char *line = NULL;
	int ret = call(rpc_connect(x->rpc), timeout_ms, req, &line);

	if (ret < 0)
		return ret;
	r = json_tokener_parse(line);
	free(line);
	ret = -ENOENT;
	if (json_object_object_get_ex(r, "result", &res) &&
	    json_object_object_get_ex(res, "migration", &mig) &&
	    json_object_object_get_ex(mig, "last-load-error", &e)) {
		sec = member_str(e, "section");
		snprintf(buf, len, "%s%s%s%s: %s (%s)", sec ? "section \"" : "",
			 sec ? sec : "", sec ? "\" " : "", member_str(e, "phase"),
			 member_str(e, "reason"), member_str(e, "errno"));
		ret = 0;
	}
	json_object_put(r);
	return ret;
}

int ctl_rpc(const struct ctl *x, int timeout_ms, int argc, char **argv)
{
	struct json_object *req, *params = NULL, *r;
	const char *text;
	char *line = NULL;
	int fd, ret;

	if (argc < 1)
		return ctl_error("--rpc needs a METHOD (try rpc.discover)");
	if (argc > 1 && (params = build_params(argc - 1, argv + 1)) == NULL)
		return 1;
	req = json_object_new_object();
	if (ctl_json_add(req, "jsonrpc", json_object_new_string("2.0")) < 0 ||
	    ctl_json_add(req, "id", json_object_new_int(1)) < 0 ||
	    ctl_json_add(req, "method", json_object_new_string(argv[0])) < 0 ||
	    (params && ctl_json_add(req, "params", params) < 0)) {
		json_object_put(req);
		return ctl_fail(-ENOMEM, "request");
	}
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	fd = rpc_connect(x->rpc);
	if (fd < 0) {
		json_object_put(req);
		return ctl_fail(fd, "%s", x->rpc);
	}
	ret = call(fd, timeout_ms, text, &line);
	json_object_put(req);
	if (ret < 0)
		return ctl_fail(ret, "%s: %s", x->rpc, argv[0]);
	if (x->json) {
		puts(line);
		r = json_tokener_parse(line);
		ret = r && json_object_object_get_ex(r, "result", NULL) ? 0 : 1;
	} else {
		r = json_tokener_parse(line);
		ret = r ? report(argv[0], r, line)
			: ctl_error("%s: the reply is not JSON: %s", argv[0], line);
	}
	json_object_put(r);
	free(line);
	return ret;
}
