/* eventapi-sandbox: Losant's server-sent event streams (losant.h,
 * docs/PROTOCOLS.md 1.12): device.stateStream and device.commandStream
 * send what device.sendState, device.sendCommand and devices.sendCommand
 * keep for the device; application.mqttSubscriptionStream sends what
 * application.mqttPublishMessage publishes on a matching topic. The
 * streams themselves are sse.c's. */
#include "losant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEPALIVE_MIN 1
#define KEEPALIVE_MAX 60
#define KEEPALIVE_DEFAULT 2

/* Sends doc to the streams of channel (losant.h). */
int lg_publish(const char *channel, const char *topic, json_t *doc) {
    char *text = sb_dump(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    int rc = text ? sb_sse_publish(channel, topic, text) : -1;
    free(text);
    return rc;
}

/* Answers 200 with a stream of channel's events named event (topic: a
 * filter, NULL for all), after checking keepAliveInterval (400). */
static void open_stream(const lg_call *g, const char *channel, const char *event, const char *topic) {
    long long every;
    if (lg_int_query(g, "keepAliveInterval", KEEPALIVE_MIN, KEEPALIVE_MAX, KEEPALIVE_DEFAULT, &every) < 0) return;
    sb_sse *s = sb_sse_new(channel, event, topic, (int)every);
    if (!s) {
        ls_internal(g->c.res);
        return;
    }
    sb_reply_empty(g->c.res, 200);
    g->c.res->sse = s;
}

/* application.mqttPublishMessage: the body's {topic, message} goes to the
 * application's subscription streams; {"success": true}. */
static void mqtt_publish(const lg_call *g, const char *channel) {
    int failed;
    json_t *body = lg_checked_body(g, 1, &failed);
    if (failed) return;
    json_t *msg = json_pack("{s:O, s:O}", "topic", json_object_get(body, "topic"), "message",
                            json_object_get(body, "message"));
    failed = !msg || lg_publish(channel, json_string_value(json_object_get(body, "topic")), msg) < 0;
    lg_answer(g, g->a->status, failed ? NULL : json_pack("{s:b}", "success", 1));
    json_decref(msg);
    json_decref(body);
}

/* The stream actions and mqttPublishMessage (losant.h). */
int lg_stream_action(const lg_call *g, const char *base) {
    char channel[600];
    const char *name = g->a->name, *topic;
    if (!strcmp(name, "device.stateStream") || !strcmp(name, "device.commandStream")) {
        int state = name[7] == 's';
        snprintf(channel, sizeof channel, "%s/%s", base, state ? "state" : "command");
        open_stream(g, channel, state ? "deviceState" : "deviceCommand", NULL);
        return 1;
    }
    if (strcmp(name, "application.mqttSubscriptionStream") && strcmp(name, "application.mqttPublishMessage")) return 0;
    snprintf(channel, sizeof channel, "%s/mqtt", base);
    if (!strcmp(name, "application.mqttPublishMessage")) {
        mqtt_publish(g, channel);
        return 1;
    }
    topic = sb_query_get(g->c.req, "topic");
    open_stream(g, channel, "mqttMessage", topic && *topic ? topic : NULL);
    return 1;
}
