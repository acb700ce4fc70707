/* Unit tests for the HTTP engine on loopback only: defaults, protocol
 * restriction, transport errors, header capture (x-amz-crc32,
 * x-amzn-RequestId), the body cap, submitting from a done callback, and
 * destroy with requests in flight. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "http/http.h"

/* One-shot server: accepts one connection, reads one request, writes
 * `reply`, closes. */
typedef struct {
    int fd;
    int port;
    const char *reply;
    char request[4096];
} oneshot;

static void *oneshot_main(void *arg) {
    oneshot *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t n = 0;
    while (n + 1 < sizeof(s->request)) {
        ssize_t r = read(c, s->request + n, sizeof(s->request) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        s->request[n] = 0;
        char *end = strstr(s->request, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(s->request, "Content-Length:");
            size_t want = (size_t)(end + 4 - s->request) + (cl ? (size_t)atol(cl + 15) : 0);
            if (n >= want)
                break;
        }
    }
    ssize_t w = write(c, s->reply, strlen(s->reply));
    (void)w;
    close(c);
    return NULL;
}

static pthread_t start_oneshot(oneshot *s, const char *reply) {
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->fd, 4), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    s->reply = reply;
    s->request[0] = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, oneshot_main, s), 0);
    return t;
}

static void test_defaults(void **state) {
    (void)state;
    dp_http_options o;
    dp_http_options_init(&o);
    assert_int_equal(o.connect_timeout_ms, 3000);
    assert_int_equal(o.request_timeout_ms, 60000);
    assert_int_equal(o.max_response_bytes, 16 * 1024 * 1024);
    assert_int_equal(o.max_connections, 64);
    assert_int_equal(o.verify_tls, 1);
}

static void test_only_http_and_https(void **state) {
    (void)state;
    dp_http_request req = {"file:///etc/passwd", "GET", NULL, 0, NULL, 0, 0};
    dp_http_response resp;
    dp_http_response_init(&resp);
    assert_int_equal(dp_http_perform(NULL, &req, &resp), DDBPIPE_ERR_CONFIG);
    assert_int_equal(resp.status, 0);
    assert_int_equal(resp.body.len, 0);
    dp_http_response_free(&resp);
}

static void test_connection_refused_is_transport(void **state) {
    (void)state;
    dp_http_request req = {"http://127.0.0.1:1/", "POST", NULL, 0, "{}", 2, 0};
    dp_http_response resp;
    dp_http_response_init(&resp);
    assert_int_equal(dp_http_perform(NULL, &req, &resp), DDBPIPE_ERR_TRANSPORT);
    assert_int_equal(resp.status, 0);
    assert_non_null(strstr(resp.error_text, "127.0.0.1"));
    dp_http_response_free(&resp);
}

static void test_headers_captured_and_request_shape(void **state) {
    (void)state;
    oneshot s;
    pthread_t t = start_oneshot(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Amz-Crc32: 2745614147\r\n"
                                    "x-amzn-RequestId: ABC123\r\nConnection: close\r\n\r\n{}");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
    dp_http_header h[] = {{"X-Amz-Target", "DynamoDB_20120810.ListTables"},
                          {"Content-Type", "application/x-amz-json-1.0"}};
    dp_http_request req = {url, "POST", h, 2, "{\"a\":1}", 7, 0};
    dp_http_response resp;
    dp_http_response_init(&resp);
    assert_int_equal(dp_http_perform(NULL, &req, &resp), DDBPIPE_OK);
    pthread_join(t, NULL);
    close(s.fd);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body.data, "{}");
    assert_int_equal(resp.has_crc32, 1);
    assert_int_equal(resp.crc32, 2745614147u);
    assert_int_equal(resp.crc32, dp_crc32(resp.body.data, resp.body.len));
    assert_string_equal(resp.request_id, "ABC123");
    assert_true(resp.elapsed_ns > 0);
    /* what went on the wire: HTTP/1.1, our headers, no Expect, the body */
    assert_non_null(strstr(s.request, "POST / HTTP/1.1\r\n"));
    assert_non_null(strstr(s.request, "X-Amz-Target: DynamoDB_20120810.ListTables\r\n"));
    assert_non_null(strstr(s.request, "Content-Type: application/x-amz-json-1.0\r\n"));
    assert_null(strcasestr(s.request, "Expect:"));
    assert_non_null(strstr(s.request, "\r\n\r\n{\"a\":1}"));
    dp_http_response_free(&resp);
}

static void test_body_cap(void **state) {
    (void)state;
    oneshot s;
    /* no Content-Length: the cap must hit while streaming */
    pthread_t t = start_oneshot(&s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                                    "0123456789012345678901234567890123456789");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
    dp_http_options o;
    dp_http_options_init(&o);
    o.max_response_bytes = 16;
    dp_http_request req = {url, "GET", NULL, 0, NULL, 0, 0};
    dp_http_response resp;
    dp_http_response_init(&resp);
    assert_int_equal(dp_http_perform(&o, &req, &resp), DDBPIPE_ERR_TOO_LARGE);
    pthread_join(t, NULL);
    close(s.fd);
    assert_true(resp.body.len <= 16);
    assert_non_null(strstr(resp.error_text, "16 bytes"));
    dp_http_response_free(&resp);
}

typedef struct {
    dp_http *h;
    int done;
} chain_ctx;

static void chain_done(void *opaque, dp_http_response *resp) {
    chain_ctx *c = opaque;
    assert_int_equal(resp->result, DDBPIPE_ERR_TRANSPORT);
    if (++c->done < 3) {
        dp_http_request req = {"http://127.0.0.1:1/", "POST", NULL, 0, "x", 1, 0};
        assert_int_equal(dp_http_submit(c->h, &req, chain_done, c), DDBPIPE_OK);
    }
}

static void test_submit_from_callback(void **state) {
    (void)state;
    chain_ctx c = {dp_http_new(NULL), 0};
    assert_non_null(c.h);
    dp_http_request req = {"http://127.0.0.1:1/", "POST", NULL, 0, "x", 1, 0};
    assert_int_equal(dp_http_submit(c.h, &req, chain_done, &c), DDBPIPE_OK);
    assert_int_equal(dp_http_in_flight(c.h), 1);
    int64_t deadline = dp_now_ms() + 10000;
    while (dp_http_in_flight(c.h) > 0 && dp_now_ms() < deadline)
        dp_http_run(c.h, 100);
    assert_int_equal(c.done, 3);
    /* nothing in flight: run returns at once */
    int64_t t0 = dp_now_ms();
    assert_int_equal(dp_http_run(c.h, 2000), 0);
    assert_true(dp_now_ms() - t0 < 500);
    dp_http_destroy(c.h);
}

static void never_called(void *opaque, dp_http_response *resp) {
    (void)opaque;
    (void)resp;
    fail_msg("callback after destroy");
}

static void test_destroy_with_requests_in_flight(void **state) {
    (void)state;
    dp_http *h = dp_http_new(NULL);
    dp_http_request req = {"http://127.0.0.1:1/", "POST", NULL, 0, "body", 4, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(dp_http_submit(h, &req, never_called, NULL), DDBPIPE_OK);
    assert_int_equal(dp_http_in_flight(h), 5);
    dp_http_destroy(h);
    dp_http_destroy(NULL);
    /* bad arguments */
    h = dp_http_new(NULL);
    dp_http_request nourl = {NULL, "GET", NULL, 0, NULL, 0, 0};
    assert_int_equal(dp_http_submit(h, &nourl, never_called, NULL), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(dp_http_submit(h, &req, NULL, NULL), DDBPIPE_ERR_INVALID_ARG);
    assert_int_equal(dp_http_in_flight(h), 0);
    dp_http_destroy(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_only_http_and_https),
        cmocka_unit_test(test_connection_refused_is_transport),
        cmocka_unit_test(test_headers_captured_and_request_shape),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_submit_from_callback),
        cmocka_unit_test(test_destroy_with_requests_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
