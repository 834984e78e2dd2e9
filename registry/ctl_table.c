/*  ctl_table: see ctl_table.h. */
#include "ctl_table.h"
#include "chat_text.h"

#include <stdlib.h>
#include <string.h>

struct ctl_table {
    size_t columns;  //  number of columns
    size_t rows;     //  rows including the header
    size_t capacity; //  rows allocated
    char **cells;    //  rows * columns copies, row-major
};

static void s_add(ctl_table_t *table, const char *const *cells)
{
    if (table->rows == table->capacity) {
        table->capacity = table->capacity ? table->capacity * 2 : 16;
        table->cells = realloc(table->cells, table->capacity * table->columns * sizeof(char *));
    }
    for (size_t c = 0; c < table->columns; c++)
        table->cells[table->rows * table->columns + c] = strdup(cells[c] ? cells[c] : "-");
    table->rows++;
}

ctl_table_t *ctl_table_new(const char *const *headers)
{
    ctl_table_t *table = calloc(1, sizeof *table);
    while (headers[table->columns])
        table->columns++;
    s_add(table, headers);
    return table;
}

void ctl_table_add(ctl_table_t *table, const char *const *cells)
{
    s_add(table, cells);
}

//  Width of a cell in characters (UTF-8 aware; invalid text counts bytes).
static size_t s_width(const char *text)
{
    long chars = chat_utf8_length(text, strlen(text));
    return chars < 0 ? strlen(text) : (size_t)chars;
}

void ctl_table_print(const ctl_table_t *table, FILE *out)
{
    size_t *widths = calloc(table->columns, sizeof *widths);
    for (size_t r = 0; r < table->rows; r++)
        for (size_t c = 0; c < table->columns; c++) {
            size_t w = s_width(table->cells[r * table->columns + c]);
            if (w > widths[c])
                widths[c] = w;
        }
    for (size_t r = 0; r < table->rows; r++) {
        for (size_t c = 0; c < table->columns; c++) {
            const char *cell = table->cells[r * table->columns + c];
            bool last = c + 1 == table->columns;
            if (r == 0)
                for (const char *p = cell; *p; p++)
                    fputc(*p >= 'a' && *p <= 'z' ? *p - 32 : *p, out);
            else
                fputs(cell, out);
            if (!last)
                fprintf(out, "%*s", (int)(widths[c] - s_width(cell) + 2), "");
        }
        fputc('\n', out);
    }
    free(widths);
}

void ctl_table_destroy(ctl_table_t **table_p)
{
    if (!table_p || !*table_p)
        return;
    ctl_table_t *table = *table_p;
    for (size_t i = 0; i < table->rows * table->columns; i++)
        free(table->cells[i]);
    free(table->cells);
    free(table);
    *table_p = NULL;
}
