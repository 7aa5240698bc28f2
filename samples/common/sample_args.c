/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sample_args: a command line as a JSON array of strings and back, the
 * configuration a sample hands to the process that takes it over (see
 * sample_cli.h). Only what a command line holds: strings without NUL,
 * escaped as JSON requires; anything else is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample_cli.h"

/* Room for @add more bytes in *buf (length *len, capacity *cap). */
static int grow(char **buf, size_t *cap, size_t len, size_t add)
{
	char *n;

	if (len + add < *cap)
		return 0;
	*cap = (len + add) * 2 + 64;
	n = realloc(*buf, *cap);
	if (n == NULL)
		return -ENOMEM;
	*buf = n;
	return 0;
}

static int put_string(char **buf, size_t *cap, size_t *len, const char *s)
{
	int ret = grow(buf, cap, *len, strlen(s) * 6 + 3);

	if (ret < 0)
		return ret;
	(*buf)[(*len)++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			*len += (size_t)sprintf(*buf + *len, "\\%c", c);
		else if (c < 0x20)
			*len += (size_t)sprintf(*buf + *len, "\\u%04x", c);
		else
			(*buf)[(*len)++] = (char)c;
	}
	(*buf)[(*len)++] = '"';
	(*buf)[*len] = '\0';
	return 0;
}

int sample_args_to_json(int argc, char *const *argv, char **out)
{
	size_t cap = 0, len = 0;
	char *buf = NULL;
	int ret = grow(&buf, &cap, 0, 3);

	for (int i = 0; ret == 0 && i < argc; i++) {
		ret = grow(&buf, &cap, len, 2);
		if (ret == 0)
			buf[len++] = i ? ',' : '[';
		ret = ret ? ret : put_string(&buf, &cap, &len, argv[i]);
	}
	if (ret == 0) {
		if (argc == 0)
			buf[len++] = '[';
		buf[len++] = ']';
		buf[len] = '\0';
		*out = buf;
	} else {
		free(buf);
	}
	return ret;
}

/* One JSON string at *p (past its opening quote) into a new string. */
static int get_string(const char **p, char **out)
{
	size_t n = 0;
	char *s = malloc(strlen(*p) + 1);
	const char *q = *p;

	if (s == NULL)
		return -ENOMEM;
	for (; *q != '"'; q++) {
		unsigned int u;

		if (*q == '\0' || (unsigned char)*q < 0x20)
			break;
		if (*q != '\\') {
			s[n++] = *q;
			continue;
		}
		q++;
		if (*q == '"' || *q == '\\' || *q == '/')
			s[n++] = *q;
		else if (*q == 'u' && strspn(q + 1, "0123456789abcdefABCDEF") >= 4 &&
			 sscanf(q + 1, "%4x", &u) == 1 && u > 0 && u < 0x20) {
			s[n++] = (char)u;
			q += 4;
		} else {
			break;
		}
	}
	if (*q != '"') {
		free(s);
		return -EINVAL;
	}
	s[n] = '\0';
	*p = q + 1;
	*out = s;
	return 0;
}

int sample_args_from_json(const char *json, int *argc, char ***argv)
{
	const char *p = json;
	char **v = NULL;
	int n = 0, ret = 0;

	if (*p++ != '[')
		return -EINVAL;
	while (ret == 0 && *p != ']') {
		char **nv = realloc(v, (size_t)(n + 2) * sizeof(*v));

		if (nv == NULL || (n > 0 && *p++ != ',') || *p++ != '"') {
			v = nv ? nv : v;
			ret = nv ? -EINVAL : -ENOMEM;
			break;
		}
		v = nv;
		ret = get_string(&p, &v[n]);
		n += ret == 0;
	}
	if (ret == 0 && (p[0] != ']' || p[1] != '\0'))
		ret = -EINVAL;
	if (ret < 0) {
		sample_args_free(n, v);
		return ret;
	}
	if (v == NULL && (v = malloc(sizeof(*v))) == NULL)
		return -ENOMEM;
	v[n] = NULL;
	*argc = n;
	*argv = v;
	return 0;
}

void sample_args_free(int argc, char **argv)
{
	for (int i = 0; argv != NULL && i < argc; i++)
		free(argv[i]);
	free(argv);
}
