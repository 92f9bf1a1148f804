#!/usr/bin/env bash
# Runs the proxy's tests against real Swift clients: installs python-swiftclient
# (PyPI) and rclone (Debian) when they are absent, then runs the integration
# tests including the ones that need them. Needs PostgreSQL and RabbitMQ on
# 127.0.0.1, as every integration test of the proxy.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v swift >/dev/null; then
    python3 -m pip install --quiet python-swiftclient
fi
if ! command -v rclone >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq rclone
fi

cargo test -p nimbus-proxy --test api -- --include-ignored "$@"
