/*
 * table.h - aligned text tables for the command line.  Widths are counted
 * in terminal columns, not bytes: a CJK character (a Japanese zone name)
 * takes two columns, a combining mark none.
 */
#ifndef MM_CLI_TABLE_H
#define MM_CLI_TABLE_H

#include <stddef.h>
#include <stdio.h>

struct table;

/* align: one char per column, 'l' or 'r' */
struct table *table_new(int ncols, const char *const *headers,
			const char *align);
/* add a row of ncols strings (copied; NULL prints as "") */
int table_add(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/* headers, then rows; columns apart by two spaces, no trailing blanks */
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* terminal columns that the UTF-8 string s takes (roughly wcwidth) */
size_t utf8_width(const char *s);

#endif /* MM_CLI_TABLE_H */
