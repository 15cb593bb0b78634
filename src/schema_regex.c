/* schema_regex.c: everything the validator asks of PCRE2. The contexts of
 * a schema route PCRE2's allocations through malloc (checked like the
 * rest), and compile ECMA 262 patterns to behave as ECMA's: UTF, \uXXXX and
 * \u{...} (ALT_BSUX and EXTRA_ALT_BSUX), $ only at the very end
 * (DOLLAR_ENDONLY), '.' stopping at CR and LF; never anchored: a pattern
 * matches anywhere in the string, as ECMA's test() does. Each pattern is
 * JIT-compiled when PCRE2 can (the interpreter runs it otherwise); matches
 * stop at SX_MATCH_LIMIT steps of backtracking. */
#include "schema_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *pcre_malloc(size_t n, void *data) {
    (void)data;
    return malloc(n);
}

static void pcre_free(void *p, void *data) {
    (void)data;
    free(p);
}

int sx_regex_init(schema *s) {
    s->gctx = pcre2_general_context_create(pcre_malloc, pcre_free, NULL);
    if (!s->gctx) return -1;
    s->cctx = pcre2_compile_context_create(s->gctx);
    s->mctx = pcre2_match_context_create(s->gctx);
    if (!s->cctx || !s->mctx) return -1;
    pcre2_set_compile_extra_options(s->cctx, PCRE2_EXTRA_ALT_BSUX);
    pcre2_set_newline(s->cctx, PCRE2_NEWLINE_ANYCRLF);
    pcre2_set_match_limit(s->mctx, SX_MATCH_LIMIT);
    return 0;
}

void sx_regex_release(schema *s) {
    for (sx_re *r = s->regexes; r; r = r->next) pcre2_code_free(r->code);
    pcre2_match_context_free(s->mctx);
    pcre2_compile_context_free(s->cctx);
    pcre2_general_context_free(s->gctx);
}

pcre2_code *sx_regex_compile(const schema *s, const char *src, size_t n, char *err, size_t cap) {
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)src, n, PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY, &code,
                                   &at, s->cctx);
    if (re) {
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* when it cannot, the interpreter runs it */
        return re;
    }
    if (code == PCRE2_ERROR_HEAP_FAILED || code == PCRE2_ERROR_NOMEMORY) {
        snprintf(err, cap, "%s", SCHEMA_OUT_OF_MEMORY);
    } else {
        char why[256];
        if (pcre2_get_error_message(code, (PCRE2_UCHAR *)why, sizeof why) < 0) snprintf(why, sizeof why, "error %d", code);
        snprintf(err, cap, "%s at offset %zu", why, (size_t)at);
    }
    return NULL;
}

/* Adds the ASCII byte b to the class. */
static void set_add(sx_re *re, unsigned b) {
    re->set[b >> 6] |= (uint64_t)1 << (b & 63);
}

/* Reads a count of a {n,m} quantifier at src[*i]: at most 5 digits. */
static int read_count(const char *src, size_t n, size_t *i, size_t *out) {
    size_t start = *i, v = 0;
    while (*i < n && src[*i] >= '0' && src[*i] <= '9' && *i - start < 5) v = v * 10 + (size_t)(src[(*i)++] - '0');
    *out = v;
    return *i > start && (*i >= n || src[*i] < '0' || src[*i] > '9');
}

int sx_regex_simple(const char *src, size_t n, sx_re *re) {
    size_t i = 2;
    int last = -1; /* the last item read: a plain character that may start a range, or -1 */
    re->simple = re->to_end = 0;
    re->set[0] = re->set[1] = 0;
    if (n < 4 || src[0] != '^' || src[1] != '[' || src[2] == '^' || src[2] == ']') return 0;
    for (;;) { /* the class's items, up to its ']' */
        if (i >= n) return 0;
        unsigned char ch = (unsigned char)src[i];
        if (ch == ']') {
            i++;
            break;
        }
        if (ch < 0x20 || ch >= 0x7F || ch == '[') return 0;
        if (ch == '\\') {
            if (i + 1 >= n) return 0;
            unsigned char e = (unsigned char)src[i + 1];
            i += 2;
            last = -1;
            if (e == 'd') {
                for (unsigned b = '0'; b <= '9'; b++) set_add(re, b);
            } else if (e == 'w') {
                for (unsigned b = 0; b < 128; b++)
                    if ((b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || b == '_')
                        set_add(re, b);
            } else if (e > 0x20 && e < 0x7F && !((e >= '0' && e <= '9') || (e >= 'A' && e <= 'Z') || (e >= 'a' && e <= 'z'))) {
                set_add(re, e); /* escaped punctuation: itself */
            } else {
                return 0;
            }
            if (i < n && src[i] == '-' && i + 1 < n && src[i + 1] != ']') return 0; /* a range from an escape */
            continue;
        }
        if (ch == '-' && last >= 0 && i + 1 < n && src[i + 1] != ']') { /* a range last-hi */
            unsigned char hi = (unsigned char)src[i + 1];
            if (hi < 0x20 || hi >= 0x7F || hi == '\\' || hi == '[' || hi == '-' || (unsigned)last > hi) return 0;
            for (unsigned b = (unsigned)last + 1; b <= hi; b++) set_add(re, b);
            i += 2;
            if (i < n && src[i] == '-' && i + 1 < n && src[i + 1] != ']') return 0; /* a-c-e */
            last = -1;
            continue;
        }
        if (ch == '-' && i > 2 && i + 1 < n && src[i + 1] != ']') return 0; /* a '-' after an escape or a range */
        set_add(re, ch);
        last = ch == '-' ? -1 : ch; /* a leading '-' starts no range */
        i++;
    }
    re->min = re->max = 1;
    if (i < n && (src[i] == '*' || src[i] == '+' || src[i] == '?')) {
        re->min = src[i] == '+';
        re->max = src[i] == '?' ? 1 : SIZE_MAX;
        i++;
    } else if (i < n && src[i] == '{') {
        i++;
        if (!read_count(src, n, &i, &re->min)) return 0;
        re->max = re->min;
        if (i < n && src[i] == ',') {
            i++;
            re->max = SIZE_MAX;
            if (i < n && src[i] != '}' && !read_count(src, n, &i, &re->max)) return 0;
        }
        if (i >= n || src[i] != '}' || re->max < re->min) return 0;
        i++;
    }
    if (i < n && src[i] == '$') {
        re->to_end = 1;
        i++;
    }
    if (i != n) return 0;
    re->simple = 1;
    return 1;
}

/* Letters ECMA 262 (with the u flag) knows after a backslash; PCRE knows
 * more (\A \Z \z \G \Q \E \K \R \X \h ...), which a "regex" may not use. */
static int ecma_escapes_ok(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\') continue;
        char c = s[++i];
        if (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && !strchr("bBdDfnrtvsSwWcxukpP", c)) return 0;
    }
    return 1;
}

/* A "regex" format: 1 when src compiles as an ECMA 262 pattern would, 0
 * when not, -1 when out of memory. */
int sx_regex_format_ok(const schema *s, const char *src, size_t n) {
    char why[200];
    if (!ecma_escapes_ok(src, n)) return 0;
    pcre2_code *re = sx_regex_compile(s, src, n, why, sizeof why);
    if (re) {
        pcre2_code_free(re);
        return 1;
    }
    return strcmp(why, SCHEMA_OUT_OF_MEMORY) == 0 ? -1 : 0;
}
