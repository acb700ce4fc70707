/* Condition expressions on write requests (see condition.h). */
#include <string.h>

#include "ddb/condition.h"

static int is_name_char(char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Is the placeholder name (#n or :v) in expr as a whole token? */
static int expr_uses(const char *expr, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = expr; nl && (p = strstr(p, name)) != NULL; p += nl)
        if (!is_name_char(p[nl]))
            return 1;
    return 0;
}

static ddbpipe_result_t put_used_members(dp_buf *b, const char *member, const dp_json *obj,
                                         const char *expr) {
    ddbpipe_result_t rc = DDBPIPE_OK;
    int first = 1;
    for (size_t i = 0; !rc && obj && i < obj->count; i++) {
        const char *name = obj->members[i].key;
        if (!expr_uses(expr, name))
            continue;
        rc = dp_buf_puts(b, first ? member : ",");
        first = 0;
        if (!rc)
            rc = dp_json_write_cstr(b, name);
        if (!rc)
            rc = dp_buf_putc(b, ':');
        if (!rc)
            rc = dp_json_write(b, obj->members[i].value);
    }
    if (!rc && !first)
        rc = dp_buf_putc(b, '}');
    return rc;
}

ddbpipe_result_t dp_ddb_put_condition(dp_buf *b, const char *expr, const dp_json *names,
                                      const dp_json *values) {
    if (!expr)
        return DDBPIPE_OK;
    ddbpipe_result_t rc = dp_buf_puts(b, ",\"ConditionExpression\":");
    if (!rc)
        rc = dp_json_write_cstr(b, expr);
    if (!rc && names && names->type == DP_JSON_OBJECT)
        rc = put_used_members(b, ",\"ExpressionAttributeNames\":{", names, expr);
    if (!rc && values && values->type == DP_JSON_OBJECT)
        rc = put_used_members(b, ",\"ExpressionAttributeValues\":{", values, expr);
    return rc;
}
