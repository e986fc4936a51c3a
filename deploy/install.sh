#!/usr/bin/env bash
# Sets up kiln on a Debian/Ubuntu machine, as root: the system packages kiln and its tests use, Node.js >= 20 when
# missing, the npm dependencies, the compiled CLI, and `kiln` on PATH. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "deploy/install.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

# nats-server: the farm's transport (JetStream). packer: the reference implementation the tests compare against.
# openssh-server, dropbear-bin: the real SSH servers the communicator tests start on loopback ports.
# iproute2: `ip netns` for the chaos test that cuts an agent off NATS (run as root).
PACKAGES=(nats-server packer ca-certificates git tar gzip openssh-server dropbear-bin iproute2)

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs npm); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "deploy/install.sh: kiln needs Node.js >= 20, this machine has $(node --version). Install a newer nodejs package." >&2
  exit 1
fi

echo "==> npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "==> building"
npm run --silent build
echo "==> linking the kiln command"
npm link --no-audit --no-fund --loglevel=error >/dev/null
echo "==> kiln is ready: $(command -v kiln)"
