/* A fast local "null" DynamoDB endpoint for benchmarks: answers every
 * BatchWriteItem / TransactWriteItems instantly (or after --latency-ms),
 * applies nothing, counts items. Single-threaded epoll, HTTP/1.1 keep-alive.
 * Delayed answers wait in a FIFO (the latency is the same for all, so due
 * times come in arrival order) on a timerfd with nanosecond resolution, so
 * 10 ms means 10 ms, not 10 ms plus a poll tick.
 *
 *   null_endpoint [--port N] [--latency-ms MS] [--spin] [--pk NAME] [--dump FILE]
 *                 [--scan-items N] [--scan-page N]
 * --dump FILE writes every BatchWriteItem body it receives to FILE, one a
 * line (bench/floor_client replays them). --scan-items N serves Scan from
 * memory: a table of N items shaped like bench/gen_records' rows (partition
 * key --pk, "user-%010d"), item i in segment i % TotalSegments, pages of
 * --scan-page items (default 2000, about 1 MB as DynamoDB pages), made on
 * the fly so the endpoint's memory does not grow with N. LastEvaluatedKey is
 * the last item's key; the next page starts after it.
 * Prints "PORT <n>" on stdout once listening. GET /__stats returns
 * {"requests":..,"items":..,"connections":..,"open_calls":..,"max_open_calls":..}:
 * max_open_calls is the most calls received and not yet answered at one
 * moment since the previous /__stats (which resets it to open_calls), so a
 * benchmark reads it before and after a run to see the concurrency it got. DescribeTable answers with a
 * table whose partition key is --pk (S). SIGTERM/SIGINT stop it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 4096
#define RBUF (20 * 1024 * 1024)

typedef struct conn {
    int fd;
    uint64_t gen; /* tells a reused fd from the connection a queued answer was for */
    char *buf;
    size_t len, cap;
    int64_t due_ns; /* pending response time, 0 = none */
    char *resp;
    size_t resp_len, resp_off;
    int open_call; /* a received call not answered yet */
} conn;

/* answers waiting for their due time, oldest first (one per connection at most) */
typedef struct due_entry {
    int fd;
    uint64_t gen;
    int64_t due_ns;
} due_entry;
static due_entry due_q[2 * MAX_CONN];
static size_t due_head, due_len;
static uint64_t next_gen = 1;

static volatile sig_atomic_t stop_flag;
static uint64_t n_requests, n_items, n_conns, open_calls, max_open_calls;
static int64_t latency_ns;
static int spin;
static const char *pk_name = "id";
static FILE *dump_f;
static long scan_items = -1, scan_page = 2000;

static void on_signal(int s) {
    (void)s;
    stop_flag = 1;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint32_t crc_table[256];
static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}
static uint32_t crc32(const char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ (unsigned char)p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static size_t count_sub(const char *h, size_t n, const char *needle) {
    size_t k = strlen(needle), c = 0;
    const char *p = h, *end = h + n;
    while ((p = memmem(p, (size_t)(end - p), needle, k)) != NULL) {
        c++;
        p += k;
    }
    return c;
}

static void set_response(conn *c, int status, const char *body) {
    size_t bl = strlen(body);
    free(c->resp);
    c->resp = malloc(bl + 256);
    int n = snprintf(c->resp, bl + 256,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: %zu\r\n"
                     "x-amz-crc32: %u\r\nx-amzn-RequestId: null\r\nConnection: keep-alive\r\n\r\n%s",
                     status, status == 200 ? "OK" : "Bad Request", bl, crc32(body, bl), body);
    c->resp_len = (size_t)n;
    c->resp_off = 0;
}

/* An integer member of a request body ("Segment":3), or dflt. */
static long body_long(const char *body, size_t n, const char *name, long dflt) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = memmem(body, n, pat, strlen(pat));
    return p ? strtol(p + strlen(pat), NULL, 10) : dflt;
}

/* Appends item i, typed, as DynamoDB returns it. */
static size_t scan_item(char *o, size_t cap, long i) {
    static const char *beh[] = {"view", "cart", "purchase", "fav"};
    uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ULL;
    return (size_t)snprintf(
        o, cap,
        "{\"%s\":{\"S\":\"user-%010ld\"},\"item_id\":{\"N\":\"%lu\"},\"category_id\":{\"N\":\"%lu\"},"
        "\"behavior\":{\"S\":\"%s\"},\"price\":{\"N\":\"%lu.%02lu\"},\"ts\":{\"S\":\"2026-11-21T12:%02lu:%"
        "02lu.%03luZ\"},"
        "\"active\":{\"BOOL\":%s},\"tags\":{\"L\":[{\"S\":\"t%lu\"},{\"S\":\"t%lu\"}]},"
        "\"note\":{\"S\":\"lorem ipsum dolor sit amet adipiscing sed do eiusmod tempor incididunt %lu\"}}",
        pk_name, i, (unsigned long)(h % 50000), (unsigned long)(h >> 20) % 1000, beh[(h >> 30) % 4],
        (unsigned long)(h >> 33) % 1000, (unsigned long)(h >> 43) % 100, (unsigned long)(h >> 13) % 60,
        (unsigned long)(h >> 19) % 60, (unsigned long)(h >> 25) % 1000, (h >> 7) & 1 ? "true" : "false",
        (unsigned long)(h >> 37) % 100, (unsigned long)(h >> 47) % 100, (unsigned long)(h >> 3) % 100000000);
}

/* A Scan page of the in-memory table (--scan-items) into a new string. */
static char *scan_answer(const char *body, size_t n) {
    long seg = body_long(body, n, "Segment", 0), total = body_long(body, n, "TotalSegments", 1);
    long limit = body_long(body, n, "Limit", scan_page);
    if (total < 1)
        total = 1;
    if (limit < 1 || limit > scan_page)
        limit = scan_page;
    long start = seg; /* first item index of this segment */
    const char *esk = memmem(body, n, "\"ExclusiveStartKey\"", 19);
    if (esk) {
        const char *u = memmem(esk, n - (size_t)(esk - body), "user-", 5);
        if (u)
            start = strtol(u + 5, NULL, 10) + total;
    }
    size_t cap = (size_t)limit * 640 + 256, len = 0;
    char *o = malloc(cap);
    len += (size_t)snprintf(o, cap, "{\"Items\":[");
    long i = start, cnt = 0;
    for (; i < scan_items && cnt < limit; i += total, cnt++) {
        if (cnt)
            o[len++] = ',';
        len += scan_item(o + len, cap - len, i);
    }
    len += (size_t)snprintf(o + len, cap - len, "],\"Count\":%ld,\"ScannedCount\":%ld", cnt, cnt);
    if (i < scan_items)
        len += (size_t)snprintf(o + len, cap - len, ",\"LastEvaluatedKey\":{\"%s\":{\"S\":\"user-%010ld\"}}",
                                pk_name, i - total);
    snprintf(o + len, cap - len, "}");
    return o;
}

/* Returns bytes consumed when a full request is in the buffer, 0 if more is needed. */
static size_t try_request(conn *c) {
    char *hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!hend)
        return 0;
    size_t hlen = (size_t)(hend - c->buf) + 4;
    size_t clen = 0;
    char target[128] = "";
    for (char *line = c->buf; line < hend;) {
        char *eol = memmem(line, (size_t)(hend - line) + 2, "\r\n", 2);
        if (!eol)
            break;
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoul(line + 15, NULL, 10);
        else if (strncasecmp(line, "X-Amz-Target:", 13) == 0) {
            const char *v = line + 13;
            while (*v == ' ')
                v++;
            size_t tl = (size_t)(eol - v);
            if (tl >= sizeof target)
                tl = sizeof target - 1;
            memcpy(target, v, tl);
            target[tl] = 0;
        }
        line = eol + 2;
    }
    if (c->len < hlen + clen)
        return 0;
    const char *body = c->buf + hlen;
    n_requests++;
    if (strncmp(c->buf, "GET /__stats", 12) == 0) {
        char b[256];
        snprintf(b, sizeof b,
                 "{\"requests\":%llu,\"items\":%llu,\"connections\":%llu,\"open_calls\":%llu,"
                 "\"max_open_calls\":%llu}",
                 (unsigned long long)n_requests, (unsigned long long)n_items, (unsigned long long)n_conns,
                 (unsigned long long)open_calls, (unsigned long long)max_open_calls);
        max_open_calls = open_calls;
        set_response(c, 200, b);
    } else if (strstr(target, "BatchWriteItem")) {
        n_items += count_sub(body, clen, "\"PutRequest\"") + count_sub(body, clen, "\"DeleteRequest\"");
        if (dump_f) {
            fwrite(body, 1, clen, dump_f);
            fputc('\n', dump_f);
        }
        set_response(c, 200, "{\"UnprocessedItems\":{}}");
    } else if (strstr(target, "TransactWriteItems")) {
        n_items += count_sub(body, clen, "\"Put\"") + count_sub(body, clen, "\"Delete\"");
        set_response(c, 200, "{}");
    } else if (strstr(target, "DescribeTable")) {
        char b[1024];
        snprintf(b, sizeof b,
                 "{\"Table\":{\"TableName\":\"bench\",\"TableStatus\":\"ACTIVE\",\"KeySchema\":[{"
                 "\"AttributeName\":"
                 "\"%s\",\"KeyType\":\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"%s\","
                 "\"AttributeType\":\"S\"}],\"ItemCount\":%ld}}",
                 pk_name, pk_name, scan_items > 0 ? scan_items : 0);
        set_response(c, 200, b);
    } else if (scan_items >= 0 && strstr(target, ".Scan")) {
        char *page = scan_answer(body, clen);
        n_items += (uint64_t)body_long(page, strlen(page), "Count", 0);
        set_response(c, 200, page);
        free(page);
    } else if (strstr(target, "ListTables")) {
        set_response(c, 200, "{\"TableNames\":[\"bench\"]}");
    } else {
        set_response(c, 400,
                     "{\"__type\":\"com.amazon.coral.validate#ValidationException\",\"message\":\"null "
                     "endpoint: unsupported operation\"}");
    }
    if (strncmp(c->buf, "GET /__stats", 12) != 0) {
        c->open_call = 1;
        if (++open_calls > max_open_calls)
            max_open_calls = open_calls;
    }
    if (latency_ns > 0) {
        c->due_ns = now_ns() + latency_ns;
        due_entry *e = &due_q[(due_head + due_len++) % (2 * MAX_CONN)];
        e->fd = c->fd;
        e->gen = c->gen;
        e->due_ns = c->due_ns;
    } else {
        c->due_ns = 1;
    }
    return hlen + clen;
}

static void call_answered(conn *c) {
    if (c->open_call) {
        c->open_call = 0;
        open_calls--;
    }
}

static void close_conn(int ep, conn **conns, conn *c) {
    call_answered(c);
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    conns[c->fd] = NULL;
    free(c->buf);
    free(c->resp);
    free(c);
}

static int flush_resp(conn *c) {
    while (c->resp_off < c->resp_len) {
        ssize_t w = send(c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off, MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        c->resp_off += (size_t)w;
    }
    c->due_ns = 0;
    call_answered(c);
    free(c->resp);
    c->resp = NULL;
    return 1;
}

static int handle_input(conn *c) {
    /* One request at a time per connection (HTTP/1.1 without pipelining). */
    while (c->due_ns == 0) {
        size_t used = try_request(c);
        if (!used)
            return 0;
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (latency_ns <= 0) {
            if (flush_resp(c) < 0)
                return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--latency-ms") && i + 1 < argc)
            latency_ns = (int64_t)(atof(argv[++i]) * 1e6);
        else if (!strcmp(argv[i], "--spin"))
            spin = 1;
        else if (!strcmp(argv[i], "--pk") && i + 1 < argc)
            pk_name = argv[++i];
        else if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
            if (!(dump_f = fopen(argv[++i], "w"))) {
                perror(argv[i]);
                return 1;
            }
        } else if (!strcmp(argv[i], "--scan-items") && i + 1 < argc)
            scan_items = atol(argv[++i]);
        else if (!strcmp(argv[i], "--scan-page") && i + 1 < argc)
            scan_page = atol(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: %s [--port N] [--latency-ms MS] [--spin] [--pk NAME] [--dump FILE] "
                    "[--scan-items N] [--scan-page N]\n",
                    argv[0]);
            return 2;
        }
    }
    crc_init();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024)) {
        perror("bind/listen");
        return 1;
    }
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    printf("PORT %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.fd = tfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    int64_t armed_ns = 0;
    conn **conns = calloc(MAX_CONN, sizeof *conns);
    struct epoll_event evs[256];
    while (!stop_flag) {
        /* --spin: while answers are pending, poll without sleeping. On loopback
         * the client's send() does the wake-up of a sleeping server (the
         * scheduler's work is charged to the sender); a remote server's sleep
         * costs the client nothing, so this keeps that cost out of the client's
         * figures. It burns this process's core while requests are out. */
        int n = epoll_wait(ep, evs, 256, spin && due_len > 0 ? 0 : 100);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == tfd) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
                    perror("timerfd");
                armed_ns = 0;
                continue;
            }
            if (fd == ls) {
                int cfd;
                while ((cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (cfd >= MAX_CONN) {
                        close(cfd);
                        continue;
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn *c = calloc(1, sizeof *c);
                    c->fd = cfd;
                    c->gen = next_gen++;
                    c->cap = 65536;
                    c->buf = malloc(c->cap);
                    conns[cfd] = c;
                    n_conns++;
                    struct epoll_event ce = {.events = EPOLLIN, .data.fd = cfd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ce);
                }
                continue;
            }
            conn *c = conns[fd];
            if (!c)
                continue;
            int dead = 0;
            for (;;) {
                if (c->cap - c->len < 65536) {
                    if (c->cap >= RBUF) {
                        dead = 1;
                        break;
                    }
                    c->cap *= 2;
                    c->buf = realloc(c->buf, c->cap);
                }
                ssize_t r = recv(fd, c->buf + c->len, c->cap - c->len, 0);
                if (r > 0) {
                    c->len += (size_t)r;
                    continue;
                }
                if (r == 0 || errno != EAGAIN)
                    dead = 1;
                break;
            }
            if (!dead && handle_input(c) < 0)
                dead = 1;
            if (dead)
                close_conn(ep, conns, c);
        }
        /* send every answer that is due, then sleep until the next one */
        int64_t t = now_ns();
        while (due_len > 0 && due_q[due_head].due_ns <= t) {
            due_entry e = due_q[due_head];
            due_head = (due_head + 1) % (2 * MAX_CONN);
            due_len--;
            conn *c = conns[e.fd];
            if (!c || c->gen != e.gen || !c->due_ns)
                continue; /* closed meanwhile */
            int fr = flush_resp(c);
            if (fr == 0 && due_len < 2 * MAX_CONN) { /* socket full: try again shortly */
                e.due_ns = t + 100000;
                due_q[(due_head + due_len++) % (2 * MAX_CONN)] = e;
                continue;
            }
            if (fr < 0 || handle_input(c) < 0)
                close_conn(ep, conns, c);
        }
        if (due_len > 0 && armed_ns != due_q[due_head].due_ns) {
            armed_ns = due_q[due_head].due_ns;
            struct itimerspec its = {.it_value = {.tv_sec = (time_t)(armed_ns / 1000000000LL),
                                                  .tv_nsec = (long)(armed_ns % 1000000000LL)}};
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        }
    }
    fprintf(stderr, "null_endpoint: %llu requests, %llu items, %llu connections\n",
            (unsigned long long)n_requests, (unsigned long long)n_items, (unsigned long long)n_conns);
    for (int fd = 0; fd < MAX_CONN; fd++)
        if (conns[fd])
            close_conn(ep, conns, conns[fd]);
    free(conns);
    if (dump_f)
        fclose(dump_f);
    close(tfd);
    close(ep);
    close(ls);
    return 0;
}
