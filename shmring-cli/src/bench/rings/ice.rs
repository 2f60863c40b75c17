//! iceoryx2 publish-subscribe in the same table (feature `peers`): a round trip through two
//! services with iceoryx2's own benchmark settings (`benchmarks/publish-subscribe`: history
//! 0, a subscriber buffer of 1, safe overflow, one publisher and one subscriber, busy-polling
//! `receive`), and one publisher's 8 B throughput to one subscriber and per subscriber to two
//! — there with a subscriber buffer of 256 and safe overflow, so the publisher never waits
//! and a subscriber may miss messages: the row counts what the subscriber received, each
//! checked to come after the one before. (iceoryx2's lossless setting, safe overflow off
//! with `RetryUntilDelivered` back-pressure, lost messages after the first 256 here with
//! 0.10.0 — in one process too — so it cannot be verified message by message; see
//! docs/benchmarks.md.) `send_copy` (one copy in, as shmring's `send`) and `receive` (a loan
//! out; the value read through it).
//!
//! The blocking rows pair each publish-subscribe service with an **event service**, as
//! iceoryx2's examples of event-based communication do: the sender notifies after every
//! send, and a receiver that finds nothing waits on its listener (`blocking_wait`) — against
//! shmring's blocking spsc, whose waiter spins, yields and then sleeps on a futex; and once
//! more with the echo replying only after 100 µs, so every message finds its receiver asleep
//! (against shmring's "reply after 100 µs" row).

#[allow(unused_imports)]
use super::*;

use ::iceoryx2::port::listener::Listener;
use ::iceoryx2::port::notifier::Notifier;
use ::iceoryx2::port::publisher::Publisher;
use ::iceoryx2::port::subscriber::Subscriber;
use ::iceoryx2::prelude::{
    BackpressureStrategy, LogLevel, NodeBuilder, PortFactory as _, ServiceName, ipc, set_log_level,
};
use ::iceoryx2::service::port_factory::publish_subscribe::PortFactory;

type Node = ::iceoryx2::node::Node<ipc::Service>;
type Service = PortFactory<ipc::Service, u64, ()>;

/// The throughput rows' subscriber buffer (messages a subscriber may have waiting; the
/// oldest is overwritten beyond it).
const TPUT_BUFFER: usize = 256;

fn node() -> Node {
    set_log_level(LogLevel::Error);
    NodeBuilder::new()
        .create::<ipc::Service>()
        .expect("iceoryx2 node")
}

fn service_name(name: &str) -> ServiceName {
    name.try_into().expect("iceoryx2 service name")
}

/// A round-trip service: iceoryx2's own benchmark settings.
fn rtt_service(node: &Node, name: &str) -> Service {
    node.service_builder(&service_name(name))
        .publish_subscribe::<u64>()
        .max_publishers(1)
        .max_subscribers(1)
        .history_size(0)
        .subscriber_max_buffer_size(1)
        .enable_safe_overflow(true)
        .create()
        .expect("iceoryx2 service")
}

fn open(node: &Node, name: &str) -> Service {
    node.service_builder(&service_name(name))
        .publish_subscribe::<u64>()
        .open()
        .expect("open the iceoryx2 service")
}

fn publisher(service: &Service) -> Publisher<ipc::Service, u64, ()> {
    service
        .publisher_builder()
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .expect("iceoryx2 publisher")
}

fn subscriber(service: &Service) -> Subscriber<ipc::Service, u64, ()> {
    service
        .subscriber_builder()
        .create()
        .expect("iceoryx2 subscriber")
}

/// The next value, busy-polling.
fn receive(sub: &Subscriber<ipc::Service, u64, ()>) -> u64 {
    loop {
        if let Some(sample) = sub.receive().expect("iceoryx2 receive") {
            return *sample;
        }
        std::hint::spin_loop();
    }
}

/// The event service beside publish-subscribe service `name` (made by whoever comes first).
fn event_service(
    node: &Node,
    name: &str,
) -> ::iceoryx2::service::port_factory::event::PortFactory<ipc::Service> {
    node.service_builder(&service_name(&format!("{name}/event")))
        .event()
        .open_or_create()
        .expect("iceoryx2 event service")
}

/// One direction of a round trip: a publisher (with a notifier when blocking) and the other
/// direction's subscriber (with a listener when blocking).
struct Direction {
    tx: Publisher<ipc::Service, u64, ()>,
    notifier: Option<Notifier<ipc::Service>>,
    rx: Subscriber<ipc::Service, u64, ()>,
    listener: Option<Listener<ipc::Service>>,
}

impl Direction {
    /// Publishes `v`, and notifies when blocking.
    fn send(&self, v: u64) {
        self.tx.send_copy(v).expect("iceoryx2 send");
        if let Some(n) = &self.notifier {
            n.notify().expect("iceoryx2 notify");
        }
    }

    /// The next value: busy-polling, or (blocking) waiting on the listener whenever there
    /// is none.
    fn recv(&self) -> u64 {
        let Some(listener) = &self.listener else {
            return receive(&self.rx);
        };
        loop {
            if let Some(sample) = self.rx.receive().expect("iceoryx2 receive") {
                return *sample;
            }
            listener.blocking_wait(|_| {}).expect("iceoryx2 wait");
        }
    }
}

/// Round trips through two iceoryx2 services to an echoing peer, 8 B; `mode` spin: busy-poll
/// (iceoryx2's own benchmark), blocking: with the event services, wake: blocking with the
/// echo replying after [`REPLY_DELAY`].
pub(super) fn iceoryx2_rtt(cfg: Config, mode: Mode) -> Row {
    let name = unique("ice-rtt");
    let node = node();
    let (ping, pong) = (format!("{name}/ping"), format!("{name}/pong"));
    let ping_service = rtt_service(&node, &ping);
    let pong_service = rtt_service(&node, &pong);
    let blocking = mode != Mode::Spin;
    let ping_events = blocking.then(|| event_service(&node, &ping));
    let pong_events = blocking.then(|| event_service(&node, &pong));
    let me = Direction {
        tx: publisher(&ping_service),
        notifier: ping_events
            .as_ref()
            .map(|e| e.notifier_builder().create().expect("iceoryx2 notifier")),
        rx: subscriber(&pong_service),
        listener: pong_events
            .as_ref()
            .map(|e| e.listener_builder().create().expect("iceoryx2 listener")),
    };
    let child = spawn_peer(&["iceoryx2-rtt", "8", &name, mode.arg()]);
    // The echo is there once its subscriber (and listener) are.
    while ping_service.dynamic_config().number_of_subscribers() == 0
        || ping_events
            .as_ref()
            .is_some_and(|e| e.dynamic_config().number_of_listeners() == 0)
    {
        std::thread::yield_now();
    }
    let hist = round_trips(10_000.min(cfg.rtt_iters), cfg.rtt_iters, |i| {
        me.send(i);
        assert_eq!(me.recv(), i);
    });
    me.send(STOP);
    finish(child);
    let label = match mode {
        Mode::Spin => "iceoryx2 publish-subscribe (busy-poll)",
        Mode::Blocking => "iceoryx2 publish-subscribe (blocking: event service)",
        Mode::Wake => "iceoryx2 publish-subscribe (event service, reply after 100 µs)",
    };
    rtt_row(label, "8 B", &hist)
}

pub(super) fn iceoryx2_echo(name: &str, mode: Mode) {
    let node = node();
    let (ping, pong) = (format!("{name}/ping"), format!("{name}/pong"));
    let blocking = mode != Mode::Spin;
    let ping_events = blocking.then(|| event_service(&node, &ping));
    let pong_events = blocking.then(|| event_service(&node, &pong));
    let pong_service = open(&node, &pong);
    let me = Direction {
        tx: publisher(&pong_service),
        notifier: pong_events
            .as_ref()
            .map(|e| e.notifier_builder().create().expect("iceoryx2 notifier")),
        rx: subscriber(&open(&node, &ping)),
        listener: ping_events
            .as_ref()
            .map(|e| e.listener_builder().create().expect("iceoryx2 listener")),
    };
    while pong_service.dynamic_config().number_of_subscribers() == 0
        || pong_events
            .as_ref()
            .is_some_and(|e| e.dynamic_config().number_of_listeners() == 0)
    {
        std::thread::yield_now();
    }
    let delay = mode.reply_delay();
    echo_until_stop(
        || me.recv(),
        |v| {
            if let Some(d) = delay {
                let start = Instant::now();
                while start.elapsed() < d {
                    std::hint::spin_loop();
                }
            }
            me.send(v);
        },
    );
}

/// One publisher process and `subscribers` subscribers (this process, and a draining peer
/// for the second), 8 B: this subscriber's throughput.
pub(super) fn iceoryx2_tput(cfg: Config, subscribers: u32) -> Row {
    let name = unique("ice-tput");
    let node = node();
    let service = node
        .service_builder(&service_name(&name))
        .publish_subscribe::<u64>()
        .max_publishers(1)
        .max_subscribers(subscribers as usize)
        .history_size(0)
        .subscriber_max_buffer_size(TPUT_BUFFER)
        .enable_safe_overflow(true)
        .create()
        .expect("iceoryx2 service");
    let rx = subscriber(&service);
    let sink = (subscribers > 1).then(|| spawn_peer(&["iceoryx2-sink", "8", &name]));
    let writer = spawn_peer(&["iceoryx2-tput", "8", &name, &subscribers.to_string()]);
    let (received, took) = count_increasing(cfg, || receive(&rx));
    drop(rx);
    if let Some(sink) = sink {
        finish(sink);
    }
    finish(writer);
    let label = if subscribers == 1 {
        "iceoryx2 publish-subscribe (busy-poll, lossy, 1 subscriber)".to_owned()
    } else {
        format!(
            "iceoryx2 publish-subscribe (busy-poll, lossy, {subscribers} subscribers, per subscriber)"
        )
    };
    tput_row(&label, "8 B", 8, received, took)
}

/// Receives for the throughput window, counted from the first message, each one checked to
/// come after the one before (a lossy subscriber may skip some): how many, in how long.
fn count_increasing(cfg: Config, mut recv: impl FnMut() -> u64) -> (u64, Duration) {
    let mut last = recv();
    let start = Instant::now();
    let mut received = 0u64;
    loop {
        let v = recv();
        assert!(v > last, "iceoryx2 delivered {v} after {last}");
        last = v;
        received += 1;
        if received % 1024 == 0 && start.elapsed() >= cfg.tput {
            return (received, start.elapsed());
        }
    }
}

/// The publisher of the throughput rows: sends `0, 1, …` once `subscribers` are there, until
/// fewer are left (the measuring one left).
pub(super) fn iceoryx2_produce(name: &str, subscribers: usize) {
    let node = node();
    let service = open(&node, name);
    let tx = publisher(&service);
    let count = || service.dynamic_config().number_of_subscribers();
    while count() < subscribers {
        std::thread::yield_now();
    }
    for seq in 0u64.. {
        tx.send_copy(seq).expect("iceoryx2 send");
        if seq % CHECK_EVERY == CHECK_EVERY - 1 && count() < subscribers {
            return;
        }
    }
}

/// The second subscriber of the two-subscriber row: drains until the publisher is gone.
pub(super) fn iceoryx2_sink(name: &str) {
    let node = node();
    let service = open(&node, name);
    let rx = subscriber(&service);
    // The publisher may not be there yet: the end is its leaving, once it came.
    let mut came = false;
    loop {
        match rx.receive().expect("iceoryx2 receive") {
            Some(_) => came = true,
            None => {
                let publishers = service.dynamic_config().number_of_publishers();
                if came && publishers == 0 {
                    return;
                }
                came |= publishers > 0;
                std::hint::spin_loop();
            }
        }
    }
}

/// How often the publisher with nobody left to read checks that.
const CHECK_EVERY: u64 = 1 << 16;
