"""Cluster and node configuration documents (``ais show config``, ``ais bucket props``).

    GET /v1/cluster?what=cluster_config        Go's cmn.ClusterConfig as JSON
    GET /v1/daemon?what=config                 a node's cmn.Config (cluster + local part)

The values describe what the emulator does: xxhash2 checksums, versioning on, no
mirroring, erasure coding, LRU or chunking, one mountpath (``/ais/mp1``) on the single
target. The CLI reads the defaults of new buckets from here.

Deviations: the configuration is fixed (``ais config cluster KEY=VALUE`` is refused);
sections that configure machinery the emulator does not have (transport, memsys, fshc,
disk, rebalance, resilver, ...) carry AIS's defaults and change nothing (with one target
nothing is ever rebalanced); ``config_version`` is 1.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ais_emulator.store.objects import CHECKSUM_TYPE

MOUNTPATH = "/ais/mp1"


def _xfer(multiplier: int = 2, burst: int = 512) -> dict:
    return {"compression": "never", "bundle_multiplier": multiplier, "burst_buffer": burst}


def cluster_config(emu, base_url: str) -> dict:
    """Go's ``cmn.ClusterConfig`` for the emulated cluster."""
    url = base_url or "http://127.0.0.1"
    return {
        "write_policy": {"data": "immediate", "md": "immediate"},
        "checksum": {"type": CHECKSUM_TYPE, "validate_cold_get": False,
                     "validate_warm_get": False, "validate_obj_move": False,
                     "enable_read_range": False},
        "tcb": _xfer(), "tco": _xfer(), "arch": _xfer(),
        "lso": {**_xfer(1, 32), "walk_buffer": 128, "idle_time": "20s", "quiescent": "5s"},
        "rate_limit": {
            "backend": {"interval": "1m", "max_tokens": 1000, "enabled": False,
                        "num_retries": 3},
            "frontend": {"interval": "1m", "max_tokens": 1000, "enabled": False,
                         "burst_size": 375},
        },
        "keepalivetracker": {"proxy": {"name": "heartbeat", "interval": "10s", "factor": 3},
                             "target": {"name": "heartbeat", "interval": "10s", "factor": 3},
                             "num_retries": 3, "retry_factor": 4},
        "rebalance": {**_xfer(2, 1024), "dest_retry_time": "2m", "enabled": True},
        "log": {"level": "3", "max_size": "64MiB", "max_total": "512MiB", "flush_time": "2s",
                "stats_time": "3m", "to_stderr": False},
        "ec": {**_xfer(), "objsize_limit": 262144, "data_slices": 2, "parity_slices": 2,
               "enabled": False, "disk_only": False},
        "get_batch": {**_xfer(), "max_wait": "20s", "warmup_workers": -1, "max_soft_errs": 8,
                      "max_gfn": 5},
        "space": {"cleanupwm": 65, "lowwm": 75, "highwm": 90, "out_of_space": 95,
                  "batch_size": 32768, "dont_cleanup_time": "2h0m"},
        "transport": {"max_header": 4096, "burst_buffer": 1024, "idle_teardown": "4s",
                      "quiescent": "10s", "lz4_block": "256KiB", "lz4_frame_checksum": False},
        "disk": {"disk_util_low_wm": 20, "disk_util_high_wm": 80, "disk_util_max_wm": 95,
                 "iostat_time_long": "2s", "iostat_time_short": "100ms",
                 "iostat_time_smooth": "8s"},
        "fshc": {"test_files": 4, "error_limit": 2, "io_err_limit": 10, "io_err_time": "10s",
                 "enabled": False},
        "chunks": {"objsize_limit": "0B", "max_monolithic_size": "1TiB", "chunk_size": "1GiB"},
        "lru": {"dont_evict_time": "2h0m", "capacity_upd_time": "10m", "batch_size": 32768,
                "enabled": False},
        "mirror": {"copies": 2, "burst_buffer": 512, "enabled": False},
        "periodic": {"stats_time": "10s", "retry_sync_time": "2s", "notif_time": "30s"},
        "client": {"client_timeout": "10s", "client_long_timeout": "5m", "list_timeout": "5m"},
        "downloader": {"timeout": "1h0m"},
        "auth": {"client_auth_required": False},
        "backend": {provider: {} for provider in sorted(emu.store.backends)},
        "uuid": emu.identity.uuid,
        "lastupdate_time": emu.identity.created,
        "proxy": {"primary_url": url, "original_url": url, "discovery_url": "",
                  "non_electable": False},
        "net": {"l4": {"proto": "tcp", "sndrcv_buf_size": 131072},
                "http": {"server_crt": "", "server_key": "", "client_ca_tls": "",
                         "client_auth_tls": 0, "domain_tls": "", "idle_conn_time": "6s",
                         "backend_idle_conn_time": "6s", "idle_conns_per_host": 32,
                         "idle_conns": 256, "write_buffer_size": 65536,
                         "read_buffer_size": 65536, "use_https": url.startswith("https:"),
                         "skip_verify": False, "chunked_transfer": True},
                "use_ipv6": False},
        "timeout": {"cplane_operation": "2s", "max_keepalive": "5s", "max_host_busy": "20s",
                    "startup_time": "30s", "join_startup_time": "3m", "send_file_time": "5m",
                    "ec_streams_time": "10m", "object_md": "2h0m", "cold_get_conflict": "5s"},
        "memsys": {"min_free": "1GiB", "default_buf": "32KiB", "to_gc": "2GiB",
                   "hk_time": "3m", "min_pct_total": 0, "min_pct_free": 0},
        "features": "0",
        "config_version": "1",
        "versioning": {"enabled": True, "validate_warm_get": False, "synchronize": False},
        "resilver": {"enabled": True},
    }


def node_config(emu, role: str, base_url: str) -> dict:
    """Go's ``cmn.Config`` of one node: the cluster configuration plus its local part."""
    parts = urlsplit(base_url or "http://127.0.0.1")
    host = parts.hostname or "127.0.0.1"
    port = str(parts.port or (443 if parts.scheme == "https" else 80))
    doc = {"fspaths": {MOUNTPATH: ""} if role == "target" else {},
           "confdir": "", "log_dir": "",
           "host_net": {"hostname": host, "hostname_intra_control": host,
                        "hostname_intra_data": host, "port": port,
                        "port_intra_control": port, "port_intra_data": port}}
    doc.update(cluster_config(emu, base_url))
    return doc
