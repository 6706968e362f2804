/*
 * oui.c - the vendor of a MAC address, from the IEEE registries that
 * Debian's ieee-data package installs (/usr/share/ieee-data):
 *   oui.txt    MA-L, 24-bit prefixes (the classic OUI)
 *   mam.txt    MA-M, 28-bit prefixes
 *   oui36.txt  MA-S, 36-bit prefixes (iab.txt: the older IAB blocks)
 * Many industrial vendors own only MA-M or MA-S blocks, so the longest
 * prefix wins.
 *
 * The files are read once at start into three sorted arrays (binary
 * search per lookup; lookups happen once per new host, not per packet).
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
	char *names;
	size_t names_used, names_cap;
};

static const int oui_bits[3] = { 24, 28, 36 };

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "AB-CD-EF" at s: the 24-bit value, or -1 */
static long parse_dashed(const char *s)
{
	long v = 0;

	for (int i = 0; i < 8; i++) {
		if (i % 3 == 2) {
			if (s[i] != '-')
				return -1;
			continue;
		}
		int h = hexval((unsigned char)s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
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

/* the organisation after "(hex)" or "(base 16)", trimmed */
static const char *org_after(char *line, const char *tag)
{
	char *p = strstr(line, tag), *end;

	if (!p)
		return NULL;
	p += strlen(tag);
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && isspace((unsigned char)end[-1]))
		*--end = 0;
	return *p ? p : NULL;
}

static int add(struct oui_table *t, int k, uint64_t prefix, const char *org)
{
	size_t len = strlen(org) + 1;

	if (t->n[k] == t->cap[k]) {
		size_t cap = t->cap[k] ? t->cap[k] * 2 : 1024;
		struct oui_entry *e = realloc(t->e[k], cap * sizeof(*e));
		if (!e)
			return -1;
		t->e[k] = e;
		t->cap[k] = cap;
	}
	if (t->names_used + len > t->names_cap) {
		size_t cap = t->names_cap ? t->names_cap * 2 : 65536;
		while (cap < t->names_used + len)
			cap *= 2;
		char *n = realloc(t->names, cap);
		if (!n)
			return -1;
		t->names = n;
		t->names_cap = cap;
	}
	memcpy(t->names + t->names_used, org, len);
	t->e[k][t->n[k]].prefix = prefix;
	t->e[k][t->n[k]].name = (uint32_t)t->names_used;
	t->n[k]++;
	t->names_used += len;
	return 0;
}

/*
 * One registry file.  MA-L lines: "AB-CD-EF   (hex)\t\tOrg".  MA-M and
 * MA-S add the block on the next line: "B00000-BFFFFF  (base 16)  Org"
 * (6 hex digits after the 24-bit OUI: the top 1 or 3 of them fix the
 * block for 28- and 36-bit prefixes).
 */
static int load_file(struct oui_table *t, const char *path, int k)
{
	FILE *fp = fopen(path, "r");
	char line[512];
	long oui = -1;
	int added = 0;

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		/* most lines are postal addresses: a dash at [2] and [5] first,
		 * before looking for the tags */
		bool dashed = line[0] && line[1] && line[2] == '-' && line[5] == '-';
		if (dashed && strstr(line, "(hex)")) {
			const char *org;
			oui = parse_dashed(line);
			if (oui < 0 || k != 0)
				continue;
			org = org_after(line, "(hex)");
			if (org && add(t, 0, (uint64_t)oui, org) == 0)
				added++;
		} else if (k != 0 && oui >= 0 && !dashed && line[0] != '\t' &&
			   strstr(line, "(base 16)")) {
			int digits = k == 1 ? 1 : 3;
			long long blk = parse_hex(line, digits);
			const char *org = org_after(line, "(base 16)");
			if (blk >= 0 && org &&
			    add(t, k, ((uint64_t)oui << (4 * digits)) | (uint64_t)blk, org) == 0)
				added++;
			oui = -1;
		}
	}
	fclose(fp);
	return added;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct oui_entry *x = a, *y = b;
	return x->prefix < y->prefix ? -1 : x->prefix > y->prefix;
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
			qsort(t->e[k], t->n[k], sizeof(*t->e[k]), cmp_entry);
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
		uint64_t key = m >> (48 - oui_bits[k]);
		size_t lo = 0, hi = t->n[k];
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (t->e[k][mid].prefix < key)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < t->n[k] && t->e[k][lo].prefix == key)
			return t->names + t->e[k][lo].name;
	}
	return NULL;
}

void oui_free(struct oui_table *t)
{
	if (!t)
		return;
	for (int k = 0; k < 3; k++)
		free(t->e[k]);
	free(t->names);
	free(t->dir);
	free(t);
}
