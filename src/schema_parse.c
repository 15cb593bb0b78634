/* schema_parse.c: the validator's arena, its JSON parser and its message
 * builder (schema_impl.h). The parser makes a tree in an arena: strings
 * without escapes and the texts of numbers point into the parsed text,
 * strings with escapes are decoded to UTF-8 in the arena. An integer written
 * without fraction or exponent that fits in 64 bits keeps its int64 as well
 * as its double. Text that is not UTF-8 is refused, a lone surrogate escape
 * (\uD800 with no low half) reads as U+FFFD. Numbers are read with '.'
 * whatever the C locale says. */
#include "schema_impl.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__) && defined(__GNUC__)
#include <emmintrin.h>
#endif

/* ---- arena ---- */

typedef union sx_align { double d; int64_t i; void *p; } sx_align;

struct sx_block {
    sx_block *prev;
    size_t size, used;
    sx_align data[];
};

#define SX_ALIGN sizeof(sx_align)
#define SX_BLOCK_MAX ((size_t)1 << 20) /* blocks grow by doubling up to this */

void sx_arena_init(sx_arena *a, size_t first) {
    a->head = a->local = NULL;
    a->next_size = first < 1024 ? 1024 : first;
}

void sx_arena_local(sx_arena *a, void *buf, size_t size, size_t next) {
    sx_arena_init(a, next);
    if (size <= sizeof(sx_block)) return;
    sx_block *b = buf;
    b->prev = NULL;
    b->size = size - sizeof *b;
    b->used = 0;
    a->head = a->local = b;
}

/* Puts the full block b (of size bytes) behind the head: the head goes on
 * being filled. */
static void keep_behind(sx_arena *a, sx_block *b, size_t size) {
    b->size = b->used = size;
    if (a->head) {
        b->prev = a->head->prev;
        a->head->prev = b;
    } else {
        b->prev = NULL;
        a->head = b;
    }
}

void *sx_alloc(sx_arena *a, size_t n) {
    if (n > SIZE_MAX / 4) return NULL;
    n = (n + SX_ALIGN - 1) / SX_ALIGN * SX_ALIGN;
    if (n == 0) n = SX_ALIGN;
    sx_block *b = a->head;
    if (b && b->size - b->used < n && n >= a->next_size / 2) { /* a large one: a block of its own */
        b = malloc(sizeof *b + n);
        if (!b) return NULL;
        keep_behind(a, b, n);
        return b->data;
    }
    if (!b || b->size - b->used < n) {
        size_t size = a->next_size > n ? a->next_size : n;
        b = malloc(sizeof *b + size);
        if (!b) return NULL;
        b->prev = a->head;
        b->size = size;
        b->used = 0;
        a->head = b;
        if (a->next_size < SX_BLOCK_MAX) a->next_size *= 2;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

void sx_arena_free(sx_arena *a) {
    while (a->head) {
        sx_block *prev = a->head->prev;
        if (a->head != a->local) free(a->head);
        a->head = prev;
    }
}

/* ---- messages ---- */

void sx_msg_init(sx_msg *m, char *buf, size_t cap) {
    m->buf = buf;
    m->cap = cap;
    m->len = 0;
    m->cut = cap == 0;
    if (cap) buf[0] = '\0';
}

/* The length of the UTF-8 sequence its lead byte c announces (1 for others). */
static size_t lead_length(unsigned char c) {
    return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

void sx_msg_add(sx_msg *m, const char *s, size_t n) {
    if (!m || m->cut) return;
    size_t room = m->cap - 1 - m->len;
    if (n <= room) {
        memcpy(m->buf + m->len, s, n);
        m->len += n;
        m->buf[m->len] = '\0';
        return;
    }
    memcpy(m->buf + m->len, s, room);
    size_t k = m->len + room, p = k;
    while (p > 0 && k - p < 4 && ((unsigned char)m->buf[p - 1] & 0xC0) == 0x80) p--;
    if (p > 0 && p - 1 + lead_length((unsigned char)m->buf[p - 1]) > k) k = p - 1; /* a character cut short */
    else if (p > 0 && k - p >= 1 && lead_length((unsigned char)m->buf[p - 1]) == 1) k = p; /* stray continuation bytes */
    m->len = k;
    m->buf[k] = '\0';
    m->cut = 1;
}

void sx_msg_str(sx_msg *m, const char *s) {
    if (m) sx_msg_add(m, s, strlen(s));
}

void sx_msg_int(sx_msg *m, uint64_t u) {
    char digits[24], *end = digits + sizeof digits, *p = end;
    do *--p = (char)('0' + u % 10); while ((u /= 10) > 0);
    sx_msg_add(m, p, (size_t)(end - p));
}

void sx_msg_token(sx_msg *m, const char *s, size_t n) {
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '~' && s[i] != '/') continue;
        sx_msg_add(m, s + run, i - run);
        sx_msg_add(m, s[i] == '~' ? "~0" : "~1", 2);
        run = i + 1;
    }
    sx_msg_add(m, s + run, n - run);
}

/* Writes s as a JSON string literal. */
static void msg_quoted(sx_msg *m, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    sx_msg_add(m, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sx_msg_add(m, s + run, i - run);
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') sx_msg_add(m, (char[]){'\\', (char)c}, 2);
        else sx_msg_add(m, e, 6);
        run = i + 1;
    }
    sx_msg_add(m, s + run, n - run);
    sx_msg_add(m, "\"", 1);
}

void sx_msg_value(sx_msg *m, const jv *v, int quote) {
    if (!m || m->cut) return;
    switch (v->type) {
    case JV_NULL: sx_msg_str(m, "null"); return;
    case JV_BOOL: sx_msg_str(m, v->u.b ? "true" : "false"); return;
    case JV_NUMBER: sx_msg_add(m, v->u.num.text, v->tlen); return;
    case JV_STRING:
        if (quote || v->u.str.len == 0) msg_quoted(m, v->u.str.s, v->u.str.len);
        else sx_msg_add(m, v->u.str.s, v->u.str.len);
        return;
    case JV_ARRAY:
        sx_msg_add(m, "[", 1);
        for (size_t i = 0; i < v->u.arr.n && !m->cut; i++) {
            if (i) sx_msg_add(m, ",", 1);
            sx_msg_value(m, &v->u.arr.v[i], 1);
        }
        sx_msg_add(m, "]", 1);
        return;
    default:
        sx_msg_add(m, "{", 1);
        for (size_t i = 0; i < v->u.obj.n && !m->cut; i++) {
            if (i) sx_msg_add(m, ",", 1);
            msg_quoted(m, v->u.obj.m[i].key, v->u.obj.m[i].klen);
            sx_msg_add(m, ":", 1);
            sx_msg_value(m, &v->u.obj.m[i].val, 1);
        }
        sx_msg_add(m, "}", 1);
    }
}

/* ---- parser ---- */

/* The stack of open containers holds each one's items (jv) or members
 * (jmember) side by side until it closes and they move to the arena. It
 * starts in PARSE_LOCAL bytes on the C stack and moves to the heap, into an
 * arena block, when it outgrows them; a large container closing there takes
 * the block into the arena as it is (what lies under its children moves
 * back to the C stack), so a long array is not copied, nor held twice.
 * Values are read in place, into their slot (an offset: the stack may move
 * while a container's children are read). */
#define PARSE_LOCAL 4096

typedef struct parser {
    sx_arena *a;
    const char *start, *p, *end;
    int depth;
    char *stack;      /* the items and members of the open containers */
    size_t top, cap;  /* in bytes */
    char *local;      /* the stack's first room, on the C stack */
    sx_block *heap;   /* the block the stack is in, or NULL when local */
    const char *why;  /* the failure: what, and where (p) */
    int oom;
    int lazy;         /* an instance: exact small numbers keep their parts (jv.lazy) */
} parser;

/* Records a syntax failure at the current position; returns -1. */
static int bad(parser *P, const char *why) {
    P->why = why;
    return -1;
}

/* Records an allocation failure; returns -1. */
static int nomem(parser *P) {
    P->oom = 1;
    return -1;
}

static void skip_space(parser *P) {
    const char *p = P->p, *end = P->end;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    P->p = p;
}

/* Skips white space (compact text has none: one test). */
#define skip(P) do { if ((P)->p < (P)->end && (unsigned char)*(P)->p <= ' ') skip_space(P); } while (0)

/* The length of the valid UTF-8 sequence at s (before end), or 0. */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end) {
    unsigned c = s[0];
    size_t n = lead_length((unsigned char)c);
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4 || (size_t)(end - s) < n) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)) return 0; /* overlong, surrogate */
    if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)) return 0; /* overlong, > U+10FFFF */
    return n;
}

#define ONES 0x0101010101010101u
#define HIGHS 0x8080808080808080u

/* The bytes of w that are a quote, a backslash, a control character or not
 * ASCII, each marked by its high bit (the zero-byte test on each: a byte
 * can be marked wrongly only above a rightly marked one, so the lowest mark
 * is exact). */
static uint64_t special8(uint64_t w) {
    uint64_t quote = w ^ (ONES * '"'), slash = w ^ (ONES * '\\');
    return (((quote - ONES) & ~quote) | ((slash - ONES) & ~slash) | ((w - ONES * 0x20) & ~w) | w) & HIGHS;
}

#ifdef __GNUC__
#define INLINE inline __attribute__((always_inline))
#else
#define INLINE inline
#endif

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_MARKED(m) ((size_t)__builtin_ctzll(m) >> 3) /* the index of the first marked byte */
#endif

/* Skips string bytes that need nothing (valid UTF-8 included): returns the
 * first quote, backslash, control character or invalid byte, or end. Plain
 * ASCII goes 8 bytes at a time. */
static INLINE const char *scan_plain(const char *q, const char *end) {
    for (;;) {
        uint64_t w, m;
#if defined(__SSE2__) && defined(__GNUC__)
        while (end - q >= 16) { /* 16 bytes at a time: a signed "below 0x20" also marks every byte >= 0x80 */
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
            __m128i marks = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                      _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                                         _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            int bits = _mm_movemask_epi8(marks);
            if (bits) {
                q += __builtin_ctz((unsigned)bits);
                goto marked;
            }
            q += 16;
        }
#endif
        while (end - q >= 8) {
            memcpy(&w, q, 8);
            if ((m = special8(w)) != 0) {
#ifdef FIRST_MARKED
                size_t i = FIRST_MARKED(m);
                q += i;
                if (((w >> (8 * i)) & 0x80) == 0) return q; /* a quote, a backslash or a control character */
#else
                while ((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x80 && *q != '"' && *q != '\\') q++;
#endif
                goto marked;
            }
            q += 8;
        }
        if (q >= end) return q;
    marked:;
        unsigned char c = (unsigned char)*q;
        if (c < 0x80) {
            if (c < 0x20 || c == '"' || c == '\\') return q;
            q++; /* the last bytes, one by one */
            continue;
        }
        size_t n = utf8_seq((const unsigned char *)q, (const unsigned char *)end);
        if (n == 0) return q;
        q += n;
    }
}

/* Fails on the byte scan_plain stopped at (not a quote nor a backslash). */
static int bad_byte(parser *P, const char *q) {
    P->p = q;
    if (q >= P->end) return bad(P, "unterminated string");
    return bad(P, (unsigned char)*q < 0x20 ? "control character in a string" : "invalid UTF-8");
}

/* Reads 4 hex digits at s; -1 when they are not. */
static long hex4(const char *s, const char *end) {
    long v = 0;
    if (end - s < 4) return -1;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Writes code point cp as UTF-8 at o; returns its length. */
static size_t put_utf8(char *o, unsigned long cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the escape after a backslash at P->p into o; returns its length, or 0. */
static size_t read_escape(parser *P, char *o) {
    char c = *P->p++;
    const char *plain = strchr("\"\\/bfnrt", c);
    if (c && plain) {
        *o = "\"\\/\b\f\n\r\t"[plain - "\"\\/bfnrt"];
        return 1;
    }
    if (c != 'u') {
        P->p--;
        bad(P, "bad escape");
        return 0;
    }
    long cp = hex4(P->p, P->end);
    if (cp < 0) {
        bad(P, "bad \\u escape");
        return 0;
    }
    P->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF && P->end - P->p >= 6 && P->p[0] == '\\' && P->p[1] == 'u') {
        long lo = hex4(P->p + 2, P->end);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            P->p += 6;
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* a lone half */
    return put_utf8(o, (unsigned long)cp);
}

static int read_escaped(parser *P, const char *q, const char **s, size_t *len);

/* Reads a string literal (P->p at its opening quote) into *s, *len. */
static INLINE int read_string(parser *P, const char **s, size_t *len) {
    const char *q = scan_plain(++P->p, P->end);
    if (q < P->end && *q == '"') { /* no escapes: the text itself */
        *s = P->p;
        *len = (size_t)(q - P->p);
        P->p = q + 1;
        return 0;
    }
    return read_escaped(P, q, s, len);
}

/* The rest of read_string: q is the byte scan_plain stopped at, not a quote. */
static int read_escaped(parser *P, const char *q, const char **s, size_t *len) {
    if (q >= P->end || *q != '\\') return bad_byte(P, q);
    const char *close = q; /* find the end, to size the decoded copy */
    while (close < P->end && *close != '"') close += *close == '\\' ? 2 : 1;
    if (close >= P->end) return P->p = P->end, bad(P, "unterminated string");
    char *out = sx_alloc(P->a, (size_t)(close - P->p)), *o = out;
    if (!out) return nomem(P);
    for (;;) {
        memcpy(o, P->p, (size_t)(q - P->p));
        o += q - P->p;
        P->p = q;
        if (*q == '"') break;
        if (*q != '\\') return bad_byte(P, q);
        P->p++;
        size_t n = read_escape(P, o);
        if (n == 0) return -1;
        o += n;
        q = scan_plain(P->p, close + 1);
    }
    P->p++;
    *s = out;
    *len = (size_t)(o - out);
    return 0;
}

static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod of the number text at s (n bytes) with the C locale's decimal point
 * put in place of '.'; -1 when a long text cannot be copied. */
static int locale_double(const char *s, size_t n, double *d) {
    const char *point = localeconv()->decimal_point;
    size_t pn = point && *point ? strlen(point) : 1;
    char small[80], *buf = n + pn < sizeof small ? small : malloc(n + pn + 1), *o = buf;
    if (!buf) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' && point && *point) { memcpy(o, point, pn); o += pn; }
        else *o++ = s[i];
    }
    *o = '\0';
    *d = strtod(buf, NULL);
    if (buf != small) free(buf);
    return 0;
}

#define DIGIT(c) ((unsigned)((c) - '0') < 10)

/* Reads a number into v, in one pass: its integer digits as a uint64 (exact
 * up to 19 of them), and its significant digits (the digits from the first
 * that is not 0, the fraction's included) as m when there are at most 15:
 * then they and a power of ten up to 22 are exact doubles, and one
 * multiplication or division rounds as strtod would. */
static int read_number(parser *P, jv *v) {
    const char *s = P->p, *p = s, *end = P->end, *frac = NULL, *exp = NULL;
    uint64_t u = 0, m = 0;
    int sig = 0, neg = *p == '-'; /* (read_value saw '-' or a digit) */
    p += neg;
    if (p >= end || !DIGIT(*p)) return P->p = p, bad(P, "bad number");
    if (*p == '0' && p + 1 < end && DIGIT(p[1])) return P->p = p, bad(P, "leading zero");
    const char *digits = p;
    for (; p < end && DIGIT(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        u = u * 10 + d; /* wraps past 19 digits, when it is not used */
        if ((m | d) && ++sig <= 15) m = m * 10 + d;
    }
    size_t nint = (size_t)(p - digits);
    if (p < end && *p == '.') {
        frac = ++p;
        if (p >= end || !DIGIT(*p)) return P->p = p, bad(P, "bad fraction");
        for (; p < end && DIGIT(*p); p++) {
            unsigned d = (unsigned)(*p - '0');
            if ((m | d) && ++sig <= 15) m = m * 10 + d;
        }
    }
    long e10 = frac ? -(long)(p - frac) : 0; /* the decimal exponent of the significant digits */
    if (p < end && (*p == 'e' || *p == 'E')) {
        exp = ++p;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !DIGIT(*p)) return P->p = p, bad(P, "bad exponent");
        long e = 0;
        for (; p < end && DIGIT(*p); p++) if (e < 100000) e = e * 10 + (*p - '0');
        e10 += *exp == '-' ? -e : e;
    }
    P->p = p;
    size_t n = (size_t)(p - s);
    if (n > UINT32_MAX) return bad(P, "number too long");
    v->type = JV_NUMBER;
    v->tlen = (uint32_t)n;
    v->u.num.text = s;
    v->isint = v->lazy = 0;
    if (!frac && !exp && nint <= 19 && u <= (uint64_t)INT64_MAX + (uint64_t)neg) { /* an integer that fits */
        v->isint = 1;
        v->u.num.i = neg ? (int64_t)(0 - u) : (int64_t)u;
        v->u.num.d = (double)v->u.num.i;
        return 0;
    }
    v->u.num.i = 0;
    if (e10 >= -22 && e10 <= 22 && sig <= 15) { /* finite: below 10^15 * 10^22 */
        v->lazy = neg ? 2 : 1; /* its parts: sx_num_d computes the double */
        v->e10 = (signed char)e10;
        v->u.num.i = (int64_t)m;
        if (P->lazy) return 0; /* when asked */
        v->u.num.d = sx_num_d(v);
        v->lazy = 0;
        v->u.num.i = 0;
        return 0;
    }
    double d;
    if (locale_double(s, n, &d) < 0) return nomem(P);
    if (isinf(d)) return P->p = s, bad(P, "number out of range");
    v->u.num.d = d;
    return 0;
}

/* Makes room for n more bytes on the stack. */
static int grow(parser *P, size_t n) {
    size_t cap = P->cap;
    do {
        if (cap > SIZE_MAX / 4) return nomem(P);
        cap *= 2;
    } while (cap - P->top < n);
    if (cap > SIZE_MAX - sizeof(sx_block)) return nomem(P);
    sx_block *b = realloc(P->heap, sizeof *b + cap);
    if (!b) return nomem(P);
    if (!P->heap) memcpy(b->data, P->local, P->top);
    P->heap = b;
    P->stack = (char *)b->data;
    P->cap = cap;
    return 0;
}

/* Moves the children of the container closing (the stack's bytes from base)
 * to the arena: where they are, or NULL out of memory. */
static void *settle(parser *P, size_t base) {
    size_t bytes = P->top - base;
    void *to;
    if (P->heap && bytes >= PARSE_LOCAL && bytes >= P->cap / 2 && base <= PARSE_LOCAL) {
        keep_behind(P->a, P->heap, P->cap); /* the block joins the arena */
        to = P->stack + base;
        memcpy(P->local, P->stack, base);
        P->heap = NULL;
        P->stack = P->local;
        P->cap = PARSE_LOCAL;
    } else {
        if (!(to = sx_alloc(P->a, bytes))) return NULL;
        if (bytes) memcpy(to, P->stack + base, bytes);
    }
    P->top = base;
    return to;
}

/* Takes n bytes on top of the stack: their offset, or -1 out of memory. */
static long long take(parser *P, size_t n) {
    if (P->cap - P->top < n && grow(P, n) < 0) return -1;
    P->top += n;
    return (long long)(P->top - n);
}

static int read_value(parser *P, size_t off);

/* Reads an object (P->p past '{') into the value at off. */
static int read_object(parser *P, size_t off) {
    size_t base = P->top;
    skip(P);
    if (P->p < P->end && *P->p == '}') P->p++;
    else for (;;) {
        skip(P);
        if (P->p >= P->end || *P->p != '"') return bad(P, "expected a key");
        const char *key;
        size_t klen;
        if (read_string(P, &key, &klen) < 0) return -1;
        skip(P);
        if (P->p >= P->end || *P->p != ':') return bad(P, "expected ':'");
        P->p++;
        long long at = take(P, sizeof(jmember));
        if (at < 0) return -1;
        jmember *mb = (jmember *)(P->stack + at);
        mb->key = key;
        mb->klen = klen;
        if (read_value(P, (size_t)at + offsetof(jmember, val)) < 0) return -1;
        skip(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; break; }
        return bad(P, "expected ',' or '}'");
    }
    size_t n = (P->top - base) / sizeof(jmember);
    jmember *members = settle(P, base);
    if (!members) return nomem(P);
    jv *v = (jv *)(P->stack + off);
    v->type = JV_OBJECT;
    v->u.obj.n = n;
    v->u.obj.m = members;
    return 0;
}

/* Reads an array (P->p past '[') into the value at off. */
static int read_array(parser *P, size_t off) {
    size_t base = P->top;
    skip(P);
    if (P->p < P->end && *P->p == ']') P->p++;
    else for (;;) {
        long long at = take(P, sizeof(jv));
        if (at < 0 || read_value(P, (size_t)at) < 0) return -1;
        skip(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == ']') { P->p++; break; }
        return bad(P, "expected ',' or ']'");
    }
    size_t n = (P->top - base) / sizeof(jv);
    jv *items = settle(P, base);
    if (!items) return nomem(P);
    jv *v = (jv *)(P->stack + off);
    v->type = JV_ARRAY;
    v->u.arr.n = n;
    v->u.arr.v = items;
    return 0;
}

/* Matches a literal word. */
static int word(parser *P, const char *w, size_t n) {
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, w, n) != 0) return 0;
    P->p += n;
    return 1;
}

/* Reads a value into its slot at off. */
static int read_value(parser *P, size_t off) {
    skip(P);
    if (P->p >= P->end) return bad(P, "unexpected end");
    jv *v = (jv *)(P->stack + off);
    v->isint = v->lazy = 0;
    v->tlen = 0;
    switch (*P->p) {
    case '"':
        v->type = JV_STRING;
        return read_string(P, &v->u.str.s, &v->u.str.len);
    case '{':
    case '[': {
        if (++P->depth > SX_MAX_DEPTH) return bad(P, "nesting deeper than 2048 levels");
        int r = *P->p++ == '{' ? read_object(P, off) : read_array(P, off);
        P->depth--;
        return r;
    }
    case 't': if (word(P, "true", 4)) { v->type = JV_BOOL; v->u.b = 1; return 0; } break;
    case 'f': if (word(P, "false", 5)) { v->type = JV_BOOL; v->u.b = 0; return 0; } break;
    case 'n': if (word(P, "null", 4)) { v->type = JV_NULL; v->u.b = 0; return 0; } break;
    default:
        if (*P->p == '-' || DIGIT(*P->p)) return read_number(P, v);
    }
    return bad(P, "unexpected character");
}

double sx_num_d(const jv *v) {
    if (!v->lazy) return v->u.num.d;
    double d = v->lazy == 2 ? -(double)v->u.num.i : (double)v->u.num.i;
    return v->e10 < 0 ? d / POW10[-v->e10] : d * POW10[v->e10];
}

/* sx_parse and sx_parse_instance (lazy: numbers as jv.lazy says). */
static int parse(sx_arena *a, const char *text, size_t len, jv **out, char *err, size_t cap, int lazy) {
    sx_align local[PARSE_LOCAL / sizeof(sx_align)];
    parser P = {a, text, text, text + len, 0, (char *)local, sizeof(jv), sizeof local, (char *)local, NULL, NULL, 0,
                lazy};
    int r = read_value(&P, 0); /* the root, in the stack's first slot */
    if (r == 0) {
        skip(&P);
        if (P.p != P.end) r = bad(&P, "trailing characters");
    }
    jv *root = r == 0 ? sx_alloc(a, sizeof *root) : NULL;
    if (r == 0 && !root) r = nomem(&P);
    if (r == 0) memcpy(root, P.stack, sizeof *root);
    free(P.heap);
    if (r == 0) {
        *out = root;
        return 0;
    }
    if (cap) {
        if (P.oom) snprintf(err, cap, "%s", SCHEMA_OUT_OF_MEMORY);
        else snprintf(err, cap, "invalid JSON: %s at byte %zu", P.why, (size_t)(P.p - text) + 1);
    }
    return -1;
}

int sx_parse(sx_arena *a, const char *text, size_t len, jv **out, char *err, size_t cap) {
    return parse(a, text, len, out, err, cap, 0);
}

int sx_parse_instance(sx_arena *a, const char *text, size_t len, jv **out, char *err, size_t cap) {
    return parse(a, text, len, out, err, cap, 1);
}
