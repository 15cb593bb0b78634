/* eventapi-sandbox: Losant's values beyond its schemas (bodies are checked
 * against Losant's published schemas by losant_validate.c): levels, states,
 * ids, tag keys, and dates: the creationDate forms of Event Post read into
 * one ISO 8601 form. */
#include "losant.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const SB_LEVELS[] = {"info", "warning", "error", "critical", NULL};
const char *const SB_STATES[] = {"new", "acknowledged", "resolved", NULL};
/* Number of UTF-8 characters in s (losant.h). */
long sb_utf8_length(const char *s) {
    long n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* 1 when s is 24 hexadecimal characters (losant.h). */
int sb_is_hex24(const char *s) {
    int n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n])) return 0;
    return n == 24;
}

/* 1 when s is a valid event tag key (losant.h). */
int sb_is_tag_key(const char *s) {
    size_t n = strlen(s);
    if (n < 1 || n > 255) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

/* ---- dates ---- */

#define MS_MIN (-62167219200000LL) /* 0000-01-01T00:00:00.000Z */
#define MS_MAX 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static long long days_from_civil(long long y, int m, int d) {
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date of a day number (days from 1970-01-01). */
static void civil_from_days(long long z, long long *y, int *m, int *d) {
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Reads n digits at s into *out; 0, or -1 when they are not all digits. */
static int digits(const char *s, int n, int *out) {
    *out = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        *out = *out * 10 + (s[i] - '0');
    }
    return 0;
}

/* Days in month m of year y. */
static int month_length(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

/* Milliseconds since the epoch of an RFC 3339 date-time (losant.h). */
int sb_ls_date_ms(const char *s, long long *ms) {
    int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;
    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-'
        || digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':'
        || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    const char *p = s + 19;
    if (*p == '.') { /* milliseconds kept, further digits read and dropped */
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++, n++)
            if (n < 3) frac = frac * 10 + (*p - '0');
        if (n == 0) return -1;
        for (; n < 3; n++) frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59) return -1;
        p += 6;
    } else {
        return -1;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > month_length(y, mo) || h > 23 || mi > 59 || sec > 60) return -1;
    long long t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
    t = t * 1000 + frac - (long long)sign * (oh * 60 + om) * 60000;
    if (t < MS_MIN || t > MS_MAX) return -1;
    *ms = t;
    return 0;
}

/* Writes ms since the epoch as YYYY-MM-DDTHH:MM:SS.mmmZ into out[32]. */
void sb_ls_iso(long long ms, char *out) {
    long long days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000), y;
    long long rest = ms - days * 86400000;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    char text[80]; /* the years 0 to 9999 make 24 characters; the room is for the compiler's worst case */
    snprintf(text, sizeof text, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rest / 3600000),
             (int)(rest / 60000 % 60), (int)(rest / 1000 % 60), (int)(rest % 1000));
    snprintf(out, 32, "%.31s", text);
}

/* Reads a creationDate in any Event Post form into ISO form (losant.h). */
int sb_ls_date(json_t *v, char *out) {
    long long ms;
    if (json_is_object(v)) { /* {"$date": date-time} and nothing else */
        json_t *inner = json_object_get(v, "$date");
        if (json_object_size(v) != 1 || !json_is_string(inner)) return -1;
        v = inner;
    }
    if (json_is_string(v)) {
        if (sb_ls_date_ms(json_string_value(v), &ms) < 0) return -1;
    } else if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < MS_MIN || n > MS_MAX) return -1;
        ms = (long long)n;
    } else if (json_is_real(v)) {
        double x = floor(json_real_value(v));
        if (!(x >= (double)MS_MIN && x <= (double)MS_MAX)) return -1;
        ms = (long long)x;
    } else {
        return -1;
    }
    sb_ls_iso(ms, out);
    return 0;
}
