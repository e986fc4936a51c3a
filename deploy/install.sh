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
# openssh-server, dropbear-bin: the real SSH servers the communicator tests start on loopback ports; microsocks: the
# SOCKS5 proxy the ssh_proxy_* tests go through; ansible: what the ansible provisioner runs on the agent; sshpass:
# how ansible's ssh connection logs in with ssh_password when the build has no key.
# iproute2: `ip netns` for the chaos test that cuts an agent off NATS (run as root).
# docker.io: the Docker engine the docker builder drives (the tests start a private dockerd; no system service needed).
# busybox-static: the base image's root file system (no registry is reachable). docker-registry: the push target.
# openssl: the TLS material for the remote-engine test. apache2-utils: `htpasswd`, the bcrypt login of the registry the
# ecr_login test pushes to and pulls from.
# qemu-system-x86, qemu-utils: the qemu builder (TCG where KVM does not work). linux-image-amd64, busybox-static,
# openssh-sftp-server, xorriso, isolinux, syslinux-common: the tiny test guest (test/src/guest_image.ts) the VM
# builder tests boot.
# libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients (virsh): the libvirt builder and its tests;
# libvirt-dev: the headers the optional @unraid/libvirt binding builds against (npm ci).
# golang-go, golang-github-vmware-govmomi-dev: test-only; the vsphere builder tests build VMware's vCenter simulator
# (vcsim, from govmomi's source) with Go and run it on a loopback port (test/src/vcsim.ts). kiln itself needs no Go.
# mtools: the floppy images (floppy_files, floppy_dirs) of the virtualbox-* and vmware-* builders.
PACKAGES=(nats-server packer ca-certificates git tar gzip openssh-server dropbear-bin openssh-client microsocks ansible sshpass
  docker.io busybox-static docker-registry openssl apache2-utils
  qemu-system-x86 qemu-utils linux-image-amd64 openssh-sftp-server xorriso isolinux syslinux-common
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
  iproute2 mtools golang-go golang-github-vmware-govmomi-dev)

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

# libvirtd as root (containers, CI): the users and groups Debian's libvirt-daemon-system would create, its runtime
# directories, and QEMU run as root without relabelling files (kiln's tests run libvirtd themselves, see
# test/src/libvirtd.ts). An existing qemu.conf that is not kiln's is left alone.
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt >/dev/null || groupadd --system libvirt
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
  useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin --gid kvm libvirt-qemu
mkdir -p /var/run/libvirt /var/log/libvirt /var/lib/libvirt/qemu /etc/libvirt
if [ ! -e /etc/libvirt/qemu.conf ] || grep -q '^# kiln:' /etc/libvirt/qemu.conf; then
  cat >/etc/libvirt/qemu.conf <<'EOF'
# kiln: libvirtd runs as root (containers, CI); QEMU runs as root and files keep their ownership.
user = "root"
group = "root"
dynamic_ownership = 0
stdio_handler = "file"
EOF
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
