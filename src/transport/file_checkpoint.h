/* The file transport's checkpoint file (file_checkpoint.c):
 *   {"offset":N,"line":L[,"file":{"dev":D,"inode":I,"size":S,
 *    "prefix_sha256":"<hex>","path":"<name>"}]}
 * and the identity of the input it was taken from, so it is never applied
 * to another input. Parsers are pure; the identity reads the input with
 * pread only. */
#ifndef DP_TRANSPORT_FILE_CHECKPOINT_H
#define DP_TRANSPORT_FILE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "aws/sigv4.h"
#include "common/buf.h"
#include "ddbpipe/ddbpipe.h"

/* The input file a checkpoint was taken from. */
typedef struct dp_ckpt_file_id {
    uint64_t dev, ino, size;
    char prefix_sha256[65]; /* hex, of every byte before the offset */
    int have_prefix;        /* 0: not a regular file, or shorter than the offset */
    char sha256[65];        /* parsed from older checkpoints: of the first and last 4 KiB before it */
    int have_window;
    int regular;
    int present; /* parsed: the checkpoint has a "file" member */
} dp_ckpt_file_id;

/* The running SHA-256 of an input's first off bytes. {0} is empty. */
typedef struct dp_ckpt_prefix_hash {
    dp_sha256_stream *h;
    uint64_t off;
} dp_ckpt_prefix_hash;
void dp_ckpt_prefix_hash_clear(dp_ckpt_prefix_hash *ph);

/* Identity of the file open on fd for a checkpoint at offset; the digest
 * advances ph from where it stands (reading only the bytes it has not seen;
 * an offset behind it starts over). 0 ok, -1 errno (fstat/pread failed,
 * ENOMEM). */
int dp_ckpt_file_identity(int fd, uint64_t offset, dp_ckpt_prefix_hash *ph, dp_ckpt_file_id *out);
/* Append {"dev":..,"inode":..,"size":..,"prefix_sha256":"..","path":".."}. 0 ok. */
int dp_ckpt_file_identity_json(dp_buf *b, const dp_ckpt_file_id *id, const char *name);
/* Parse a checkpoint with its optional "file" member (path: its "path"). */
ddbpipe_result_t dp_ckpt_parse_full(const char *text, size_t len, uint64_t *offset, uint64_t *line,
                                    dp_ckpt_file_id *id, char *path, size_t path_size);
/* ddbpipe_sink_checkpoint_resume; ph (may be NULL) keeps the prefix digest
 * it computed, so the next checkpoint continues from it. */
ddbpipe_result_t dp_ckpt_resume(const char *path, int fd, const char *input_name, dp_ckpt_prefix_hash *ph,
                                uint64_t *offset, uint64_t *line, char *errstr, size_t errstr_size);

#endif
