#!/usr/bin/env bash
# Download, verify and unpack the official CIFAR-10 / CIFAR-100 binary
# archives ("binary version (suitable for C programs)").
#
# Usage: deploy/get-cifar.sh DIR [cifar10|cifar100|both]     (default: cifar10)
#
# For each dataset, prints (on stdout, one per line) the directory to pass
# as the dataset path, e.g. DIR/cifar-10-batches-bin.  Progress and errors
# go to stderr.  Running it again reuses a verified archive or an already
# unpacked directory whose files have the expected sizes.
#
# MD5 sums: from the table on the dataset's official page,
# https://www.cs.toronto.edu/~kriz/cifar.html (column "md5sum"), as quoted
# verbatim by e.g. the mirror p.rst.im/q/www.cs.toronto.edu/~kriz/cifar.html
# for CIFAR-10.  The CIFAR-100 binary sum is the same one used by many
# independent loaders (e.g. a Rust dataset crate's Cifar100 DatasetRemote,
# 168,513,733 bytes, and C++/Go/Python loaders) and listed in a copy of the
# official CIFAR-100 table.  Archive sizes: 170,052,171 and 168,513,733 bytes.
set -euo pipefail

readonly CIFAR10_URL=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
readonly CIFAR10_MD5=c32a1d4ab5d03f1284b67883e8d87530
readonly CIFAR100_URL=https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz
readonly CIFAR100_MD5=03b5dce01913d631647c71ecec9e9cb8

die() {
    echo "get-cifar: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 DIR [cifar10|cifar100|both]" >&2
    exit 2
}

(($# >= 1 && $# <= 2)) || usage
dest=$1
which=${2:-cifar10}
case $which in
    cifar10 | cifar100 | both) ;;
    *) usage ;;
esac

command -v md5sum >/dev/null 2>&1 || command -v md5 >/dev/null 2>&1 ||
    command -v openssl >/dev/null 2>&1 ||
    die "need md5sum, md5 or openssl to verify the downloads"
command -v tar >/dev/null 2>&1 || die "need tar to unpack the downloads"

mkdir -p -- "$dest" || die "cannot create directory '$dest'"
dest=$(cd -- "$dest" && pwd) || die "cannot enter directory '$dest'"

# Partial download being written, removed if we are interrupted or fail.
partial=""
cleanup() {
    if [[ -n $partial ]]; then rm -f -- "$partial"; fi
}
trap cleanup EXIT

md5_of() {
    if command -v md5sum >/dev/null 2>&1; then
        md5sum -- "$1" | awk '{print $1}'
    elif command -v md5 >/dev/null 2>&1; then
        md5 -q -- "$1"
    else
        openssl md5 -r "$1" | awk '{print $1}'
    fi
}

# download URL OUT: to OUT.part first, renamed only when complete.
download() {
    local url=$1 out=$2
    partial="$out.part"
    rm -f -- "$partial"
    echo "get-cifar: downloading $url" >&2
    if command -v curl >/dev/null 2>&1; then
        curl --fail --location --show-error --retry 3 --progress-bar -o "$partial" -- "$url" ||
            die "download of $url failed (curl exit $?)"
    elif command -v wget >/dev/null 2>&1; then
        wget --tries=3 -O "$partial" -- "$url" ||
            die "download of $url failed (wget exit $?)"
    else
        die "need curl or wget to download $url"
    fi
    mv -f -- "$partial" "$out"
    partial=""
}

# file_size FILE: bytes, or -1 if missing.
file_size() {
    if [[ -f $1 ]]; then
        local n
        n=$(wc -c <"$1")
        echo $((n))
    else
        echo -1
    fi
}

# fetch URL MD5 SUBDIR FILE:SIZE...: makes $dest/SUBDIR hold every FILE with
# exactly SIZE bytes and prints $dest/SUBDIR.
fetch() {
    local url=$1 md5=$2 subdir=$3
    shift 3
    local archive="$dest/${url##*/}" out="$dest/$subdir" spec f size have ok=1

    for spec in "$@"; do
        f=${spec%%:*} size=${spec##*:}
        have=$(file_size "$out/$f")
        [[ $have == "$size" ]] || ok=0
    done
    if ((ok)); then
        echo "get-cifar: $out already holds the expected files" >&2
        echo "$out"
        return 0
    fi

    have=none
    if [[ -f $archive ]]; then have=$(md5_of "$archive"); fi
    if [[ $have == "$md5" ]]; then
        echo "get-cifar: reusing verified $archive" >&2
    else
        download "$url" "$archive"
        local got
        got=$(md5_of "$archive")
        if [[ $got != "$md5" ]]; then
            mv -f -- "$archive" "$archive.bad"
            die "$archive: md5 $got, expected $md5 (corrupt or incomplete download;" \
                "kept as $archive.bad, run again to retry)"
        fi
        echo "get-cifar: md5 ok ($md5)" >&2
    fi

    tar -xzf "$archive" -C "$dest" --no-same-owner ||
        die "$archive: extraction into $dest failed"
    for spec in "$@"; do
        f=${spec%%:*} size=${spec##*:}
        local got_size
        got_size=$(file_size "$out/$f")
        [[ $got_size == "$size" ]] ||
            die "$out/$f: expected $size bytes after extraction, found $got_size (-1 = missing)"
    done
    echo "$out"
}

# Record sizes: CIFAR-10 1 + 3072 bytes, 10000 per batch file; CIFAR-100
# 2 + 3072 bytes, 50000 train and 10000 test.
if [[ $which == cifar10 || $which == both ]]; then
    fetch "$CIFAR10_URL" "$CIFAR10_MD5" cifar-10-batches-bin \
        data_batch_1.bin:30730000 data_batch_2.bin:30730000 data_batch_3.bin:30730000 \
        data_batch_4.bin:30730000 data_batch_5.bin:30730000 test_batch.bin:30730000
fi
if [[ $which == cifar100 || $which == both ]]; then
    fetch "$CIFAR100_URL" "$CIFAR100_MD5" cifar-100-binary \
        train.bin:153700000 test.bin:30740000
fi
