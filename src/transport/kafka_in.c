/* Kafka input transport: a consumer group member feeding a sink.
 *
 * Each message becomes a ddbpipe_record_t whose opaque is its partition's
 * state and whose offset is the message offset. The sink reports records in
 * produce order, so a report for offset O of a partition means every message
 * of that partition below O was reported too: the partition's commit
 * position is simply the last reported offset + 1 (unless a record FAILED:
 * then it stops there). Commits are synchronous and explicit; librdkafka's
 * auto commit stays off. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "config/conf.h"
#include "ddbpipe/ddbpipe.h"
#include "transport/kafka_conf.h"

typedef struct ktp {
    char *topic;
    int32_t partition;
    int assigned;
    int failed;                            /* a record FAILED: the position stops before it */
    int64_t done;                          /* commit position: every message below is reported; -1 none */
    int64_t committed;                     /* last position we committed; -1 none */
    int64_t next;                          /* offset after the last message taken; -1 none */
    uint64_t in_flight;                    /* produced, not yet reported */
    ddbpipe_metric_t *m_lag, *m_committed; /* gauges labelled partition="topic/N" */
    struct ktp *next_zombie;
} ktp;

#define TAKE_BATCH 256

struct ddbpipe_kafka_sink {
    ddbpipe_conf_t *conf;
    ddbpipe_sink_t *sink;
    rd_kafka_t *rk;  /* consumer */
    rd_kafka_t *dlq; /* dead_letter_topic producer, or NULL */
    char *dlq_topic;
    FILE *dlq_file;
    char *dlq_path;
    ktp **tps;
    size_t ntps, tps_cap;
    ktp *zombies; /* revoked with writes still in flight (revoke timeout) */
    ktp *last;    /* lookup cache */
    int cooperative;
    int64_t commit_hold_until_ms; /* a rebalance is under way: commits wait for its callback */
    int hold_assigns;             /* assignments to see before commits resume */
    int64_t commit_interval_ms, revoke_timeout_ms;
    /* fetch wake-ups (see wake_fetchers) */
    int64_t queued_min_msgs, queued_max_bytes; /* the consumer's queue thresholds */
    uint64_t bytes_in;                         /* key + value bytes taken, for the average size */
    int64_t wake_check_ms, wake_qlen;          /* last check, and the queue length then */
    int64_t wake_last_ms;                      /* last wake-up sent */
    uint64_t wake_taken;                       /* messages_in at the last check */
    uint64_t fetch_wakeups;                    /* ListOffsets requests sent as wake-ups */
    int64_t wait_ms;    /* waited for messages with no write in flight, from the first taken on */
    uint64_t in_flight; /* taken, not yet reported (every partition) */
    /* the wake-up requests are synchronous: a thread of their own sends them */
    pthread_t waker;
    int waker_started, waker_stop;
    pthread_mutex_t waker_mu;
    pthread_cond_t waker_cv;
    rd_kafka_topic_partition_list_t *waker_list; /* to send; NULL: idle */
    int waker_busy;
    volatile sig_atomic_t stop;
    int (*tick)(ddbpipe_kafka_sink_t *k, void *opaque);
    void *tick_opaque;
    ddbpipe_kafka_stats_t st;
    uint64_t dlq_failures; /* dead-letter producer delivery failures */
    /* Prometheus (the sink's registry): counters pushed as deltas */
    ddbpipe_metric_t *m_in, *m_rebalances, *m_commits, *m_tombstones;
    uint64_t m_last_in, m_last_rebalances, m_last_commits, m_last_tombstones;
    ddbpipe_result_t fatal;
    char fatal_msg[512];
};

/* ------------------------------------------------------------ partitions */

static ktp *tp_find(ddbpipe_kafka_sink_t *k, const char *topic, int32_t partition, int create) {
    if (k->last && k->last->partition == partition && strcmp(k->last->topic, topic) == 0)
        return k->last;
    for (size_t i = 0; i < k->ntps; i++) {
        ktp *t = k->tps[i];
        if (t->partition == partition && strcmp(t->topic, topic) == 0)
            return k->last = t;
    }
    if (!create)
        return NULL;
    if (k->ntps == k->tps_cap) {
        size_t nc = k->tps_cap ? k->tps_cap * 2 : 16;
        ktp **n = realloc(k->tps, nc * sizeof(*n));
        if (!n)
            return NULL;
        k->tps = n;
        k->tps_cap = nc;
    }
    ktp *t = calloc(1, sizeof(*t));
    if (!t || !(t->topic = strdup(topic))) {
        free(t);
        return NULL;
    }
    t->partition = partition;
    t->done = t->committed = t->next = -1;
    k->tps[k->ntps++] = t;
    return k->last = t;
}

static void tp_free(ktp *t) {
    if (t) {
        free(t->topic);
        free(t);
    }
}

/* A revoked partition with records in flight keeps its state for their
 * reports (as a zombie); a later assignment gets a fresh one. */
static void tp_release(ddbpipe_kafka_sink_t *k, ktp *t) {
    t->assigned = 0;
    if (t->in_flight == 0)
        return;
    for (size_t i = 0; i < k->ntps; i++)
        if (k->tps[i] == t) {
            k->tps[i] = k->tps[--k->ntps];
            break;
        }
    if (k->last == t)
        k->last = NULL;
    t->next_zombie = k->zombies;
    k->zombies = t;
}

/* ------------------------------------------------------------ dead letters */

static void dlq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    ddbpipe_kafka_sink_t *k = opaque;
    (void)rk;
    if (m->err) {
        k->dlq_failures++;
        DP_LOG_ERROR("kafka: dead letter to topic %s not delivered: %s", k->dlq_topic,
                     rd_kafka_err2str(m->err));
    } else {
        k->st.dead_letters_produced++;
    }
}

static void dead_letter(ddbpipe_kafka_sink_t *k, const ktp *t, const ddbpipe_delivery_report_t *dr) {
    if (k->dlq) {
        char part[16], off[24];
        snprintf(part, sizeof part, "%d", (int)t->partition);
        snprintf(off, sizeof off, "%llu", (unsigned long long)dr->offset);
        for (int tries = 0;; tries++) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                k->dlq, RD_KAFKA_V_TOPIC(k->dlq_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE((void *)dr->value, dr->value_len),
                RD_KAFKA_V_KEY((void *)dr->key, dr->key_len),
                RD_KAFKA_V_HEADER("ddbpipe.reason", dr->reason, -1),
                RD_KAFKA_V_HEADER("ddbpipe.topic", t->topic, -1),
                RD_KAFKA_V_HEADER("ddbpipe.partition", part, -1),
                RD_KAFKA_V_HEADER("ddbpipe.offset", off, -1), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || tries > 600) {
                k->dlq_failures++;
                DP_LOG_ERROR("kafka: cannot produce a dead letter to %s: %s", k->dlq_topic,
                             rd_kafka_err2str(e));
                break;
            }
            rd_kafka_poll(k->dlq, 100);
        }
        rd_kafka_poll(k->dlq, 0);
        return;
    }
    if (!k->dlq_file) {
        DP_LOG_WARN("kafka: %s [%d] offset %llu dead-lettered: %s", t->topic, (int)t->partition,
                    (unsigned long long)dr->offset, dr->reason);
        return;
    }
    dp_buf b;
    dp_buf_init(&b, 0);
    dp_buf_puts(&b, "{\"topic\":");
    dp_json_write_cstr(&b, t->topic);
    dp_buf_printf(&b, ",\"partition\":%d,\"offset\":%llu,\"reason\":", (int)t->partition,
                  (unsigned long long)dr->offset);
    dp_json_write_cstr(&b, dr->reason);
    dp_buf_puts(&b, ",\"key\":");
    if (dr->key)
        dp_json_write_string(&b, dr->key, dr->key_len);
    else
        dp_buf_puts(&b, "null");
    dp_buf_puts(&b, ",\"record\":");
    if (dr->value)
        dp_json_write_string(&b, dr->value, dr->value_len);
    else
        dp_buf_puts(&b, "null");
    dp_buf_puts(&b, "}\n");
    if (fwrite(b.data, 1, b.len, k->dlq_file) != b.len || fflush(k->dlq_file) != 0) {
        k->dlq_failures++;
        DP_LOG_ERROR("kafka: cannot write the dead-letter file %s: %s", k->dlq_path, strerror(errno));
    }
    dp_buf_free(&b);
}

/* ------------------------------------------------------------ reports, commits */

static void on_report(ddbpipe_sink_t *sink, const ddbpipe_delivery_report_t *dr, void *opaque) {
    ddbpipe_kafka_sink_t *k = opaque;
    ktp *t = dr->opaque;
    (void)sink;
    if (!t)
        return;
    t->in_flight--;
    k->in_flight--;
    if (dr->status == DDBPIPE_DR_FAILED) {
        t->failed = 1;
        return;
    }
    if (dr->status == DDBPIPE_DR_DEAD_LETTERED)
        dead_letter(k, t, dr);
    else if (dr->status == DDBPIPE_DR_IGNORED)
        k->st.tombstones_ignored++;
    if (!t->failed && (int64_t)dr->offset + 1 > t->done)
        t->done = (int64_t)dr->offset + 1;
}

/* Dead letters produced to a topic must be delivered before offsets move
 * past them. 0: ok to commit. */
static int dlq_settled(ddbpipe_kafka_sink_t *k) {
    if (k->dlq && rd_kafka_outq_len(k->dlq) > 0)
        rd_kafka_flush(k->dlq, 30000);
    if (k->dlq && rd_kafka_outq_len(k->dlq) > 0) {
        DP_LOG_ERROR("kafka: dead letters to %s still undelivered after 30 s: not committing", k->dlq_topic);
        return -1;
    }
    if (k->dlq_failures) {
        if (k->fatal == DDBPIPE_OK) {
            k->fatal = DDBPIPE_ERR_IO;
            snprintf(k->fatal_msg, sizeof k->fatal_msg,
                     "dead letters could not be delivered: offsets are no longer committed");
        }
        return -1;
    }
    return 0;
}

/* Commit the position of every partition in `only` (NULL: every assigned
 * one) that moved. */
static void commit(ddbpipe_kafka_sink_t *k, const rd_kafka_topic_partition_list_t *only) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < k->ntps; i++) {
        ktp *t = k->tps[i];
        if (t->done < 0 || t->done <= t->committed)
            continue;
        if (only ? !rd_kafka_topic_partition_list_find(only, t->topic, t->partition) : !t->assigned)
            continue;
        rd_kafka_topic_partition_list_add(l, t->topic, t->partition)->offset = t->done;
    }
    /* committing while the group rebalances fails with a stale generation,
     * and librdkafka then counts the whole assignment as lost */
    if (l->cnt == 0 || (!only && dp_now_ms() < k->commit_hold_until_ms) || dlq_settled(k) != 0) {
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, l, 0);
    if (e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS || e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
        e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID)
        k->commit_hold_until_ms = dp_now_ms() + 30000;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->st.commit_failures++;
        DP_LOG_WARN("kafka: commit of %d partition(s) failed: %s (retried at the next commit)", l->cnt,
                    rd_kafka_err2str(e));
    } else {
        k->st.commits++;
        for (int i = 0; i < l->cnt; i++) {
            rd_kafka_topic_partition_t *p = &l->elems[i];
            ktp *t = tp_find(k, p->topic, p->partition, 0);
            if (t && p->err == RD_KAFKA_RESP_ERR_NO_ERROR && p->offset > t->committed)
                t->committed = p->offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ------------------------------------------------------------ rebalances */

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    ddbpipe_kafka_sink_t *k = opaque;
    k->st.rebalances++;
    /* An assignment ends a rebalance. A cooperative revocation is followed
     * by its round's assignment and then a second round at once: commits
     * wait for that second assignment (or 30 s). */
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && k->cooperative && parts->cnt > 0) {
        k->commit_hold_until_ms = dp_now_ms() + 30000;
        k->hold_assigns = 2;
    } else if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS &&
               (k->hold_assigns == 0 || --k->hold_assigns == 0)) {
        k->commit_hold_until_ms = 0;
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            ktp *t = tp_find(k, parts->elems[i].topic, parts->elems[i].partition, 1);
            if (!t)
                continue;
            t->assigned = 1;
            t->failed = 0;
            t->done = t->committed = t->next = -1;
        }
        DP_LOG_INFO("kafka: assigned %d partition(s) (%s)", parts->cnt,
                    k->cooperative ? "cooperative" : "eager");
        rd_kafka_error_t *e = NULL;
        if (k->cooperative)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        if (e) {
            DP_LOG_ERROR("kafka: incremental assign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        return;
    }
    /* revoke (or error): stop taking these partitions (nothing is polled
     * while we are here), let their writes finish, commit, let go. A lost
     * assignment (session timed out) is not ours to commit any more. */
    int lost = rd_kafka_assignment_lost(rk);
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && !lost && k->sink) {
        ddbpipe_result_t r = ddbpipe_sink_flush(k->sink, (int)k->revoke_timeout_ms);
        if (r == DDBPIPE_ERR_TIMEOUT)
            DP_LOG_WARN("kafka: writes of revoked partitions not done after %lld ms: committing what is done",
                        (long long)k->revoke_timeout_ms);
        commit(k, parts);
    }
    DP_LOG_INFO("kafka: %s %d partition(s)", lost ? "lost" : "revoked", parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        ktp *t = tp_find(k, parts->elems[i].topic, parts->elems[i].partition, 0);
        if (t)
            tp_release(k, t);
    }
    if (k->cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) {
            DP_LOG_ERROR("kafka: incremental unassign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

/* An integer property of a client's configuration (defaults included). */
static int64_t conf_int(rd_kafka_t *rk, const char *name, int64_t dflt) {
    char v[64];
    size_t n = sizeof v;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), name, v, &n) != RD_KAFKA_CONF_OK)
        return dflt;
    long long x = strtoll(v, NULL, 10);
    return x > 0 ? (int64_t)x : dflt;
}

/* A librdkafka configuration for the consumer or the dead-letter producer. */
static ddbpipe_result_t make_conf(ddbpipe_kafka_sink_t *k, int producer, rd_kafka_conf_t **out, char *errstr,
                                  size_t n) {
    rd_kafka_conf_t *rc = NULL;
    ddbpipe_result_t r = dp_kafka_conf_build(k->conf, producer, k, &rc, errstr, n);
    if (r != DDBPIPE_OK)
        return r;
    if (producer)
        rd_kafka_conf_set_dr_msg_cb(rc, dlq_dr_cb);
    else
        rd_kafka_conf_set_rebalance_cb(rc, on_rebalance);
    *out = rc;
    return DDBPIPE_OK;
}

ddbpipe_result_t ddbpipe_kafka_sink_new_sz(const ddbpipe_conf_t *conf,
                                           const ddbpipe_kafka_sink_options_t *opts_in, size_t opts_size,
                                           ddbpipe_kafka_sink_t **out, char *errstr, size_t errstr_size) {
    ddbpipe_result_t r = DDBPIPE_ERR_NOMEM;
    ddbpipe_kafka_sink_t *k = NULL;
    rd_kafka_conf_t *rc = NULL;
    char e[512];
    ddbpipe_kafka_sink_options_t opts_copy; /* an older caller's struct: unknown fields zero */
    const ddbpipe_kafka_sink_options_t *opts =
        dp_abi_copy_in(&opts_copy, sizeof opts_copy, opts_in, opts_size);
    if (!conf || !out)
        return DDBPIPE_ERR_INVALID_ARG;
    *out = NULL;
    k = calloc(1, sizeof(*k));
    if (!k || !(k->conf = ddbpipe_conf_dup(conf)))
        goto out;
    k->st.lag = -1;
    dp_settings set;
    dp_conf_settings(k->conf, &set);
    /* ddbpipe's and librdkafka's checks before anything else (no AWS call yet) */
    if ((r = ddbpipe_kafka_conf_check(k->conf, "sink", errstr, errstr_size)) != DDBPIPE_OK)
        goto out;
    const char *topics = set.kafka_topics;
    const char *strat = dp_kafka_user_value(k->conf, "partition.assignment.strategy");
    k->cooperative = strat && strstr(strat, "cooperative-sticky") != NULL;
    k->commit_interval_ms = set.kafka_commit_interval_ms;
    k->revoke_timeout_ms = set.kafka_revoke_timeout_ms;
    if (opts) {
        k->tick = opts->tick;
        k->tick_opaque = opts->opaque;
    }
    const char *dlt = set.dead_letter_topic;
    if (dlt && *dlt) {
        if (!(k->dlq_topic = strdup(dlt)))
            goto nomem;
        if ((r = make_conf(k, 1, &rc, errstr, errstr_size)) != DDBPIPE_OK)
            goto out;
        k->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, rc, e, sizeof e);
        if (!k->dlq) { /* rc is still ours: freed at out */
            dp_errf(errstr, errstr_size, "kafka: dead-letter producer: %s", e);
            r = DDBPIPE_ERR_CONFIG;
            goto out;
        }
        rc = NULL;
    } else if (opts && opts->dead_letter_path) {
        if (!(k->dlq_path = strdup(opts->dead_letter_path)))
            goto nomem;
        k->dlq_file = fopen(opts->dead_letter_path, "a");
        if (!k->dlq_file) {
            dp_errf(errstr, errstr_size, "cannot open dead-letter file %s: %s", opts->dead_letter_path,
                    strerror(errno));
            r = DDBPIPE_ERR_IO;
            goto out;
        }
    }
    ddbpipe_sink_options_t so = {.format = opts && opts->format ? opts->format : "auto",
                                 .no_metrics_server = opts ? opts->no_metrics_server : 0,
                                 .dr_cb = on_report,
                                 .dr_opaque = k,
                                 .tombstones_ignore = set.kafka_tombstones == DP_KAFKA_TOMBSTONES_IGNORE,
                                 .offsets_per_partition = 1};
    if ((r = make_conf(k, 0, &rc, errstr, errstr_size)) != DDBPIPE_OK)
        goto out;
    r = ddbpipe_sink_new(k->conf, &so, &k->sink, errstr, errstr_size);
    if (r != DDBPIPE_OK)
        goto out;
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc, e, sizeof e);
    if (!k->rk) {
        dp_errf(errstr, errstr_size, "kafka: consumer: %s", e);
        r = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    rc = NULL; /* the consumer owns it */
    rd_kafka_poll_set_consumer(k->rk);
    k->queued_min_msgs = conf_int(k->rk, "queued.min.messages", 100000);
    k->queued_max_bytes = conf_int(k->rk, "queued.max.messages.kbytes", 65536) * 1024;
    /* subscribe */
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(4);
    char *list = strdup(topics), *save = NULL;
    if (!list) {
        rd_kafka_topic_partition_list_destroy(sub);
        goto nomem;
    }
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        rd_kafka_topic_partition_list_add(sub, tok, RD_KAFKA_PARTITION_UA);
    free(list);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(k->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (se != RD_KAFKA_RESP_ERR_NO_ERROR) {
        dp_errf(errstr, errstr_size, "kafka: subscribe to %s: %s", topics, rd_kafka_err2str(se));
        r = DDBPIPE_ERR_CONFIG;
        goto out;
    }
    DP_LOG_INFO("kafka: consuming %s as group %s (%s rebalancing)", topics,
                dp_kafka_user_value(k->conf, "group.id"), k->cooperative ? "cooperative" : "eager");
    *out = k;
    return DDBPIPE_OK;
nomem:
    r = DDBPIPE_ERR_NOMEM;
out:
    if (rc)
        rd_kafka_conf_destroy(rc);
    if (r != DDBPIPE_OK && errstr && errstr_size && !errstr[0])
        dp_errf(errstr, errstr_size, "kafka: %s", ddbpipe_strerror(r));
    ddbpipe_kafka_sink_destroy(k);
    return r;
}

void ddbpipe_kafka_sink_destroy(ddbpipe_kafka_sink_t *k) {
    if (!k)
        return;
    if (k->rk)
        rd_kafka_destroy(k->rk);
    if (k->dlq) {
        rd_kafka_flush(k->dlq, 10000);
        rd_kafka_destroy(k->dlq);
    }
    ddbpipe_sink_destroy(k->sink);
    for (size_t i = 0; i < k->ntps; i++)
        tp_free(k->tps[i]);
    free(k->tps);
    while (k->zombies) {
        ktp *z = k->zombies;
        k->zombies = z->next_zombie;
        tp_free(z);
    }
    if (k->dlq_file)
        fclose(k->dlq_file);
    free(k->dlq_path);
    free(k->dlq_topic);
    ddbpipe_conf_destroy(k->conf);
    free(k);
}

void ddbpipe_kafka_sink_stop(ddbpipe_kafka_sink_t *k) {
    if (k)
        k->stop = 1;
}

ddbpipe_sink_t *ddbpipe_kafka_sink_sink(ddbpipe_kafka_sink_t *k) {
    return k ? k->sink : NULL;
}

/* ------------------------------------------------------------ metrics */

static int64_t tp_lag(const ddbpipe_kafka_sink_t *k, const ktp *t, int64_t *hw_out);

/* Push the Kafka figures into the sink's Prometheus registry: messages in,
 * rebalances, commits, tombstones ignored, and per partition the consumer lag and committed
 * offset (-1: none yet). */
static void metrics_sync(ddbpipe_kafka_sink_t *k) {
    ddbpipe_sink_t *reg = k->sink; /* the sink's registry, through the public API */
    if (!k->m_in) {
        k->m_in = ddbpipe_sink_metric(reg, DDBPIPE_METRIC_COUNTER, "ddbpipe_kafka_messages_in_total",
                                      "Kafka messages taken.", NULL, NULL);
        k->m_rebalances = ddbpipe_sink_metric(reg, DDBPIPE_METRIC_COUNTER, "ddbpipe_kafka_rebalances_total",
                                              "Consumer group rebalance callbacks.", NULL, NULL);
        k->m_commits = ddbpipe_sink_metric(reg, DDBPIPE_METRIC_COUNTER, "ddbpipe_kafka_commits_total",
                                           "Successful offset commits.", NULL, NULL);
        k->m_tombstones =
            ddbpipe_sink_metric(reg, DDBPIPE_METRIC_COUNTER, "ddbpipe_kafka_tombstones_ignored_total",
                                "Keyed tombstones skipped (kafka_tombstones: ignore).", NULL, NULL);
    }
    ddbpipe_metric_add(k->m_in, k->st.messages_in - k->m_last_in);
    ddbpipe_metric_add(k->m_rebalances, k->st.rebalances - k->m_last_rebalances);
    ddbpipe_metric_add(k->m_commits, k->st.commits - k->m_last_commits);
    k->m_last_in = k->st.messages_in;
    k->m_last_rebalances = k->st.rebalances;
    k->m_last_commits = k->st.commits;
    ddbpipe_metric_add(k->m_tombstones, k->st.tombstones_ignored - k->m_last_tombstones);
    k->m_last_tombstones = k->st.tombstones_ignored;
    for (size_t i = 0; i < k->ntps; i++) {
        ktp *t = k->tps[i];
        if (!t->m_lag) {
            char label[300];
            snprintf(label, sizeof label, "%s/%d", t->topic, (int)t->partition);
            t->m_lag = ddbpipe_sink_metric(reg, DDBPIPE_METRIC_GAUGE, "ddbpipe_kafka_consumer_lag",
                                           "High watermark minus next offset, per assigned partition.",
                                           "partition", label);
            t->m_committed = ddbpipe_sink_metric(reg, DDBPIPE_METRIC_GAUGE, "ddbpipe_kafka_committed_offset",
                                                 "Last offset committed by this member, per partition.",
                                                 "partition", label);
        }
        int64_t hw, lag = t->assigned ? tp_lag(k, t, &hw) : -1;
        ddbpipe_metric_set(t->m_lag, lag < 0 ? 0 : (double)lag);
        ddbpipe_metric_set(t->m_committed, (double)t->committed);
    }
}

/* ------------------------------------------------------------ run */

static int tick(ddbpipe_kafka_sink_t *k) {
    return k->tick ? k->tick(k, k->tick_opaque) : 0;
}

static int fatal_kafka(ddbpipe_kafka_sink_t *k) {
    char e[256];
    rd_kafka_resp_err_t fe = rd_kafka_fatal_error(k->rk, e, sizeof e);
    if (fe == RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    k->fatal = DDBPIPE_ERR_SERVICE;
    snprintf(k->fatal_msg, sizeof k->fatal_msg, "kafka: fatal consumer error: %s", e);
    return 1;
}

/* Hand one message to the sink; waits (serving reports) while it is full. */
static ddbpipe_result_t take(ddbpipe_kafka_sink_t *k, const rd_kafka_message_t *m) {
    ktp *t = tp_find(k, rd_kafka_topic_name(m->rkt), m->partition, 1);
    if (!t)
        return DDBPIPE_ERR_NOMEM;
    ddbpipe_record_t rec = {.value = m->payload,
                            .value_len = m->payload ? m->len : 0,
                            .key = m->key,
                            .key_len = m->key ? m->key_len : 0,
                            .opaque = t,
                            .offset = (uint64_t)m->offset};
    for (;;) {
        ddbpipe_result_t r = ddbpipe_sink_produce_record(k->sink, &rec);
        if (r == DDBPIPE_OK) {
            t->in_flight++;
            k->in_flight++;
            t->next = m->offset + 1;
            k->st.messages_in++;
            k->bytes_in += rec.value_len + rec.key_len;
            return DDBPIPE_OK;
        }
        if (r != DDBPIPE_ERR_QUEUE_FULL)
            return r;
        r = ddbpipe_sink_poll(k->sink, 20);
        if (r != DDBPIPE_OK && r != DDBPIPE_ERR_TIMEOUT)
            return r;
        if (k->stop || tick(k))
            return DDBPIPE_ERR_INTERRUPTED; /* not taken: consumed again by whoever resumes */
    }
}

/* librdkafka before 2.2 (Debian 12 has 2.0.2) stops fetching a partition
 * while the consumer queue holds queued.min.messages or
 * queued.max.messages.kbytes, and its broker thread then sleeps up to a
 * second before it looks again (librdkafka issue #2879; 2.2 added
 * fetch.queue.backoff.ms): a consumer slower than the fetches takes about
 * queued.min.messages a second. When the queue has drained to a quarter of
 * those thresholds, nothing arrived since the last look while the leaders
 * are known to hold more (lag), a ListOffsets request to those leaders
 * (one per broker) wakes their threads, which then fetch at once. */
#define WAKE_CHECK_MS 20
#define WAKE_MIN_INTERVAL_MS 100

/* Messages the leader holds beyond what this member took (-1: unknown yet). */
static int64_t tp_behind(const ddbpipe_kafka_sink_t *k, const ktp *t) {
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(k->rk, t->topic, t->partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        hi < 0)
        return -1;
    int64_t pos = t->next >= 0 ? t->next : t->committed >= 0 ? t->committed : lo;
    return pos >= 0 && hi > pos ? hi - pos : 0;
}

static void *waker_main(void *arg) {
    ddbpipe_kafka_sink_t *k = arg;
    pthread_mutex_lock(&k->waker_mu);
    for (;;) {
        while (!k->waker_list && !k->waker_stop)
            pthread_cond_wait(&k->waker_cv, &k->waker_mu);
        if (k->waker_stop)
            break;
        rd_kafka_topic_partition_list_t *l = k->waker_list;
        k->waker_list = NULL;
        k->waker_busy = 1;
        pthread_mutex_unlock(&k->waker_mu);
        /* the answer (end offsets) is not needed: the request is the wake-up;
         * it waits behind the connection's fetch, hence its own thread */
        rd_kafka_offsets_for_times(k->rk, l, 1000);
        rd_kafka_topic_partition_list_destroy(l);
        pthread_mutex_lock(&k->waker_mu);
        k->waker_busy = 0;
    }
    pthread_mutex_unlock(&k->waker_mu);
    return NULL;
}

static void waker_join(ddbpipe_kafka_sink_t *k) {
    if (!k->waker_started)
        return;
    pthread_mutex_lock(&k->waker_mu);
    k->waker_stop = 1;
    pthread_cond_signal(&k->waker_cv);
    pthread_mutex_unlock(&k->waker_mu);
    pthread_join(k->waker, NULL);
    k->waker_started = 0;
    if (k->waker_list)
        rd_kafka_topic_partition_list_destroy(k->waker_list);
    k->waker_list = NULL;
}

static void wake_fetchers(ddbpipe_kafka_sink_t *k, rd_kafka_queue_t *q) {
    int64_t now = dp_now_ms();
    if (!k->waker_started || now - k->wake_check_ms < WAKE_CHECK_MS)
        return;
    int64_t qlen = (int64_t)rd_kafka_queue_length(q);
    uint64_t taken = k->st.messages_in - k->wake_taken;
    int arrived = qlen + (int64_t)taken > k->wake_qlen;
    k->wake_check_ms = now;
    k->wake_qlen = qlen;
    k->wake_taken = k->st.messages_in;
    int64_t avg = k->st.messages_in ? (int64_t)(k->bytes_in / k->st.messages_in) + 1 : 1;
    if (arrived || now - k->wake_last_ms < WAKE_MIN_INTERVAL_MS || qlen * 4 > k->queued_min_msgs ||
        qlen * avg * 4 > k->queued_max_bytes)
        return;
    pthread_mutex_lock(&k->waker_mu);
    int busy = k->waker_busy || k->waker_list;
    pthread_mutex_unlock(&k->waker_mu);
    if (busy)
        return;
    rd_kafka_topic_partition_list_t *l = NULL;
    for (size_t i = 0; i < k->ntps; i++) {
        ktp *t = k->tps[i];
        if (!t->assigned || tp_behind(k, t) == 0)
            continue;
        if (!l)
            l = rd_kafka_topic_partition_list_new((int)k->ntps);
        rd_kafka_topic_partition_list_add(l, t->topic, t->partition)->offset = RD_KAFKA_OFFSET_END;
    }
    if (!l)
        return;
    pthread_mutex_lock(&k->waker_mu);
    k->waker_list = l;
    pthread_cond_signal(&k->waker_cv);
    pthread_mutex_unlock(&k->waker_mu);
    k->wake_last_ms = now;
    k->fetch_wakeups++;
}

ddbpipe_result_t ddbpipe_kafka_sink_run(ddbpipe_kafka_sink_t *k, char *errstr, size_t errstr_size) {
    ddbpipe_result_t r = DDBPIPE_OK;
    if (!k)
        return DDBPIPE_ERR_INVALID_ARG;
    int64_t next_commit = dp_now_ms() + k->commit_interval_ms, next_tick = dp_now_ms() + 200;
    unsigned n = 0;
    int idle = 0;
    /* Messages come in batches from the consumer queue (one call per batch,
     * not per message); rebalance callbacks are served by the same call. */
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(k->rk);
    rd_kafka_message_t *batch[TAKE_BATCH];
    pthread_mutex_init(&k->waker_mu, NULL);
    pthread_cond_init(&k->waker_cv, NULL);
    k->waker_stop = 0;
    k->waker_started =
        pthread_create(&k->waker, NULL, waker_main, k) == 0; /* without it: slower, not wrong */
    while (!k->stop && q) {
        wake_fetchers(k, q);
        /* With writes in flight an idle loop waits on the sink's sockets
         * (below), not on the consumer queue: a 20 ms wait here would serve
         * the writes only 50 times a second. */
        int writing = k->in_flight > 0;
        int64_t w0 = idle && !writing && k->st.messages_in ? dp_now_ms() : 0;
        ssize_t got = rd_kafka_consume_batch_queue(q, idle && !writing ? 20 : 0, batch, TAKE_BATCH);
        if (w0)
            k->wait_ms += dp_now_ms() - w0;
        idle = got <= 0;
        int stop_now = 0;
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = batch[i];
            if (!stop_now) {
                if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
                    r = take(k, m);
                else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    DP_LOG_WARN("kafka: %s", rd_kafka_message_errstr(m));
                if (r == DDBPIPE_OK && (++n & 255) == 0) {
                    r = ddbpipe_sink_poll(k->sink, 0); /* keep writes and reports moving */
                    if (r == DDBPIPE_ERR_TIMEOUT)
                        r = DDBPIPE_OK;
                }
                /* on an error the rest of the batch is not taken: consumed again later */
                stop_now = r != DDBPIPE_OK;
            }
            rd_kafka_message_destroy(m);
        }
        if (r == DDBPIPE_ERR_INTERRUPTED) {
            r = DDBPIPE_OK;
            break;
        }
        if (r != DDBPIPE_OK)
            break;
        r = ddbpipe_sink_poll(k->sink, got <= 0 && writing ? 5 : 0);
        if (r == DDBPIPE_ERR_TIMEOUT)
            r = DDBPIPE_OK;
        if (r != DDBPIPE_OK)
            break;
        int64_t now = dp_now_ms();
        if (now >= next_commit) {
            commit(k, NULL);
            next_commit = now + k->commit_interval_ms;
        }
        if (now >= next_tick) {
            next_tick = now + 200;
            metrics_sync(k);
            if (tick(k))
                break;
        }
        if (fatal_kafka(k) || k->fatal != DDBPIPE_OK)
            break;
    }
    waker_join(k);
    DP_LOG_INFO("kafka: waited %lld ms for messages; %llu fetch wake-up(s)", (long long)k->wait_ms,
                (unsigned long long)k->fetch_wakeups);
    pthread_cond_destroy(&k->waker_cv);
    pthread_mutex_destroy(&k->waker_mu);
    if (q)
        rd_kafka_queue_destroy(q);
    /* the end: what was taken is written (or the sink failed), committed,
     * and the group is left (its revoke commits nothing new) */
    for (;;) {
        ddbpipe_result_t fr = ddbpipe_sink_flush(k->sink, 500);
        tick(k);
        if (fr != DDBPIPE_ERR_TIMEOUT) {
            if (fr != DDBPIPE_OK && r == DDBPIPE_OK)
                r = fr;
            break;
        }
    }
    commit(k, NULL);
    rd_kafka_consumer_close(k->rk);
    metrics_sync(k);
    if (k->dlq)
        dlq_settled(k);
    if (r != DDBPIPE_OK) {
        char ferr[512] = "";
        if (ddbpipe_sink_fatal_error(k->sink, ferr, sizeof ferr) != DDBPIPE_OK)
            dp_errf(errstr, errstr_size, "%s", ferr);
        else
            dp_errf(errstr, errstr_size, "%s", ddbpipe_strerror(r));
    } else if (k->fatal != DDBPIPE_OK) {
        r = k->fatal;
        dp_errf(errstr, errstr_size, "%s", k->fatal_msg);
    }
    return r;
}

/* ------------------------------------------------------------ stats */

static int64_t tp_lag(const ddbpipe_kafka_sink_t *k, const ktp *t, int64_t *hw_out) {
    int64_t lo = -1, hi = -1;
    *hw_out = -1;
    if (rd_kafka_get_watermark_offsets(k->rk, t->topic, t->partition, &lo, &hi) !=
            RD_KAFKA_RESP_ERR_NO_ERROR ||
        hi < 0)
        return -1;
    *hw_out = hi;
    int64_t pos = t->next >= 0 ? t->next : t->committed;
    if (pos < 0)
        return -1;
    return hi > pos ? hi - pos : 0;
}

static void kafka_stats(const ddbpipe_kafka_sink_t *k, ddbpipe_kafka_stats_t *out) {
    *out = k->st;
    out->partitions_assigned = 0;
    out->lag = -1;
    for (size_t i = 0; i < k->ntps; i++) {
        const ktp *t = k->tps[i];
        if (!t->assigned)
            continue;
        out->partitions_assigned++;
        int64_t hw, lag = tp_lag(k, t, &hw);
        if (lag >= 0)
            out->lag = (out->lag < 0 ? 0 : out->lag) + lag;
    }
}

void ddbpipe_kafka_sink_stats_sz(const ddbpipe_kafka_sink_t *k, ddbpipe_kafka_stats_t *out, size_t out_size) {
    ddbpipe_kafka_stats_t full;
    if (!k || !out)
        return;
    kafka_stats(k, &full);
    dp_abi_copy_out(out, out_size, &full, sizeof full);
}

char *ddbpipe_kafka_sink_stats_json(const ddbpipe_kafka_sink_t *k) {
    if (!k)
        return NULL;
    char *sj = ddbpipe_sink_stats_json(k->sink);
    if (!sj)
        return NULL;
    ddbpipe_kafka_stats_t st;
    kafka_stats(k, &st);
    dp_buf b;
    dp_buf_init(&b, 0);
    size_t sl = strlen(sj);
    dp_buf_append(&b, sj, sl ? sl - 1 : 0); /* without the closing brace */
    free(sj);
    dp_buf_puts(&b, ",\"kafka\":{\"group_id\":");
    dp_json_write_cstr(&b, dp_kafka_user_value(k->conf, "group.id"));
    dp_buf_printf(&b,
                  ",\"messages_in\":%llu,\"rebalances\":%llu,\"commits\":%llu,\"commit_failures\":%llu,"
                  "\"dead_letters_produced\":%llu,\"tombstones_ignored\":%llu,"
                  "\"partitions_assigned\":%llu,\"lag\":%lld,\"fetch_wakeups\":%llu,\"message_wait_ms\":%lld,"
                  "\"partitions\":[",
                  (unsigned long long)st.messages_in, (unsigned long long)st.rebalances,
                  (unsigned long long)st.commits, (unsigned long long)st.commit_failures,
                  (unsigned long long)st.dead_letters_produced, (unsigned long long)st.tombstones_ignored,
                  (unsigned long long)st.partitions_assigned, (long long)st.lag,
                  (unsigned long long)k->fetch_wakeups, (long long)k->wait_ms);
    for (size_t i = 0; i < k->ntps; i++) {
        const ktp *t = k->tps[i];
        int64_t hw, lag = tp_lag(k, t, &hw);
        if (i)
            dp_buf_putc(&b, ',');
        dp_buf_puts(&b, "{\"topic\":");
        dp_json_write_cstr(&b, t->topic);
        dp_buf_printf(&b,
                      ",\"partition\":%d,\"assigned\":%s,\"committed\":%lld,\"position\":%lld,"
                      "\"high_watermark\":%lld,\"lag\":%lld}",
                      (int)t->partition, t->assigned ? "true" : "false", (long long)t->committed,
                      (long long)t->next, (long long)hw, (long long)lag);
    }
    dp_buf_puts(&b, "]}}");
    return dp_buf_steal(&b);
}
