/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smstudio/spell.h"

/* ASCII only on purpose: key names are ASCII, and folding bytes of a UTF-8
 * sequence with the locale's tolower() could turn them into other bytes. */
static unsigned char fold(unsigned char c)
{
        return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
        size_t m = a < b ? a : b;

        return m < c ? m : c;
}

size_t sm_spell_distance(const char *a, const char *b)
{
        const unsigned char *s = (const unsigned char *)a, *t = (const unsigned char *)b;
        size_t n = strlen(a), m = strlen(b);
        size_t *prev2, *prev, *cur, *rows, d;

        if (n == 0)
                return m;
        if (m == 0)
                return n;
        /* Three rows suffice: a transposition looks back two rows. */
        rows = calloc(3 * (m + 1), sizeof(*rows));
        if (!rows)
                return SIZE_MAX; /* "not close", the safe answer for a suggestion */
        prev2 = rows;
        prev = rows + (m + 1);
        cur = rows + 2 * (m + 1);
        for (size_t j = 0; j <= m; j++)
                prev[j] = j;
        for (size_t i = 1; i <= n; i++) {
                size_t *tmp;

                cur[0] = i;
                for (size_t j = 1; j <= m; j++) {
                        size_t cost = fold(s[i - 1]) == fold(t[j - 1]) ? 0 : 1;

                        cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
                        if (i > 1 && j > 1 && fold(s[i - 1]) == fold(t[j - 2]) &&
                            fold(s[i - 2]) == fold(t[j - 1]) && prev2[j - 2] + 1 < cur[j])
                                cur[j] = prev2[j - 2] + 1;
                }
                tmp = prev2;
                prev2 = prev;
                prev = cur;
                cur = tmp;
        }
        d = prev[m];
        free(rows);
        return d;
}

const char *sm_spell_closest(const char *word, const char *const *candidates)
{
        size_t len, limit, best_d = SIZE_MAX;
        const char *best = NULL;

        if (!word || !candidates)
                return NULL;
        len = strlen(word);
        limit = len / 3 > 1 ? len / 3 : 1;
        for (size_t i = 0; candidates[i]; i++) {
                size_t clen = strlen(candidates[i]), d;

                /* The distance is at least the difference in length: skip the
                 * quadratic work for hopeless candidates (and for hostile long
                 * words, which are all hopeless). */
                if ((clen > len ? clen - len : len - clen) > limit)
                        continue;
                d = sm_spell_distance(word, candidates[i]);
                /* Strictly smaller: on a tie the earlier candidate wins, so the
                 * answer does not depend on anything but the list's order. */
                if (d <= limit && d < best_d) {
                        best = candidates[i];
                        best_d = d;
                }
        }
        return best;
}
