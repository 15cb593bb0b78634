/* raw_client: the floor of a libcurl-based Losant client. Keeps CONCURRENCY
 * transfers in flight on one curl multi handle, reuses easy handles and
 * connections, sends the headers eventapi sends, parses every body with
 * jansson, and prints one RESULT line (same format as the other peers).
 *
 * Usage: raw_client URL get|page|post CONCURRENCY COUNT BODYFILE
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define APP "575ec8687ae143cd83dc4a97"
#define EVENT "575ed0de7ae143cd83dc4aa5"
#define QUERY "_actions=false&_links=true&_embedded=true"

enum workload { W_GET, W_PAGE, W_POST };

/* One slot: an easy handle, its response buffer and its start time. */
struct slot {
    CURL *easy;
    char *buf;
    size_t len, cap;
    double t0;
    int oom;
};

/* Seconds of CLOCK_MONOTONIC. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Prints a message and exits with status 1. */
static void die(const char *what)
{
    fprintf(stderr, "raw_client: %s\n", what);
    exit(1);
}

/* Write callback: appends the received bytes to the slot's buffer. */
static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct slot *s = userdata;
    size_t add = size * n;
    if (s->len + add + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + add + 1) cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) {
            s->oom = 1;
            return 0;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, add);
    s->len += add;
    return add;
}

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open body file");
    if (fseek(f, 0, SEEK_END) != 0) die("cannot seek body file");
    long n = ftell(f);
    if (n < 0) die("cannot size body file");
    rewind(f);
    char *b = malloc((size_t)n + 1);
    if (!b) die("out of memory");
    if (fread(b, 1, (size_t)n, f) != (size_t)n) die("cannot read body file");
    fclose(f);
    b[n] = '\0';
    *len = (size_t)n;
    return b;
}

/* Compares two doubles for qsort. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of a sorted array in microseconds (-1 when empty). */
static double quantile(const double *v, size_t n, double q)
{
    if (n == 0) return -1;
    size_t i = (size_t)(q * (double)n + 0.999999);
    if (i < 1) i = 1;
    if (i > n) i = n;
    return v[i - 1] * 1e6;
}

/* Checks a parsed body: an Event with an id, or a page of 100 items. */
static int body_ok(enum workload w, const char *buf, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr);
    if (!root) return 0;
    int ok;
    if (w == W_PAGE) {
        json_t *items = json_object_get(root, "items");
        ok = json_is_array(items) && json_array_size(items) == 100;
    } else {
        ok = json_is_string(json_object_get(root, "id"));
    }
    json_decref(root);
    return ok;
}

/* Runs the benchmark and prints the RESULT line. */
int main(int argc, char **argv)
{
    if (argc < 6) die("usage: raw_client URL get|page|post CONCURRENCY COUNT BODYFILE");
    const char *base = argv[1];
    enum workload w;
    if (strcmp(argv[2], "get") == 0) w = W_GET;
    else if (strcmp(argv[2], "page") == 0) w = W_PAGE;
    else if (strcmp(argv[2], "post") == 0) w = W_POST;
    else die("unknown workload");
    long conc = strtol(argv[3], NULL, 10), count = strtol(argv[4], NULL, 10);
    if (conc < 1 || count < 1) die("concurrency and count must be positive");
    if (conc > count) conc = count;
    const char *token = getenv("BENCH_TOKEN") ? getenv("BENCH_TOKEN") : "sandbox-all-access";

    size_t body_len = 0;
    char *body = slurp(argv[5], &body_len);

    char url[2048];
    int un;
    if (w == W_GET) un = snprintf(url, sizeof url, "%s/applications/%s/events/%s?%s", base, APP, EVENT, QUERY);
    else if (w == W_PAGE) un = snprintf(url, sizeof url, "%s/applications/%s/events?perPage=100&%s", base, APP, QUERY);
    else un = snprintf(url, sizeof url, "%s/applications/%s/events?%s", base, APP, QUERY);
    if (un < 0 || (size_t)un >= sizeof url) die("URL too long");

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) die("curl_global_init failed");
    char auth[512], ua[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    snprintf(ua, sizeof ua, "raw_client libcurl/%s", curl_version_info(CURLVERSION_NOW)->version);
    struct curl_slist *hdr = NULL, *tmp;
    const char *lines[] = {"Accept: application/json", "Accept-Version: ^1.20.1", auth, "Expect:",
                           w == W_POST ? "Content-Type: application/json" : NULL};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!lines[i]) continue;
        tmp = curl_slist_append(hdr, lines[i]);
        if (!tmp) die("out of memory");
        hdr = tmp;
    }

    CURLM *multi = curl_multi_init();
    if (!multi) die("curl_multi_init failed");
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conc);

    struct slot *slots = calloc((size_t)conc, sizeof *slots);
    double *lat = malloc((size_t)count * sizeof *lat);
    if (!slots || !lat) die("out of memory");

    long started = 0, done = 0, errors = 0, nlat = 0;
    double t_start = now();
    for (long i = 0; i < conc; i++) {
        struct slot *s = &slots[i];
        s->easy = curl_easy_init();
        if (!s->easy) die("curl_easy_init failed");
        curl_easy_setopt(s->easy, CURLOPT_URL, url);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(s->easy, CURLOPT_USERAGENT, ua);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (char *)s);
        curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
        if (w == W_POST) {
            curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        s->t0 = now();
        if (curl_multi_add_handle(multi, s->easy) != CURLM_OK) die("curl_multi_add_handle failed");
        started++;
    }

    while (done < count) {
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) die("curl_multi_perform failed");
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            CURL *e = msg->easy_handle;
            struct slot *s;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
            long status = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            int ok = msg->data.result == CURLE_OK && !s->oom &&
                     status == (w == W_POST ? 201 : 200) && body_ok(w, s->buf, s->len);
            if (ok) lat[nlat++] = now() - s->t0;
            else if (errors++ == 0)
                fprintf(stderr, "first error: curl %d status %ld\n", (int)msg->data.result, status);
            done++;
            curl_multi_remove_handle(multi, e);
            s->len = 0;
            s->oom = 0;
            if (started < count) {
                s->t0 = now();
                if (curl_multi_add_handle(multi, e) != CURLM_OK) die("curl_multi_add_handle failed");
                started++;
            }
        }
        if (done < count && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK) die("curl_multi_poll failed");
    }
    double elapsed = now() - t_start;

    qsort(lat, (size_t)nlat, sizeof *lat, cmp_double);
    printf("RESULT ok=%ld errors=%ld elapsed_s=%.6f rps=%.1f p50_us=%.1f p99_us=%.1f\n", done - errors, errors,
           elapsed, (double)done / elapsed, quantile(lat, (size_t)nlat, 0.50), quantile(lat, (size_t)nlat, 0.99));

    for (long i = 0; i < conc; i++) {
        curl_easy_cleanup(slots[i].easy);
        free(slots[i].buf);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdr);
    curl_global_cleanup();
    free(slots);
    free(lat);
    free(body);
    return errors ? 3 : 0;
}
