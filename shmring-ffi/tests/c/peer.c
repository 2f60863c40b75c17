/*
 * A C process on shmring's C ABI, driven by tests/c.rs:
 *
 *   peer layout RING     describe Tick and two wrong versions of it; check each against RING
 *   peer send RING N     send N byte messages (8-byte sequence number + pattern) into RING
 *   peer recv RING N     receive N such messages from RING (as its receiver) and check them
 *   peer echo PING PONG  receive from PING, send each message back into PONG, until an empty one
 *   peer ticks RING N    open RING (a typed spsc ring of Tick) as its receiver, check N ticks
 *   peer send-ticks RING N  open RING as its sender and send N ticks
 *   peer reserve RING N  send N messages built in place (reserve, write, commit), abandoning a
 *                        reservation before every tenth
 *   peer poll-ticks RING N  as `ticks`, waiting with poll(2) on the readiness descriptor
 *   peer open-as LABEL RING [KIND]  open RING (KIND spsc, mpmc or broadcast; spsc if not
 *                        given) as a receiver with the table LABEL (tick, swapped, narrow):
 *                        print the status and the message
 *   peer mpmc-send RING N P  open RING (a typed mpmc ring of Tick) as one more sender and send
 *                        ticks 0..N with side = P (the producer)
 *   peer mpmc-recv RING  open RING as one more receiver and receive ticks until every sender
 *                        is gone: print how many and the sum of their ts_ns
 *   peer bc-recv RING N  open RING (a typed broadcast ring of Tick) as a receiver, check ticks
 *                        0..N in order, then the writer's departure
 *   peer bc-send RING N  open RING as its writer and send ticks 0..N (lossless: waits for the
 *                        slowest receiver)
 *   peer bc-lag RING     create an overwriting broadcast ring of 8, write 20 ticks past its
 *                        receiver: print the lag status, the missed count and what is left
 *
 * Compiled with the system cc: cc -std=c11 -Wall -Wextra -Werror -I include peer.c
 * libshmring_ffi.a -lpthread -ldl -lm
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmring.h"

/* The Rust side's #[repr(C)] struct Tick { ts_ns: u64, price: f64, qty: i32, side: u32 }. */
typedef struct {
    uint64_t ts_ns;
    double price;
    int32_t qty;
    uint32_t side;
} Tick;

static const shmring_field TICK_FIELDS[] = {
    SHMRING_FIELD(Tick, ts_ns, SHMRING_U64),
    SHMRING_FIELD(Tick, price, SHMRING_F64),
    SHMRING_FIELD(Tick, qty, SHMRING_I32),
    SHMRING_FIELD(Tick, side, SHMRING_U32),
};
static const shmring_type TICK = SHMRING_TYPE(Tick, "Tick", TICK_FIELDS);

/* The same fields with qty and side swapped. */
typedef struct {
    uint64_t ts_ns;
    double price;
    uint32_t side;
    int32_t qty;
} TickSwapped;

static const shmring_field SWAPPED_FIELDS[] = {
    SHMRING_FIELD(TickSwapped, ts_ns, SHMRING_U64),
    SHMRING_FIELD(TickSwapped, price, SHMRING_F64),
    SHMRING_FIELD(TickSwapped, side, SHMRING_U32),
    SHMRING_FIELD(TickSwapped, qty, SHMRING_I32),
};
static const shmring_type SWAPPED = SHMRING_TYPE(TickSwapped, "Tick", SWAPPED_FIELDS);

/* A reader that takes the int32_t quantity as a uint8_t. */
typedef struct {
    uint64_t ts_ns;
    double price;
    uint8_t qty;
    uint8_t pad[3];
    uint32_t side;
} TickNarrow;

static const shmring_field NARROW_FIELDS[] = {
    SHMRING_FIELD(TickNarrow, ts_ns, SHMRING_U64),
    SHMRING_FIELD(TickNarrow, price, SHMRING_F64),
    SHMRING_FIELD(TickNarrow, qty, SHMRING_U8),
    SHMRING_ARRAY(TickNarrow, pad, SHMRING_U8),
    SHMRING_FIELD(TickNarrow, side, SHMRING_U32),
};
static const shmring_type NARROW = SHMRING_TYPE(TickNarrow, "Tick", NARROW_FIELDS);

static int fail(const char *what, shmring_status status) {
    fprintf(stderr, "%s: status %d: %s\n", what, (int)status, shmring_last_error_message());
    return 1;
}

/* Prints "NAME fingerprint DESCRIPTION" and "NAME check STATUS MESSAGE" for one table. */
static int layout_line(const char *label, const shmring_type *t, const char *ring) {
    uint64_t fp = 0;
    char text[512];
    size_t len = 0;
    shmring_status s = shmring_type_fingerprint(t, &fp);
    if (s != SHMRING_OK) return fail("fingerprint", s);
    s = shmring_type_describe(t, text, sizeof text, &len);
    if (s != SHMRING_OK) return fail("describe", s);
    if (len != strlen(text)) return fail("describe length", SHMRING_INTERNAL);
    printf("%s fingerprint %016llx %s\n", label, (unsigned long long)fp, text);
    s = shmring_ring_check_type(ring, t);
    printf("%s check %d %s\n", label, (int)s, s == SHMRING_OK ? "" : shmring_last_error_message());
    return 0;
}

static int layout(const char *ring) {
    /* A buffer too small is refused with the length needed. */
    char small[4];
    size_t need = 0;
    if (shmring_type_describe(&TICK, small, sizeof small, &need) != SHMRING_TOO_LARGE || need < 10)
        return fail("short buffer", SHMRING_INTERNAL);
    return layout_line("tick", &TICK, ring) || layout_line("swapped", &SWAPPED, ring) ||
           layout_line("narrow", &NARROW, ring);
}

/* Message `seq`: its 8-byte sequence number, then (seq % 200) bytes of a pattern. */
static size_t message(uint64_t seq, unsigned char *buf) {
    size_t len = 8 + (size_t)(seq % 200);
    memcpy(buf, &seq, 8);
    for (size_t i = 8; i < len; i++) buf[i] = (unsigned char)(seq * 31 + i);
    return len;
}

static int send(const char *ring, uint64_t n) {
    shmring_bytes_sender *tx = NULL;
    shmring_status s = shmring_bytes_sender_open(ring, &tx);
    if (s != SHMRING_OK) return fail("open sender", s);
    unsigned char buf[256];
    for (uint64_t seq = 0; seq < n; seq++) {
        size_t len = message(seq, buf);
        s = shmring_bytes_send(tx, buf, len);
        if (s != SHMRING_OK) return fail("send", s);
    }
    printf("sent %llu\n", (unsigned long long)n);
    fflush(stdout);
    shmring_bytes_sender_close(tx);
    return 0;
}

static int reserve(const char *ring, uint64_t n) {
    shmring_bytes_sender *tx = NULL;
    shmring_status s = shmring_bytes_sender_open(ring, &tx);
    if (s != SHMRING_OK) return fail("open sender", s);
    unsigned char buf[256];
    for (uint64_t seq = 0; seq < n; seq++) {
        uint8_t *room = NULL;
        if (seq % 10 == 0) {
            s = shmring_bytes_reserve(tx, 16, 1, &room);
            if (s != SHMRING_OK) return fail("reserve", s);
            memset(room, 0xee, 16);
            s = shmring_bytes_abandon(tx);
            if (s != SHMRING_OK) return fail("abandon", s);
        }
        size_t len = message(seq, buf);
        s = shmring_bytes_reserve(tx, len, 1, &room);
        if (s != SHMRING_OK) return fail("reserve", s);
        uint8_t *other = NULL;
        if (shmring_bytes_reserve(tx, 8, 1, &other) != SHMRING_BUSY || other != NULL)
            return fail("a second reservation on one handle", SHMRING_INTERNAL);
        memcpy(room, buf, len);
        s = shmring_bytes_commit(tx);
        if (s != SHMRING_OK) return fail("commit", s);
    }
    if (shmring_bytes_commit(tx) != SHMRING_INVALID_ARGUMENT) return fail("commit of nothing", s);
    printf("reserved %llu\n", (unsigned long long)n);
    fflush(stdout);
    shmring_bytes_sender_close(tx);
    return 0;
}

static int recv(const char *ring, uint64_t n) {
    shmring_bytes_receiver *rx = NULL;
    shmring_status s = shmring_bytes_receiver_open(ring, &rx);
    if (s != SHMRING_OK) return fail("open receiver", s);
    unsigned char want[256];
    for (uint64_t seq = 0; seq < n; seq++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        s = shmring_bytes_recv_timeout(rx, 10000000000ull, &data, &len);
        if (s != SHMRING_OK) return fail("recv", s);
        size_t want_len = message(seq, want);
        if (len != want_len || memcmp(data, want, len) != 0) {
            fprintf(stderr, "message %llu: %zu bytes, not the %zu expected\n",
                    (unsigned long long)seq, len, want_len);
            return 1;
        }
    }
    const uint8_t *data = NULL;
    size_t len = 0;
    s = shmring_bytes_try_recv(rx, &data, &len);
    printf("received %llu, then status %d\n", (unsigned long long)n, (int)s);
    shmring_bytes_receiver_close(rx);
    return 0;
}

static int echo(const char *ping, const char *pong) {
    shmring_bytes_receiver *rx = NULL;
    shmring_bytes_sender *tx = NULL;
    shmring_status s = shmring_bytes_receiver_open(ping, &rx);
    if (s != SHMRING_OK) return fail("open receiver", s);
    s = shmring_bytes_sender_open(pong, &tx);
    if (s != SHMRING_OK) return fail("open sender", s);
    for (;;) {
        const uint8_t *data = NULL;
        size_t len = 0;
        s = shmring_bytes_recv(rx, &data, &len);
        if (s != SHMRING_OK) return fail("recv", s);
        if (len == 0) break;
        s = shmring_bytes_send(tx, data, len);
        if (s != SHMRING_OK) return fail("send", s);
    }
    shmring_bytes_sender_close(tx);
    shmring_bytes_receiver_close(rx);
    return 0;
}

/* Tick i, as the Rust side makes it. */
static Tick tick(uint64_t i) {
    Tick t = {i, (double)i * 0.5, -(int32_t)i, (uint32_t)(i % 2)};
    return t;
}

static int ticks(const char *ring, uint64_t n) {
    shmring_spsc_receiver *rx = NULL;
    shmring_status s = shmring_spsc_receiver_open(ring, &TICK, &rx);
    if (s != SHMRING_OK) return fail("open", s);
    for (uint64_t i = 0; i < n; i++) {
        Tick t, want = tick(i);
        s = shmring_spsc_recv_timeout(rx, (uint8_t *)&t, 10000000000ull);
        if (s != SHMRING_OK) return fail("recv", s);
        if (memcmp(&t, &want, sizeof t) != 0) {
            fprintf(stderr, "tick %llu differs\n", (unsigned long long)i);
            return 1;
        }
    }
    Tick t;
    s = shmring_spsc_recv_timeout(rx, (uint8_t *)&t, 10000000000ull);
    printf("ticks %llu, then status %d\n", (unsigned long long)n, (int)s);
    shmring_spsc_receiver_close(rx);
    return 0;
}

static int poll_ticks(const char *ring, uint64_t n) {
    shmring_spsc_receiver *rx = NULL;
    shmring_status s = shmring_spsc_receiver_open(ring, &TICK, &rx);
    if (s != SHMRING_OK) return fail("open", s);
    int fd = -1;
    s = shmring_spsc_receiver_readiness_fd(rx, &fd);
    if (s != SHMRING_OK) return fail("readiness fd", s);
    uint64_t i = 0, polls = 0;
    while (i < n) {
        Tick t, want = tick(i);
        s = shmring_spsc_try_recv(rx, (uint8_t *)&t);
        if (s == SHMRING_OK) {
            if (memcmp(&t, &want, sizeof t) != 0) return fail("tick differs", SHMRING_INTERNAL);
            i++;
            continue;
        }
        if (s != SHMRING_EMPTY) return fail("try_recv", s);
        int wait = 0;
        s = shmring_spsc_receiver_register_readiness(rx, &wait);
        if (s != SHMRING_OK) return fail("register", s);
        if (wait) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 10000) != 1) return fail("poll timed out", SHMRING_TIMEOUT);
            polls++;
        }
        s = shmring_spsc_receiver_clear_readiness(rx);
        if (s != SHMRING_OK) return fail("clear", s);
    }
    printf("polled %llu ticks\n", (unsigned long long)n);
    shmring_spsc_receiver_close(rx);
    return 0;
}

static int send_ticks(const char *ring, uint64_t n) {
    shmring_spsc_sender *tx = NULL;
    shmring_status s = shmring_spsc_sender_open(ring, &TICK, &tx);
    if (s != SHMRING_OK) return fail("open", s);
    for (uint64_t i = 0; i < n; i++) {
        Tick t = tick(i);
        s = shmring_spsc_send(tx, (const uint8_t *)&t);
        if (s != SHMRING_OK) return fail("send", s);
    }
    printf("sent %llu ticks\n", (unsigned long long)n);
    fflush(stdout);
    shmring_spsc_sender_close(tx);
    return 0;
}

static int open_as(const char *label, const char *ring, const char *kind) {
    const shmring_type *t = strcmp(label, "tick") == 0      ? &TICK
                            : strcmp(label, "swapped") == 0 ? &SWAPPED
                                                            : &NARROW;
    shmring_status s;
    if (strcmp(kind, "mpmc") == 0) {
        shmring_mpmc_receiver *rx = NULL;
        s = shmring_mpmc_receiver_open(ring, t, &rx);
        shmring_mpmc_receiver_close(rx);
    } else if (strcmp(kind, "broadcast") == 0) {
        shmring_broadcast_receiver *rx = NULL;
        s = shmring_broadcast_receiver_open(ring, t, 0, &rx);
        shmring_broadcast_receiver_close(rx);
    } else {
        shmring_spsc_receiver *rx = NULL;
        s = shmring_spsc_receiver_open(ring, t, &rx);
        shmring_spsc_receiver_close(rx);
    }
    printf("%d %s\n", (int)s, s == SHMRING_OK ? "" : shmring_last_error_message());
    return 0;
}

static int mpmc_send(const char *ring, uint64_t n, uint32_t producer) {
    shmring_mpmc_sender *tx = NULL;
    shmring_status s = shmring_mpmc_sender_open(ring, &TICK, &tx);
    if (s != SHMRING_OK) return fail("open", s);
    for (uint64_t i = 0; i < n; i++) {
        Tick t = tick(i);
        t.side = producer;
        s = shmring_mpmc_send_timeout(tx, (const uint8_t *)&t, 30000000000ull);
        if (s != SHMRING_OK) return fail("send", s);
    }
    printf("sent %llu ticks\n", (unsigned long long)n);
    fflush(stdout);
    shmring_mpmc_sender_close(tx);
    return 0;
}

static int mpmc_recv(const char *ring) {
    shmring_mpmc_receiver *rx = NULL;
    shmring_status s = shmring_mpmc_receiver_open(ring, &TICK, &rx);
    if (s != SHMRING_OK) return fail("open", s);
    uint64_t count = 0, sum = 0;
    for (;;) {
        Tick t;
        s = shmring_mpmc_recv_timeout(rx, (uint8_t *)&t, 30000000000ull);
        if (s == SHMRING_DISCONNECTED) break;
        if (s != SHMRING_OK) return fail("recv", s);
        Tick want = tick(t.ts_ns);
        want.side = t.side;
        if (memcmp(&t, &want, sizeof t) != 0) return fail("torn tick", SHMRING_INTERNAL);
        count++;
        sum += t.ts_ns;
    }
    printf("received %llu sum %llu\n", (unsigned long long)count, (unsigned long long)sum);
    shmring_mpmc_receiver_close(rx);
    return 0;
}

static int bc_recv(const char *ring, uint64_t n) {
    shmring_broadcast_receiver *rx = NULL;
    shmring_status s = shmring_broadcast_receiver_open(ring, &TICK, 0, &rx);
    if (s != SHMRING_OK) return fail("open", s);
    for (uint64_t i = 0; i < n; i++) {
        Tick t, want = tick(i);
        s = shmring_broadcast_recv_timeout(rx, (uint8_t *)&t, 30000000000ull);
        if (s != SHMRING_OK) return fail("recv", s);
        if (memcmp(&t, &want, sizeof t) != 0) {
            fprintf(stderr, "tick %llu differs\n", (unsigned long long)i);
            return 1;
        }
    }
    Tick t;
    s = shmring_broadcast_recv_timeout(rx, (uint8_t *)&t, 30000000000ull);
    printf("broadcast %llu, then status %d\n", (unsigned long long)n, (int)s);
    shmring_broadcast_receiver_close(rx);
    return 0;
}

static int bc_send(const char *ring, uint64_t n) {
    shmring_broadcast_sender *tx = NULL;
    shmring_status s = shmring_broadcast_sender_open(ring, &TICK, &tx);
    if (s != SHMRING_OK) return fail("open", s);
    for (uint64_t i = 0; i < n; i++) {
        Tick t = tick(i);
        s = shmring_broadcast_send(tx, (const uint8_t *)&t);
        if (s != SHMRING_OK) return fail("send", s);
    }
    printf("sent %llu ticks\n", (unsigned long long)n);
    fflush(stdout);
    shmring_broadcast_sender_close(tx);
    return 0;
}

static int bc_lag(const char *ring) {
    shmring_broadcast_sender *tx = NULL;
    shmring_broadcast_receiver *rx = NULL;
    shmring_status s = shmring_broadcast_sender_create(ring, 8, &TICK, 7, &tx);
    if (s != SHMRING_INVALID_ARGUMENT) return fail("policy 7 accepted", s);
    s = shmring_broadcast_sender_create(ring, 8, &TICK, SHMRING_POLICY_OVERWRITE, &tx);
    if (s != SHMRING_OK) return fail("create", s);
    s = shmring_broadcast_receiver_open(ring, &TICK, 0, &rx);
    if (s != SHMRING_OK) return fail("open", s);
    for (uint64_t i = 0; i < 20; i++) {
        Tick t = tick(i);
        s = shmring_broadcast_try_send(tx, (const uint8_t *)&t);
        if (s != SHMRING_OK) return fail("try_send", s);
    }
    Tick t;
    s = shmring_broadcast_try_recv(rx, (uint8_t *)&t);
    printf("status %d %s\n", (int)s, shmring_last_error_message());
    uint64_t missed = 0, left = 0, next = 0;
    if (shmring_broadcast_receiver_missed(rx, &missed) != SHMRING_OK) return fail("missed", s);
    next = missed;
    while ((s = shmring_broadcast_try_recv(rx, (uint8_t *)&t)) == SHMRING_OK) {
        Tick want = tick(next++);
        if (memcmp(&t, &want, sizeof t) != 0) return fail("tick after lag", SHMRING_INTERNAL);
        left++;
    }
    printf("missed %llu left %llu then %d\n", (unsigned long long)missed,
           (unsigned long long)left, (int)s);
    shmring_broadcast_receiver_close(rx);
    shmring_broadcast_sender_close(tx);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: peer layout RING | send RING N | recv RING N | echo PING PONG | ticks RING N | "
                "send-ticks RING N | reserve RING N | poll-ticks RING N | open-as LABEL RING [KIND] | "
                "mpmc-send RING N P | mpmc-recv RING | bc-recv RING N | bc-send RING N | bc-lag RING\n");
        return 2;
    }
    if (strcmp(argv[1], "layout") == 0) return layout(argv[2]);
    if (strcmp(argv[1], "echo") == 0 && argc > 3) return echo(argv[2], argv[3]);
    if (strcmp(argv[1], "open-as") == 0 && argc > 3)
        return open_as(argv[2], argv[3], argc > 4 ? argv[4] : "spsc");
    if (strcmp(argv[1], "mpmc-recv") == 0) return mpmc_recv(argv[2]);
    if (strcmp(argv[1], "bc-lag") == 0) return bc_lag(argv[2]);
    uint64_t n = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
    if (strcmp(argv[1], "send") == 0) return send(argv[2], n);
    if (strcmp(argv[1], "recv") == 0) return recv(argv[2], n);
    if (strcmp(argv[1], "ticks") == 0) return ticks(argv[2], n);
    if (strcmp(argv[1], "send-ticks") == 0) return send_ticks(argv[2], n);
    if (strcmp(argv[1], "reserve") == 0) return reserve(argv[2], n);
    if (strcmp(argv[1], "poll-ticks") == 0) return poll_ticks(argv[2], n);
    if (strcmp(argv[1], "mpmc-send") == 0 && argc > 4)
        return mpmc_send(argv[2], n, (uint32_t)strtoul(argv[4], NULL, 10));
    if (strcmp(argv[1], "bc-recv") == 0) return bc_recv(argv[2], n);
    if (strcmp(argv[1], "bc-send") == 0) return bc_send(argv[2], n);
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
