/* Small JSON DOM parser and streaming writer.
 *
 * Why our own: DynamoDB numbers carry up to 38 significant digits and must
 * survive byte for byte; general JSON libraries turn them into doubles. Here
 * numbers keep their source text. The parser works on a byte buffer (no I/O)
 * so it can be fed bytes in tests and fuzzed. All nodes of one document live
 * in one arena freed at once.
 */
#ifndef DP_COMMON_JSON_H
#define DP_COMMON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

typedef enum dp_json_type {
    DP_JSON_NULL = 0,
    DP_JSON_BOOL,
    DP_JSON_NUMBER, /* text kept verbatim in str/len */
    DP_JSON_STRING, /* decoded UTF-8 in str/len (may contain NUL) */
    DP_JSON_ARRAY,
    DP_JSON_OBJECT
} dp_json_type;

typedef struct dp_json dp_json;
typedef struct dp_json_member {
    const char *key; /* decoded, NUL-terminated */
    size_t key_len;
    dp_json *value;
} dp_json_member;

struct dp_json {
    dp_json_type type;
    int boolean;
    const char *str; /* STRING and NUMBER; NUL-terminated */
    size_t len;
    dp_json **items;         /* ARRAY */
    dp_json_member *members; /* OBJECT, in source order */
    size_t count;            /* ARRAY items or OBJECT members */
    size_t cap;              /* internal */
};

typedef struct dp_json_doc dp_json_doc;

typedef struct dp_json_error {
    size_t offset;     /* byte offset of the problem */
    char message[128]; /* "reason at byte N" */
    int out_of_memory; /* 1: the parse failed for memory, not because of the text */
} dp_json_error;

/* A DynamoDB item may nest 32 levels; in typed form inside a Streams record
 * that is about 67 JSON levels. */
#define DP_JSON_MAX_DEPTH 100

/* Parse exactly one JSON value (surrounding whitespace allowed). Returns NULL
 * on error and fills err (may be NULL). Duplicate object keys: last wins for
 * dp_json_get, all are kept in members. */
dp_json_doc *dp_json_parse(const char *text, size_t len, dp_json_error *err);
/* An empty document to build values in. */
dp_json_doc *dp_json_doc_new(void);
void dp_json_doc_free(dp_json_doc *doc); /* accepts NULL */
/* 1 when an allocation in doc failed (or doc is NULL): a builder that
 * returned NULL ran out of memory rather than refusing its input. */
int dp_json_doc_alloc_failed(const dp_json_doc *doc);
dp_json *dp_json_root(const dp_json_doc *doc);
void dp_json_set_root(dp_json_doc *doc, dp_json *root);

/* Lookups (NULL-safe: any NULL argument gives NULL / 0). */
dp_json *dp_json_get(const dp_json *obj, const char *key); /* last match */
dp_json *dp_json_at(const dp_json *arr, size_t i);
const char *dp_json_get_string(const dp_json *obj, const char *key); /* NULL unless STRING */
int dp_json_is(const dp_json *v, dp_json_type t);

/* Builders: nodes are allocated in doc's arena; strings are copied. */
dp_json *dp_json_new_null(dp_json_doc *doc);
dp_json *dp_json_new_bool(dp_json_doc *doc, int b);
dp_json *dp_json_new_string(dp_json_doc *doc, const char *s, size_t len);
dp_json *dp_json_new_number(dp_json_doc *doc, const char *text, size_t len); /* text not checked */
dp_json *dp_json_new_array(dp_json_doc *doc);
dp_json *dp_json_new_object(dp_json_doc *doc);
int dp_json_array_append(dp_json_doc *doc, dp_json *arr, dp_json *v); /* 0 ok, -1 nomem */
int dp_json_object_set(dp_json_doc *doc, dp_json *obj, const char *key, size_t key_len,
                       dp_json *v);                       /* replaces an existing key */
int dp_json_object_remove(dp_json *obj, const char *key); /* 1 removed, 0 absent */
/* Append without the duplicate-key scan (caller knows the key is new). */
int dp_json_object_append(dp_json_doc *doc, dp_json *obj, const char *key, size_t key_len, dp_json *v);
/* Deep copy of v (from any doc) into doc. */
dp_json *dp_json_clone(dp_json_doc *doc, const dp_json *v);
/* Structural equality (numbers compare by text). */
int dp_json_equal(const dp_json *a, const dp_json *b);

/* Serialize a value compactly. */
ddbpipe_result_t dp_json_write(dp_buf *out, const dp_json *v);

/* Streaming writer helpers (append to a dp_buf). The writer does not track
 * commas: callers write ',' themselves (dp_buf_putc). */
ddbpipe_result_t dp_json_write_string(dp_buf *out, const char *s, size_t len); /* quoted+escaped */
ddbpipe_result_t dp_json_write_cstr(dp_buf *out, const char *s);

/* The parser's own byte rules, for scanners that must accept exactly what it
 * accepts (sink/sink_parse_fast.c): length of the valid UTF-8 sequence at s
 * (RFC 3629: no overlongs, no surrogates, at most U+10FFFF; 0 = invalid), and
 * four hex digits of a \u escape (0 ok, -1 not hex). */
size_t dp_json_utf8_seq(const unsigned char *s, size_t n);
int dp_json_hex4(const char *s, unsigned *out);

/* Validate a JSON number's text (RFC 8259 grammar). 1 valid, 0 not. */
int dp_json_number_text_valid(const char *s, size_t len);

#endif
