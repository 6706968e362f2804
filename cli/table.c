/*
 * table.c - aligned text tables; see table.h.
 */
#include "table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct table {
	int ncols;
	char **hdr;
	char *align;
	char **cells; /* nrows * ncols */
	size_t nrows, cap;
};

/* the next code point of s (advancing *s); invalid bytes count as one */
static uint32_t next_cp(const unsigned char **s)
{
	const unsigned char *p = *s;
	uint32_t c = p[0];
	int n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
				: (c & 0xf8) == 0xf0 ? 3 : -1;

	if (n <= 0) {
		*s = p + 1;
		return c;
	}
	c &= 0x3fu >> n;
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			*s = p + 1;
			return 0xfffd;
		}
		c = (c << 6) | (p[i] & 0x3f);
	}
	*s = p + n + 1;
	return c;
}

/* East Asian Wide and Fullwidth ranges (Unicode UAX #11), coarsely */
static int cp_width(uint32_t c)
{
	if (c == 0)
		return 0;
	if ((c >= 0x0300 && c <= 0x036f) || (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0x3099 && c <= 0x309a) || (c >= 0xfe00 && c <= 0xfe0f))
		return 0; /* combining marks, zero-width characters */
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0x303e) ||
	    (c >= 0x3041 && c <= 0x33ff) || (c >= 0x3400 && c <= 0x4dbf) ||
	    (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xa000 && c <= 0xa4cf) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	    (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

size_t utf8_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0;

	if (!s)
		return 0;
	while (*p)
		w += (size_t)cp_width(next_cp(&p));
	return w;
}

struct table *table_new(int ncols, const char *const *headers,
			const char *align)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->hdr = calloc((size_t)ncols, sizeof(*t->hdr));
	t->align = calloc((size_t)ncols + 1, 1);
	if (!t->hdr || !t->align) {
		table_free(t);
		return NULL;
	}
	for (int i = 0; i < ncols; i++) {
		t->hdr[i] = strdup(headers[i] ? headers[i] : "");
		t->align[i] = align && align[i] == 'r' ? 'r' : 'l';
	}
	return t;
}

int table_add(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*c));
		if (!c)
			return -1;
		t->cells = c;
		t->cap = cap;
	}
	for (int i = 0; i < t->ncols; i++)
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] =
			strdup(cells[i] ? cells[i] : "");
	t->nrows++;
	return 0;
}

size_t table_rows(const struct table *t)
{
	return t->nrows;
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

static void print_row(const struct table *t, char *const *row,
		      const size_t *w, FILE *f)
{
	int last = t->ncols - 1;

	/* drop trailing empty left-aligned cells so lines end cleanly */
	while (last > 0 && t->align[last] == 'l' && !row[last][0])
		last--;
	for (int i = 0; i <= last; i++) {
		size_t cw = utf8_width(row[i]);
		size_t gap = w[i] > cw ? w[i] - cw : 0;
		if (i > 0)
			fputs("  ", f);
		if (t->align[i] == 'r')
			pad(f, gap);
		fputs(row[i], f);
		if (t->align[i] == 'l' && i < last)
			pad(f, gap);
	}
	fputc('\n', f);
}

void table_print(const struct table *t, FILE *f)
{
	size_t *w = calloc((size_t)t->ncols, sizeof(*w));

	if (!w)
		return;
	for (int i = 0; i < t->ncols; i++)
		w[i] = utf8_width(t->hdr[i]);
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			size_t cw = utf8_width(
				t->cells[r * (size_t)t->ncols + (size_t)i]);
			if (cw > w[i])
				w[i] = cw;
		}
	print_row(t, t->hdr, w, f);
	for (size_t r = 0; r < t->nrows; r++)
		print_row(t, &t->cells[r * (size_t)t->ncols], w, f);
	free(w);
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	if (t->hdr)
		for (int i = 0; i < t->ncols; i++)
			free(t->hdr[i]);
	free(t->hdr);
	free(t->align);
	free(t);
}
