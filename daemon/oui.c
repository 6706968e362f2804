/*
 * oui.c - the vendor of a MAC address, from the IEEE registries that
 * Debian's ieee-data package installs (/usr/share/ieee-data):
 *   oui.txt    MA-L, 24-bit prefixes (the classic OUI)
 *   mam.txt    MA-M, 28-bit prefixes
 *   oui36.txt  MA-S, 36-bit prefixes (iab.txt: the older IAB blocks)
 * Many industrial vendors own only MA-M or MA-S blocks, so the longest
 * prefix wins.
 *
 * The files are read at the first lookup into three arrays, each indexed
 * by a hash of the prefix (lookups happen once per new host, not per
 * packet).
 * Every line is parsed defensively: a damaged registry costs entries, it
 * never crashes the sensor.
 */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oui.h"

struct oui_entry {
	uint64_t prefix; /* the top `bits` bits of the 48-bit address */
	uint32_t name;   /* offset into names */
};

struct oui_table {
	char *dir;              /* read at the first lookup, not at start */
	bool loaded;
	struct oui_entry *e[3]; /* [0] 24-bit, [1] 28-bit, [2] 36-bit */
	size_t n[3], cap[3];
	uint32_t *h[3];         /* index into e[k] + 1 by prefix; 0: empty */
	size_t hsize[3];        /* a power of two */
	char *names;
	size_t names_used, names_cap;
};

static const int oui_bits[3] = { 24, 28, 36 };

/* a hex digit's value plus one, 0 for any other byte (ASCII: what
 * tolower() did in the C locale) */
static const unsigned char hex_plus1[256] = {
	['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,
	['5'] = 6,  ['6'] = 7,  ['7'] = 8,  ['8'] = 9,  ['9'] = 10,
	['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

/* c (an unsigned char) as a hex digit, or -1 */
static int hexval(int c)
{
	return hex_plus1[c] - 1;
}

/* n hex digits at s, or -1 */
static long long parse_hex(const char *s, int n)
{
	long long v = 0;

	for (int i = 0; i < n; i++) {
		int h = hexval((unsigned char)s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* "AB-CD-EF" at s (8 bytes of one line): the 24-bit value, or -1 */
static long parse_dashed(const char *s)
{
	long long hi = parse_hex(s, 2), mid = parse_hex(s + 3, 2),
		  lo = parse_hex(s + 6, 2);

	if (s[2] != '-' || s[5] != '-' || hi < 0 || mid < 0 || lo < 0)
		return -1;
	return (long)(hi << 16 | mid << 8 | lo);
}

/* the first tag (tlen bytes) in [s, end), or NULL: strstr() on a line
 * with no NUL */
static inline const char *find_tag(const char *s, const char *end,
				   const char *tag, size_t tlen)
{
	while ((size_t)(end - s) >= tlen &&
	       (s = memchr(s, tag[0], (size_t)(end - s) - tlen + 1))) {
		if (!memcmp(s, tag, tlen))
			return s;
		s++;
	}
	return NULL;
}

/* the organisation after the tag at tag (of tlen bytes) up to end,
 * trimmed; its length, 0 when empty */
static inline size_t org_after(const char *tag, size_t tlen, const char *end,
			       const char **org)
{
	const char *p = tag + tlen;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	*org = p;
	return (size_t)(end - p);
}

/* room for more entries in table k and bytes more of names; 0 or -1 */
static int reserve(struct oui_table *t, int k, size_t more, size_t bytes)
{
	if (t->n[k] + more > t->cap[k]) {
		size_t cap = t->cap[k] ? t->cap[k] * 2 : 1024;
		while (cap < t->n[k] + more)
			cap *= 2;
		struct oui_entry *e = realloc(t->e[k], cap * sizeof(*e));
		if (!e)
			return -1;
		t->e[k] = e;
		t->cap[k] = cap;
	}
	if (t->names_used + bytes > t->names_cap) {
		size_t cap = t->names_cap ? t->names_cap * 2 : 65536;
		while (cap < t->names_used + bytes)
			cap *= 2;
		char *n = realloc(t->names, cap);
		if (!n)
			return -1;
		t->names = n;
		t->names_cap = cap;
	}
	return 0;
}

static int add(struct oui_table *t, int k, uint64_t prefix, const char *org,
	       size_t orglen)
{
	if ((t->n[k] == t->cap[k] ||
	     t->names_used + orglen + 1 > t->names_cap) &&
	    reserve(t, k, 1, orglen + 1))
		return -1;
	memcpy(t->names + t->names_used, org, orglen);
	t->names[t->names_used + orglen] = 0;
	t->e[k][t->n[k]].prefix = prefix;
	t->e[k][t->n[k]].name = (uint32_t)t->names_used;
	t->n[k]++;
	t->names_used += orglen + 1;
	return 0;
}

/* a whole file in memory, NUL-terminated; NULL when unreadable */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
		*len = fread(buf, 1, (size_t)size, fp);
		buf[*len] = 0;
	}
	fclose(fp);
	return buf;
}

/*
 * The first line at or after p (a line's start) that can hold a tag: the
 * postal addresses (indented) and blank lines are passed on their first
 * byte, a blank "\r\n" without a search for its end.  buf[len] is a NUL.
 */
static inline const char *next_line(const char *p, const char *end)
{
	while (p < end) {
		if (*p == '\t' || (*p == '\r' && p[1] != '\n')) {
			p = memchr(p, '\n', (size_t)(end - p));
			if (!p)
				return end;
			p++;
		} else if (*p == '\r') {
			p += 2;
		} else if (*p == '\n') {
			p++;
		} else {
			return p;
		}
	}
	return end;
}

/*
 * One registry file.  MA-L lines: "AB-CD-EF   (hex)\t\tOrg".  MA-M and
 * MA-S add the block on the next line: "B00000-BFFFFF  (base 16)  Org"
 * (6 hex digits after the 24-bit OUI: the top 1 or 3 of them fix the
 * block for 28- and 36-bit prefixes).
 *
 * Read whole and walked in place: nine lines in ten are postal addresses
 * (indented) or blank, skipped on their first byte (next_line).  The
 * others are read where they lie, as the strings fgets() into line[512]
 * made of them: at most 511 bytes, cut at a NUL (looked for line by line
 * only in a file that has one).  Through fgets(), this was a sixth of the
 * sensor's instructions on a 100,000-packet run; copying each line out
 * and strstr() on it, 49 million instructions at the first lookup.
 */
static int load_file(struct oui_table *t, const char *path, int k)
{
	static const char hex_tag[] = "(hex)", b16_tag[] = "(base 16)";
	enum { HEX_LEN = sizeof(hex_tag) - 1, B16_LEN = sizeof(b16_tag) - 1 };
	size_t len = 0;
	char *buf = slurp(path, &len);
	const char *p, *end;
	long oui = -1;
	int added = 0;
	bool nul;

	if (!buf)
		return -1;
	/* the registries hold an entry per 160 bytes or more, and names
	 * are less than a sixth of them: room at once rather than by
	 * doubling (add() still grows past it) */
	(void)reserve(t, k, len / 160, len / 6);
	nul = memchr(buf, 0, len) != NULL;
	end = buf + len;
	for (p = next_line(buf, end); p < end; p = next_line(p, end)) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (nl ? (size_t)(nl - p) + 1 : (size_t)(end - p));
		const char *cur = p, *lend, *tag, *org;
		size_t olen;

		p += n;
		lend = cur + (n < 511 ? n : 511);
		if (nul && (tag = memchr(cur, 0, (size_t)(lend - cur))))
			lend = tag;
		/* a dash at [2] and [5] first, before looking for the tags
		 * (neither tag fits in a shorter line) */
		bool dashed = lend - cur >= 6 && cur[2] == '-' && cur[5] == '-';
		/* with those dashes, "(hex)" can start at [6] at the earliest */
		if (dashed && (tag = find_tag(cur + 6, lend, hex_tag, HEX_LEN))) {
			/* all 8 characters of the OUI are in the line */
			oui = parse_dashed(cur);
			if (oui < 0 || k != 0)
				continue;
			olen = org_after(tag, HEX_LEN, lend, &org);
			if (olen && add(t, 0, (uint64_t)oui, org, olen) == 0)
				added++;
		} else if (k != 0 && oui >= 0 && !dashed &&
			   (tag = find_tag(cur, lend, b16_tag, B16_LEN))) {
			int digits = k == 1 ? 1 : 3;
			/* stops at the tag's '(' at the latest */
			long long blk = parse_hex(cur, digits);
			olen = org_after(tag, B16_LEN, lend, &org);
			if (blk >= 0 && olen &&
			    add(t, k, ((uint64_t)oui << (4 * digits)) | (uint64_t)blk,
				org, olen) == 0)
				added++;
			oui = -1;
		}
	}
	free(buf);
	return added;
}

/* the slot of prefix in table k: its own, or the empty one it would take */
static size_t slot_of(const struct oui_table *t, int k, uint64_t prefix)
{
	size_t mask = t->hsize[k] - 1;
	size_t i = (size_t)((prefix * 0x9e3779b97f4a7c15ull) >> 40) & mask;

	while (t->h[k][i] && t->e[k][t->h[k][i] - 1].prefix != prefix)
		i = (i + 1) & mask;
	return i;
}

/*
 * Index each table by prefix (open addressing, at most half full): the
 * first entry of a prefix registered twice wins, as the stable sort and
 * lower-bound search before it did.
 */
static void index_table(struct oui_table *t, int k)
{
	size_t size = 16;

	while (size < t->n[k] * 2)
		size *= 2;
	t->h[k] = calloc(size, sizeof(*t->h[k]));
	if (!t->h[k]) {
		t->n[k] = 0; /* no index: no entries, no crash */
		return;
	}
	t->hsize[k] = size;
	for (size_t j = 0; j < t->n[k]; j++) {
		size_t i = slot_of(t, k, t->e[k][j].prefix);
		if (!t->h[k][i])
			t->h[k][i] = (uint32_t)j + 1;
	}
}

/* read every registry; false when none gave an entry */
static bool load_all(struct oui_table *t)
{
	char path[4096];
	int total = 0, n;
	static const char *const files[] = { "oui.txt", "mam.txt", "oui36.txt", "iab.txt" };
	static const int kinds[] = { 0, 1, 2, 2 };

	t->loaded = true;
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, files[i]);
		if ((n = load_file(t, path, kinds[i])) > 0)
			total += n;
	}
	for (int k = 0; k < 3; k++)
		if (t->n[k])
			index_table(t, k);
	return total > 0;
}

/*
 * The registries are read at the first lookup, not here: reading and
 * sorting 46,000 entries costs about 50 ms, and a sensor that never sees
 * a MAC (raw IP captures) should not pay it.
 */
struct oui_table *oui_load(const char *dir)
{
	struct oui_table *t;
	char path[4096];

	snprintf(path, sizeof(path), "%s/oui.txt", dir);
	if (access(path, R_OK) != 0) {
		snprintf(path, sizeof(path), "%s/mam.txt", dir);
		if (access(path, R_OK) != 0)
			return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->dir = strdup(dir);
	if (!t->dir) {
		free(t);
		return NULL;
	}
	return t;
}

size_t oui_count(struct oui_table *t)
{
	if (t && !t->loaded)
		load_all(t);
	return t ? t->n[0] + t->n[1] + t->n[2] : 0;
}

const char *oui_vendor(struct oui_table *t, const uint8_t mac[6])
{
	uint64_t m = 0;

	if (!t)
		return NULL;
	if (!t->loaded)
		load_all(t);
	for (int i = 0; i < 6; i++)
		m = m << 8 | mac[i];
	/* the longest registered prefix wins: MA-S, then MA-M, then MA-L */
	for (int k = 2; k >= 0; k--) {
		size_t i;
		if (!t->n[k])
			continue;
		i = slot_of(t, k, m >> (48 - oui_bits[k]));
		if (t->h[k][i])
			return t->names + t->e[k][t->h[k][i] - 1].name;
	}
	return NULL;
}

void oui_free(struct oui_table *t)
{
	if (!t)
		return;
	for (int k = 0; k < 3; k++) {
		free(t->e[k]);
		free(t->h[k]);
	}
	free(t->names);
	free(t->dir);
	free(t);
}
