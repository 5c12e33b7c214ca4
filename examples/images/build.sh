#!/usr/bin/env bash
# Builds the example images from Debian's busybox-static: nothing is pulled
# from a registry.  Each image is a single layer: a rootfs holding
# /bin/busybox plus one symlink per applet, the files under base/rootfs/ and
# the files under <image>/rootfs/, imported with `podman import`; the
# Dockerfile-style directives in <image>/changes (CMD, EXPOSE, ...) become
# its config.
#
#   examples/images/build.sh [--force] [NAME...]     (default: all images)
#
# An image is rebuilt only when it is missing or its inputs changed: each
# image carries a label io.ozymandias.inputs with a hash of this script,
# base/, <image>/ and the busybox binary, compared with the current one.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALL_IMAGES=(web db tools compose-web compose-api compose-db)
BUSYBOX=/bin/busybox
LABEL=io.ozymandias.inputs

force=0
images=()
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        -*) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
        *) images+=("$arg") ;;
    esac
done
[ ${#images[@]} -gt 0 ] || images=("${ALL_IMAGES[@]}")

if ! "$BUSYBOX" --list >/dev/null 2>&1; then
    echo "build.sh: $BUSYBOX missing: apt-get install busybox-static (or run setup/setup.sh)" >&2
    exit 1
fi

image_ref() { echo "localhost/ozy-example-$1:latest"; }

# Hash of everything that goes into image $1.
inputs_hash() {
    local name="$1" f x
    {
        echo "busybox $(sha256sum <"$BUSYBOX" | cut -d' ' -f1)"
        cd "$HERE"
        find build.sh base "$name" \( -type f -o -type l \) -print | LC_ALL=C sort |
            while IFS= read -r f; do
                if [ -L "$f" ]; then
                    echo "L $f $(readlink "$f")"
                else
                    x=-
                    [ -x "$f" ] && x=x
                    echo "F $f $x $(sha256sum <"$f" | cut -d' ' -f1)"
                fi
            done
    } | sha256sum | cut -c1-32
}

build_image() {
    local name="$1" hash="$2" ref tmp rootfs applet line
    ref="$(image_ref "$name")"
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" RETURN
    rootfs="$tmp/rootfs"

    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,srv,run,proc,sys,dev,tmp,var/tmp}
    cp "$BUSYBOX" "$rootfs/bin/busybox"
    for applet in $("$BUSYBOX" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
    done
    ln -s ../../bin/busybox "$rootfs/usr/bin/env"   # for '#!/usr/bin/env sh' scripts
    cp -R "$HERE/base/rootfs/." "$rootfs/"
    cp -R "$HERE/$name/rootfs/." "$rootfs/"
    # Normalise permissions: a git checkout's umask must not leak into images.
    chmod -R u+rwX,go+rX,go-w "$rootfs"
    chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
    chmod 700 "$rootfs/root"

    local changes=(
        --change "ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin"
        --change "LABEL $LABEL=$hash"
        --change "LABEL io.ozymandias.example=$name"
    )
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in ''|'#'*) continue ;; esac
        changes+=(--change "$line")
    done <"$HERE/$name/changes"

    tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . |
        podman import --quiet "${changes[@]}" - "$ref" >/dev/null
}

for name in "${images[@]}"; do
    if [ ! -f "$HERE/$name/changes" ]; then
        echo "build.sh: no such image source: $HERE/$name" >&2
        exit 2
    fi
    ref="$(image_ref "$name")"
    hash="$(inputs_hash "$name")"
    current="$(podman image inspect --format "{{index .Labels \"$LABEL\"}}" "$ref" 2>/dev/null || true)"
    if [ "$force" = 0 ] && [ "$current" = "$hash" ]; then
        echo "image $ref: up to date"
        continue
    fi
    build_image "$name" "$hash"
    echo "image $ref: built ($hash)"
    built=1
done

# Earlier builds are now untagged: drop those no container uses any more.
if [ "${built:-0}" = 1 ]; then
    podman image prune --force --filter label=io.ozymandias.example >/dev/null 2>&1 || true
fi
