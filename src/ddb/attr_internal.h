/* Internals shared by attr.c, coltype.c, src/formats/changes.c and the sink's fast row parser:
 * attribute paths for messages and the number scanner. */
#ifndef DP_DDB_ATTR_INTERNAL_H
#define DP_DDB_ATTR_INTERNAL_H

#include <stddef.h>

#include "ddb/attr.h"

/* "a.b[2]" path of the attribute being looked at, for error messages. */
typedef struct dp_attr_path {
    char buf[256];
    size_t len;
    int named; /* root has a name: messages say "attribute 'a.b'" */
} dp_attr_path;

void dp_attr_path_init(dp_attr_path *p, const char *name);                      /* name may be NULL */
size_t dp_attr_path_push_member(dp_attr_path *p, const char *name, size_t len); /* returns mark */
size_t dp_attr_path_push_index(dp_attr_path *p, size_t i);
void dp_attr_path_pop(dp_attr_path *p, size_t mark);
/* errstr = "attribute 'PATH': reason" (or just reason at an unnamed root). */
void dp_attr_errf(char *errstr, size_t n, const dp_attr_path *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Printable, bounded copy of user text for messages. */
const char *dp_attr_snippet(const char *s, size_t len, char *out, size_t out_size);
/* "a string", "an object", ... */
const char *dp_json_kind_name(const dp_json *v);

/* A number's text taken apart (JSON grammar). */
typedef struct dp_ddb_num {
    int neg, is_zero;
    const char *int_digits, *frac_digits;
    size_t int_len, frac_len;
    long long exp;      /* written exponent (clamped) */
    size_t first;       /* index of the first significant digit in int||frac */
    size_t sig;         /* significant digits (leading/trailing zeros trimmed) */
    long long sci_exp;  /* exponent of the first significant digit */
    long long last_exp; /* exponent of the last significant digit */
} dp_ddb_num;

int dp_ddb_number_scan(const char *s, size_t len, dp_ddb_num *n); /* 0 ok, -1 not a number */
char dp_ddb_num_digit(const dp_ddb_num *n, size_t k);             /* k-th significant digit */
/* DynamoDB's limits for a scanned number: 38 significant digits, magnitude
 * from 1E-130 to 9.99...E+125 (zero always fits). */
typedef enum dp_ddb_num_limit {
    DP_DDB_NUM_OK = 0,
    DP_DDB_NUM_TOO_PRECISE,
    DP_DDB_NUM_TOO_SMALL,
    DP_DDB_NUM_TOO_LARGE
} dp_ddb_num_limit;
dp_ddb_num_limit dp_ddb_num_check_limits(const dp_ddb_num *n);
/* Bytes a scanned number takes in an item (dp_ddb_number_size's rule). */
size_t dp_ddb_num_size(const dp_ddb_num *n);
/* DynamoDB number rules with a path for the message; 0 ok, -1 error. */
int dp_ddb_number_check(const char *text, size_t len, char *errstr, size_t n, const dp_attr_path *p);
/* Recursive AttributeValue validation (depth 0 = attribute value). */
int dp_attr_check(const dp_json *av, int depth, char *errstr, size_t n, dp_attr_path *p);

#endif
