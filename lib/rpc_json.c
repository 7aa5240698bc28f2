/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rpc_json: the strict parser for management requests. json-c does the
 * parsing (strict mode, UTF-8 checked, depth bounded); a lexical pass
 * first refuses what json-c would take although JSON does not allow it or
 * we could not answer it exactly: NaN and Infinity, single quotes,
 * malformed numbers, and integers beyond 64 bits (json-c would clamp
 * them, so a huge id would be echoed as another number and a huge
 * parameter would turn into its maximum). RFC 8259 lets a parser limit
 * the range of numbers; we limit integers to [-2^63, 2^64 - 1].
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common.h"
#include "rpc_priv.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Whether the integer digits @d[0..n) (no leading zeros) fit: up to
 * 18446744073709551615 when positive, 9223372036854775808 when negative.
 */
static bool int_fits(const char *d, size_t n, bool neg)
{
	const char *lim = neg ? "9223372036854775808" : "18446744073709551615";
	size_t ln = strlen(lim);

	return n < ln || (n == ln && memcmp(d, lim, n) <= 0);
}

/*
 * The number at @t[*i] (JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?); moves *i past it. 0, or -EINVAL (malformed),
 * -ERANGE (an integer beyond 64 bits).
 */
static int lex_number(const char *t, size_t len, size_t *i)
{
	size_t p = *i, d0;
	bool neg = false, frac = false;

	if (t[p] == '-') {
		neg = true;
		p++;
	}
	d0 = p;
	if (p >= len || !is_digit(t[p]))
		return -EINVAL;
	if (t[p] == '0')
		p++;
	else
		while (p < len && is_digit(t[p]))
			p++;
	if (p < len && t[p] == '.') {
		frac = true;
		if (++p >= len || !is_digit(t[p]))
			return -EINVAL;
		while (p < len && is_digit(t[p]))
			p++;
	}
	if (p < len && (t[p] == 'e' || t[p] == 'E')) {
		frac = true;
		if (++p < len && (t[p] == '+' || t[p] == '-'))
			p++;
		if (p >= len || !is_digit(t[p]))
			return -EINVAL;
		while (p < len && is_digit(t[p]))
			p++;
	}
	if (!frac && !int_fits(t + d0, p - d0, neg))
		return -ERANGE;
	*i = p;
	return 0;
}

/* The word at @t[*i]: only true, false and null are JSON. */
static int lex_word(const char *t, size_t len, size_t *i)
{
	size_t p = *i, n;

	while (p < len && is_alpha(t[p]))
		p++;
	n = p - *i;
	if (!((n == 4 && memcmp(t + *i, "true", 4) == 0) ||
	      (n == 5 && memcmp(t + *i, "false", 5) == 0) ||
	      (n == 4 && memcmp(t + *i, "null", 4) == 0)))
		return -EINVAL;
	*i = p;
	return 0;
}

/* Past the string starting at @t[*i] (its quote); json-c checks inside. */
static void skip_string(const char *t, size_t len, size_t *i)
{
	size_t p = *i + 1;

	while (p < len && t[p] != '"')
		p += t[p] == '\\' ? 2 : 1;
	*i = p + 1;
}

/* Everything outside strings: 0, or -errno with *at the bad byte. */
static int lex_check(const char *t, size_t len, size_t *at)
{
	size_t i = 0;

	while (i < len) {
		int ret = 0;

		*at = i;
		if (t[i] == '"')
			skip_string(t, len, &i);
		else if (t[i] == '-' || is_digit(t[i]))
			ret = lex_number(t, len, &i);
		else if (is_alpha(t[i]))
			ret = lex_word(t, len, &i);
		else if (t[i] == '\'')
			ret = -EINVAL;
		else
			i++;
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_error(char *msg, size_t cap, const char *what, size_t at)
{
	snprintf(msg, cap, "%s at byte %zu", what, at);
	return -EINVAL;
}

int rpc_json_parse(const char *text, size_t len, struct json_object **out,
		   char *msg, size_t msg_cap)
{
	struct json_tokener *tok;
	enum json_tokener_error err;
	size_t at = 0;
	int ret = lex_check(text, len, &at);

	*out = NULL;
	if (ret == -ERANGE)
		return parse_error(msg, msg_cap, "integer out of 64-bit range", at);
	if (ret < 0 || len > INT32_MAX)
		return parse_error(msg, msg_cap, "invalid JSON", at);
	tok = json_tokener_new_ex(RPC_JSON_DEPTH);
	if (tok == NULL)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT
#ifdef JSON_TOKENER_VALIDATE_UTF8
			       | JSON_TOKENER_VALIDATE_UTF8
#endif
	);
	*out = json_tokener_parse_ex(tok, text, (int)len);
	err = json_tokener_get_error(tok);
	at = json_tokener_get_parse_end(tok);
	/* A bare scalar ("null", "42") only ends where the text ends: say
	 * so with the terminating NUL json-c waits for. */
	if (err == json_tokener_continue && at == len) {
		*out = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
	}
	json_tokener_free(tok);
	/* The text "null" parses to a NULL object: a document all the same. */
	if (err == json_tokener_success && at == len)
		return 0;
	json_object_put(*out);
	*out = NULL;
	if (err == json_tokener_error_depth)
		snprintf(msg, msg_cap, "nesting deeper than %d levels",
			 RPC_JSON_DEPTH);
	else if (err == json_tokener_success || err == json_tokener_continue)
		snprintf(msg, msg_cap, "%s", at == len ? "incomplete JSON"
				       : "more than one JSON text on the line");
	else
		return parse_error(msg, msg_cap, json_tokener_error_desc(err), at);
	return -EINVAL;
}

/* Length of the UTF-8 sequence led by @c, 0 if @c cannot lead one. */
static unsigned int utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

bool rpc_utf8_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		unsigned int n = utf8_len(p[i]);
		uint32_t cp;

		if (n == 0 || n > len - i)
			return false;
		cp = n == 1 ? p[i] : p[i] & (0x7f >> n);
		for (unsigned int k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n;
	}
	return true;
}
