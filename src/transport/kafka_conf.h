/* librdkafka configuration shared by the Kafka input and output transports. */
#ifndef DP_TRANSPORT_KAFKA_CONF_H
#define DP_TRANSPORT_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include "ddbpipe/ddbpipe.h"

/* A librdkafka configuration: ddbpipe's defaults (consumer:
 * enable.auto.commit=false, auto.offset.reset=earliest, no offset store;
 * producer: enable.idempotence=true) unless the user set them, then every
 * kafka.<property> (consumer-only ones skipped for a producer), logging
 * through ddbpipe's log, opaque set. DDBPIPE_ERR_CONFIG names a refused
 * property (never a secret value). The caller adds its callbacks. */
ddbpipe_result_t dp_kafka_conf_build(const ddbpipe_conf_t *conf, int producer, void *opaque,
                                     rd_kafka_conf_t **out, char *errstr, size_t errstr_size);
/* Was kafka.<name> given? Its value (NULL: not given). */
int dp_kafka_user_set(const ddbpipe_conf_t *conf, const char *name);
const char *dp_kafka_user_value(const ddbpipe_conf_t *conf, const char *name);

#endif
