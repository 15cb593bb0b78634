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
    a->head = NULL;
    a->next_size = first < 1024 ? 1024 : first;
}

void *sx_alloc(sx_arena *a, size_t n) {
    if (n > SIZE_MAX / 4) return NULL;
    n = (n + SX_ALIGN - 1) / SX_ALIGN * SX_ALIGN;
    if (n == 0) n = SX_ALIGN;
    sx_block *b = a->head;
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
        free(a->head);
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

typedef struct parser {
    sx_arena *a;
    const char *start, *p, *end;
    int depth;
    jmember *stack; /* the members and items of the open containers */
    size_t top, cap;
    const char *why; /* the failure: what, and where (p) */
    int oom;
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

static void skip(parser *P) {
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r')) P->p++;
}

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

/* Whether none of the 8 bytes of w is a quote, a backslash, a control
 * character or a non-ASCII byte (the zero-byte test on each). */
static int plain8(uint64_t w) {
    uint64_t quote = w ^ (ONES * '"'), slash = w ^ (ONES * '\\');
    uint64_t special = ((quote - ONES) & ~quote) | ((slash - ONES) & ~slash) | ((w - ONES * 0x20) & ~w) | w;
    return (special & HIGHS) == 0;
}

/* Skips string bytes that need nothing (valid UTF-8 included): returns the
 * first quote, backslash, control character or invalid byte, or end. */
static const char *scan_plain(const char *q, const char *end) {
    for (;;) {
        uint64_t w;
        while (end - q >= 8 && (memcpy(&w, q, 8), plain8(w))) q += 8;
        if (q >= end) return q;
        unsigned char c = (unsigned char)*q;
        if (c < 0x80) {
            if (c < 0x20 || c == '"' || c == '\\') return q;
            q++;
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

/* Reads a string literal (P->p at its opening quote) into *s, *len. */
static int read_string(parser *P, const char **s, size_t *len) {
    const char *q = scan_plain(++P->p, P->end);
    if (q < P->end && *q == '"') { /* no escapes: the text itself */
        *s = P->p;
        *len = (size_t)(q - P->p);
        P->p = q + 1;
        return 0;
    }
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

/* The double of the digits of a number text (s to end: sign, integer and
 * fraction digits, no exponent) when they make at most 15 significant ones:
 * then they and a power of ten up to 22 are exact doubles, and one
 * multiplication or division rounds as strtod would. Returns 0 otherwise. */
static int quick_double(const char *s, const char *end, double *d) {
    uint64_t m = 0;
    int digits = 0, neg = *s == '-';
    for (s += neg; s < end; s++) {
        if (*s == '.' || (m == 0 && *s == '0')) continue;
        if (++digits > 15) return 0;
        m = m * 10 + (uint64_t)(*s - '0');
    }
    *d = neg ? -(double)m : (double)m;
    return 1;
}

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

/* Reads a number into v. */
static int read_number(parser *P, jv *v) {
    const char *s = P->p, *frac = NULL, *exp = NULL;
    if (P->p < P->end && *P->p == '-') P->p++;
    if (P->p >= P->end || *P->p < '0' || *P->p > '9') return bad(P, "bad number");
    if (*P->p == '0' && P->p + 1 < P->end && P->p[1] >= '0' && P->p[1] <= '9') return bad(P, "leading zero");
    while (P->p < P->end && *P->p >= '0' && *P->p <= '9') P->p++;
    if (P->p < P->end && *P->p == '.') {
        frac = ++P->p;
        if (P->p >= P->end || *P->p < '0' || *P->p > '9') return bad(P, "bad fraction");
        while (P->p < P->end && *P->p >= '0' && *P->p <= '9') P->p++;
    }
    if (P->p < P->end && (*P->p == 'e' || *P->p == 'E')) {
        exp = ++P->p;
        if (P->p < P->end && (*P->p == '+' || *P->p == '-')) P->p++;
        if (P->p >= P->end || *P->p < '0' || *P->p > '9') return bad(P, "bad exponent");
        while (P->p < P->end && *P->p >= '0' && *P->p <= '9') P->p++;
    }
    size_t n = (size_t)(P->p - s);
    if (n > UINT32_MAX) return bad(P, "number too long");
    v->type = JV_NUMBER;
    v->tlen = (uint32_t)n;
    v->u.num.text = s;
    v->isint = 0;
    if (!frac && !exp) { /* an integer: exact when it fits */
        int neg = *s == '-';
        uint64_t u = 0;
        const char *q = s + neg;
        for (; q < P->p; q++) {
            unsigned digit = (unsigned)(*q - '0');
            if (u > (UINT64_MAX - digit) / 10) break;
            u = u * 10 + digit;
        }
        if (q == P->p && u <= (uint64_t)INT64_MAX + (uint64_t)neg) {
            v->isint = 1;
            v->u.num.i = neg ? (int64_t)(0 - u) : (int64_t)u;
            v->u.num.d = (double)v->u.num.i;
            return 0;
        }
    }
    long e10 = 0; /* the decimal exponent of the significant digits, for the quick path */
    if (frac) e10 -= (long)((exp ? exp - 1 : P->p) - frac);
    if (exp) {
        const char *q = exp + (*exp == '+' || *exp == '-');
        long e = 0;
        for (; q < P->p; q++) if (e < 100000) e = e * 10 + (*q - '0');
        e10 += *exp == '-' ? -e : e;
    }
    double d;
    if (e10 >= -22 && e10 <= 22 && quick_double(s, exp ? exp - 1 : P->p, &d)) {
        d = e10 < 0 ? d / POW10[-e10] : d * POW10[e10];
    } else if (locale_double(s, n, &d) < 0) {
        return nomem(P);
    }
    if (isinf(d)) return P->p = s, bad(P, "number out of range");
    v->u.num.d = d;
    v->u.num.i = 0;
    return 0;
}

/* Pushes a member (or an item: key NULL) on the stack of open containers. */
static int push(parser *P, const char *key, size_t klen, const jv *v) {
    if (P->top == P->cap) {
        size_t cap = P->cap ? P->cap * 2 : 64;
        jmember *grown = cap < SIZE_MAX / sizeof *grown ? realloc(P->stack, cap * sizeof *grown) : NULL;
        if (!grown) return nomem(P);
        P->stack = grown;
        P->cap = cap;
    }
    jmember *m = &P->stack[P->top++];
    m->key = key;
    m->klen = klen;
    m->val = *v;
    return 0;
}

static int read_value(parser *P, jv *v);

/* Reads an object (P->p past '{') into v. */
static int read_object(parser *P, jv *v) {
    size_t base = P->top;
    skip(P);
    if (P->p < P->end && *P->p == '}') P->p++;
    else for (;;) {
        const char *key;
        size_t klen;
        jv member;
        skip(P);
        if (P->p >= P->end || *P->p != '"') return bad(P, "expected a key");
        if (read_string(P, &key, &klen) < 0) return -1;
        skip(P);
        if (P->p >= P->end || *P->p != ':') return bad(P, "expected ':'");
        P->p++;
        if (read_value(P, &member) < 0 || push(P, key, klen, &member) < 0) return -1;
        skip(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == '}') { P->p++; break; }
        return bad(P, "expected ',' or '}'");
    }
    size_t n = P->top - base;
    v->type = JV_OBJECT;
    v->u.obj.n = n;
    v->u.obj.m = sx_alloc(P->a, n * sizeof(jmember));
    if (!v->u.obj.m) return nomem(P);
    if (n) memcpy(v->u.obj.m, P->stack + base, n * sizeof(jmember));
    P->top = base;
    return 0;
}

/* Reads an array (P->p past '[') into v. */
static int read_array(parser *P, jv *v) {
    size_t base = P->top;
    skip(P);
    if (P->p < P->end && *P->p == ']') P->p++;
    else for (;;) {
        jv item;
        if (read_value(P, &item) < 0 || push(P, NULL, 0, &item) < 0) return -1;
        skip(P);
        if (P->p < P->end && *P->p == ',') { P->p++; continue; }
        if (P->p < P->end && *P->p == ']') { P->p++; break; }
        return bad(P, "expected ',' or ']'");
    }
    size_t n = P->top - base;
    v->type = JV_ARRAY;
    v->u.arr.n = n;
    v->u.arr.v = sx_alloc(P->a, n * sizeof(jv));
    if (!v->u.arr.v) return nomem(P);
    for (size_t i = 0; i < n; i++) v->u.arr.v[i] = P->stack[base + i].val;
    P->top = base;
    return 0;
}

/* Matches a literal word. */
static int word(parser *P, const char *w, size_t n) {
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, w, n) != 0) return 0;
    P->p += n;
    return 1;
}

static int read_value(parser *P, jv *v) {
    skip(P);
    if (P->p >= P->end) return bad(P, "unexpected end");
    memset(v, 0, sizeof *v);
    switch (*P->p) {
    case '"':
        v->type = JV_STRING;
        return read_string(P, &v->u.str.s, &v->u.str.len);
    case '{':
    case '[': {
        if (++P->depth > SX_MAX_DEPTH) return bad(P, "nesting deeper than 2048 levels");
        int r = *P->p++ == '{' ? read_object(P, v) : read_array(P, v);
        P->depth--;
        return r;
    }
    case 't': if (word(P, "true", 4)) { v->type = JV_BOOL; v->u.b = 1; return 0; } break;
    case 'f': if (word(P, "false", 5)) { v->type = JV_BOOL; return 0; } break;
    case 'n': if (word(P, "null", 4)) { v->type = JV_NULL; return 0; } break;
    default:
        if (*P->p == '-' || (*P->p >= '0' && *P->p <= '9')) return read_number(P, v);
    }
    return bad(P, "unexpected character");
}

int sx_parse(sx_arena *a, const char *text, size_t len, jv **out, char *err, size_t cap) {
    parser P = {a, text, text, text + len, 0, NULL, 0, 0, NULL, 0};
    jv *root = sx_alloc(a, sizeof *root);
    int r = root ? read_value(&P, root) : nomem(&P);
    if (r == 0) {
        skip(&P);
        if (P.p != P.end) r = bad(&P, "trailing characters");
    }
    free(P.stack);
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
