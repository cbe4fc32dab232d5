/*
 * beamline-nats-bench — request-reply throughput and latency over NATS with N requests in flight.
 *
 *   raw mode (default): an in-process nats.c echo responder (its own connection, replies from
 *     the subscription callback) and a requester; prints
 *       raw_nats_reqrep inflight=64 payload=200 count=... req_per_s=... p50_us=... p99_us=... errors=...
 *   --subject S --exec-echo: no responder; sends ExecRequest{type:"echo", payload} protobufs to a
 *     running beamline-worker on S (e.g. caf.exec.v2.cpu) and prints the same line named
 *     c_to_worker_echo (errors = replies that are not an OK ExecResult).
 *   --subject S --body-file F [--expect TEXT]: no responder; sends the bytes of F to S (e.g. a CP1
 *     decide request to beamline.router.v1.decide) and prints the line named c_to_subject
 *     (errors = no responders, or replies that do not contain TEXT).
 *
 * The requester keeps N requests in flight on one muxed inbox subscription (<inbox>.<slot>):
 * each reply frees its slot, and the callback publishes the slot's next request at once.
 * Both connections use SendAsap. Bounded by --seconds (default 5) and/or --count.
 */
#include <nats/nats.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench {
  natsConnection* requester;
  const char* subject;
  char inbox[128];
  const char* payload;
  int payload_len;
  int inflight;
  int exec_echo;
  int body_file;
  const char* expect;
  int64_t* sent_ns;     /* per slot: when its request was published */
  char** reply_subjects; /* per slot: "<inbox>.<slot>" */
  int64_t* latencies_us; /* grows; written only by the reply callback thread */
  size_t latencies_len;
  size_t latencies_cap;
  atomic_llong completed;
  atomic_llong errors;
  atomic_int outstanding;
  atomic_int stop;
  long long max_count;
} bench;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char* what, natsStatus s) {
  fprintf(stderr, "beamline-nats-bench: %s: %s (%s)\n", what, natsStatus_GetText(s),
          nats_GetLastError(NULL));
  exit(1);
}

/* Appends a varint; returns the new length. */
static size_t put_varint(uint8_t* out, size_t at, uint64_t v) {
  while (v >= 0x80) {
    out[at++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[at++] = (uint8_t)v;
  return at;
}

static int get_varint(const uint8_t* p, int len, int* at, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *at < len; shift += 7) {
    uint8_t b = p[(*at)++];
    *v |= (uint64_t)(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      return 1;
    }
  }
  return 0;
}

/* True when the bytes are an ExecResult whose status (field 2) is EXEC_STATUS_OK (1). */
static int is_ok_result(const char* data, int len) {
  const uint8_t* p = (const uint8_t*)data;
  int at = 0;
  while (at < len) {
    uint64_t key, v;
    if (!get_varint(p, len, &at, &key)) {
      return 0;
    }
    switch (key & 7) {
      case 0:
        if (!get_varint(p, len, &at, &v)) {
          return 0;
        }
        if ((key >> 3) == 2) {
          return v == 1;
        }
        break;
      case 1:
        at += 8;
        break;
      case 2:
        if (!get_varint(p, len, &at, &v) || v > (uint64_t)(len - at)) {
          return 0;
        }
        at += (int)v;
        break;
      case 5:
        at += 4;
        break;
      default:
        return 0;
    }
  }
  return 0;
}

static void publish_slot(bench* b, int slot) {
  b->sent_ns[slot] = now_ns();
  natsStatus s = natsConnection_PublishRequest(b->requester, b->subject, b->reply_subjects[slot],
                                               b->payload, b->payload_len);
  if (s != NATS_OK) {
    atomic_fetch_add(&b->errors, 1);
    atomic_fetch_sub(&b->outstanding, 1);
  }
}

/* Whether data[0, len) contains the NUL-terminated text. */
static int contains(const char* data, int len, const char* text) {
  const size_t n = strlen(text);
  for (int i = 0; data != NULL && (size_t)i + n <= (size_t)len; ++i) {
    if (memcmp(data + i, text, n) == 0) return 1;
  }
  return 0;
}

static void on_reply(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure) {
  (void)nc;
  (void)sub;
  bench* b = (bench*)closure;
  const int64_t t = now_ns();
  const char* subj = natsMsg_GetSubject(msg);
  const char* dot = strrchr(subj, '.');
  const int slot = dot != NULL ? atoi(dot + 1) : -1;
  if (slot < 0 || slot >= b->inflight) {
    natsMsg_Destroy(msg);
    return;
  }
  const char* kind = NULL;
  /* A streamed block would send "Beamline-Kind: chunk" first; echo is never streamed. */
  if (natsMsgHeader_Get(msg, "Beamline-Kind", &kind) == NATS_OK && kind != NULL
      && strcmp(kind, "chunk") == 0) {
    natsMsg_Destroy(msg);
    return;
  }
  int ok = 1;
  if (natsMsg_IsNoResponders(msg)) {
    ok = 0;
  } else if (b->exec_echo) {
    ok = is_ok_result(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  } else if (b->expect != NULL) {
    ok = contains(natsMsg_GetData(msg), natsMsg_GetDataLength(msg), b->expect);
  } else if (b->body_file) {
    ok = 1;
  } else {
    ok = natsMsg_GetDataLength(msg) == b->payload_len;
  }
  natsMsg_Destroy(msg);
  if (!ok) {
    atomic_fetch_add(&b->errors, 1);
  }
  if (b->latencies_len == b->latencies_cap) {
    size_t cap = b->latencies_cap * 2;
    int64_t* grown = (int64_t*)realloc(b->latencies_us, cap * sizeof(int64_t));
    if (grown != NULL) {
      b->latencies_us = grown;
      b->latencies_cap = cap;
    }
  }
  if (b->latencies_len < b->latencies_cap) {
    b->latencies_us[b->latencies_len++] = (t - b->sent_ns[slot]) / 1000;
  }
  long long done = atomic_fetch_add(&b->completed, 1) + 1;
  if (atomic_load(&b->stop) || (b->max_count > 0 && done + atomic_load(&b->outstanding) > b->max_count)) {
    atomic_fetch_sub(&b->outstanding, 1);
    return;
  }
  publish_slot(b, slot);
}

static void on_echo(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* closure) {
  (void)sub;
  (void)closure;
  const char* reply = natsMsg_GetReply(msg);
  if (reply != NULL) {
    natsConnection_Publish(nc, reply, natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  }
  natsMsg_Destroy(msg);
}

static int cmp_i64(const void* a, const void* b) {
  const int64_t x = *(const int64_t*)a, y = *(const int64_t*)b;
  return (x > y) - (x < y);
}

static natsConnection* connect_to(const char* url, const char* name) {
  natsOptions* opts = NULL;
  natsConnection* nc = NULL;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, url);
  if (s == NATS_OK) s = natsOptions_SetName(opts, name);
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);
  if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    die("connect", s);
  }
  return nc;
}

static void usage(void) {
  fputs("usage: beamline-nats-bench [--nats URL] [--inflight N] [--payload BYTES] [--seconds S]\n"
        "                           [--count N] [--subject S --exec-echo]\n"
        "                           [--subject S --body-file F [--expect TEXT]]\n",
        stderr);
}

int main(int argc, char** argv) {
  const char* url = "nats://127.0.0.1:4222";
  const char* subject = NULL;
  const char* body_path = NULL;
  const char* expect = NULL;
  int inflight = 64, payload_len = 200, exec_echo = 0;
  double seconds = 5;
  long long count = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--exec-echo") == 0) {
      exec_echo = 1;
      continue;
    }
    if (v == NULL) {
      usage();
      return 2;
    }
    ++i;
    if (strcmp(a, "--nats") == 0) url = v;
    else if (strcmp(a, "--inflight") == 0) inflight = atoi(v);
    else if (strcmp(a, "--payload") == 0) payload_len = atoi(v);
    else if (strcmp(a, "--seconds") == 0) seconds = atof(v);
    else if (strcmp(a, "--count") == 0) count = atoll(v);
    else if (strcmp(a, "--subject") == 0) subject = v;
    else if (strcmp(a, "--body-file") == 0) body_path = v;
    else if (strcmp(a, "--expect") == 0) expect = v;
    else {
      usage();
      return 2;
    }
  }
  if (inflight < 1 || inflight > 100000 || payload_len < 0 || payload_len > (1 << 20) || seconds <= 0
      || (exec_echo && subject == NULL) || (body_path != NULL && (subject == NULL || exec_echo))
      || (expect != NULL && body_path == NULL)) {
    usage();
    return 2;
  }

  bench b;
  memset(&b, 0, sizeof(b));
  b.inflight = inflight;
  b.exec_echo = exec_echo;
  b.max_count = count;
  b.body_file = body_path != NULL;
  b.expect = expect;

  /* With --body-file the body is the whole file. */
  FILE* body_in = NULL;
  if (body_path != NULL) {
    body_in = fopen(body_path, "rb");
    if (body_in == NULL || fseek(body_in, 0, SEEK_END) != 0 || (payload_len = (int)ftell(body_in)) < 0
        || payload_len > (1 << 20) || fseek(body_in, 0, SEEK_SET) != 0) {
      fprintf(stderr, "cannot read %s (or it is over 1 MiB)\n", body_path);
      return 2;
    }
  }

  /* The request body: raw bytes, the file, or an encoded ExecRequest{type:"echo", payload}. */
  uint8_t* body = (uint8_t*)malloc((size_t)payload_len + 32);
  size_t body_len = 0;
  if (exec_echo) {
    body[body_len++] = 0x1a; /* field 3, type */
    body[body_len++] = 4;
    memcpy(body + body_len, "echo", 4);
    body_len += 4;
    body[body_len++] = 0x22; /* field 4, payload */
    body_len = put_varint(body, body_len, (uint64_t)payload_len);
  }
  if (body_in != NULL) {
    body_len = fread(body, 1, (size_t)payload_len, body_in);
    fclose(body_in);
  } else {
    memset(body + body_len, 'x', (size_t)payload_len);
    body_len += (size_t)payload_len;
  }
  b.payload = (const char*)body;
  /* Sent in both modes: the whole body. In raw mode a reply must have exactly this length. */
  b.payload_len = (int)body_len;

  natsConnection* responder = NULL;
  natsSubscription* echo_sub = NULL;
  char raw_subject[96];
  if (!exec_echo && body_path == NULL) {
    responder = connect_to(url, "beamline-nats-bench responder");
    snprintf(raw_subject, sizeof(raw_subject), "beamline.bench.echo.%lld", (long long)now_ns());
    natsStatus s = natsConnection_Subscribe(&echo_sub, responder, raw_subject, on_echo, NULL);
    if (s == NATS_OK) s = natsConnection_Flush(responder);
    if (s != NATS_OK) die("responder subscribe", s);
    subject = raw_subject;
  }
  b.subject = subject;

  b.requester = connect_to(url, "beamline-nats-bench requester");
  natsInbox* inbox = NULL;
  natsStatus s = natsInbox_Create(&inbox);
  if (s != NATS_OK) die("inbox", s);
  snprintf(b.inbox, sizeof(b.inbox), "%s", (const char*)inbox);
  natsInbox_Destroy(inbox);
  b.sent_ns = (int64_t*)calloc((size_t)inflight, sizeof(int64_t));
  b.reply_subjects = (char**)calloc((size_t)inflight, sizeof(char*));
  for (int i = 0; i < inflight; ++i) {
    b.reply_subjects[i] = (char*)malloc(160);
    snprintf(b.reply_subjects[i], 160, "%s.%d", b.inbox, i);
  }
  b.latencies_cap = 1 << 20;
  b.latencies_us = (int64_t*)malloc(b.latencies_cap * sizeof(int64_t));

  char wildcard[160];
  snprintf(wildcard, sizeof(wildcard), "%s.*", b.inbox);
  natsSubscription* reply_sub = NULL;
  s = natsConnection_Subscribe(&reply_sub, b.requester, wildcard, on_reply, &b);
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(reply_sub, -1, -1);
  if (s == NATS_OK) s = natsConnection_Flush(b.requester);
  if (s != NATS_OK) die("reply subscribe", s);

  const int64_t start = now_ns();
  const int first = count > 0 && count < inflight ? (int)count : inflight;
  atomic_store(&b.outstanding, first);
  for (int i = 0; i < first; ++i) {
    publish_slot(&b, i);
  }
  const int64_t limit = start + (int64_t)(seconds * 1e9);
  while (now_ns() < limit && (count == 0 || atomic_load(&b.completed) < count)) {
    nats_Sleep(5);
  }
  atomic_store(&b.stop, 1);
  const int64_t stopped = now_ns();
  /* Let the requests still in flight come back (at most 2 s). */
  for (int i = 0; i < 400 && atomic_load(&b.outstanding) > 0; ++i) {
    nats_Sleep(5);
  }
  natsSubscription_Unsubscribe(reply_sub);
  nats_Sleep(10);
  const long long done = atomic_load(&b.completed);
  const double elapsed_s = (double)(stopped - start) / 1e9;
  qsort(b.latencies_us, b.latencies_len, sizeof(int64_t), cmp_i64);
  const int64_t p50 = b.latencies_len ? b.latencies_us[b.latencies_len / 2] : 0;
  const int64_t p99 = b.latencies_len ? b.latencies_us[(b.latencies_len * 99) / 100] : 0;
  printf("%s inflight=%d payload=%d count=%lld req_per_s=%.0f p50_us=%lld p99_us=%lld errors=%lld\n",
         exec_echo ? "c_to_worker_echo" : body_path != NULL ? "c_to_subject" : "raw_nats_reqrep", inflight,
         payload_len, done,
         elapsed_s > 0 ? (double)done / elapsed_s : 0.0, (long long)p50, (long long)p99,
         (long long)atomic_load(&b.errors));
  fflush(stdout);

  natsSubscription_Destroy(reply_sub);
  natsConnection_Destroy(b.requester);
  if (responder != NULL) {
    natsSubscription_Destroy(echo_sub);
    natsConnection_Destroy(responder);
  }
  for (int i = 0; i < inflight; ++i) {
    free(b.reply_subjects[i]);
  }
  free(b.reply_subjects);
  free(b.sent_ns);
  free(b.latencies_us);
  free(body);
  nats_CloseAndWait(2000);
  return atomic_load(&b.errors) == 0 ? 0 : 1;
}
