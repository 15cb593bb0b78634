/* schema_value.c: what the validator asks of values: numbers compared
 * exactly across int64 and double, deep equality and a hash that agrees with
 * it (enum, uniqueItems), multipleOf on the decimal texts, code point
 * counts, and the formats: date-time (RFC 3339), email, uri (RFC 3986;
 * also "url", which Losant's schemas use), ipv4, ipv6, hostname ("regex" is
 * schema_regex.c's). date-time, email and uri answer as Python's jsonschema
 * does (spec/schema/agree_spec.lua), but for leap seconds, which RFC 3339
 * has and rfc3339-validator refuses. */
#include "schema_impl.h"

#include <math.h>
#include <string.h>

/* ---- numbers ---- */

/* Compares an int64 with a double exactly: -1, 0 or 1. */
static int cmp_int_double(int64_t i, double d) {
    if (d >= 9223372036854775808.0) return -1;
    if (d < -9223372036854775808.0) return 1;
    int64_t t = (int64_t)d; /* toward zero: exact, d is in range */
    if (i != t) return i < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

int sx_num_cmp(const jv *a, const jv *b) {
    if (a->isint && b->isint) return a->u.num.i < b->u.num.i ? -1 : a->u.num.i > b->u.num.i;
    if (a->isint) return cmp_int_double(a->u.num.i, sx_num_d(b));
    if (b->isint) return -cmp_int_double(b->u.num.i, sx_num_d(a));
    double ad = sx_num_d(a), bd = sx_num_d(b);
    return ad < bd ? -1 : ad > bd;
}

int sx_integral(const jv *v) {
    if (v->type != JV_NUMBER) return 0;
    if (v->isint) return 1;
    double d = sx_num_d(v);
    return d == floor(d);
}

/* The decimal value of a number text as m * 10^e, m of at most 18
 * significant digits (trailing zeros move into e); 0 when it has more. */
static int decimal(const jv *v, uint64_t *m, long *e) {
    const char *s = v->u.num.text, *end = s + v->tlen, *mend = s;
    long exp = 0, weight = 0; /* weight: the power of ten of the digit after the last one read */
    while (mend < end && *mend != 'e' && *mend != 'E') mend++;
    if (mend < end) {
        const char *q = mend + 1 + (mend[1] == '+' || mend[1] == '-');
        for (; q < end; q++) if (exp < 1000000) exp = exp * 10 + (*q - '0');
        if (mend[1] == '-') exp = -exp;
    }
    const char *point = memchr(s, '.', (size_t)(mend - s));
    uint64_t acc = 0;
    int digits = 0;
    long zeros = 0; /* trailing zeros not yet in acc */
    for (const char *q = s; q < mend; q++) {
        if (*q < '0' || *q > '9') continue;
        weight = point && q > point ? -(long)(q - point) : (long)((point ? point : mend) - q - 1);
        if (*q == '0') { if (digits) zeros++; continue; }
        for (; zeros > 0; zeros--) { if (++digits > 18) return 0; acc *= 10; }
        if (++digits > 18) return 0;
        acc = acc * 10 + (uint64_t)(*q - '0');
        *e = weight + exp;
    }
    *m = acc;
    if (!acc) *e = 0;
    return 1;
}

int sx_multiple_of(const jv *v, const jv *m) {
    if (v->isint && m->isint) return m->u.num.i != 0 && v->u.num.i % m->u.num.i == 0;
    uint64_t a, b;
    long ea, eb;
    if (decimal(v, &a, &ea) && decimal(m, &b, &eb) && b) {
        if (a == 0) return 1;
        if (ea >= eb) { /* a * 10^(ea-eb) mod b, step by step (b < 10^18: no overflow) */
            uint64_t r = a % b; /* b < 10^18 has fewer than 60 factors 2 and 5: 0 by then or never */
            for (long k = ea - eb < 64 ? ea - eb : 64; k > 0 && r; k--) r = r * 10 % b;
            return r == 0;
        }
        for (long k = eb - ea; k > 0; k--) { /* b * 10^(eb-ea) must divide a < 10^18 */
            if (b > a / 10) return 0;
            b *= 10;
        }
        return a % b == 0;
    }
    double q = sx_num_d(v) / sx_num_d(m);
    if (!isfinite(q)) return 0;
    return fabs(q - nearbyint(q)) <= 1e-9 * (fabs(q) > 1 ? fabs(q) : 1);
}

/* ---- equality and hashing ---- */

/* The member of object o named key, the last one when repeated, or NULL. */
static const jv *member(const jv *o, const char *key, size_t klen) {
    for (size_t i = o->u.obj.n; i-- > 0;) {
        const jmember *mb = &o->u.obj.m[i];
        if (mb->klen == klen && memcmp(mb->key, key, klen) == 0) return &mb->val;
    }
    return NULL;
}

int sx_equal(const jv *a, const jv *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case JV_NULL: return 1;
    case JV_BOOL: return a->u.b == b->u.b;
    case JV_NUMBER: return sx_num_cmp(a, b) == 0;
    case JV_STRING: return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case JV_ARRAY:
        if (a->u.arr.n != b->u.arr.n) return 0;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!sx_equal(&a->u.arr.v[i], &b->u.arr.v[i])) return 0;
        return 1;
    default:
        if (a->u.obj.n != b->u.obj.n) return 0;
        for (size_t i = 0; i < a->u.obj.n; i++) {
            const jv *other = member(b, a->u.obj.m[i].key, a->u.obj.m[i].klen);
            if (!other || !sx_equal(&a->u.obj.m[i].val, other)) return 0;
        }
        return 1;
    }
}

#define FNV_OFFSET 14695981039346656037u
#define FNV_PRIME 1099511628211u

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * FNV_PRIME;
    return h;
}

uint64_t sx_hash(const jv *v) {
    uint64_t h = FNV_OFFSET + v->type;
    switch (v->type) {
    case JV_BOOL: return h + (uint64_t)v->u.b;
    case JV_NUMBER: { /* equal numbers have equal doubles */
        double d = v->isint ? (double)v->u.num.i : sx_num_d(v);
        if (d == 0) d = 0; /* -0 */
        return hash_bytes(h, (const char *)&d, sizeof d);
    }
    case JV_STRING: return hash_bytes(h, v->u.str.s, v->u.str.len);
    case JV_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++) h = (h ^ sx_hash(&v->u.arr.v[i])) * FNV_PRIME;
        return h;
    case JV_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) { /* in any order */
            const jmember *mb = &v->u.obj.m[i];
            h += hash_bytes(FNV_OFFSET, mb->key, mb->klen) * 31 + sx_hash(&mb->val);
        }
        return h;
    default: return h;
    }
}

/* The bytes less the continuation bytes (10xxxxxx), 8 at a time: each
 * word's continuation bytes marked by a 1 in their lowest bit, the marks
 * added up in the bytes of acc (at most 31 words: no byte's sum nor their
 * total passes 255), the total taken by a multiplication. */
size_t sx_utf8_len(const char *s, size_t n) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    size_t count = n, i = 0;
    while (n - i >= 8) {
        uint64_t acc = 0, w;
        for (int k = 0; k < 31 && n - i >= 8; k++, i += 8) {
            memcpy(&w, s + i, 8);
            acc += (w & ~(w << 1) & highs) >> 7;
        }
        count -= (size_t)((acc * ones) >> 56);
    }
    for (; i < n; i++) count -= ((unsigned char)s[i] & 0xC0) == 0x80;
    return count;
}

/* ---- formats ---- */

static int digit(char c) { return c >= '0' && c <= '9'; }
static int alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int xdigit(char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* The n digits at s as a number, or -1. */
static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!digit(s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 date-time: 1985-04-12T23:20:50.52Z, T and Z in either case, a
 * leap second only at 23:59:60 UTC, no year 0000 (Python's jsonschema, with
 * rfc3339-validator, refuses it: the proleptic calendar has no year 0). */
static int date_time(const char *s, size_t n) {
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return 0;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        sec < 0 || sec > 60)
        return 0;
    if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0))) return 0;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        size_t start = ++i;
        while (i < n && digit(s[i])) i++;
        if (i == start) return 0;
    }
    int offset = 0; /* minutes east of UTC */
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59) return 0;
        offset = (s[i] == '-' ? -1 : 1) * (oh * 60 + om);
        i += 6;
    }
    if (i != n) return 0;
    return sec < 60 || ((h * 60 + mi - offset) % 1440 + 1440) % 1440 == 23 * 60 + 59;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and hyphens,
 * 1 to 63 long, no hyphen first or last; 255 in all at most. */
static int hostname(const char *s, size_t n) {
    if (n == 0 || n > 255) return 0;
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-') return 0;
            label = 0;
            continue;
        }
        if (!alpha(s[i]) && !digit(s[i]) && s[i] != '-') return 0;
        if (label == 0 && s[i] == '-') return 0;
        label++;
    }
    return 1;
}

/* Dotted-quad IPv4: four decimals 0 to 255, no leading zeros. */
static int ipv4(const char *s, size_t n) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && (i >= n || s[i++] != '.')) return 0;
        size_t start = i;
        int v = 0;
        while (i < n && digit(s[i]) && i - start < 3) v = v * 10 + (s[i++] - '0');
        if (i == start || v > 255 || (s[start] == '0' && i - start > 1)) return 0;
    }
    return i == n;
}

/* RFC 4291 IPv6 text: eight groups of 1 to 4 hex digits, one "::" for a run
 * of zero groups, an IPv4 address for the last two. */
static int ipv6(const char *s, size_t n) {
    size_t i = 0;
    int groups = 0, gap = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') { gap = 1; i = 2; }
    else if (n >= 1 && s[0] == ':') return 0;
    while (i < n) {
        size_t end = i;
        while (end < n && s[end] != ':') end++;
        if (memchr(s + i, '.', end - i)) { /* the IPv4 tail */
            if (end != n || !ipv4(s + i, n - i)) return 0;
            groups += 2;
            break;
        }
        if (end == i || end - i > 4) return 0;
        for (size_t k = i; k < end; k++) if (!xdigit(s[k])) return 0;
        groups++;
        i = end;
        if (i == n) break;
        if (++i < n && s[i] == ':') {
            if (gap) return 0;
            gap = 1;
            i++;
        } else if (i == n) {
            return 0; /* a lone ':' last */
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

/* An email address: a string with an '@' in it, as Python's jsonschema
 * checks it. Addresses are too varied (RFC 5321, 5322, 6531) for a stricter
 * check not to refuse some that a server takes. */
static int email(const char *s, size_t n) {
    return memchr(s, '@', n) != NULL;
}

/* RFC 3986 character classes. */
static int unreserved(char c) { return alpha(c) || digit(c) || c == '-' || c == '.' || c == '_' || c == '~'; }
static int sub_delim(char c) { return c && strchr("!$&'()*+,;=", c) != NULL; }

/* The length of the run at s (before end) of unreserved characters,
 * sub-delims, %-escapes and the characters of extra; -1 at a bad escape. */
static long run(const char *s, const char *end, const char *extra) {
    const char *p = s;
    while (p < end) {
        if (*p == '%') {
            if (end - p < 3 || !xdigit(p[1]) || !xdigit(p[2])) return -1;
            p += 3;
        } else if (unreserved(*p) || sub_delim(*p) || (*p && strchr(extra, *p))) {
            p++;
        } else {
            break;
        }
    }
    return (long)(p - s);
}

/* An IP-literal's inside: an IPv6 address or an IPvFuture. */
static int ip_literal(const char *s, size_t n) {
    if (n > 0 && (s[0] == 'v' || s[0] == 'V')) {
        size_t i = 1;
        while (i < n && xdigit(s[i])) i++;
        if (i == 1 || i >= n || s[i] != '.' || i + 1 == n) return 0;
        return run(s + i + 1, s + n, ":") == (long)(n - i - 1);
    }
    return ipv6(s, n);
}

/* RFC 3986 URI: scheme ":" hier-part [ "?" query ] [ "#" fragment ], the
 * authority (after "//") [ userinfo "@" ] host [ ":" port ], the host an
 * IP-literal in brackets or a reg-name; only ASCII (an IRI is not a URI). */
static int uri(const char *s, size_t n) {
    const char *p = s, *end = s + n;
    if (n == 0 || !alpha(s[0])) return 0;
    while (p < end && (alpha(*p) || digit(*p) || *p == '+' || *p == '-' || *p == '.')) p++;
    if (p >= end || *p++ != ':') return 0;
    if (end - p >= 2 && p[0] == '/' && p[1] == '/') { /* the authority, up to '/', '?' or '#' */
        const char *a = p + 2, *aend = a;
        while (aend < end && *aend != '/' && *aend != '?' && *aend != '#') aend++;
        const char *at = memchr(a, '@', (size_t)(aend - a));
        if (at && run(a, at, ":") != at - a) return 0; /* userinfo */
        const char *h = at ? at + 1 : a, *hend;
        if (h < aend && *h == '[') {
            hend = memchr(h, ']', (size_t)(aend - h));
            if (!hend || !ip_literal(h + 1, (size_t)(hend - h - 1))) return 0;
            hend++;
        } else {
            long len = run(h, aend, "");
            if (len < 0) return 0;
            hend = h + len;
        }
        if (hend < aend && *hend++ != ':') return 0;
        while (hend < aend && digit(*hend)) hend++; /* the port */
        if (hend != aend) return 0;
        p = aend;
    }
    long len = run(p, end, ":@/"); /* the path */
    if (len < 0) return 0;
    p += len;
    if (p < end && *p == '?') {
        len = run(++p, end, ":@/?");
        if (len < 0) return 0;
        p += len;
    }
    if (p < end && *p == '#') {
        len = run(++p, end, ":@/?");
        if (len < 0) return 0;
        p += len;
    }
    return p == end;
}

static const struct { const char *name; int id; } FORMATS[] = {
    {"date-time", FMT_DATE_TIME}, {"email", FMT_EMAIL}, {"uri", FMT_URI}, {"url", FMT_URI},
    {"ipv4", FMT_IPV4}, {"ipv6", FMT_IPV6}, {"hostname", FMT_HOSTNAME}, {"regex", FMT_REGEX},
};

int sx_format_id(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof FORMATS / sizeof FORMATS[0]; i++)
        if (strlen(FORMATS[i].name) == n && memcmp(FORMATS[i].name, name, n) == 0) return FORMATS[i].id;
    return FMT_NONE;
}

const char *sx_format_rule(int fmt) {
    switch (fmt) {
    case FMT_DATE_TIME: return "must be a date-time (RFC 3339)";
    case FMT_EMAIL: return "must be an email address";
    case FMT_URI: return "must be a URI";
    case FMT_IPV4: return "must be an IPv4 address";
    case FMT_IPV6: return "must be an IPv6 address";
    case FMT_HOSTNAME: return "must be a host name";
    default: return "must be a regular expression (ECMA 262)";
    }
}

int sx_format_ok(int fmt, const char *s, size_t n) {
    switch (fmt) {
    case FMT_DATE_TIME: return date_time(s, n);
    case FMT_EMAIL: return email(s, n);
    case FMT_URI: return uri(s, n);
    case FMT_IPV4: return ipv4(s, n);
    case FMT_IPV6: return ipv6(s, n);
    case FMT_HOSTNAME: return hostname(s, n);
    default: return 1;
    }
}
