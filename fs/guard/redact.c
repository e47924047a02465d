/*
 * seshfs: secret redaction (see redact.h).
 */
#include "redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/file.h"
#include "../util/regex.h"
#include "../util/text.h"

/* A replacement: literal text, and the groups $1..$9 where they stand. */
struct redact_piece {
	const char *text;	/* literal: into the rule's replacement */
	size_t len;
	int group;		/* 0: literal */
};

struct redact_rule {
	struct regex *re;
	char *replacement;
	struct redact_piece *pieces;
	size_t piece_count;
};

struct redact_rules {
	char *source;
	struct redact_rule *rules;
	size_t count;
	/* Private key blocks (the built-in set): BEGIN and END lines, and what replaces the block. */
	struct regex *block_begin;
	struct regex *block_end;
	struct regex *block_line;	/* a block within one line: the first built-in rule */
	const char *block_replacement;
};

/* A rule's error, before the file and line are put in front. */
#define REDACT_REASON_MAX FILE_REASON_MAX

#define REDACT_KEY_BEGIN "-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
#define REDACT_KEY_END "-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
#define REDACT_KEY_LINE REDACT_KEY_BEGIN ".*?" REDACT_KEY_END
#define REDACT_KEY_REPLACEMENT "[REDACTED PRIVATE KEY]"

/*
 * The built-in set ("default"), most specific first: each rule sees the
 * text the ones before it left. README.md lists them.
 */
static const char *const redact_default[][2] = {
	{ REDACT_KEY_LINE, REDACT_KEY_REPLACEMENT },
	{ "\\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\\b", "[REDACTED AWS KEY]" },
	{ "\\bgh[pousr]_[A-Za-z0-9]{36,255}\\b", "[REDACTED GITHUB TOKEN]" },
	{ "\\bgithub_pat_[A-Za-z0-9_]{22,255}\\b", "[REDACTED GITHUB TOKEN]" },
	{ "\\bglpat-[A-Za-z0-9_-]{20,}", "[REDACTED GITLAB TOKEN]" },
	{ "\\bxox[abposr]-[A-Za-z0-9-]{10,}", "[REDACTED SLACK TOKEN]" },
	{ "\\bsk-ant-[A-Za-z0-9_-]{20,}", "[REDACTED ANTHROPIC KEY]" },
	{ "\\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", "[REDACTED OPENAI KEY]" },
	/*
	 * Caseless, but the first letter as a class: in UTF mode (?i)s also
	 * matches U+017F, and a first letter with three cases is searched
	 * for fifteen times slower. A value a rule above replaced stays.
	 */
	{ "\\b[aA](?i:uthorization\\s*[:=]\\s*[\"']?bearer)\\s+\\K(?!\\[REDACTED)[^\\s\"']+", "[REDACTED]" },
	{ "(?<![A-Za-z0-9])[pP](?i:assw(?:or)?d)\\s*[=:]\\s*[\"']?\\K(?!\\[REDACTED)[^\\s\"'&;,]+", "[REDACTED]" },
	{ "(?<![A-Za-z0-9])[sS](?i:ecret(?:_?key)?)\\s*[=:]\\s*[\"']?\\K(?!\\[REDACTED)[^\\s\"'&;,]+", "[REDACTED]" },
	{ "(?<![A-Za-z0-9])[tT](?i:oken)\\s*[=:]\\s*[\"']?\\K(?!\\[REDACTED)[^\\s\"'&;,]+", "[REDACTED]" },
};

/* Splits replacement into pieces; false if it names a group the pattern lacks. */
static bool rule_pieces(struct redact_rule *rule, char err[REDACT_REASON_MAX])
{
	const char *r = rule->replacement;
	size_t len = strlen(r);

	rule->pieces = calloc(len + 1, sizeof(*rule->pieces));
	if (!rule->pieces) {
		snprintf(err, REDACT_REASON_MAX, "out of memory");
		return false;
	}
	for (size_t i = 0; i < len;) {
		struct redact_piece *p = &rule->pieces[rule->piece_count++];
		if (r[i] == '$' && i + 1 < len && r[i + 1] >= '1' && r[i + 1] <= '9') {
			p->group = r[i + 1] - '0';
			if (p->group > regex_groups(rule->re)) {
				snprintf(err, REDACT_REASON_MAX, "the replacement names $%d, the pattern has %d groups",
					 p->group, regex_groups(rule->re));
				return false;
			}
			i += 2;
		} else if (r[i] == '$' && i + 1 < len && r[i + 1] == '$') {
			p->text = r + i;	/* one dollar */
			p->len = 1;
			i += 2;
		} else {
			const char *dollar = memchr(r + i + 1, '$', len - i - 1);
			size_t end = dollar ? (size_t)(dollar - r) : len;
			p->text = r + i;
			p->len = end - i;
			i = end;
		}
	}
	return true;
}

static bool rules_add(struct redact_rules *rules, const char *pattern, size_t pattern_len, const char *replacement,
		      size_t replacement_len, char err[REDACT_REASON_MAX])
{
	char reason[REGEX_ERR_MAX];
	struct redact_rule *grown = realloc(rules->rules, (rules->count + 1) * sizeof(*grown));

	if (!grown) {
		snprintf(err, REDACT_REASON_MAX, "out of memory");
		return false;
	}
	rules->rules = grown;
	struct redact_rule *rule = &rules->rules[rules->count];
	memset(rule, 0, sizeof(*rule));
	if (!(rule->re = regex_compile(pattern, pattern_len, false, reason))) {
		snprintf(err, REDACT_REASON_MAX, "%s", reason);
		return false;
	}
	rules->count++;	/* from here on freed with the rest */
	if (!(rule->replacement = strndup(replacement, replacement_len))) {
		snprintf(err, REDACT_REASON_MAX, "out of memory");
		return false;
	}
	return rule_pieces(rule, err);
}

static bool rules_add_default(struct redact_rules *rules, char err[REDACT_REASON_MAX])
{
	char reason[REGEX_ERR_MAX];

	for (size_t i = 0; i < sizeof(redact_default) / sizeof(redact_default[0]); i++) {
		const char *pattern = redact_default[i][0];
		const char *replacement = redact_default[i][1];
		if (!rules_add(rules, pattern, strlen(pattern), replacement, strlen(replacement), err))
			return false;
	}
	if (rules->block_begin)
		return true;	/* "default" twice */
	rules->block_begin = regex_compile(REDACT_KEY_BEGIN, strlen(REDACT_KEY_BEGIN), false, reason);
	rules->block_end = regex_compile(REDACT_KEY_END, strlen(REDACT_KEY_END), false, reason);
	rules->block_line = regex_compile(REDACT_KEY_LINE, strlen(REDACT_KEY_LINE), false, reason);
	rules->block_replacement = REDACT_KEY_REPLACEMENT;
	if (!rules->block_begin || !rules->block_end || !rules->block_line) {
		snprintf(err, REDACT_REASON_MAX, "out of memory");
		return false;
	}
	return true;
}

static bool redact_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	}
	return true;
}

/* One line of a rules file; false with the reason in err. */
static bool rules_line(void *ctx, const char *line, size_t len, char err[REDACT_REASON_MAX])
{
	struct redact_rules *rules = ctx;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (redact_blank(line, len) || line[0] == '#')
		return true;
	if (len == strlen("default") && memcmp(line, "default", len) == 0)
		return rules_add_default(rules, err);
	const char *tab = memchr(line, '\t', len);
	if (!tab) {
		snprintf(err, REDACT_REASON_MAX, "expected REGEX<TAB>REPLACEMENT or default");
		return false;
	}
	if (tab == line) {
		snprintf(err, REDACT_REASON_MAX, "empty pattern");
		return false;
	}
	const char *replacement = tab + 1;
	size_t replacement_len = len - (size_t)(replacement - line);
	if (memchr(replacement, '\n', replacement_len) || !text_valid_utf8(line, len)) {
		snprintf(err, REDACT_REASON_MAX, "not valid UTF-8");
		return false;
	}
	return rules_add(rules, line, (size_t)(tab - line), replacement, replacement_len, err);
}

struct redact_rules *redact_parse(const char *text, size_t len, const char *name, char err[REDACT_ERR_MAX])
{
	struct redact_rules *rules = calloc(1, sizeof(*rules));

	if (!rules || !(rules->source = strdup(name))) {
		snprintf(err, REDACT_ERR_MAX, "%s: out of memory", name);
		goto fail;
	}
	if (!file_each_line(text, len, name, rules_line, rules, err, REDACT_ERR_MAX))
		goto fail;
	if (rules->count == 0) {
		snprintf(err, REDACT_ERR_MAX, "%s: no rules", name);
		goto fail;
	}
	return rules;
fail:
	redact_free(rules);
	return NULL;
}

struct redact_rules *redact_load(const char *arg, char err[REDACT_ERR_MAX])
{
	char *text;
	size_t len;
	char why[FILE_ERR_MAX];

	if (strcmp(arg, "default") == 0)
		return redact_parse("default\n", strlen("default\n"), "default", err);
	if (file_read_all(arg, &text, &len, why) < 0) {
		snprintf(err, REDACT_ERR_MAX, "%s", why);
		return NULL;
	}
	struct redact_rules *rules = redact_parse(text, len, arg, err);
	free(text);
	return rules;
}

const char *redact_source(const struct redact_rules *rules)
{
	return rules->source;
}

void redact_free(struct redact_rules *rules)
{
	if (!rules)
		return;
	for (size_t i = 0; i < rules->count; i++) {
		regex_free(rules->rules[i].re);
		free(rules->rules[i].replacement);
		free(rules->rules[i].pieces);
	}
	free(rules->rules);
	regex_free(rules->block_begin);
	regex_free(rules->block_end);
	regex_free(rules->block_line);
	free(rules->source);
	free(rules);
}

/* ---- applying rules ---- */

/* A growing output: one of the stream's scratch buffers. */
struct redact_out {
	char **data;
	size_t *size;
	size_t len;
	size_t limit;		/* 0: none */
	bool failed;
};

/*
 * Rules whose replacements are longer than their matches, one after
 * another, could grow a text without bound (x* inserts between every
 * byte): all the rules together may make it at most this much longer, or
 * the text is dropped as if memory ran out, never shown unredacted.
 */
#define REDACT_GROWTH(len) (4 * (len) + 4096)

static void out_add(struct redact_out *o, const char *text, size_t len)
{
	if (o->failed || len == 0)
		return;
	if (o->limit && o->len + len > o->limit) {
		o->failed = true;
		return;
	}
	if (o->len + len > *o->size) {
		size_t size = *o->size ? *o->size : 256;
		while (size < o->len + len)
			size *= 2;
		char *grown = realloc(*o->data, size);
		if (!grown) {
			o->failed = true;
			return;
		}
		*o->data = grown;
		*o->size = size;
	}
	memcpy(*o->data + o->len, text, len);
	o->len += len;
}

/*
 * The leftmost match at from or later that stays within one line: a match
 * whose text (from where it began, before any \K) crosses a newline is
 * searched again within that first line alone. spans[REGEX_SPANS_MAX] is
 * where the matched text began.
 */
static int rule_search(const struct redact_rule *rule, const char *text, size_t len, size_t from,
		       struct regex_span spans[REGEX_SPANS_MAX + 1])
{
	while (from <= len) {
		int ret = regex_search(rule->re, text, len, from, spans, REGEX_SPANS_MAX + 1);
		if (ret <= 0)
			return ret;
		size_t began = spans[REGEX_SPANS_MAX].start;
		const char *nl = memchr(text + began, '\n', spans[0].end - began);
		if (!nl)
			return 1;
		const char *line = text + began;
		while (line > text && line[-1] != '\n')
			line--;
		size_t base = (size_t)(line - text);
		ret = regex_search(rule->re, line, (size_t)(nl - line), began - base, spans, REGEX_SPANS_MAX + 1);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			for (int i = 0; i <= REGEX_SPANS_MAX; i++) {
				if (spans[i].start != REGEX_UNSET) {
					spans[i].start += base;
					spans[i].end += base;
				}
			}
			return 1;
		}
		from = (size_t)(nl - text) + 1;
	}
	return 0;
}

static void rule_replace(const struct redact_rule *rule, const char *text, const struct regex_span *spans,
			 struct redact_out *o)
{
	for (size_t i = 0; i < rule->piece_count; i++) {
		const struct redact_piece *p = &rule->pieces[i];
		if (p->group == 0)
			out_add(o, p->text, p->len);
		else if (spans[p->group].start != REGEX_UNSET)
			out_add(o, text + spans[p->group].start, spans[p->group].end - spans[p->group].start);
	}
}

/* ---- terminal escapes ---- */

#define ESC '\033'

/* An escape sequence in a text. */
struct redact_escape {
	size_t start, end;
	size_t body, body_end;	/* a string's contents (OSC, DCS ...); else empty, at end */
	bool open;		/* cut short: the byte after it ended it */
};

/*
 * The escape sequence at text[0], an ESC (ECMA-48, as terminals read it),
 * offsets from text: CSI (ESC [, parameters, intermediates, a final byte),
 * a string (OSC, DCS, SOS, PM, APC) up to BEL or ST, or ESC, intermediates
 * and a final byte (ESC ( B, ESC 7). A sequence cut short ends before the
 * byte that does not fit it; none takes in a newline, so lines stay lines.
 */
static void escape_scan(const char *text, size_t len, struct redact_escape *e)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t i;

	if (len >= 2 && (p[1] == ']' || p[1] == 'P' || p[1] == 'X' || p[1] == '^' || p[1] == '_')) {
		e->body = 2;
		for (i = 2; i < len && p[i] != '\n' && p[i] != '\a' && p[i] != ESC; i++)
			;
		e->body_end = i;
		e->open = false;
		if (i < len && p[i] == '\a')
			i++;
		else if (i + 1 < len && p[i] == ESC && p[i + 1] == '\\')
			i += 2;	/* ST; another ESC starts a new sequence, which ends this one */
		else
			e->open = true;
		e->end = i;
		return;
	}
	if (len >= 2 && p[1] == '[') {
		for (i = 2; i < len && p[i] >= 0x30 && p[i] <= 0x3f; i++)
			;
		for (; i < len && p[i] >= 0x20 && p[i] <= 0x2f; i++)
			;
		e->open = !(i < len && p[i] >= 0x40 && p[i] <= 0x7e);
	} else {
		for (i = 1; i < len && p[i] >= 0x20 && p[i] <= 0x2f; i++)
			;
		e->open = !(i < len && p[i] >= 0x30 && p[i] <= 0x7e);
	}
	i += !e->open;
	e->end = e->body = e->body_end = i;
}

/* Where a rule is searched: a text, or what a terminal shows of it. */
struct redact_view {
	const char *text;
	size_t len;
	const size_t *at;	/* NULL: the text itself; else where byte i (and the end) stands in the text */
	const struct redact_escape *escapes;	/* what was taken out, in order */
	size_t escape_count;
};

/*
 * buffer (have items of size bytes) grown to hold count, doubling: the
 * buffer to use, or NULL when out of memory (then buffer stays as it was).
 */
static void *shown_grow(void *buffer, size_t *have, size_t count, size_t size)
{
	if (count <= *have)
		return buffer;
	size_t want = 2 * *have > count ? 2 * *have : count;
	void *grown = realloc(buffer, want * size);
	if (grown)
		*have = want;
	return grown;
}

/* text[0..len) with its escape sequences taken out, in rs's buffers; false when out of memory. */
static bool view_shown(struct redact_stream *rs, const char *text, size_t len, struct redact_view *v)
{
	size_t n = 0, count = 0;
	char *shown = shown_grow(rs->shown, &rs->shown_size, len + 1, 1);

	if (!shown)
		return false;
	rs->shown = shown;
	size_t *at = shown_grow(rs->shown_at, &rs->shown_at_size, len + 1, sizeof(*at));
	if (!at)
		return false;
	rs->shown_at = at;
	for (size_t i = 0; i < len;) {
		if (text[i] != ESC) {
			shown[n] = text[i];
			at[n++] = i++;
			continue;
		}
		struct redact_escape *escapes = shown_grow(rs->escapes, &rs->escapes_size, count + 1, sizeof(*escapes));
		if (!escapes)
			return false;
		rs->escapes = escapes;
		struct redact_escape *e = &escapes[count++];
		escape_scan(text + i, len - i, e);
		e->start = i;
		e->end += i;
		e->body += i;
		e->body_end += i;
		i = e->end;
	}
	at[n] = len;
	v->text = shown;
	v->len = n;
	v->at = at;
	v->escapes = rs->escapes;
	v->escape_count = count;
	return true;
}

/* The last escape sequence that starts before at, or NULL. */
static const struct redact_escape *escape_before(const struct redact_view *shown, size_t at)
{
	size_t low = 0, high = shown->escape_count;

	while (low < high) {	/* the first that starts at at or later */
		size_t mid = low + (high - low) / 2;
		if (shown->escapes[mid].start < at)
			low = mid + 1;
		else
			high = mid;
	}
	return low > 0 ? &shown->escapes[low - 1] : NULL;
}

/* The escape sequence that at lies inside of (after its first byte), or NULL. */
static const struct redact_escape *escape_around(const struct redact_view *shown, size_t at)
{
	const struct redact_escape *e = escape_before(shown, at);

	return e && at < e->end ? e : NULL;
}

/* A rule's next match in a view: its groups in the view, its span in the text. */
struct redact_match {
	struct regex_span spans[REGEX_SPANS_MAX + 1];
	size_t start, end;
	size_t view_from;	/* where the last search began in the view (from only grows) */
	bool found;
};

/*
 * A match in the text as it is may take in whole escape sequences, or lie
 * within a string's contents, but never cut one, or what a terminal shows
 * of the rest would change: one that starts inside a sequence (not in a
 * string's contents) takes all of it in; one that ends inside a sequence
 * ends where it starts (or a string's contents end), its groups with it.
 * False: nothing is left, an empty match inside a sequence, or one in a
 * sequence that starts before from.
 */
static bool match_clip(const struct redact_view *shown, size_t from, struct redact_match *m)
{
	const struct redact_escape *inside = escape_around(shown, m->start);
	size_t end = m->end;

	if (inside && (m->start < inside->body || m->start > inside->body_end)) {
		if (m->start == m->end || inside->start < from)
			return false;	/* nothing to take in, or written already */
		m->start = inside->start;
		if (end < inside->end)
			end = m->end = inside->end;
		inside = NULL;
	}
	if (inside && end > inside->body_end)
		end = inside->body_end;
	const struct redact_escape *cut = inside ? NULL : escape_around(shown, end);
	if (cut)
		end = cut->start;
	if (end == m->end)
		return true;
	if (end == m->start)
		return false;
	m->end = end;
	for (int i = 0; i < REGEX_SPANS_MAX; i++) {
		struct regex_span *g = &m->spans[i];
		if (g->start != REGEX_UNSET && g->end > end) {
			g->end = end;
			g->start = g->start < end ? g->start : end;
		}
	}
	return true;
}

static bool word_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The first byte of what a terminal shows that stands at text offset at or later. */
static size_t shown_index(const struct redact_view *shown, size_t at)
{
	size_t low = 0, high = shown->len;

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (shown->at[mid] < at)
			low = mid + 1;
		else
			high = mid;
	}
	return low;
}

/* Does a terminal show the byte at text offset at (the text's end counts as shown)? */
static bool byte_shown(const struct redact_view *shown, size_t at)
{
	return shown->at[shown_index(shown, at)] == at;
}

/*
 * A match of the text as it is, outside a string's contents, with an
 * escape at an edge, where a terminal shows a word going on: its
 * replacement would split that word, and a rule before it that wants a
 * word's edge (\b) could then match what this pass let show. It takes in
 * the rest of the word on that side, never before from.
 */
static void match_to_words(const struct redact_view *shown, size_t from, struct redact_match *m)
{
	size_t k = shown_index(shown, m->start);

	if (!byte_shown(shown, m->start) || (m->start > 0 && !byte_shown(shown, m->start - 1))) {
		while (k > 0 && word_byte(shown->text[k - 1]) && shown->at[k - 1] >= from)
			m->start = shown->at[--k];
	}
	k = shown_index(shown, m->end);
	if (!byte_shown(shown, m->end) || !byte_shown(shown, m->end - 1)) {
		for (; k < shown->len && word_byte(shown->text[k]); k++)
			m->end = shown->at[k] + 1;
	}
}

/*
 * The rule's leftmost match in v that starts at text offset from or later;
 * in the text itself (v->at NULL) one that shown's escapes allow.
 */
static void match_next(const struct redact_rule *rule, const struct redact_view *v, size_t from,
		       const struct redact_view *shown, struct redact_match *m)
{
	if (v->at) {
		while (m->view_from < v->len && v->at[m->view_from] < from)
			m->view_from++;
		from = m->view_from;
	}
	while ((m->found = rule_search(rule, v->text, v->len, from, m->spans) == 1)) {
		if (v->at) {
			m->start = v->at[m->spans[0].start];
			m->end = m->spans[0].end > m->spans[0].start ? v->at[m->spans[0].end - 1] + 1 : m->start;
			return;
		}
		m->start = m->spans[0].start;
		m->end = m->spans[0].end;
		if (!shown)
			return;
		if (match_clip(shown, from, m)) {
			if (m->start < m->end && !escape_around(shown, m->start))
				match_to_words(shown, from, m);
			return;
		}
		from = m->spans[0].start + 1;
	}
}

/*
 * Where the replacement of a match that starts at start begins. A sequence
 * cut short right before it (a lone ESC, an OSC that the next ESC ended)
 * ended there because of the byte at start, and the replacement's first
 * byte could continue it: it goes with the match, and so on back, never
 * before from (written already).
 */
static size_t match_begin(const struct redact_view *shown, size_t start, size_t from)
{
	const struct redact_escape *e;

	while (shown && start > from && (e = escape_before(shown, start)) && e->end == start && e->open &&
	       e->start >= from)
		start = e->start;
	return start;
}

/*
 * One rule over text[0..len) into o, searched in each view given (shown
 * NULL: the text alone): the leftmost match of the two goes first, the
 * longer one at the same start; a match that starts inside one taken is
 * searched again after it. False, with nothing written, if it replaced
 * nothing.
 */
static bool rule_apply(const struct redact_rule *rule, struct redact_stream *rs, const char *text, size_t len,
		       const struct redact_view *shown, struct redact_out *o)
{
	const struct redact_view raw = { .text = text, .len = len };
	struct redact_match in_raw = { .view_from = 0 }, in_shown = { .view_from = 0 };
	size_t from = 0;

	match_next(rule, &raw, 0, shown, &in_raw);
	if (shown)
		match_next(rule, shown, 0, NULL, &in_shown);
	if (!in_raw.found && !in_shown.found)
		return false;
	uint64_t matches = rs->matches;
	while (in_raw.found || in_shown.found) {
		bool take_shown = in_shown.found && (!in_raw.found || in_shown.start < in_raw.start ||
						     (in_shown.start == in_raw.start && in_shown.end > in_raw.end));
		const struct redact_match *m = take_shown ? &in_shown : &in_raw;
		/* An empty match at the end: the next text's start has it, once. */
		if (m->start == m->end && m->start == len)
			break;
		out_add(o, text + from, match_begin(shown, m->start, from) - from);
		rule_replace(rule, take_shown ? shown->text : text, m->spans, o);
		rs->matches++;
		from = m->end;
		if (m->end == m->start)
			out_add(o, text + from++, 1);	/* an empty match: step over a byte */
		if (in_raw.found && in_raw.start < from)
			match_next(rule, &raw, from, shown, &in_raw);
		if (in_shown.found && in_shown.start < from)
			match_next(rule, shown, from, NULL, &in_shown);
	}
	out_add(o, text + from, len - from);
	return rs->matches != matches;
}

/*
 * Applies every rule to text[0..len): the result is text itself if nothing
 * matched, else one of rs's scratch buffers. NULL when out of memory.
 */
static const char *rules_apply(const struct redact_rules *rules, struct redact_stream *rs, const char *text,
			       size_t *len)
{
	struct redact_view shown;
	/* Most output has no escape: it is searched once, as it is. */
	bool escapes = memchr(text, ESC, *len) != NULL;
	bool shown_stale = true;
	int next = 0;
	/* The bound is the original text's, for all the rules together: per rule, it would compound. */
	size_t limit = *len + REDACT_GROWTH(*len);

	for (size_t r = 0; r < rules->count; r++) {
		if (escapes && shown_stale) {
			if (!view_shown(rs, text, *len, &shown))
				return NULL;
			shown_stale = false;
		}
		struct redact_out o = { &rs->scratch[next], &rs->scratch_size[next], 0, limit, false };
		if (!rule_apply(&rules->rules[r], rs, text, *len, escapes ? &shown : NULL, &o))
			continue;	/* no match (one the limits stopped is taken as none, see regex.h) */
		if (o.failed)
			return NULL;
		text = o.len > 0 ? *o.data : "";	/* all of it replaced by nothing: no buffer yet */
		*len = o.len;
		next = !next;
		escapes = memchr(text, ESC, *len) != NULL;
		shown_stale = true;
	}
	return text;
}

/* Redacts text[0..len) (no key block open) and passes it on. */
static int lines_out(const struct redact_rules *rules, struct redact_stream *rs, const char *text, size_t len,
		     redact_sink sink, void *ctx)
{
	if (len == 0)
		return 0;
	const char *out = rules_apply(rules, rs, text, &len);
	if (!out)
		return -1;
	if (len > 0)
		sink(ctx, out, len);
	return 0;
}

/*
 * Where a key block starts in text: a BEGIN that the one-line rule does
 * not close on its line (no END after it, or bytes that are not UTF-8
 * between, which no pattern crosses: what the rule leaves is masked here).
 */
static bool block_find(const struct redact_rules *rules, const char *text, size_t len, size_t *begin,
		       size_t *line_end)
{
	struct regex_span span;
	size_t from = 0;

	while (rules->block_begin && regex_search(rules->block_begin, text, len, from, &span, 1) == 1) {
		const char *nl = memchr(text + span.end, '\n', len - span.end);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct regex_span closing;
		if (regex_search(rules->block_line, text, end, span.start, &closing, 1) != 1 ||
		    closing.start != span.start) {
			*begin = span.start;
			*line_end = end;
			return true;
		}
		from = closing.end;
	}
	return false;
}

/*
 * Where the block that the BEGIN at begin opens starts: back over an
 * escape sequence that BEGIN starts inside of, and one cut short right
 * before it, as a match's replacement begins. -1: out of memory.
 */
static ssize_t block_start(struct redact_stream *rs, const char *text, size_t begin, size_t line_end)
{
	size_t line = begin;
	struct redact_view shown;

	while (line > 0 && text[line - 1] != '\n')
		line--;
	if (!memchr(text + line, ESC, begin - line))
		return (ssize_t)begin;
	if (!view_shown(rs, text + line, line_end - line, &shown))
		return -1;
	const struct redact_escape *inside = escape_around(&shown, begin - line);
	return (ssize_t)(line + match_begin(&shown, inside ? inside->start : begin - line, 0));
}

/* Whole lines (or a flushed partial one): key blocks cut out, the rest redacted. */
static int redact_text_out(const struct redact_rules *rules, struct redact_stream *rs, const char *text,
			   size_t len, redact_sink sink, void *ctx)
{
	while (len > 0) {
		if (rs->in_block) {
			struct regex_span end;
			if (regex_search(rules->block_end, text, len, 0, &end, 1) != 1) {
				rs->block_bytes += len;
				if (rs->block_bytes >= REDACT_HOLD_MAX)
					rs->in_block = false;	/* masked this far; what follows shows */
				return 0;
			}
			rs->in_block = false;
			text += end.end;
			len -= end.end;
			continue;
		}
		size_t begin, line_end;
		if (!block_find(rules, text, len, &begin, &line_end))
			return lines_out(rules, rs, text, len, sink, ctx);
		ssize_t start = block_start(rs, text, begin, line_end);
		if (start < 0 || lines_out(rules, rs, text, (size_t)start, sink, ctx) < 0)
			return -1;
		sink(ctx, rules->block_replacement, strlen(rules->block_replacement));
		rs->matches++;
		rs->in_block = true;
		rs->block_bytes = 0;
		/* The rest of the BEGIN line is the block's; its newline comes after END. */
		text += line_end;
		len -= line_end;
		if (len > 0) {
			text++;
			len--;
		}
	}
	return 0;
}

static bool held_add(struct redact_stream *rs, const char *data, size_t len)
{
	if (rs->held_len + len > rs->held_size) {
		size_t size = rs->held_size ? rs->held_size : 256;
		while (size < rs->held_len + len)
			size *= 2;
		char *grown = realloc(rs->held, size);
		if (!grown)
			return false;
		rs->held = grown;
		rs->held_size = size;
	}
	memcpy(rs->held + rs->held_len, data, len);
	rs->held_len += len;
	return true;
}

int redact_flush(const struct redact_rules *rules, struct redact_stream *rs, bool prompt, redact_sink sink,
		 void *ctx)
{
	if (rs->in_block && !prompt && rs->held_len < REDACT_HOLD_MAX)
		return 0;	/* nothing of a block shows: keep its partial line, to find END */
	size_t len = rs->held_len;
	rs->held_len = 0;
	int ret = redact_text_out(rules, rs, rs->held, len, sink, ctx);
	if (prompt)
		rs->in_block = false;
	return ret;
}

int redact_feed(const struct redact_rules *rules, struct redact_stream *rs, const char *data, size_t len,
		redact_sink sink, void *ctx)
{
	const char *nl = len > 0 ? memrchr(data, '\n', len) : NULL;
	int ret = 0;

	if (nl) {
		size_t complete = (size_t)(nl - data) + 1;
		if (rs->held_len == 0) {
			ret = redact_text_out(rules, rs, data, complete, sink, ctx);
		} else if (held_add(rs, data, complete)) {
			size_t held = rs->held_len;
			rs->held_len = 0;
			ret = redact_text_out(rules, rs, rs->held, held, sink, ctx);
		} else {
			rs->held_len = 0;
			ret = -1;
		}
		data += complete;
		len -= complete;
	}
	if (len > 0 && !held_add(rs, data, len))
		ret = -1;
	if (rs->held_len >= REDACT_HOLD_MAX && redact_flush(rules, rs, false, sink, ctx) < 0)
		ret = -1;
	return ret;
}

size_t redact_held(const struct redact_stream *rs)
{
	return rs->held_len;
}

void redact_stream_free(struct redact_stream *rs)
{
	free(rs->held);
	free(rs->scratch[0]);
	free(rs->scratch[1]);
	free(rs->shown);
	free(rs->shown_at);
	free(rs->escapes);
	memset(rs, 0, sizeof(*rs));
}

static void text_sink(void *ctx, const char *data, size_t len)
{
	out_add(ctx, data, len);
}

/* text through rs into one malloc'd copy; line: a newline after it; flush: then what rs holds. */
static ssize_t redact_collect(const struct redact_rules *rules, struct redact_stream *rs, const char *text,
			      size_t len, bool line, bool flush, char **out)
{
	char *data = NULL;
	size_t size = 0;
	struct redact_out o = { &data, &size, 0, 0, false };
	int ret = redact_feed(rules, rs, text, len, text_sink, &o);

	if (ret == 0 && line)
		ret = redact_feed(rules, rs, "\n", 1, text_sink, &o);
	if (ret == 0 && flush)
		ret = redact_flush(rules, rs, true, text_sink, &o);
	out_add(&o, "", 1);
	if (ret < 0 || o.failed) {
		free(data);
		return -1;
	}
	*out = data;
	return (ssize_t)o.len - 1;
}

ssize_t redact_text(const struct redact_rules *rules, const char *text, size_t len, char **out)
{
	struct redact_stream rs = { 0 };
	ssize_t ret = redact_collect(rules, &rs, text, len, false, true, out);

	redact_stream_free(&rs);
	return ret;
}

ssize_t redact_line(const struct redact_rules *rules, struct redact_stream *rs, const char *line, size_t len,
		    char **out)
{
	return redact_collect(rules, rs, line, len, true, false, out);
}
