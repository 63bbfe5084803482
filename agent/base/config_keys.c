/*
 * config_keys.c: every configuration key, in one table (config_int.h).
 * A key is added here, documented in sluice.conf(5) (t_cli checks that
 * every line of this table is) and in etc/sluice-*.conf.
 */
#include <stddef.h>

#include "config.h"
#include "config_int.h"
#include "log.h"
#include "sluice.h"

static const struct enumval roles[] = {
	{ "agent", ROLE_AGENT }, { "sink", ROLE_SINK }, { NULL, 0 } };
static const struct enumval levels[] = {
	{ "error", LOG_ERR }, { "warn", LOG_WARN }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG }, { NULL, 0 } };
static const struct enumval modes[] = {
	{ "on", 1 }, { "off", 0 }, { NULL, 0 } };
static const struct enumval priorities[] = {
	{ "oldest", PRIO_OLDEST }, { "newest", PRIO_NEWEST }, { NULL, 0 } };
static const struct enumval retentions[] = {
	{ "keep", RET_KEEP }, { "delete", RET_DELETE }, { "move", RET_MOVE }, { NULL, 0 } };
static const struct enumval layouts[] = {
	{ "flat", LAYOUT_FLAT }, { "per-agent", LAYOUT_PER_AGENT }, { NULL, 0 } };
static const struct enumval hookkinds[] = {
	{ "none", HOOK_NONE }, { "ssh", HOOK_SSH }, { "exec", HOOK_EXEC }, { NULL, 0 } };

#define F(f)	offsetof(struct config, f), sizeof(((struct config *)0)->f)
#define MiB	(1024.0 * 1024)

/*
 * KT_SIZE fields are uint32_t (chunk_size) or int (sndbuf); both are
 * written as a uint32_t, which is the same bits as an int for the values
 * their ranges allow (all <= INT_MAX).
 */
const struct keydef config_keys[] = {
	{ "daemon", "role",		KT_ENUM, RQ_ALWAYS, NULL,   F(role),	0, 0, roles },
	{ "daemon", "id",		KT_STR,  RQ_NO,     NULL,   F(id),	0, 0, NULL },
	{ "daemon", "journal",		KT_STR,  RQ_ALWAYS, NULL,   F(journal),	0, 0, NULL },
	{ "daemon", "control",		KT_STR,  RQ_NO,     NULL,   F(control),	0, 0, NULL },
	{ "daemon", "log_level",	KT_ENUM, RQ_NO,     "info", F(log_level), 0, 0, levels },
	{ "tls", "mode",		KT_ENUM, RQ_NO,     "on",   F(tls),	0, 0, modes },
	{ "tls", "ca",			KT_STR,  RQ_TLS_ON, NULL,   F(ca),	0, 0, NULL },
	{ "tls", "cert",		KT_STR,  RQ_TLS_ON, NULL,   F(cert),	0, 0, NULL },
	{ "tls", "key",			KT_STR,  RQ_TLS_ON, NULL,   F(key),	0, 0, NULL },
	{ "tls", "secret_file",		KT_STR,  RQ_TLS_OFF, NULL,  F(secret_file), 0, 0, NULL },
	{ "tls", "agent_secrets",	KT_STR,  RQ_NO,     NULL,   F(agent_secrets), 0, 0, NULL },
	{ "tls", "ciphersuites",	KT_STR,  RQ_NO,     NULL,   F(ciphersuites), 0, 0, NULL },
	{ "tls", "threads",		KT_INT,  RQ_NO,     "2",    F(tls_threads), 0, 16, NULL },
	{ "sink", "listen",		KT_STR,  RQ_SINK,   NULL,   F(listen),	0, 0, NULL },
	{ "sink", "root",		KT_STR,  RQ_SINK,   NULL,   F(root),	0, 0, NULL },
	{ "sink", "max_connections",	KT_INT,  RQ_NO,     "256",  F(max_connections), 1, 65536, NULL },
	{ "sink", "idle_timeout",	KT_DUR,  RQ_NO,     "120s", F(idle_timeout), 1, 86400, NULL },
	{ "sink", "direct_io",		KT_ENUM, RQ_NO,     "on",   F(direct_io), 0, 0, modes },
	{ "sink", "writers",		KT_INT,  RQ_NO,     "2",    F(writers),	0, 16, NULL },
	{ "sink", "reread",		KT_ENUM, RQ_NO,     "off",  F(reread),	0, 0, modes },
	{ "sink", "sha256",		KT_ENUM, RQ_NO,     "off",  F(sha256),	0, 0, modes },
	{ "sink", "handshake_timeout",	KT_DUR,  RQ_NO,     "10s",  F(handshake_timeout), 0.1, 600, NULL },
	{ "sink", "max_preauth",	KT_INT,  RQ_NO,     "64",   F(max_preauth), 1, 65536, NULL },
	{ "sink", "max_datasets_per_agent", KT_INT, RQ_NO,  "16",   F(max_datasets_per_agent), 1, 100000, NULL },
	{ "sink", "max_files_per_dataset", KT_INT, RQ_NO,   "500000", F(max_files_per_dataset), 1, SL_MAX_FILES, NULL },
	{ "sink", "max_memory_per_agent", KT_SIZE, RQ_NO,   "256M", F(max_memory_per_agent), MiB, 2048 * MiB, NULL },
	{ "sink", "file_mode",		KT_MODE, RQ_NO,     "0644", F(file_mode), 0, 0777, NULL },
	{ "sink", "dir_mode",		KT_MODE, RQ_NO,     "0755", F(dir_mode), 0, 0777, NULL },
	{ "sink", "layout",		KT_ENUM, RQ_NO,     "flat", F(layout),	0, 0, layouts },
	{ "sink", "partial_ttl",	KT_DUR,  RQ_NO,     "168h", F(partial_ttl), 0, 366 * 86400.0, NULL },
	{ "agent", "destination",	KT_STR,  RQ_AGENT,  NULL,   F(destination), 0, 0, NULL },
	{ "agent", "server_name",	KT_STR,  RQ_NO,     NULL,   F(server_name), 0, 0, NULL },
	{ "agent", "streams",		KT_INT,  RQ_NO,     "4",    F(streams),	1, SL_MAX_STREAMS, NULL },
	{ "agent", "chunk_size",	KT_SIZE, RQ_NO,     "8M",   F(chunk_size), SL_MIN_CHUNK, SL_MAX_CHUNK, NULL },
	{ "agent", "window",		KT_INT,  RQ_NO,     "4",    F(window),	1, 64, NULL },
	{ "agent", "reconnect_min",	KT_DUR,  RQ_NO,     "0.5s", F(reconnect_min), 0.01, 3600, NULL },
	{ "agent", "reconnect_max",	KT_DUR,  RQ_NO,     "30s",  F(reconnect_max), 0.01, 86400, NULL },
	{ "agent", "sndbuf",		KT_SIZE, RQ_NO,     "0",    F(sndbuf),	0, 256 * MiB, NULL },
	{ "agent", "priority",		KT_ENUM, RQ_NO,     "oldest", F(priority), 0, 0, priorities },
	{ "agent", "failover_after",	KT_DUR,  RQ_NO,     "5m",   F(failover_after), 0, 30 * 86400.0, NULL },
	{ "agent", "stall_timeout",	KT_DUR,  RQ_NO,     "60s",  F(stall_timeout), 1, 3600, NULL },
	{ "agent", "maintenance",	KT_STR,  RQ_NO,     NULL,   F(maintenance), 0, 0, NULL },
	{ "agent", "retention",		KT_ENUM, RQ_NO,     "keep", F(retention), 0, 0, retentions },
	{ "agent", "retention_dir",	KT_STR,  RQ_NO,     NULL,   F(retention_dir), 0, 0, NULL },
	{ "agent", "retention_after",	KT_DUR,  RQ_NO,     "24h",  F(retention_after), 0, 3650 * 86400.0, NULL },
	{ "agent", "max_in_flight",	KT_INT,  RQ_NO,     "4",    F(max_in_flight), 1, 64, NULL },
	{ "agent", "live_age",		KT_DUR,  RQ_NO,     "10m",  F(live_age), 0, 30 * 86400.0, NULL },
	{ "agent", "backlog_min_share",	KT_INT,  RQ_NO,     "20",   F(backlog_min_share), 1, 99, NULL },
	{ "agent", "spool_warn",	KT_INT,  RQ_NO,     "80",   F(spool_warn), 1, 100, NULL },
	{ "agent", "spool_high",	KT_INT,  RQ_NO,     "90",   F(spool_high), 1, 100, NULL },
	{ "daemon", "metrics",		KT_STR,  RQ_NO,     NULL,   F(metrics),	0, 0, NULL },
	{ "ingest", "spool",		KT_STR,  RQ_NO,     NULL,   F(spool),	0, 0, NULL },
	{ "ingest", "live_spool",	KT_STR,  RQ_NO,     NULL,   F(live_spool), 0, 0, NULL },
	{ "ingest", "backlog_spool",	KT_STR,  RQ_NO,     NULL,   F(backlog_spool), 0, 0, NULL },
	{ "ingest", "job_spool",	KT_STR,  RQ_NO,     NULL,   F(job_spool), 0, 0, NULL },
	{ "ingest", "seal_marker",	KT_STR,  RQ_NO,     ".sealed", F(seal_marker), 0, 0, NULL },
	{ "ingest", "quiet",		KT_DUR,  RQ_NO,     "0s",   F(quiet),	0, 86400, NULL },
	{ "ingest", "sidecar",		KT_STR,  RQ_NO,     "metadata.json", F(sidecar), 0, 0, NULL },
	{ "hook", "kind",		KT_ENUM, RQ_NO,     "none", F(hook_kind), 0, 0, hookkinds },
	{ "hook", "host",		KT_STR,  RQ_NO,     NULL,   F(hook_host), 0, 0, NULL },
	{ "hook", "port",		KT_INT,  RQ_NO,     "22",   F(hook_port), 1, 65535, NULL },
	{ "hook", "user",		KT_STR,  RQ_NO,     NULL,   F(hook_user), 0, 0, NULL },
	{ "hook", "key",		KT_STR,  RQ_NO,     NULL,   F(hook_key), 0, 0, NULL },
	{ "hook", "known_hosts",	KT_STR,  RQ_NO,     NULL,   F(hook_known_hosts), 0, 0, NULL },
	{ "hook", "command",		KT_STR,  RQ_NO,     NULL,   F(hook_command), 0, 0, NULL },
	{ "hook", "query",		KT_STR,  RQ_NO,     NULL,   F(hook_query), 0, 0, NULL },
	{ "hook", "connect_timeout",	KT_DUR,  RQ_NO,     "10s",  F(hook_connect_timeout), 0.1, 600, NULL },
	{ "hook", "timeout",		KT_DUR,  RQ_NO,     "120s", F(hook_timeout), 0.1, 86400, NULL },
	{ "hook", "attempts",		KT_INT,  RQ_NO,     "5",    F(hook_attempts), 1, 1000, NULL },
	{ "hook", "retry_min",		KT_DUR,  RQ_NO,     "5s",   F(hook_retry_min), 0.01, 86400, NULL },
	{ "hook", "retry_max",		KT_DUR,  RQ_NO,     "10m",  F(hook_retry_max), 0.01, 86400, NULL },
	{ "hook", "remote_root",	KT_STR,  RQ_NO,     NULL,   F(hook_remote_root), 0, 0, NULL },
	{ "hook", "concurrency",	KT_INT,  RQ_NO,     "4",    F(hook_concurrency), 1, 64, NULL },
	{ "hook", "state_dir",		KT_STR,  RQ_NO,     ".sluice/hook-state", F(hook_state_dir), 0, 0, NULL },
	{ "job", "pull_listen",		KT_STR,  RQ_NO,     NULL,   F(job_listen), 0, 0, NULL },
	{ "job", "ca",			KT_STR,  RQ_NO,     NULL,   F(job_ca),	0, 0, NULL },
	{ "job", "cert",		KT_STR,  RQ_NO,     NULL,   F(job_cert), 0, 0, NULL },
	{ "job", "key",			KT_STR,  RQ_NO,     NULL,   F(job_key),	0, 0, NULL },
	{ "job", "peer_cn",		KT_STR,  RQ_NO,     NULL,   F(job_peer_cn), 0, 0, NULL },
	{ "job", "submit",		KT_STR,  RQ_NO,     NULL,   F(job_submit), 0, 0, NULL },
	{ "job", "poll",		KT_DUR,  RQ_NO,     "30s",  F(job_poll), 0.1, 86400, NULL },
	{ "job", "resubmit",		KT_INT,  RQ_NO,     "2",    F(job_resubmit), 0, 100, NULL },
	{ "job", "pull_timeout",	KT_DUR,  RQ_NO,     "10m",  F(job_pull_timeout), 0, 30 * 86400.0, NULL },
};
const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);
_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= CONFIG_MAX_KEYS,
    "raise CONFIG_MAX_KEYS");

/* The sections, and the role each belongs to (0: any). */
const struct sectdef config_sects[] = {
	{ "daemon", 0 }, { "tls", 0 }, { "sink", ROLE_SINK }, { "agent", ROLE_AGENT },
	{ "ingest", ROLE_AGENT }, { "hook", ROLE_AGENT }, { "job", ROLE_AGENT },
};
const size_t config_nsects = sizeof(config_sects) / sizeof(config_sects[0]);
_Static_assert(sizeof(config_sects) / sizeof(config_sects[0]) <= CONFIG_MAX_SECTS,
    "raise CONFIG_MAX_SECTS");
