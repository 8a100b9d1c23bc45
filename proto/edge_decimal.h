/* Internal to proto/ (not part of the SDK's API): decimal text to double
 * without strtod, which in newlib nano links the allocator. The result is
 * the double nearest to the text, ties to even: bit for bit what a
 * correctly rounding strtod gives (-0 included). */
#ifndef EDGE_DECIMAL_H
#define EDGE_DECIMAL_H

#include <stddef.h>

/* s[0..n) is a number in JSON's grammar (the caller's reader checked it).
 * 0 and *out, or -ERANGE: more than 19 significant digits (leading and
 * trailing zeros aside), or beyond the largest finite double. A value below
 * half the least subnormal reads as 0. */
int edge_decimal_read(const char *s, size_t n, double *out);

#endif
