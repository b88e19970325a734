/* SPDX-License-Identifier: Apache-2.0 */
/* "Did you mean ...?" for misspelt keys and names. */
#pragma once

#include <stddef.h>

/* The candidate closest to word by Damerau-Levenshtein distance (case-
 * insensitive), if close enough to be a plausible typo (distance at most
 * max(1, strlen(word) / 3)); else NULL. candidates is NULL-terminated. */
const char *sm_spell_closest(const char *word, const char *const *candidates);

/* The edit distance itself (optimal string alignment), case-insensitive. */
size_t sm_spell_distance(const char *a, const char *b);
