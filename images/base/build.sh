#!/usr/bin/env bash
# Builds the base image every project image starts FROM: Debian bookworm (minbase) with
# Python 3.11, CA certificates, python3-venv (the build stage makes its virtualenv with it)
# and the non-root user `app` (UID/GID 65532, the UID the operator runs model pods as).
# Made from Debian's packages with mmdebstrap, because no registry base image can be pulled
# here; people with Docker may instead pass any Debian-based Python 3.11 image as BASE_IMAGE.
#
# usage: images/base/build.sh IMAGE_NAME OUT.oci.tar   (needs mmdebstrap and buildah, as root)
set -euo pipefail
name=${1:?image name} out=${2:?output OCI archive}
: "${BUILDAH:=buildah --storage-driver vfs}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mmdebstrap --variant=minbase --include=ca-certificates,python3,python3-venv \
  --customize-hook='echo "app:x:65532:65532:app:/home/app:/usr/sbin/nologin" >>"$1/etc/passwd"' \
  --customize-hook='echo "app:x:65532:" >>"$1/etc/group"' \
  --customize-hook='mkdir -p "$1/home/app" && chown 65532:65532 "$1/home/app"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/locale/*' \
  bookworm "$work/rootfs.tar" >&2

ctr=$($BUILDAH from scratch)
trap '$BUILDAH rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
$BUILDAH add "$ctr" "$work/rootfs.tar" / >/dev/null
$BUILDAH config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 \
  --env PYTHONDONTWRITEBYTECODE=1 \
  --env PYTHONUNBUFFERED=1 \
  --user 65532:65532 --workingdir /home/app --cmd /usr/bin/python3 \
  --label org.opencontainers.image.title=python-base \
  --label org.opencontainers.image.description="Debian bookworm minbase with Python 3.11, non-root user app (65532)" \
  --label org.opencontainers.image.base.name=debian:bookworm \
  "$ctr"
$BUILDAH commit --quiet "$ctr" "$name" >/dev/null
mkdir -p "$(dirname "$out")"
rm -f "$out"
$BUILDAH push --quiet "$name" "oci-archive:$out:$name"
