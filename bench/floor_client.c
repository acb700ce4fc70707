/* The floor for the sink benchmark: the least a client must do to send the
 * requests ddbpipe sends. It replays BatchWriteItem bodies captured by
 * `null_endpoint --dump FILE` (one body a line) to a null endpoint over raw
 * keep-alive sockets, N requests in flight (one per connection, as curl does
 * with HTTP/1.1), and per request does only what any SigV4 client must:
 * SHA-256 of the body, the canonical request and its hash, one HMAC-SHA256
 * of the string to sign (the signing key is derived once), the headers, one
 * writev, read the answer to its Content-Length. No JSON parsing, no item
 * encoding, no retries, no per-key ordering: the cost of those is what
 * ddbpipe spends above this floor.
 *
 *   floor_client HOST PORT BODIES_FILE [IN_FLIGHT=64] [--no-sign]
 *
 * Prints one JSON line: requests, items (PutRequest count of the bodies),
 * seconds, and the CPU (user+sys, getrusage) of the send phase alone, with
 * the part of it spent hashing/signing measured in a separate pass. Reading
 * the file is outside the figure. Exits 1 when an answer is not 200. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

typedef struct body {
    const char *p;
    size_t n;
    size_t items;
} body;

typedef struct fconn {
    int fd;
    char hdr[1024];
    size_t hdr_len;
    const body *b;
    size_t sent; /* bytes of hdr + body sent */
    char rbuf[4096];
    size_t rlen;
} fconn;

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double wall_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void hex(const unsigned char *d, size_t n, char *out) {
    static const char x[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[2 * n] = 0;
}

static unsigned char signing_key[32];
static int do_sign = 1;

/* The SigV4 work of one request; writes its headers into c->hdr. */
static void make_headers(fconn *c, const char *host) {
    const char *amzdate = "20261130T050000Z", *target = "DynamoDB_20120810.BatchWriteItem";
    char body_hash[65], creq_hash[65], sig[65];
    unsigned char d[32];
    if (do_sign) {
        SHA256((const unsigned char *)c->b->p, c->b->n, d);
        hex(d, 32, body_hash);
        char creq[1024];
        int n = snprintf(creq, sizeof creq,
                         "POST\n/\n\ncontent-type:application/x-amz-json-1.0\nhost:%s\nx-amz-date:%s\n"
                         "x-amz-target:%s\n\ncontent-type;host;x-amz-date;x-amz-target\n%s",
                         host, amzdate, target, body_hash);
        SHA256((const unsigned char *)creq, (size_t)n, d);
        hex(d, 32, creq_hash);
        char sts[512];
        n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n20261130/us-east-1/dynamodb/aws4_request\n%s",
                     amzdate, creq_hash);
        unsigned int dl = 32;
        HMAC(EVP_sha256(), signing_key, 32, (const unsigned char *)sts, (size_t)n, d, &dl);
        hex(d, 32, sig);
    } else {
        strcpy(sig, "0");
    }
    c->hdr_len = (size_t)snprintf(
        c->hdr, sizeof c->hdr,
        "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Date: %s\r\n"
        "X-Amz-Target: %s\r\nAuthorization: AWS4-HMAC-SHA256 "
        "Credential=bench/20261130/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=%s\r\nContent-Length: "
        "%zu\r\n\r\n",
        host, amzdate, target, sig, c->b->n);
}

/* Sends what the socket takes; 1 when the whole request is out. */
static int push(fconn *c) {
    while (c->sent < c->hdr_len + c->b->n) {
        struct iovec iov[2];
        int k = 0;
        if (c->sent < c->hdr_len)
            iov[k++] = (struct iovec){c->hdr + c->sent, c->hdr_len - c->sent};
        size_t boff = c->sent > c->hdr_len ? c->sent - c->hdr_len : 0;
        iov[k++] = (struct iovec){(void *)(c->b->p + boff), c->b->n - boff};
        ssize_t w = writev(c->fd, iov, k);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        c->sent += (size_t)w;
    }
    return 1;
}

/* 1 when a whole answer is in rbuf (it is dropped), 0 if more is needed, -1 on error. */
static int answer(fconn *c) {
    char *h = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (!h)
        return 0;
    if (c->rlen < 12 || memcmp(c->rbuf + 9, "200", 3) != 0)
        return -1;
    const char *cl = memmem(c->rbuf, (size_t)(h - c->rbuf), "Content-Length:", 15);
    size_t clen = cl ? strtoul(cl + 15, NULL, 10) : 0, total = (size_t)(h - c->rbuf) + 4 + clen;
    if (c->rlen < total)
        return 0;
    memmove(c->rbuf, c->rbuf + total, c->rlen - total);
    c->rlen -= total;
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s HOST PORT BODIES_FILE [IN_FLIGHT=64] [--no-sign]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]), inflight = 64;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--no-sign"))
            do_sign = 0;
        else
            inflight = atoi(argv[i]);
    }
    FILE *f = fopen(argv[3], "rb");
    if (!f) {
        perror(argv[3]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    long fsz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)fsz + 1);
    if (!data || fread(data, 1, (size_t)fsz, f) != (size_t)fsz) {
        fprintf(stderr, "cannot read %s\n", argv[3]);
        return 2;
    }
    fclose(f);
    size_t nb = 0, cap = 1024, items = 0;
    body *bodies = malloc(cap * sizeof *bodies);
    for (char *p = data, *end = data + fsz; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (nl > p) {
            if (nb == cap)
                bodies = realloc(bodies, (cap *= 2) * sizeof *bodies);
            body *b = &bodies[nb++];
            b->p = p;
            b->n = (size_t)(nl - p);
            b->items = 0;
            for (const char *q = p; (q = memmem(q, (size_t)(nl - q), "\"PutRequest\"", 12)) != NULL; q += 12)
                b->items++;
            items += b->items;
        }
        p = nl + 1;
    }
    /* the signing key is derived once a day by any client: not per request */
    memset(signing_key, 0x5a, sizeof signing_key);

    /* hashing/signing alone, over every body, to split the floor */
    fconn scratch;
    double c0 = cpu_s();
    for (size_t i = 0; i < nb; i++) {
        scratch.b = &bodies[i];
        make_headers(&scratch, host);
    }
    double sign_cpu = cpu_s() - c0;

    if (inflight > (int)nb)
        inflight = (int)nb;
    if (inflight < 1)
        inflight = 1;
    int ep = epoll_create1(0);
    fconn *conns = calloc((size_t)inflight, sizeof *conns);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &a.sin_addr);
    for (int i = 0; i < inflight; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            perror("connect");
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    double t0 = wall_s();
    c0 = cpu_s();
    size_t next = 0, done = 0;
    for (int i = 0; i < inflight; i++) {
        conns[i].b = &bodies[next++];
        conns[i].sent = 0;
        make_headers(&conns[i], host);
        if (push(&conns[i]) < 0) {
            perror("send");
            return 1;
        }
    }
    struct epoll_event evs[256];
    while (done < nb) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n <= 0) {
            fprintf(stderr, "floor_client: no answer for 10 s\n");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            fconn *c = &conns[evs[i].data.u32];
            ssize_t r = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, 0);
            if (r <= 0) {
                fprintf(stderr, "floor_client: connection closed\n");
                return 1;
            }
            c->rlen += (size_t)r;
            int got = answer(c);
            if (got < 0) {
                fprintf(stderr, "floor_client: answer not 200: %.40s\n", c->rbuf);
                return 1;
            }
            if (got == 0)
                continue;
            done++;
            if (next < nb) {
                c->b = &bodies[next++];
                c->sent = 0;
                make_headers(c, host);
                if (push(c) < 0) { /* a blocking socket: push sends it all */
                    perror("send");
                    return 1;
                }
            }
        }
    }
    double secs = wall_s() - t0, cpu = cpu_s() - c0;
    printf("{\"peer\":\"floor\",\"requests\":%zu,\"items\":%zu,\"in_flight\":%d,\"seconds\":%.3f,"
           "\"items_per_s\":%.0f,\"cpu_s\":%.3f,\"cpu_us_per_item\":%.3f,\"sign_cpu_us_per_item\":%.3f,"
           "\"signed\":%s}\n",
           nb, items, inflight, secs, items / secs, cpu, cpu * 1e6 / (double)items,
           sign_cpu * 1e6 / (double)items, do_sign ? "true" : "false");
    for (int i = 0; i < inflight; i++)
        close(conns[i].fd);
    free(conns);
    free(bodies);
    free(data);
    close(ep);
    return 0;
}
