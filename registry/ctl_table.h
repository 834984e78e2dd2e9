/*  ctl_table: plain-text tables for chatctl: columns sized to their widest
 *  cell, left-aligned, two spaces apart, a header row in capitals.
 */
#ifndef CTL_TABLE_H
#define CTL_TABLE_H

#include <stdio.h>

typedef struct ctl_table ctl_table_t;

//  A table with the given header cells (NULL-terminated list).
ctl_table_t *ctl_table_new(const char *const *headers);

//  Adds a row of as many cells as there are headers; each is copied.
//  A NULL cell prints as "-".
void ctl_table_add(ctl_table_t *table, const char *const *cells);

//  Prints the table to out.
void ctl_table_print(const ctl_table_t *table, FILE *out);

//  Frees the table; sets *table to NULL. Safe on NULL.
void ctl_table_destroy(ctl_table_t **table);

#endif
