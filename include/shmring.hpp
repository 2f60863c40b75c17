// shmring.hpp — a thin C++17 layer over the C ABI of shmring.h: handles that close themselves
// (RAII, move-only), typed rings as templates over the payload struct, failures as exceptions
// carrying the status and the library's one-line message.
//
//   #include "shmring.hpp"
//   static const shmring_field TICK_FIELDS[] = { SHMRING_FIELD(Tick, ts_ns, SHMRING_U64), ... };
//   static const shmring_type TICK = SHMRING_TYPE(Tick, "Tick", TICK_FIELDS);
//
//   auto rx = shmring::spsc_receiver<Tick>::open("ticks", TICK);   // layout checked here
//   while (auto t = rx.recv()) { ... *t ... }                      // empty once the sender left
//
// What would wait or find nothing is a return value (`try_send` → false, `try_recv` →
// std::nullopt, `recv` → std::nullopt once the other side is gone and everything was
// received, `*_for` → false / std::nullopt on timeout); every other status throws
// shmring::error (a broadcast receiver overtaken: shmring::lagged, with the count; receive
// again to go on). Not part of the C ABI: header-only, compiled into the caller.
#ifndef SHMRING_HPP
#define SHMRING_HPP

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "shmring.h"

namespace shmring {

// A failed call: its status and the library's message.
class error : public std::runtime_error {
public:
    error(shmring_status status, const char *message)
        : std::runtime_error(message), status_(status) {}
    shmring_status status() const noexcept { return status_; }

private:
    shmring_status status_;
};

// A broadcast receiver was overtaken by an overwriting writer; `missed()` messages are lost and
// the next receive goes on from the oldest the ring holds.
class lagged : public error {
public:
    lagged(const char *message, std::uint64_t missed)
        : error(SHMRING_LAGGED, message), missed_(missed) {}
    std::uint64_t missed() const noexcept { return missed_; }

private:
    std::uint64_t missed_;
};

namespace detail {

inline void check(shmring_status s) {
    if (s != SHMRING_OK) throw error(s, shmring_last_error_message());
}

// `s` as "it happened" (true), "it would have waited or found nothing" (false: one of the
// statuses `quiet`), or an exception.
inline bool done(shmring_status s, shmring_status quiet_a, shmring_status quiet_b = SHMRING_OK) {
    if (s == SHMRING_OK) return true;
    if (s == quiet_a || (quiet_b != SHMRING_OK && s == quiet_b)) return false;
    check(s);
    return false;
}

inline std::uint64_t nanos(std::chrono::nanoseconds d) {
    return d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count());
}

template <class H, void (*Close)(H *)>
struct closer {
    void operator()(H *h) const noexcept { Close(h); }
};

template <class H, void (*Close)(H *)>
using owned = std::unique_ptr<H, closer<H, Close>>;

// The C calls of one kind of typed ring.
struct spsc {
    using tx_t = shmring_spsc_sender;
    using rx_t = shmring_spsc_receiver;
    static constexpr auto tx_close = shmring_spsc_sender_close;
    static constexpr auto rx_close = shmring_spsc_receiver_close;
    static constexpr auto send = shmring_spsc_send;
    static constexpr auto try_send = shmring_spsc_try_send;
    static constexpr auto send_timeout = shmring_spsc_send_timeout;
    static constexpr auto recv = shmring_spsc_recv;
    static constexpr auto try_recv = shmring_spsc_try_recv;
    static constexpr auto recv_timeout = shmring_spsc_recv_timeout;
    static constexpr auto readiness_fd = shmring_spsc_receiver_readiness_fd;
    static constexpr auto register_readiness = shmring_spsc_receiver_register_readiness;
    static constexpr auto clear_readiness = shmring_spsc_receiver_clear_readiness;
};

struct mpmc {
    using tx_t = shmring_mpmc_sender;
    using rx_t = shmring_mpmc_receiver;
    static constexpr auto tx_close = shmring_mpmc_sender_close;
    static constexpr auto rx_close = shmring_mpmc_receiver_close;
    static constexpr auto send = shmring_mpmc_send;
    static constexpr auto try_send = shmring_mpmc_try_send;
    static constexpr auto send_timeout = shmring_mpmc_send_timeout;
    static constexpr auto recv = shmring_mpmc_recv;
    static constexpr auto try_recv = shmring_mpmc_try_recv;
    static constexpr auto recv_timeout = shmring_mpmc_recv_timeout;
    static constexpr auto readiness_fd = shmring_mpmc_receiver_readiness_fd;
    static constexpr auto register_readiness = shmring_mpmc_receiver_register_readiness;
    static constexpr auto clear_readiness = shmring_mpmc_receiver_clear_readiness;
};

struct broadcast {
    using tx_t = shmring_broadcast_sender;
    using rx_t = shmring_broadcast_receiver;
    static constexpr auto tx_close = shmring_broadcast_sender_close;
    static constexpr auto rx_close = shmring_broadcast_receiver_close;
    static constexpr auto send = shmring_broadcast_send;
    static constexpr auto try_send = shmring_broadcast_try_send;
    static constexpr auto send_timeout = shmring_broadcast_send_timeout;
    static constexpr auto recv = shmring_broadcast_recv;
    static constexpr auto try_recv = shmring_broadcast_try_recv;
    static constexpr auto recv_timeout = shmring_broadcast_recv_timeout;
    static constexpr auto readiness_fd = shmring_broadcast_receiver_readiness_fd;
    static constexpr auto register_readiness = shmring_broadcast_receiver_register_readiness;
    static constexpr auto clear_readiness = shmring_broadcast_receiver_clear_readiness;
};

// A receive's status, a broadcast lag thrown as `lagged` with the receiver's new count.
template <class K>
inline void check_lag(shmring_status s, typename K::rx_t *rx, std::uint64_t &missed) {
    if constexpr (std::is_same_v<K, broadcast>) {
        if (s == SHMRING_LAGGED) {
            std::uint64_t total = 0;
            check(shmring_broadcast_receiver_missed(rx, &total));
            std::uint64_t now = total - missed;
            missed = total;
            throw lagged(shmring_last_error_message(), now);
        }
    }
}

// A sending end of a typed ring of `T`, over the C calls of kind `K`.
template <class T, class K>
class sender {
    static_assert(std::is_trivially_copyable_v<T>, "a ring's payload is copied byte for byte");

public:
    explicit sender(typename K::tx_t *raw) : h_(raw) {}

    // Sends `value`, waiting while the ring is full; throws when the other side is gone.
    void send(const T &value) { check(K::send(h_.get(), bytes(value))); }

    // Sends without waiting: false when the ring is full.
    bool try_send(const T &value) { return done(K::try_send(h_.get(), bytes(value)), SHMRING_FULL); }

    // Sends, waiting at most `timeout`: false when it ran out.
    bool send_for(const T &value, std::chrono::nanoseconds timeout) {
        return done(K::send_timeout(h_.get(), bytes(value), nanos(timeout)), SHMRING_TIMEOUT);
    }

    typename K::tx_t *raw() const noexcept { return h_.get(); }

private:
    static const std::uint8_t *bytes(const T &v) { return reinterpret_cast<const std::uint8_t *>(&v); }
    owned<typename K::tx_t, K::tx_close> h_;
};

// A receiving end of a typed ring of `T`, over the C calls of kind `K`.
template <class T, class K>
class receiver {
    static_assert(std::is_trivially_copyable_v<T>, "a ring's payload is copied byte for byte");

public:
    explicit receiver(typename K::rx_t *raw) : h_(raw) {}

    // The next message, waiting for one; std::nullopt once the other side is gone and
    // everything was received.
    std::optional<T> recv() { return take(K::recv(h_.get(), room()), SHMRING_DISCONNECTED); }

    // The next message if one is there (std::nullopt when empty; throws once disconnected).
    std::optional<T> try_recv() { return take(K::try_recv(h_.get(), room()), SHMRING_EMPTY); }

    // The next message, waiting at most `timeout` (std::nullopt when it ran out, or once the
    // other side is gone and everything was received).
    std::optional<T> recv_for(std::chrono::nanoseconds timeout) {
        return take(K::recv_timeout(h_.get(), room(), nanos(timeout)), SHMRING_TIMEOUT,
                    SHMRING_DISCONNECTED);
    }

    // The readiness descriptor for poll/epoll: `register_readiness()` (true: poll first),
    // wait until readable, `clear_readiness()`, then `try_recv()`.
    int readiness_fd() {
        int fd = -1;
        check(K::readiness_fd(h_.get(), &fd));
        return fd;
    }

    bool register_readiness() {
        int wait = 0;
        check(K::register_readiness(h_.get(), &wait));
        return wait != 0;
    }

    void clear_readiness() { check(K::clear_readiness(h_.get())); }

    typename K::rx_t *raw() const noexcept { return h_.get(); }

private:
    std::uint8_t *room() { return reinterpret_cast<std::uint8_t *>(&slot_); }

    std::optional<T> take(shmring_status s, shmring_status quiet_a,
                          shmring_status quiet_b = SHMRING_OK) {
        check_lag<K>(s, h_.get(), missed_);
        if (done(s, quiet_a, quiet_b)) return slot_;
        return std::nullopt;
    }

    owned<typename K::rx_t, K::rx_close> h_;
    T slot_{};
    std::uint64_t missed_ = 0;
};

// The handle of type `Handle` a create/open call of the C ABI makes: `call(args..., &raw)`.
template <class Handle, class Raw, class Call, class... Args>
Handle make(Call call, Args... args) {
    Raw *raw = nullptr;
    check(call(args..., &raw));
    return Handle(raw);
}

}  // namespace detail

// Typed spsc rings: one sender, one receiver.
template <class T>
struct spsc_sender : detail::sender<T, detail::spsc> {
    using detail::sender<T, detail::spsc>::sender;
    static spsc_sender create(const char *name, std::uint64_t capacity, const shmring_type &type) {
        return detail::make<spsc_sender, shmring_spsc_sender>(
            shmring_spsc_sender_create, name, capacity, &type);
    }
    static spsc_sender open(const char *name, const shmring_type &type) {
        return detail::make<spsc_sender, shmring_spsc_sender>(
            shmring_spsc_sender_open, name, &type);
    }
};

template <class T>
struct spsc_receiver : detail::receiver<T, detail::spsc> {
    using detail::receiver<T, detail::spsc>::receiver;
    static spsc_receiver create(const char *name, std::uint64_t capacity, const shmring_type &type) {
        return detail::make<spsc_receiver, shmring_spsc_receiver>(
            shmring_spsc_receiver_create, name, capacity, &type);
    }
    static spsc_receiver open(const char *name, const shmring_type &type) {
        return detail::make<spsc_receiver, shmring_spsc_receiver>(
            shmring_spsc_receiver_open, name, &type);
    }
};

// Typed mpmc rings: any number of senders and receivers, each message taken once.
template <class T>
struct mpmc_sender : detail::sender<T, detail::mpmc> {
    using detail::sender<T, detail::mpmc>::sender;
    static mpmc_sender create(const char *name, std::uint64_t capacity, const shmring_type &type) {
        return detail::make<mpmc_sender, shmring_mpmc_sender>(
            shmring_mpmc_sender_create, name, capacity, &type);
    }
    static mpmc_sender open(const char *name, const shmring_type &type) {
        return detail::make<mpmc_sender, shmring_mpmc_sender>(
            shmring_mpmc_sender_open, name, &type);
    }
};

template <class T>
struct mpmc_receiver : detail::receiver<T, detail::mpmc> {
    using detail::receiver<T, detail::mpmc>::receiver;
    static mpmc_receiver create(const char *name, std::uint64_t capacity, const shmring_type &type) {
        return detail::make<mpmc_receiver, shmring_mpmc_receiver>(
            shmring_mpmc_receiver_create, name, capacity, &type);
    }
    static mpmc_receiver open(const char *name, const shmring_type &type) {
        return detail::make<mpmc_receiver, shmring_mpmc_receiver>(
            shmring_mpmc_receiver_open, name, &type);
    }
};

// Typed broadcast rings: one writer, every receiver sees every message.
enum class policy : std::uint32_t {
    lossless = SHMRING_POLICY_LOSSLESS,
    overwrite = SHMRING_POLICY_OVERWRITE,
};

template <class T>
struct broadcast_sender : detail::sender<T, detail::broadcast> {
    using detail::sender<T, detail::broadcast>::sender;
    static broadcast_sender create(const char *name, std::uint64_t capacity, const shmring_type &type,
                                   policy p = policy::lossless) {
        return detail::make<broadcast_sender, shmring_broadcast_sender>(
            shmring_broadcast_sender_create, name, capacity, &type, static_cast<std::uint32_t>(p));
    }
    static broadcast_sender open(const char *name, const shmring_type &type) {
        return detail::make<broadcast_sender, shmring_broadcast_sender>(
            shmring_broadcast_sender_open, name, &type);
    }
};

template <class T>
struct broadcast_receiver : detail::receiver<T, detail::broadcast> {
    using detail::receiver<T, detail::broadcast>::receiver;
    static broadcast_receiver open(const char *name, const shmring_type &type, bool from_oldest = false) {
        return detail::make<broadcast_receiver, shmring_broadcast_receiver>(
            shmring_broadcast_receiver_open, name, &type, from_oldest ? 1 : 0);
    }
};

}  // namespace shmring

#endif  // SHMRING_HPP
