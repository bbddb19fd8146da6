# Shared by the podman-based tests (tests/container, tests/systemd): how podman must be called
# on this kind of machine, and the locally made Debian 12 base image (no registry is reachable).

podman_cmd=(podman --runtime /usr/sbin/runc --cgroup-manager cgroupfs)
podman_limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
debian_base=localhost/debian:bookworm

P() { "${podman_cmd[@]}" "$@"; }

# ensure_debian_base WORKDIR: debootstraps and imports $debian_base unless it exists (set
# PORTD_REBUILD_BASE=1 to redo it).
ensure_debian_base() {
  local work=$1
  if [[ ${PORTD_REBUILD_BASE:-0} != 1 ]] && P image exists "$debian_base"; then
    return 0
  fi
  echo "making the Debian 12 base image $debian_base with debootstrap"
  local rootfs=$work/rootfs
  if ! debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    return 1
  fi
  tar -C "$rootfs" -c . | P import - "$debian_base" >/dev/null
  rm -rf "$rootfs"
}
