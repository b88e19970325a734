/* SPDX-License-Identifier: Apache-2.0 */
/* The libFuzzer entry points every target in tests/fuzz/ defines, shared
 * with the corpus replay driver (replay.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Run one input; return 0. Must not leak, must not keep state that changes
 * the outcome of later inputs. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Optional one-time setup, as libFuzzer calls it; weak so targets may omit it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
