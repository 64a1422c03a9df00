"""What a job run ran on (env_json, host_info_json), for reproducibility."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

TRACKED_PACKAGES = (
    "spectragram-bench",
    "numpy",
    "jiwer",
    "rapidfuzz",
    "soundfile",
    "soxr",
    "pocketsphinx",
    "httpx",
    "aiohttp",
    "websockets",
    "pydantic",
    "SQLAlchemy",
    "alembic",
    "psycopg",
    "faster-whisper",
    "ctranslate2",
    "torch",
)


def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def gpu_info() -> list[str]:
    """GPU names and driver/CUDA versions from nvidia-smi, if there is one."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def env_json() -> dict[str, Any]:
    return {
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "gpus": gpu_info(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "packages": package_versions(),
    }


def host_info_json() -> dict[str, Any]:
    info: dict[str, Any] = {"hostname": socket.gethostname(), "cpu_count": os.cpu_count(), "pid": os.getpid()}
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages * page_size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info
