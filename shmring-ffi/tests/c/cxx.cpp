// The C++ layer (include/shmring.hpp) driven by tests/c_rings.rs:
//
//   cxx self            in one process: typed spsc, mpmc and broadcast rings through the RAII
//                       classes — values, empty/full/timeout as return values, a swapped struct
//                       refused with shmring::error naming both layouts, a broadcast lag as
//                       shmring::lagged with its count, handles closed by their destructors
//   cxx bc-recv RING N  a broadcast receiver of Tick: checks ticks 0..N, then the writer leaving
//
// Compiled with the system c++: c++ -std=c++17 -Wall -Wextra -Werror -I include cxx.cpp
// libshmring_ffi.a -lpthread -ldl -lm
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "shmring.hpp"

struct Tick {
    std::uint64_t ts_ns;
    double price;
    std::int32_t qty;
    std::uint32_t side;
};

static const shmring_field TICK_FIELDS[] = {
    SHMRING_FIELD(Tick, ts_ns, SHMRING_U64),
    SHMRING_FIELD(Tick, price, SHMRING_F64),
    SHMRING_FIELD(Tick, qty, SHMRING_I32),
    SHMRING_FIELD(Tick, side, SHMRING_U32),
};
static const shmring_type TICK = SHMRING_TYPE(Tick, "Tick", TICK_FIELDS);

struct TickSwapped {
    std::uint64_t ts_ns;
    double price;
    std::uint32_t side;
    std::int32_t qty;
};

static const shmring_field SWAPPED_FIELDS[] = {
    SHMRING_FIELD(TickSwapped, ts_ns, SHMRING_U64),
    SHMRING_FIELD(TickSwapped, price, SHMRING_F64),
    SHMRING_FIELD(TickSwapped, side, SHMRING_U32),
    SHMRING_FIELD(TickSwapped, qty, SHMRING_I32),
};
static const shmring_type SWAPPED = SHMRING_TYPE(TickSwapped, "Tick", SWAPPED_FIELDS);

static Tick tick(std::uint64_t i) {
    return Tick{i, static_cast<double>(i) * 0.5, -static_cast<std::int32_t>(i),
                static_cast<std::uint32_t>(i % 2)};
}

static bool same(const Tick &a, const Tick &b) { return std::memcmp(&a, &b, sizeof a) == 0; }

static void shm_unlink_name(const std::string &name) { std::remove(("/dev/shm/" + name).c_str()); }

#define EXPECT(cond)                                                     \
    do {                                                                 \
        if (!(cond)) {                                                   \
            std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
            std::exit(1);                                                \
        }                                                                \
    } while (0)

using namespace std::chrono_literals;

static void spsc(const std::string &base) {
    std::string name = base + "-spsc";
    auto tx = shmring::spsc_sender<Tick>::create(name.c_str(), 4, TICK);
    {
        auto rx = shmring::spsc_receiver<Tick>::open(name.c_str(), TICK);
        EXPECT(!rx.try_recv());
        EXPECT(!rx.recv_for(1ms));
        for (std::uint64_t i = 0; i < 4; i++) EXPECT(tx.try_send(tick(i)));
        EXPECT(!tx.try_send(tick(4)));        // full
        EXPECT(!tx.send_for(tick(4), 1ms));   // still full
        for (std::uint64_t i = 0; i < 4; i++) EXPECT(same(*rx.recv(), tick(i)));
        for (std::uint64_t i = 0; i < 1000; i++) {
            tx.send(tick(i));
            EXPECT(same(*rx.try_recv(), tick(i)));
        }
        // A second receiver while this one lives: the role is taken.
        try {
            shmring::spsc_receiver<Tick>::open(name.c_str(), TICK);
            EXPECT(false);
        } catch (const shmring::error &e) {
            EXPECT(e.status() == SHMRING_BUSY);
        }
    }  // the receiver's destructor closed it: the role is free again
    try {
        shmring::spsc_receiver<TickSwapped>::open(name.c_str(), SWAPPED);
        EXPECT(false);
    } catch (const shmring::error &e) {
        EXPECT(e.status() == SHMRING_INCOMPATIBLE_LAYOUT);
        EXPECT(std::strstr(e.what(), "qty: i32 @16, side: u32 @20") != nullptr);
        EXPECT(std::strstr(e.what(), "side: u32 @16, qty: i32 @20") != nullptr);
    }
    auto rx = shmring::spsc_receiver<Tick>::open(name.c_str(), TICK);
    tx.send(tick(7));
    { auto gone = std::move(tx); }           // moved-from handles close nothing twice
    EXPECT(same(*rx.recv(), tick(7)));
    EXPECT(!rx.recv());                      // the sender left: the end
    shm_unlink_name(name);
}

static void mpmc(const std::string &base) {
    std::string name = base + "-mpmc";
    auto rx = shmring::mpmc_receiver<Tick>::create(name.c_str(), 64, TICK);
    auto a = shmring::mpmc_sender<Tick>::open(name.c_str(), TICK);
    auto b = shmring::mpmc_sender<Tick>::open(name.c_str(), TICK);
    for (std::uint64_t i = 0; i < 20; i++) {
        a.send(tick(i));
        b.send(tick(100 + i));
    }
    std::uint64_t sum = 0;
    for (int i = 0; i < 40; i++) sum += rx.recv()->ts_ns;
    EXPECT(sum == 190 + 2190);
    EXPECT(!rx.try_recv());
    shm_unlink_name(name);
}

static void broadcast(const std::string &base) {
    std::string name = base + "-bc";
    auto tx = shmring::broadcast_sender<Tick>::create(name.c_str(), 8, TICK,
                                                      shmring::policy::overwrite);
    auto rx = shmring::broadcast_receiver<Tick>::open(name.c_str(), TICK);
    for (std::uint64_t i = 0; i < 20; i++) EXPECT(tx.try_send(tick(i)));  // never waits
    try {
        rx.try_recv();
        EXPECT(false);
    } catch (const shmring::lagged &lag) {
        EXPECT(lag.missed() == 13);
        EXPECT(lag.status() == SHMRING_LAGGED);
    }
    for (std::uint64_t i = 13; i < 20; i++) EXPECT(same(*rx.try_recv(), tick(i)));
    EXPECT(!rx.try_recv());
    int fd = rx.readiness_fd();
    EXPECT(fd >= 0);
    EXPECT(rx.register_readiness());         // nothing there: poll first
    rx.clear_readiness();
    for (std::uint64_t i = 20; i < 40; i++) tx.send(tick(i));
    try {
        rx.recv();
        EXPECT(false);
    } catch (const shmring::lagged &lag) {
        EXPECT(lag.missed() == 13);          // this lag's own count, not the total
    }
    shm_unlink_name(name);
}

static int bc_recv(const char *ring, std::uint64_t n) {
    auto rx = shmring::broadcast_receiver<Tick>::open(ring, TICK);
    for (std::uint64_t i = 0; i < n; i++) {
        auto t = rx.recv_for(30s);
        EXPECT(t && same(*t, tick(i)));
    }
    EXPECT(!rx.recv());
    std::printf("c++ broadcast %llu\n", static_cast<unsigned long long>(n));
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 2 && std::strcmp(argv[1], "self") == 0) {
        spsc(argv[2]);
        mpmc(argv[2]);
        broadcast(argv[2]);
        std::printf("c++ ok\n");
        return 0;
    }
    if (argc > 3 && std::strcmp(argv[1], "bc-recv") == 0)
        return bc_recv(argv[2], std::strtoull(argv[3], nullptr, 10));
    std::fprintf(stderr, "usage: cxx self BASE | cxx bc-recv RING N\n");
    return 2;
}
