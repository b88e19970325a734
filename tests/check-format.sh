#!/bin/sh
# Fails when a C file of ours is not formatted as .clang-format says.
set -eu
cd "${SM_SOURCE_ROOT:?}"
files=$(find src include tests -name '*.[ch]' -not -path '*/corpus/*' | sort)
# shellcheck disable=SC2086
exec clang-format --dry-run --Werror $files
