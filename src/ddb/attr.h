/* AttributeValue codec. An AttributeValue is a dp_json node in DynamoDB's
 * typed JSON form ({"S": "x"}, {"N": "1.50"}, {"M": {...}}, ...); an item is
 * a JSON object of name -> AttributeValue. Number text is kept exactly.
 * Pure functions, no I/O (fuzzable). */
#ifndef DP_DDB_ATTR_H
#define DP_DDB_ATTR_H

#include <stddef.h>
#include <stdint.h>

#include "common/json.h"

#define DP_DDB_MAX_ITEM_BYTES (400 * 1024)
#define DP_DDB_MAX_PK_BYTES 2048
#define DP_DDB_MAX_SK_BYTES 1024
#define DP_DDB_MAX_DEPTH 32

/* Column types (SQL types of seed 004's mapping and Flink DDL). */
typedef enum dp_coltype_kind {
    DP_COL_AUTO = 0, /* follow the JSON value (VARIANT) */
    DP_COL_BOOLEAN,
    DP_COL_INTEGER, /* TINYINT, SMALLINT, INT, BIGINT */
    DP_COL_DECIMAL, /* DECIMAL(p,s) */
    DP_COL_FLOAT,   /* REAL, FLOAT, DOUBLE */
    DP_COL_STRING,  /* VARCHAR, CHAR, STRING, TEXT */
    DP_COL_DATE,
    DP_COL_TIME,
    DP_COL_TIMESTAMP,
    DP_COL_UUID,
    DP_COL_BINARY,  /* VARBINARY, BYTES, BINARY: base64 in JSON */
    DP_COL_ARRAY,   /* -> L */
    DP_COL_MAP,     /* MAP, ROW, user-defined -> M */
    DP_COL_VARIANT, /* same as AUTO */
    DP_COL_STRING_SET,
    DP_COL_NUMBER_SET,
    DP_COL_BINARY_SET
} dp_coltype_kind;

typedef struct dp_coltype {
    dp_coltype_kind kind;
    int precision, scale;     /* DECIMAL */
    int64_t int_min, int_max; /* INTEGER range by width */
} dp_coltype;

/* Parse "DECIMAL(10, 2)", "BIGINT", "ARRAY<INT>", "VARCHAR(20)", "SS"...
 * Case-insensitive; a trailing "NOT NULL"/"NULL" is ignored. Accepted:
 *   BOOLEAN BOOL | TINYINT SMALLINT INT INTEGER BIGINT (range checked) |
 *   DECIMAL NUMERIC DEC [(p[,s])] (no (p,s): any DynamoDB number; "N" too) |
 *   REAL FLOAT DOUBLE [PRECISION] | VARCHAR[(n)] CHAR[(n)] CHARACTER VARYING
 *   STRING TEXT "S" | DATE | TIME[(p)] | TIMESTAMP[(p)] [WITH[OUT] [LOCAL]
 *   TIME ZONE] TIMESTAMP_LTZ | UUID | VARBINARY BINARY BYTES BLOB BYTEA "B" |
 *   ARRAY<T> "T ARRAY" "L" -> L | MAP<K,V> ROW<..> ROW(..) STRUCT<..> "M" -> M
 *   | VARIANT JSON ANY -> follow the JSON value | STRING SET, NUMBER SET,
 *   BINARY SET, "SS" "NS" "BS" -> sets.
 * Returns 0, or -1 with errstr naming the type text. */
int dp_coltype_parse(const char *text, dp_coltype *out, char *errstr, size_t errstr_size);

typedef struct dp_column {
    char name[256];
    dp_coltype type;
} dp_column;

/* Plain JSON -> AttributeValue. type may be NULL (auto). ignore_nulls is
 * handled by the caller. On error errstr names the problem (path given by
 * caller; nested problems are reported as "at 'b[2]': reason"). Returns
 * NULL on error. JSON null gives {"NULL":true} whatever the type.
 * Being strict but helpful: numeric columns also accept numeric strings
 * ("12.5"), DATE also accepts an integer (days since 1970-01-01, Debezium's
 * io.debezium.time.Date) and writes "YYYY-MM-DD"; "NaN"/"Infinity" strings
 * for REAL/DOUBLE are rejected because DynamoDB cannot store them. */
dp_json *dp_attr_from_plain(dp_json_doc *doc, const dp_json *v, const dp_coltype *type, char *errstr,
                            size_t errstr_size);
/* AttributeValue -> plain JSON (N stays number text, B/BS base64 strings,
 * sets as arrays, NULL as null). */
dp_json *dp_attr_to_plain(dp_json_doc *doc, const dp_json *av, char *errstr, size_t errstr_size);

/* Validate a typed AttributeValue by DynamoDB's rules (valid numbers of at
 * most 38 digits in range, non-empty unique sets, valid base64, depth).
 * Returns 0 when valid, -1 with errstr set otherwise. */
int dp_attr_validate(const dp_json *av, char *errstr, size_t errstr_size);
/* Validate a whole item: every attribute, the key attributes (present, S/N/B,
 * non-empty, size limits), and the 400 KB item size. sort_key may be NULL.
 * Returns 0 when valid, -1 with errstr set ("attribute 'a.b[2]': number has
 * 40 significant digits, DynamoDB allows 38"), or DP_ITEM_TOO_LARGE when
 * the item is valid but over DP_DDB_MAX_ITEM_BYTES (the size is checked
 * last, so the answer names the one reason). */
#define DP_ITEM_TOO_LARGE (-2)
int dp_item_validate(const dp_json *item, const char *partition_key, const char *sort_key, char *errstr,
                     size_t errstr_size);

/* Same as above with expected key types ('S', 'N', 'B', or 0 = any of
 * them). */
int dp_item_validate_typed(const dp_json *item, const char *partition_key, char partition_type,
                           const char *sort_key, char sort_type, char *errstr, size_t errstr_size);
/* Only the key attributes: present, of type S/N/B (and the expected type
 * when not 0), non-empty, partition <= 2048 bytes, sort <= 1024 bytes.
 * sort_key may be NULL. Returns 0 or -1 with errstr set. */
int dp_item_validate_keys(const dp_json *item, const char *partition_key, char partition_type,
                          const char *sort_key, char sort_type, char *errstr, size_t errstr_size);
/* dp_attr_validate / dp_attr_from_plain with the attribute name: messages
 * read "attribute 'name.b[2]': reason". */
int dp_attr_validate_at(const dp_json *av, const char *name, char *errstr, size_t errstr_size);
dp_json *dp_attr_from_plain_at(dp_json_doc *doc, const dp_json *v, const dp_coltype *type, const char *name,
                               char *errstr, size_t errstr_size);
/* Plain object -> typed item. Each member is converted with the column type
 * of the same name (columns may be NULL / ncolumns 0: auto). ignore_nulls
 * drops members whose value is null. Returns NULL with errstr set. */
dp_json *dp_item_from_plain(dp_json_doc *doc, const dp_json *plain, const dp_column *columns, size_t ncolumns,
                            int ignore_nulls, char *errstr, size_t errstr_size);
/* Typed item -> plain object (dp_attr_to_plain per attribute). */
dp_json *dp_item_to_plain(dp_json_doc *doc, const dp_json *item, char *errstr, size_t errstr_size);
/* Stream the plain view of a typed AttributeValue (or, with
 * dp_item_write_plain, of an item) as JSON into out without building a
 * tree. On error out is left as it was. */
ddbpipe_result_t dp_attr_write_plain(dp_buf *out, const dp_json *av, char *errstr, size_t errstr_size);
ddbpipe_result_t dp_item_write_plain(dp_buf *out, const dp_json *item, char *errstr, size_t errstr_size);
/* Key attributes only (partition + optional sort) cloned into doc. NULL
 * when a key attribute is missing. */
dp_json *dp_item_extract_keys(dp_json_doc *doc, const dp_json *item, const char *partition_key,
                              const char *sort_key);
/* Type tag of an AttributeValue ("S", "N", ..., "BS"), NULL if malformed. */
const char *dp_attr_type(const dp_json *av);
/* Find the column of that name (NULL if none). */
const dp_column *dp_column_find(const dp_column *columns, size_t ncolumns, const char *name);
/* Canonical text of a DynamoDB number, so that "1", "1.0" and "10E-1" are
 * equal: "0", or [-]DIGITS"E"EXP with no leading/trailing zeros in DIGITS
 * (value = DIGITS x 10^EXP). Returns -1 if text is not a valid number. */
int dp_ddb_number_canonical(const char *text, size_t len, dp_buf *out);
/* Name of a kind for messages ("DECIMAL", "STRING SET", ...). */
const char *dp_coltype_name(dp_coltype_kind kind);

/* Size by DynamoDB's rules (names + values). */
size_t dp_attr_size(const dp_json *av);
size_t dp_item_size(const dp_json *item);

/* Number checks: 1 if text is a DynamoDB-acceptable number (<= 38
 * significant digits, magnitude 1E-130 .. 9.99..E+125, no NaN/Infinity). */
int dp_ddb_number_valid(const char *text, size_t len, char *errstr, size_t errstr_size);
/* Bytes a number occupies: (significant digits + 1) / 2 + 1. */
size_t dp_ddb_number_size(const char *text, size_t len);

/* Base64 (standard alphabet, padding required). Decode returns 0, or -1 on
 * invalid input. dp_base64_valid: 1 valid, 0 not; decoded length into
 * *out_len when non-NULL. */
int dp_base64_valid(const char *in, size_t len, size_t *out_len);
int dp_base64_decode(const char *in, size_t len, unsigned char *out, size_t *out_len); /* out >= len*3/4 */
size_t dp_base64_encode(const unsigned char *in, size_t len, char *out); /* out >= 4*((len+2)/3)+1 */

/* Canonical key string of an item (partition + sort values, typed), used
 * for dedup/ordering/hashing. Appends to out (does not reset it):
 * "<T><len>:<value>" for the partition key, then "|<T><len>:<value>" for the
 * sort key, where T is S/N/B, N values are in canonical form (so "1" and
 * "1.0" are one key) and B values are the decoded bytes. Unambiguous thanks
 * to the length prefixes. Returns 0, or -1 if a key is missing/not S/N/B. */
int dp_item_key_string(const dp_json *item, const char *partition_key, const char *sort_key, dp_buf *out);

#endif
