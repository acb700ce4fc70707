/* The SQL lexer shared by the DDL parser (lang/ddl.c), the statement parser
 * and the statement splitter (lang/stmt.c). Private to src/lang/. Tokens
 * point into the caller's text; nothing is copied until a parser asks
 * (dp_lex_ident, dp_lex_string). Errors are "line L, column C: reason" in
 * the caller's errstr; after the first error every token is end of input. */
#ifndef DP_LANG_LEX_H
#define DP_LANG_LEX_H

#include <stddef.h>

typedef enum dp_tok_type {
    DP_TOK_EOF = 0,
    DP_TOK_WORD,   /* bare identifier or keyword: [A-Za-z_][A-Za-z0-9_$]* */
    DP_TOK_QIDENT, /* "quoted" or `quoted` identifier, quotes included */
    DP_TOK_STRING, /* 'string', quotes included */
    DP_TOK_NUMBER, /* 12, 1.5, .5, 1e3 (no sign) */
    DP_TOK_PUNCT   /* one character, or <= >= <> != */
} dp_tok_type;

typedef struct dp_tok {
    dp_tok_type t;
    const char *s; /* into the text */
    size_t n;
    size_t off;    /* byte offset of s in the text */
    int line, col; /* 1-based */
} dp_tok;

typedef struct dp_lex {
    const char *text;
    size_t len, pos;
    int line;
    size_t line_start;
    dp_tok cur;
    int failed;
    int fold; /* unquoted identifiers are folded to lower case (Feldera) */
    char *errstr;
    size_t errstr_size;
    int err_line, err_col; /* of the first error (0 before one) */
    char err_reason[400];  /* the first error without its "line L, column C: " */
} dp_lex;

/* Start at the first token of text (a UTF-8 byte order mark at the start
 * is skipped). fold: see dp_lex.fold. */
void dp_lex_init(dp_lex *L, const char *text, size_t len, int fold, char *errstr, size_t errstr_size);
/* Advance to the next token (skips blanks, -- and block comments). */
void dp_lex_next(dp_lex *L);
/* Record the first error at the current token; later calls are ignored. */
void dp_lex_fail(dp_lex *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int dp_tok_is_kw(const dp_tok *k, const char *word); /* case-insensitive */
int dp_tok_is_p(const dp_tok *k, const char *punct);
/* Consume the token when it matches (1), else leave it (0). */
int dp_lex_accept_kw(dp_lex *L, const char *word);
int dp_lex_accept_p(dp_lex *L, const char *punct);
/* As accept, but a mismatch is an error naming what was found. */
int dp_lex_expect_kw(dp_lex *L, const char *word);
int dp_lex_expect_p(dp_lex *L, const char *punct);
/* "'text'" (at most 40 bytes) or "end of input", in buf. */
const char *dp_tok_desc(const dp_tok *k, char *buf, size_t n);
/* Text of a quoted token without its quotes (doubled quotes collapse);
 * malloc'd, NULL when out of memory. */
char *dp_tok_unquote(const dp_tok *k);
/* An identifier (bare, folded when L->fold, or quoted); a qualified name
 * a.b.c keeps its last part. malloc'd; NULL after an error. */
char *dp_lex_ident(dp_lex *L);
/* A 'string' literal, unquoted; malloc'd; NULL after an error. */
char *dp_lex_string(dp_lex *L);
/* Skip to the next ';' (not consumed) or the end. */
void dp_lex_skip_statement(dp_lex *L);
/* '(' name, ... ')' appended to out; 0 after an error. */
struct dp_sql_names;
int dp_lex_name_list(dp_lex *L, struct dp_sql_names *out);

#endif
