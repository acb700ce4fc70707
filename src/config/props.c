/* The one property table. Parsing, validation, --help, `config --list` and
 * docs/configuration.md are all driven from here, so a key is added once. */
#include "config/props.h"

#include <stddef.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CONN "sink,source,create-table,check,sql"
#define S_TABLE "sink,create-table,check,sql"
#define S_SINK "sink,sql"
#define S_SRC "source"

/* A row: the property's name is also the name of its dp_settings field. */
#define P(name_, tstr, pt, dflt_, range_, min_, max_, flags_, scope_, aliases_, env_, valias_, doc_)         \
    {                                                                                                        \
        {#name_, (tstr), (dflt_), (range_), (doc_), (scope_), (aliases_)}, (pt), (min_), (max_), (flags_),   \
            (env_), (valias_), offsetof(dp_settings, name_)                                                  \
    }

static const dp_prop props[] = {
    /* ------------------------------------------------------------ connection */
    P(table, "string", DP_PT_STRING, NULL, "3..255 of [A-Za-z0-9_.-]", 0, 0, 0, S_CONN,
      "table-name,table_name,tableName,resource.table", NULL, NULL,
      "Name of the DynamoDB table. Required by every subcommand except `config`."),
    P(region, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN, "aws.region",
      "AWS_REGION,AWS_DEFAULT_REGION", NULL,
      "AWS region, e.g. us-east-1. Falls back to AWS_REGION, AWS_DEFAULT_REGION, then the profile."),
    P(endpoint_url, "string", DP_PT_STRING, NULL, "http://... or https://...", 0, 0, DP_PF_URL, S_CONN,
      "aws.endpoint,advanced.endpoint,endpoint", "AWS_ENDPOINT_URL_DYNAMODB,AWS_ENDPOINT_URL", NULL,
      "Endpoint override (DynamoDB Local, LocalStack, VPC endpoints). Falls back to "
      "AWS_ENDPOINT_URL_DYNAMODB, "
      "then AWS_ENDPOINT_URL."),
    P(streams_endpoint_url, "string", DP_PT_STRING, NULL, "http://... or https://...", 0, 0, DP_PF_URL, S_SRC,
      NULL, "AWS_ENDPOINT_URL_DYNAMODB_STREAMS", NULL,
      "DynamoDB Streams endpoint override. Default: derived from endpoint_url, else "
      "streams.dynamodb.REGION.amazonaws.com."),
    P(aws_access_key_id, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.basic.accesskeyid,aws.credentials.provider.basic.accesskeyid,awsAccessKeyId", NULL,
      NULL,
      "Static access key id. Must be given together with aws_secret_access_key; when both are omitted the "
      "default credentials chain is used."),
    P(aws_secret_access_key, "secret", DP_PT_SECRET, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.basic.secretkey,aws.credentials.provider.basic.secretkey,awsSecretAccessKey", NULL,
      NULL, "Static secret access key (never logged). Must be given together with aws_access_key_id."),
    P(aws_session_token, "secret", DP_PT_SECRET, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.basic.sessiontoken,awsSessionToken", NULL, NULL,
      "Session token for temporary static credentials (never logged)."),
    P(profile, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.profile.name,aws.credentials.provider.profile.name", "AWS_PROFILE,AWS_DEFAULT_PROFILE",
      NULL,
      "Profile in the shared AWS config/credentials files, for credentials and region alike. Falls back to "
      "AWS_PROFILE, AWS_DEFAULT_PROFILE, then `default`; a profile named but missing is an error."),
    P(credentials_file, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.profile.path,aws.credentials.provider.profile.path", NULL, NULL,
      "Shared credentials file. Default: AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials."),
    P(credentials_provider, "enum", DP_PT_ENUM, "auto",
      "auto|static|environment|web-identity|profile|container|imds", 0, 0, 0, S_CONN,
      "aws.credentials.provider,aws.credentials.role.provider,aws.credentials.provider.role.provider", NULL,
      "AUTO=auto,BASIC=static,ENV_VAR=environment,ENV_VARS=environment,env=environment,PROFILE=profile,"
      "WEB_IDENTITY_TOKEN=web-identity,web_identity=web-identity,ecs=container,ec2=imds",
      "Where credentials come from: `auto` walks the chain (static config, environment, web identity, "
      "profile, container, IMDS). Flink names AUTO, BASIC, ENV_VAR, PROFILE, WEB_IDENTITY_TOKEN and "
      "ASSUME_ROLE are accepted; SYS_PROP and CUSTOM are rejected with what to use instead."),
    P(role_arn, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.role.arn,aws.credentials.provider.role.arn", NULL, NULL,
      "Role to assume (STS AssumeRole, or AssumeRoleWithWebIdentity with web_identity_token_file)."),
    P(role_session_name, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.role.sessionName,aws.credentials.provider.role.sessionName", NULL, NULL,
      "Session name when assuming role_arn. Default: ddbpipe-PID."),
    P(external_id, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.role.externalId,aws.credentials.provider.role.externalId", NULL, NULL,
      "External id when assuming role_arn."),
    P(web_identity_token_file, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN,
      "aws.credentials.webIdentityToken.file,aws.credentials.provider.webIdentityToken.file", NULL, NULL,
      "Web identity token file (EKS IRSA). Default: AWS_WEB_IDENTITY_TOKEN_FILE."),
    P(trust_all_certificates, "bool", DP_PT_BOOL, "false", "true|false", 0, 0, 0, S_CONN,
      "aws.trust.all.certificates", NULL, NULL, "Turn TLS certificate verification off (testing only)."),
    P(ca_file, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_CONN, NULL, "AWS_CA_BUNDLE", NULL,
      "PEM file of CA certificates to trust instead of the system store, for the DynamoDB calls and the "
      "credentials providers' STS, container and IMDS calls. Falls back to AWS_CA_BUNDLE (as the AWS SDKs "
      "do); "
      "must be a readable file."),
    P(connect_timeout_ms, "duration_ms", DP_PT_DURATION, "3000", "1..600000", 1, 600000, 0, S_CONN, NULL,
      NULL, NULL, "TCP+TLS connect timeout."),
    P(request_timeout_ms, "duration_ms", DP_PT_DURATION, "60000", "1..3600000", 1, 3600000, 0, S_CONN,
      "sink.http-client.read-timeout", NULL, NULL, "Timeout for one HTTP request (read timeout)."),
    P(retry_mode, "enum", DP_PT_ENUM, "adaptive", "standard|adaptive", 0, 0, 0, S_CONN, NULL, NULL, NULL,
      "AWS retry mode. Both retry with jittered backoff and retry tokens. `adaptive` (the default) also "
      "paces sends once the table throttles: in the sink, one rate of write capacity units per process "
      "set from what the table accepted (measured before cutting) on throttling errors *and* "
      "UnprocessedItems, settling near the table's grant (docs/semantics.md); in other commands, the AWS "
      "SDKs' request-rate limiter, which cuts only from a measured rate. `standard` never paces: every "
      "throttled call is retried after backoff. Behaviour change: the default was `standard` (which left a "
      "busy table at ~70% of its grant with most calls throttled); set `retry_mode: standard` for the old "
      "behaviour."),
    P(retry_backoff_base_ms, "duration_ms", DP_PT_DURATION, "25", "1..60000", 1, 60000, 0, S_CONN,
      "flink.dynamodbstreams.backoff.mindelayduration,flink.dynamodbstreams.backoff.basemillis", NULL, NULL,
      "Base of the full-jitter retry backoff (doubles per attempt up to retry_backoff_max_ms)."),
    P(retry_backoff_max_ms, "duration_ms", DP_PT_DURATION, "20000", "1..600000", 1, 600000, 0, S_CONN,
      "flink.dynamodbstreams.backoff.maxdelay,flink.dynamodbstreams.backoff.maxmillis", NULL, NULL,
      "Longest retry backoff."),
    P(log_level, "enum", DP_PT_ENUM, "warn", "error|warn|info|debug", 0, 0, 0, S_CONN, NULL, NULL,
      "warning=warn", "Log level on stderr."),
    /* ------------------------------------------------------------ table */
    P(partition_key, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_TABLE, "hash_key", NULL, NULL,
      "Partition (HASH) key attribute. When absent, read from DescribeTable."),
    P(partition_key_type, "enum", DP_PT_ENUM, "S", "S|N|B", 0, 0, 0, S_TABLE, NULL, NULL,
      "string=S,number=N,binary=B", "Partition key attribute type."),
    P(sort_key, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_TABLE, "range_key", NULL, NULL,
      "Sort (RANGE) key attribute, if the table has one."),
    P(sort_key_type, "enum", DP_PT_ENUM, "S", "S|N|B", 0, 0, 0, S_TABLE, NULL, NULL,
      "string=S,number=N,binary=B", "Sort key attribute type."),
    P(key, "list", DP_PT_LIST, NULL, "pk or pk,sk", 0, 0, DP_PF_KEY, S_TABLE, "keys,primary_key", NULL, NULL,
      "Shorthand: `pk` or `pk,sk` sets partition_key and sort_key."),
    P(billing_mode, "enum", DP_PT_ENUM, "PAY_PER_REQUEST", "PAY_PER_REQUEST|PROVISIONED", 0, 0, 0,
      "create-table,sink", NULL, NULL, "on_demand=PAY_PER_REQUEST,on-demand=PAY_PER_REQUEST",
      "Billing mode for tables ddbpipe creates."),
    P(read_capacity, "int", DP_PT_INT, NULL, "1..40000", 1, 40000, 0, "create-table,sink", NULL, NULL, NULL,
      "Read capacity units (PROVISIONED only)."),
    P(write_capacity, "int", DP_PT_INT, NULL, "1..40000", 1, 40000, 0, "create-table,sink", NULL, NULL, NULL,
      "Write capacity units (PROVISIONED only)."),
    P(stream_view_type, "enum", DP_PT_ENUM, NULL, "NEW_IMAGE|OLD_IMAGE|NEW_AND_OLD_IMAGES|KEYS_ONLY", 0, 0, 0,
      "create-table,sink", NULL, NULL, NULL,
      "Enable a stream with this view type on tables ddbpipe creates."),
    /* ------------------------------------------------------------ sink */
    P(write_mode, "enum", DP_PT_ENUM, "batch", "batch|transactional", 0, 0, 0, S_SINK, NULL, NULL, NULL,
      "`batch` uses BatchWriteItem (25 items a call, not atomic); `transactional` uses TransactWriteItems "
      "(100 actions a call, all-or-nothing)."),
    P(batch_size, "int", DP_PT_INT, "25 (batch) / 100 (transactional)",
      "1..25 (batch), 1..100 (transactional)", 1, 100, DP_PF_DERIVED, S_SINK,
      "sink.batch.max-size,max_batch_size", NULL, NULL,
      "Write requests per DynamoDB call. Default and limit follow write_mode."),
    P(max_buffer_size_bytes, "int", DP_PT_INT, "1048576", "1024..1073741824", 1024, 1073741824, 0, S_SINK,
      "sink.flush-buffer.size", NULL, NULL, "Bytes buffered per worker before a flush."),
    P(max_buffered_records, "int", DP_PT_INT, "10000", "1..10000000", 1, 10000000, 0, S_SINK,
      "sink.requests.max-buffered", NULL, NULL,
      "Records buffered before reading input pauses (backpressure)."),
    P(flush_interval_ms, "duration_ms", DP_PT_DURATION, "5000", "1..86400000", 1, 86400000, 0, S_SINK,
      "sink.flush-buffer.timeout", NULL, NULL, "Longest time a record waits in the buffer before a flush."),
    P(max_concurrent_requests, "int", DP_PT_INT, "64", "1..1024", 1, 1024, 0, S_SINK,
      "sink.requests.max-inflight", NULL, NULL,
      "DynamoDB write calls in flight per worker thread. The HTTP connections per host and in total follow "
      "it (the source uses the larger of it and segments)."),
    P(threads, "int", DP_PT_INT, "1", "1..64", 1, 64, 0, S_SINK, NULL, NULL, NULL,
      "Worker threads; each owns a disjoint key hash range so per-key order holds."),
    P(max_retries, "int", DP_PT_INT, "10", "0..1000000 or null", 0, 1000000, DP_PF_NULLABLE,
      "sink,source,sql", "flink.dynamodbstreams.numretries", NULL, NULL,
      "Retries of a failed write (and of a failed DynamoDB or Streams call). In the sink, throttling "
      "(throttling errors, UnprocessedItems, UnprocessedKeys) does not count: a record is never given up "
      "because the table was busy. `null` retries forever."),
    P(max_write_capacity_per_s, "int", DP_PT_INT, NULL, "1..10000000", 1, 10000000, 0, S_SINK, NULL, NULL,
      NULL,
      "Cap on the write capacity units a second this process consumes (all worker threads share one token "
      "bucket that starts empty and holds at most 0.1 s of units, so there is no burst above it). Metered "
      "from DynamoDB's ConsumedCapacity, estimated as ceil(item size / 1 KB) per put and 1 per delete (twice "
      "that in transactional mode) until the answer arrives. Per process: processes sharing a table (Kafka "
      "group members, several sinks) each need their share, e.g. the table budget divided by the number of "
      "processes. Unset: no cap."),
    P(write_capacity_fraction, "decimal", DP_PT_STRING, NULL, "0 < f <= 1, e.g. 0.5", 0, 0, DP_PF_DECIMAL,
      S_SINK, NULL, NULL, NULL,
      "Cap the write capacity units a second at this fraction of the table's capacity, read from "
      "DescribeTable at start and again every 60 s (a changed figure updates the cap): "
      "ProvisionedThroughput.WriteCapacityUnits, or for an on-demand table "
      "OnDemandThroughput.MaxWriteRequestUnits; an on-demand table without that maximum is an error at "
      "start (give max_write_capacity_per_s). With max_write_capacity_per_s too, the smaller cap applies. "
      "Per process, like max_write_capacity_per_s."),
    P(price_per_million_wcu, "decimal", DP_PT_STRING, NULL, "a number >= 0, e.g. 0.625", 0, 0, DP_PF_DECIMAL,
      S_SINK, NULL, NULL, NULL,
      "Price of one million write request units (or of provisioned WCU used that way) in your currency; "
      "`ddbpipe sink --dry-run` then prints the estimated cost of the load. Only used by the dry run."),
    P(fail_on_error, "bool", DP_PT_BOOL, "false", "true|false", 0, 0, 0, S_SINK, "sink.fail-on-error", NULL,
      NULL, "Stop (after flushing) at the first record that cannot be written instead of dead-lettering it."),
    P(ignore_nulls, "bool", DP_PT_BOOL, "false", "true|false", 0, 0, 0, S_SINK, "sink.ignore-nulls", NULL,
      NULL, "Leave out null-valued columns instead of writing NULL attributes."),
    P(update_mode, "enum", DP_PT_ENUM, "put", "put|merge", 0, 0, 0, S_SINK, NULL, NULL, NULL,
      "`put` replaces the item; `merge` loads it (BatchGetItem) and applies the change as a JSON merge "
      "patch."),
    P(document_attribute, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_SINK, NULL, NULL, NULL,
      "Store the whole input document as one Map attribute of this name beside the keys (Estuary's "
      "flow_document)."),
    P(columns, "string", DP_PT_STRING, NULL, "name TYPE, ...", 0, 0, DP_PF_COLUMNS, S_SINK, "schema", NULL,
      NULL,
      "Column SQL types driving the attribute mapping: `id BIGINT, name VARCHAR, ...`. In YAML a mapping "
      "`name: TYPE` is accepted too."),
    P(dedup_keys, "list", DP_PT_LIST, NULL, "column list", 0, 0, 0, S_SINK, "overwrite_by_partition_keys",
      NULL, NULL,
      "Columns identifying a record for folding duplicates (Flink PARTITIONED BY). Default: the table key."),
    P(condition_expression, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_SINK, "put_condition_expression",
      NULL, NULL,
      "Condition for puts (transactional mode only; Feldera's put_condition_expression). A put whose "
      "condition is false is skipped and counted as condition_failed; the run still exits 0."),
    P(delete_condition_expression, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_SINK, NULL, NULL, NULL,
      "Condition for deletes (transactional mode only). A delete whose condition is false is skipped and "
      "counted as condition_failed."),
    P(expression_attribute_names, "json", DP_PT_STRING, NULL, "JSON object", 0, 0, DP_PF_JSON, S_SINK, NULL,
      NULL, NULL, "ExpressionAttributeNames for the condition expressions, as a JSON object."),
    P(expression_attribute_values, "json", DP_PT_STRING, NULL, "JSON object", 0, 0, DP_PF_JSON, S_SINK, NULL,
      NULL, NULL, "ExpressionAttributeValues (typed AttributeValues) for the condition expressions."),
    P(metrics_address, "string", DP_PT_STRING, NULL, "host:port or port", 0, 0, 0, "sink,source", NULL, NULL,
      NULL,
      "Serve Prometheus metrics (/metrics) and the probes /healthz (alive) and /readyz (table reached, not "
      "fatal) here, e.g. 127.0.0.1:9464 (a bare port binds 127.0.0.1). Unset: no server."),
    P(create_table_if_missing, "bool", DP_PT_BOOL, "false", "true|false", 0, 0, 0, S_SINK, NULL, NULL, NULL,
      "Create the table (key schema from the config) when it does not exist. Estuary configs set this."),
    /* ------------------------------------------------------------ source */
    P(stream_arn, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, S_SRC, NULL, NULL, NULL,
      "Stream to read. Default: the table's latest stream (DescribeTable)."),
    P(segments, "int", DP_PT_INT, "4", "1..1000000", 1, 1000000, 0, S_SRC, NULL, NULL, NULL,
      "Parallel Scan segments for snapshots."),
    P(stream_start_position, "enum", DP_PT_ENUM, "trim_horizon", "trim_horizon|latest", 0, 0, 0, S_SRC,
      "flink.stream.initpos", NULL, NULL,
      "Where the stream is read from on a fresh start (no checkpoint): `trim_horizon` (the oldest record "
      "kept, 24 h) or `latest` (changes from now on). `--from` overrides it when given. Flink's "
      "TRIM_HORIZON and LATEST are accepted."),
    P(discovery_interval_ms, "duration_ms", DP_PT_DURATION, "60000", "100..3600000", 100, 3600000, 0, S_SRC,
      "flink.shard.discovery.intervalmillis", NULL, NULL, "How often new shards are discovered."),
    P(inconsistent_listing_retries, "int", DP_PT_INT, "5", "0..1000", 0, 1000, 0, S_SRC,
      "flink.describestream.inconsistencyresolution.retries", NULL, NULL,
      "Times a stream listing is repeated when a closed shard's children are not listed yet (DescribeStream "
      "answers can lag behind a split)."),
    P(poll_idle_ms, "duration_ms", DP_PT_DURATION, "1000", "0..60000", 0, 60000, 0, S_SRC,
      "flink.dynamodbstreams.getrecords.empty.mindelay", NULL, NULL,
      "Delay before the next GetRecords after an empty answer."),
    P(poll_busy_ms, "duration_ms", DP_PT_DURATION, "250", "0..60000", 0, 60000, 0, S_SRC,
      "flink.dynamodbstreams.getrecords.nonempty.mindelay", NULL, NULL,
      "Delay before the next GetRecords after a non-empty answer."),
    P(max_read_capacity_per_s, "int", DP_PT_INT, NULL, "1..10000000", 1, 10000000, 0, S_SRC, NULL, NULL, NULL,
      "Cap on the read capacity units a second the snapshot's Scan consumes in this process (one token "
      "bucket for every segment, starting empty, holding at most 0.1 s of units). Metered from "
      "ConsumedCapacity, estimated from the last page of the segment (else 1 unit: 4 KB units of "
      "consistent reads) until the answer arrives. Per process: split a budget across processes by hand. "
      "Unset: no cap."),
    P(read_capacity_fraction, "decimal", DP_PT_STRING, NULL, "0 < f <= 1, e.g. 0.5", 0, 0, DP_PF_DECIMAL,
      S_SRC, NULL, NULL, NULL,
      "Cap the snapshot's read capacity units a second at this fraction of the table's capacity, read from "
      "DescribeTable at start and every 60 s while the process runs (a changed figure moves the cap): "
      "ProvisionedThroughput.ReadCapacityUnits, or for an on-demand table "
      "OnDemandThroughput.MaxReadRequestUnits; an on-demand table without that maximum is an error at "
      "start (give max_read_capacity_per_s). With max_read_capacity_per_s too, the smaller cap applies."),
    P(scan_page_items, "int", DP_PT_INT, NULL, "1..1000000", 1, 1000000, 0, S_SRC, NULL, NULL, NULL,
      "Most items per snapshot Scan page (the Scan's `Limit`). Smaller pages checkpoint more often (with a "
      "lease table a segment is checkpointed after every page, so a worker's successor repeats at most one "
      "page). Unset: DynamoDB's 1 MB pages."),
    P(on_trimmed_data, "enum", DP_PT_ENUM, "stop", "stop|continue", 0, 0, 0, S_SRC, NULL, NULL, NULL,
      "On TrimmedDataAccessException (records lost): `stop` with an error, or `continue` from the trim "
      "horizon "
      "after reporting the loss."),
    P(lease_table, "string", DP_PT_STRING, NULL, "3..255 of [A-Za-z0-9_.-]", 0, 0, 0, S_SRC, NULL, NULL, NULL,
      "Scale-out: workers running the same command share the stream's shards and the snapshot's Scan "
      "segments "
      "through this DynamoDB table (one lease per shard or segment; created on demand, PAY_PER_REQUEST, "
      "partition "
      "key `lease_key` (S) = application_name/stream label/shard id). Replaces `--checkpoint`. See "
      "docs/semantics.md."),
    P(application_name, "string", DP_PT_STRING, NULL, "1..200 characters without `/`", 0, 0, 0, S_SRC, NULL,
      NULL, NULL,
      "Name of the application whose leases a worker shares; required with lease_table. Each application "
      "reads the whole stream independently; one lease table can serve several."),
    P(worker_id, "string", DP_PT_STRING, NULL, "1..200 characters", 0, 0, 0, S_SRC, NULL, NULL, NULL,
      "This worker's name in the lease table's `owner` attribute (default: host:pid); must be unique among "
      "running workers."),
    P(lease_duration_ms, "duration_ms", DP_PT_DURATION, "10000", "1000..600000", 1000, 600000, 0, S_SRC, NULL,
      NULL, NULL,
      "A lease not renewed for this long (as seen by another worker's clock) may be taken over. "
      "Leases are renewed every third of it; a worker stops emitting a shard once its lease may have "
      "expired."),
    P(max_leases_per_worker, "int", DP_PT_INT, "0", "0..100000", 0, 100000, 0, S_SRC, NULL, NULL, NULL,
      "Most leases this worker holds at once (0: unlimited)."),
    /* ------------------------------------------------------------ kafka */
    P(kafka_enabled, "bool", DP_PT_BOOL, "false", "true|false", 0, 0, 0, "sink,source", NULL, NULL, NULL,
      "As `--kafka` (for service units that take no flags): the sink reads from Kafka as a consumer group "
      "member, the source writes its events to Kafka. Every `kafka.<property>` is passed to librdkafka as it "
      "is (`kafka.bootstrap.servers`, "
      "`kafka.group.id`, `kafka.security.protocol`, `kafka.sasl.*`, `kafka.ssl.*`, ...); passwords and "
      "secrets among them are never printed. ddbpipe's defaults: `enable.auto.commit=false`, "
      "`auto.offset.reset=earliest`."),
    P(kafka_topics, "list", DP_PT_LIST, NULL, "topic names; ^regex for a pattern", 0, 0, 0, "sink", NULL,
      NULL, NULL, "Topics the sink subscribes to (a name starting with `^` is a regular expression)."),
    P(kafka_commit_interval_ms, "duration_ms", DP_PT_DURATION, "5000", "10..3600000", 10, 3600000, 0, "sink",
      NULL, NULL, NULL,
      "How often the sink commits each partition's offset: the offset below which every message was "
      "written or dead-lettered. Also committed on a rebalance and at shutdown."),
    P(kafka_revoke_timeout_ms, "duration_ms", DP_PT_DURATION, "10000", "0..600000", 0, 600000, 0, "sink",
      NULL, NULL, NULL,
      "On a rebalance that takes partitions away, how long the sink waits for their writes before it commits "
      "and lets them go (what is unfinished then is consumed again by the next owner)."),
    P(kafka_tombstones, "enum", DP_PT_ENUM, "delete", "delete|ignore", 0, 0, 0, "sink", NULL, NULL, NULL,
      "A Kafka message with a key and a null value (a tombstone): `delete` the item with that key, or "
      "`ignore` it."),
    P(kafka_topic, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, "source", NULL, NULL, NULL,
      "The topic `ddbpipe source --kafka` writes to (message key: the item key as JSON; value: the event)."),
    P(kafka_delete_tombstones, "bool", DP_PT_BOOL, "true", "true|false", 0, 0, 0, "source", NULL, NULL, NULL,
      "With `--kafka --format debezium`: follow each delete with a tombstone (the key, a null value), so "
      "compacted topics drop the item."),
    P(dead_letter_topic, "string", DP_PT_STRING, NULL, NULL, 0, 0, 0, "sink", NULL, NULL, NULL,
      "With Kafka input: produce dead letters to this topic (value and key as received; headers "
      "`ddbpipe.reason`, `ddbpipe.topic`, `ddbpipe.partition`, `ddbpipe.offset`) instead of the file."),
    P(follow_new_stream, "bool", DP_PT_BOOL, "false", "true|false", 0, 0, 0, S_SRC, NULL, NULL, NULL,
      "When the followed stream goes away (disabled, re-enabled with a new ARN, table re-created), "
      "`false` stops with exit 3 once the old stream is read to its end; `true` follows the table's new "
      "stream from its trim horizon instead (changes made while no stream was enabled are in no stream). "
      "Also `--follow-new-stream`."),
};

#define NPROPS (sizeof props / sizeof props[0])

/* Dialect options accepted with a notice because they cannot matter here. */
static const struct {
    const char *name;
    const char *notice;
} ignored[] = {
    {"sink.http-client.max-concurrency", "'sink.http-client.max-concurrency' has no effect: ddbpipe bounds "
                                         "HTTP concurrency with max_concurrent_requests"},
    {"sink.http-client.protocol.version",
     "'sink.http-client.protocol.version' has no effect: DynamoDB speaks HTTP/1.1"},
    {"sink.max-record-size", "'sink.max-record-size' has no effect: items over 400 KB are dead-lettered"},
    {"aws.credentials.role.stsEndpoint",
     "'aws.credentials.role.stsEndpoint' has no effect: set AWS_ENDPOINT_URL_STS instead"},
};

_Static_assert(NPROPS <= DP_SETTINGS_MAX_ROWS, "raise DP_SETTINGS_MAX_ROWS");

size_t dp_prop_count(void) {
    return NPROPS;
}

dp_field_kind dp_prop_field_kind(const dp_prop *p) {
    switch (p->type) {
    case DP_PT_INT:
    case DP_PT_DURATION:
        return DP_FK_I64;
    case DP_PT_BOOL:
        return DP_FK_BOOL;
    case DP_PT_ENUM:
        return DP_FK_ENUM;
    default:
        return DP_FK_STR;
    }
}

const dp_prop *dp_prop_at(size_t i) {
    return i < NPROPS ? &props[i] : NULL;
}

size_t ddbpipe_conf_prop_count(void) {
    return NPROPS;
}

const ddbpipe_conf_prop_info_t *ddbpipe_conf_prop_at(size_t i) {
    return i < NPROPS ? &props[i].info : NULL;
}

static int fold(int c) {
    c = tolower((unsigned char)c);
    return c == '-' ? '_' : c;
}

int dp_prop_name_eq(const char *a, size_t alen, const char *b, size_t blen) {
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (fold(a[i]) != fold(b[i]))
            return 0;
    return 1;
}

/* Walk a comma separated alias list; cb returns non-zero to stop. */
static int alias_match(const char *list, const char *name) {
    if (!list)
        return 0;
    size_t nlen = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (dp_prop_name_eq(p, l, name, nlen))
            return 1;
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

int dp_prop_find(const char *name) {
    if (!name)
        return -1;
    size_t nlen = strlen(name);
    for (size_t i = 0; i < NPROPS; i++)
        if (dp_prop_name_eq(props[i].info.name, strlen(props[i].info.name), name, nlen))
            return (int)i;
    for (size_t i = 0; i < NPROPS; i++)
        if (alias_match(props[i].info.aliases, name))
            return (int)i;
    return -1;
}

const char *dp_prop_ignored(const char *name) {
    size_t nlen = strlen(name);
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        if (dp_prop_name_eq(ignored[i].name, strlen(ignored[i].name), name, nlen))
            return ignored[i].notice;
    return NULL;
}

/* Names from Kafka Connect (sink connector and worker configs) and Flink's
 * Kafka connector, which ddbpipe spells otherwise: a pointer beats "did you
 * mean" here, since the closest name by edit distance is rarely the right one. */
const char *dp_prop_kafka_hint(const char *name, char *out, size_t out_size) {
    static const struct {
        const char *name, *hint;
    } fixed[] = {
        {"topics", "Kafka Connect's topics is kafka_topics here (ddbpipe sink --kafka); the source "
                   "writes to kafka_topic"},
        {"topic", "the Kafka topic is kafka_topics for ddbpipe sink --kafka, kafka_topic for ddbpipe "
                  "source --kafka"},
        {"topics.regex", "a pattern is a kafka_topics entry starting with '^', e.g. \"^dbserver1\\\\..*\""},
        {"topic-pattern", "a pattern is a kafka_topics entry starting with '^', e.g. \"^dbserver1\\\\..*\""},
        {"errors.deadletterqueue.topic.name", "dead letters go to dead_letter_topic or --dead-letter FILE"},
        {"errors.tolerance", "bad records always go to the dead letter (dead_letter_topic or --dead-letter "
                             "FILE) and the stream goes on; fail_on_error: true stops at the first"},
        {"scan.startup.mode", "a group with committed offsets resumes from them; a new group starts at "
                              "kafka.auto.offset.reset, earliest unless set"},
        {"tasks.max", "run one ddbpipe sink --kafka process per task: members of one consumer group "
                      "(kafka.group.id) share the partitions"},
        {"key.converter", "message keys and values are JSON; the format is found per message (--format)"},
        {"value.converter", "message keys and values are JSON; the format is found per message (--format)"},
    };
    static const char *const prefixes[] = {"properties.", "consumer.override.", "producer.override.",
                                           "consumer.", "producer."};
    static const char *const client[] = {"bootstrap.servers",
                                         "group.id",
                                         "group.instance.id",
                                         "client.id",
                                         "security.protocol",
                                         "auto.offset.reset",
                                         "sasl.",
                                         "ssl.",
                                         "session.timeout.ms",
                                         "max.poll.interval.ms",
                                         "partition.assignment.strategy",
                                         "isolation.level"};
    if (!name || !out || !out_size)
        return NULL;
    size_t nlen = strlen(name);
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (dp_prop_name_eq(fixed[i].name, strlen(fixed[i].name), name, nlen)) {
            snprintf(out, out_size, "%s", fixed[i].hint);
            return out;
        }
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t pl = strlen(prefixes[i]);
        if (nlen > pl && strncasecmp(name, prefixes[i], pl) == 0) {
            snprintf(out, out_size, "Kafka client properties go under kafka.: kafka.%s", name + pl);
            return out;
        }
    }
    for (size_t i = 0; i < sizeof client / sizeof client[0]; i++) {
        size_t cl = strlen(client[i]);
        if (client[i][cl - 1] == '.' ? strncasecmp(name, client[i], cl) == 0 && nlen > cl
                                     : strcasecmp(name, client[i]) == 0) {
            snprintf(out, out_size, "Kafka client properties go under kafka.: kafka.%s", name);
            return out;
        }
    }
    return NULL;
}

/* Levenshtein distance over folded characters; names are short (< 64). */
static size_t lev(const char *a, size_t al, const char *b, size_t bl) {
    size_t row[128];
    if (al > 127 || bl > 127)
        return (size_t)-1;
    for (size_t j = 0; j <= bl; j++)
        row[j] = j;
    for (size_t i = 1; i <= al; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bl; j++) {
            size_t cur = row[j];
            size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
            size_t best = prev + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            prev = cur;
        }
    }
    return row[bl];
}

const char *dp_prop_suggest(const char *name, char *out, size_t out_size) {
    size_t nlen = strlen(name), best = (size_t)-1;
    const char *best_name = NULL, *best_p = NULL;
    size_t best_l = 0;
    for (size_t i = 0; i < NPROPS; i++) {
        const char *cn = props[i].info.name;
        size_t d = lev(name, nlen, cn, strlen(cn));
        if (d < best) {
            best = d;
            best_p = cn;
            best_l = strlen(cn);
        }
        const char *p = props[i].info.aliases;
        while (p && *p) {
            const char *e = strchr(p, ',');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            d = lev(name, nlen, p, l);
            if (d < best) {
                best = d;
                best_p = p;
                best_l = l;
            }
            if (!e)
                break;
            p = e + 1;
        }
    }
    /* Only suggest when the typo is small relative to the name. */
    size_t limit = nlen / 3 + 1;
    if (limit < 2)
        limit = 2;
    if (!best_p || best > limit || out_size == 0 || best_l >= out_size)
        return NULL;
    memcpy(out, best_p, best_l);
    out[best_l] = 0;
    best_name = out;
    return best_name;
}
