-- docs/clickhouse.sql - the tables `flowaudit export` (and audit/capture
-- --export) writes into. The exporter creates them when they are missing,
-- with exactly the single-server statements below (`flowaudit export
-- --print-schema [--database NAME]` prints them; the test suite checks
-- that this file and the binary agree, and runs them on Debian 12's
-- ClickHouse 18.16).
--
-- Types are kept to what ClickHouse 18.16 accepts: String, UInt*,
-- DateTime('UTC'), Array(String); no Nullable (an unknown string is '',
-- an unknown number 0, an unknown time 1970-01-01 00:00:00), no
-- LowCardinality, no DateTime64. Current ClickHouse servers take the same
-- statements unchanged.
--
-- runs: one row per report, keyed by manifest_sha256 (the SHA-256 of the
-- report's MANIFEST.sha256, which names every file and input digest);
-- written last, so a run is in ClickHouse exactly when its runs row is.
-- findings, flows: one row per element of report.json's findings[] and
-- flows[], with the run's key, label, app and generated_at, and part (the
-- number of the batch that carried the row). signature_key is the key
-- fingerprint MANIFEST.sha256.sig names, as claimed: check it with
-- `flowaudit verify --key` before relying on it.

-- single server
CREATE DATABASE IF NOT EXISTS flowaudit;

CREATE TABLE IF NOT EXISTS flowaudit.runs (
    manifest_sha256 String,
    label String,
    app String,
    generated_at DateTime('UTC'),
    exported_at DateTime('UTC'),
    command String,
    flowaudit_version String,
    controller String,
    policy_sha256 String,
    captures Array(String),
    capture_sha256 Array(String),
    device_profile_sha256 String,
    devices Array(String),
    verdict String,
    fail_on String,
    findings UInt32,
    flows UInt32,
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    signature_key String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(generated_at)
ORDER BY (app, generated_at, manifest_sha256);

CREATE TABLE IF NOT EXISTS flowaudit.findings (
    manifest_sha256 String,
    label String,
    app String,
    generated_at DateTime('UTC'),
    part UInt32,
    id String,
    rule String,
    severity String,
    device String,
    host String,
    recipient_kind String,
    recipient_id String,
    recipient_name String,
    entity String,
    entity_country String,
    country String,
    asn UInt32,
    as_org String,
    identifiers Array(String),
    statement String,
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    packets_out UInt64,
    bytes_out UInt64,
    packets_in UInt64,
    bytes_in UInt64,
    evidence String
) ENGINE = MergeTree
PARTITION BY toYYYYMM(generated_at)
ORDER BY (app, rule, host, manifest_sha256);

CREATE TABLE IF NOT EXISTS flowaudit.flows (
    manifest_sha256 String,
    label String,
    app String,
    generated_at DateTime('UTC'),
    part UInt32,
    id UInt32,
    transport String,
    client_ip String,
    client_port UInt16,
    server_ip String,
    server_port UInt16,
    protocol String,
    category String,
    encrypted UInt8,
    name String,
    name_source String,
    scope String,
    country String,
    asn UInt32,
    as_org String,
    signature_id String,
    signature_kind String,
    entity String,
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    packets_out UInt64,
    bytes_out UInt64,
    packets_in UInt64,
    bytes_in UInt64
) ENGINE = MergeTree
PARTITION BY toYYYYMM(generated_at)
ORDER BY (app, name, manifest_sha256);

-- cluster: several servers, each table sharded and replicated
--
-- Run these once, on any one server of the cluster (they are ON CLUSTER),
-- instead of letting the exporter create the single-server tables: the
-- exporter's CREATE ... IF NOT EXISTS then finds the Distributed tables
-- under the names it writes to, and inserts through them, through any
-- server. Rows of one run go to one shard (sharding key
-- sipHash64(manifest_sha256)), so the exporter's counts per run and batch
-- read one shard's data. The exporter asks for insert_distributed_sync = 1
-- with every request, so that an INSERT is answered once its rows are on
-- their shard: with the server's default (0) rows bound for another shard
-- wait in a queue, a count made at once misses them, and a second export
-- or a retried batch would add them again.
--
-- Needs, in each server's configuration: the cluster in remote_servers
-- (its name is the {cluster} macro), zookeeper, distributed_ddl, and the
-- macros {cluster}, {shard} (the same on the replicas of one shard) and
-- {replica} (different on each); docs/fleets.md shows them. The server
-- expands '{cluster}' in ON CLUSTER and in Distributed itself: nothing is
-- substituted by hand unless the database is not flowaudit (--database):
-- then replace flowaudit in every statement.
--
-- Tested by the test suite (tests/e2e/test_ch_cluster.py) on ClickHouse
-- 18.16 with ZooKeeper 3.8 (Debian 12's clickhouse-server and zookeeper):
-- two servers as two shards of one replica each, two reports exported
-- through one server, every run, finding and flow seen once through both
-- servers' Distributed tables, each run on its shard, a second export
-- through either server adding nothing. Current servers take the same
-- statements.

CREATE DATABASE IF NOT EXISTS flowaudit ON CLUSTER '{cluster}';

CREATE TABLE IF NOT EXISTS flowaudit.runs_local ON CLUSTER '{cluster}' (
    manifest_sha256 String,
    label String,
    app String,
    generated_at DateTime('UTC'),
    exported_at DateTime('UTC'),
    command String,
    flowaudit_version String,
    controller String,
    policy_sha256 String,
    captures Array(String),
    capture_sha256 Array(String),
    device_profile_sha256 String,
    devices Array(String),
    verdict String,
    fail_on String,
    findings UInt32,
    flows UInt32,
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    signature_key String
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowaudit/runs', '{replica}')
PARTITION BY toYYYYMM(generated_at)
ORDER BY (app, generated_at, manifest_sha256);

CREATE TABLE IF NOT EXISTS flowaudit.runs ON CLUSTER '{cluster}' AS flowaudit.runs_local
ENGINE = Distributed('{cluster}', flowaudit, runs_local, sipHash64(manifest_sha256));

CREATE TABLE IF NOT EXISTS flowaudit.findings_local ON CLUSTER '{cluster}' (
    manifest_sha256 String,
    label String,
    app String,
    generated_at DateTime('UTC'),
    part UInt32,
    id String,
    rule String,
    severity String,
    device String,
    host String,
    recipient_kind String,
    recipient_id String,
    recipient_name String,
    entity String,
    entity_country String,
    country String,
    asn UInt32,
    as_org String,
    identifiers Array(String),
    statement String,
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    packets_out UInt64,
    bytes_out UInt64,
    packets_in UInt64,
    bytes_in UInt64,
    evidence String
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowaudit/findings', '{replica}')
PARTITION BY toYYYYMM(generated_at)
ORDER BY (app, rule, host, manifest_sha256);

CREATE TABLE IF NOT EXISTS flowaudit.findings ON CLUSTER '{cluster}' AS flowaudit.findings_local
ENGINE = Distributed('{cluster}', flowaudit, findings_local, sipHash64(manifest_sha256));

CREATE TABLE IF NOT EXISTS flowaudit.flows_local ON CLUSTER '{cluster}' (
    manifest_sha256 String,
    label String,
    app String,
    generated_at DateTime('UTC'),
    part UInt32,
    id UInt32,
    transport String,
    client_ip String,
    client_port UInt16,
    server_ip String,
    server_port UInt16,
    protocol String,
    category String,
    encrypted UInt8,
    name String,
    name_source String,
    scope String,
    country String,
    asn UInt32,
    as_org String,
    signature_id String,
    signature_kind String,
    entity String,
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    packets_out UInt64,
    bytes_out UInt64,
    packets_in UInt64,
    bytes_in UInt64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/flowaudit/flows', '{replica}')
PARTITION BY toYYYYMM(generated_at)
ORDER BY (app, name, manifest_sha256);

CREATE TABLE IF NOT EXISTS flowaudit.flows ON CLUSTER '{cluster}' AS flowaudit.flows_local
ENGINE = Distributed('{cluster}', flowaudit, flows_local, sipHash64(manifest_sha256));
