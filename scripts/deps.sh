#!/usr/bin/env bash
# Install every Debian package sluice needs to build, test and demo.
# Idempotent and non-interactive; run as root (or with sudo available).
set -euo pipefail
PKGS=(build-essential pkg-config clang
      liblmdb-dev lmdb-utils libev-dev libxxhash-dev libssl-dev openssl
      libssh2-1-dev libinih-dev libcmocka-dev libjansson-dev libmicrohttpd-dev
      python3 iproute2 rsync iperf3 xxhash bc
      tmux man-db groff-base
      cppcheck clang-tidy libclang-rt-14-dev valgrind
      chromium prometheus)
# chromium: t_livepage loads the live page in a real headless browser;
# prometheus (with promtool): t_alerts checks and unit-tests etc/'s alert
# rules and runs a real Prometheus against a real agent.
# The hook tests' private sshd and single-node Slurm (openssh-server,
# slurm-wlm, munge) are installed by scripts/testbed-up.sh when it runs.
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
