/* ddbpipe_strerror: one static sentence per result code. */
#include "ddbpipe/ddbpipe.h"

const char *ddbpipe_strerror(ddbpipe_result_t r) {
    switch (r) {
    case DDBPIPE_OK:
        return "ok";
    case DDBPIPE_ERR_NOMEM:
        return "out of memory";
    case DDBPIPE_ERR_INVALID_ARG:
        return "invalid argument";
    case DDBPIPE_ERR_PARSE:
        return "malformed input";
    case DDBPIPE_ERR_IO:
        return "file or pipe error";
    case DDBPIPE_ERR_CONFIG:
        return "invalid configuration";
    case DDBPIPE_ERR_CREDENTIALS:
        return "no credentials: no provider could supply them";
    case DDBPIPE_ERR_TRANSPORT:
        return "network error (connect, reset or DNS)";
    case DDBPIPE_ERR_TIMEOUT:
        return "timed out";
    case DDBPIPE_ERR_CRC32:
        return "response CRC32 mismatch";
    case DDBPIPE_ERR_SERVICE:
        return "the service answered with an error";
    case DDBPIPE_ERR_TOO_LARGE:
        return "size limit exceeded";
    case DDBPIPE_ERR_QUEUE_FULL:
        return "buffers full (backpressure)";
    case DDBPIPE_ERR_NOT_FOUND:
        return "not found";
    case DDBPIPE_ERR_UNSUPPORTED:
        return "not supported or not built";
    case DDBPIPE_ERR_AUTH:
        return "credentials or signature rejected";
    case DDBPIPE_ERR_VALIDATION:
        return "invalid for DynamoDB";
    case DDBPIPE_ERR_RETRIES_EXHAUSTED:
        return "retries exhausted";
    case DDBPIPE_ERR_INTERRUPTED:
        return "interrupted";
    case DDBPIPE_ERR_SCHEMA_MISMATCH:
        return "table key schema differs from the configuration";
    case DDBPIPE_ERR_DATA_LOSS:
        return "data lost (records trimmed before they were read)";
    case DDBPIPE_ERR_TLS:
        return "TLS error (the server's certificate could not be verified, or the CA file is unusable)";
    case DDBPIPE_ERR__COUNT:
        break;
    }
    return "unknown error";
}

const char *ddbpipe_version(void) {
    return DDBPIPE_VERSION_STR;
}
