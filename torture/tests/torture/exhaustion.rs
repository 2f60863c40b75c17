//! Exhaustion (part 3 of the suite): a tiny /dev/shm, no descriptors left, no message queues left.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ 3. exhaustion

/// Whether this process may make mount namespaces and switch users; the tests that need it
/// say so and pass without it.
pub(super) fn root() -> bool {
    nix::unistd::getuid().is_root()
}

/// Runs role `role` in a child that first gets a private mount namespace with a 1 MiB tmpfs
/// on /dev/shm (and with the limits `prepare` sets).
pub(super) fn isolated(
    role: &str,
    name: &str,
    tiny_shm: bool,
    prepare: fn() -> std::io::Result<()>,
) -> String {
    let mut cmd = common::child("child_entry", role, name);
    let tmpfs = std::ffi::CString::new("tmpfs").unwrap();
    let target = std::ffi::CString::new("/dev/shm").unwrap();
    let root_dir = std::ffi::CString::new("/").unwrap();
    let data = std::ffi::CString::new("size=1m,mode=1777").unwrap();
    // SAFETY: between fork and exec only async-signal-safe calls (unshare, mount, setrlimit)
    // on C strings prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if tiny_shm
                && (libc::unshare(libc::CLONE_NEWNS) != 0
                    || libc::mount(
                        std::ptr::null(),
                        root_dir.as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) != 0
                    || libc::mount(
                        tmpfs.as_ptr(),
                        target.as_ptr(),
                        tmpfs.as_ptr(),
                        0,
                        data.as_ptr().cast(),
                    ) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            prepare()
        });
    }
    let out = common::run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{role}: {:?}\n{stderr}", out.status);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// In a 1 MiB /dev/shm: rings that do not fit fail at creation with `NoSpace`; one that
/// fits keeps working after the file system is filled to the last byte (its pages were
/// allocated when it was created — no SIGBUS later).
pub(super) fn tiny_shm(name: &str) {
    let too_big = |r: Result<(), OpenError>, what: &str| match r {
        Err(e @ OpenError::NoSpace { .. }) => println!("RESULT {what}: {e}"),
        other => panic!("{what}: expected NoSpace, got {other:?}"),
    };
    too_big(
        shmring::spsc::Receiver::<Msg>::create(format!("{name}-a").as_str(), 1 << 16).map(drop),
        "spsc 2 MiB",
    );
    too_big(
        shmring::mpmc::Receiver::<Msg>::create(format!("{name}-b").as_str(), 1 << 16).map(drop),
        "mpmc 2 MiB",
    );
    too_big(
        shmring::framed::Receiver::create(format!("{name}-c").as_str(), 4 << 20).map(drop),
        "framed 4 MiB",
    );
    match shmring_ipc::Receiver::bind_with(
        &format!("shm:{name}-d"),
        &shmring_ipc::Options::default().shm_capacity(4 << 20),
    ) {
        Err(shmring_ipc::ConnectError::Open(e @ OpenError::NoSpace { .. })) => {
            println!("RESULT shm: 4 MiB: {e}")
        }
        other => panic!("shm: expected NoSpace, got {:?}", other.map(|_| ())),
    }
    // Nothing half-made is left behind.
    let left: Vec<_> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // A ring that fits, then a full file system.
    let small = format!("{name}-e");
    let mut rx = shmring::spsc::Receiver::<u64>::create(small.as_str(), 1024).unwrap();
    let mut filler = std::fs::File::create("/dev/shm/filler").unwrap();
    let chunk = vec![0u8; 4096];
    let mut filled = 0usize;
    loop {
        match std::io::Write::write(&mut filler, &chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    println!("RESULT filled the rest of /dev/shm with {filled} bytes");
    too_big(
        shmring::spsc::Receiver::<u64>::create(format!("{name}-f").as_str(), 64).map(drop),
        "spsc on a full /dev/shm",
    );
    let sender = std::thread::spawn(move || {
        let mut tx = shmring::spsc::Sender::<u64>::open(small.as_str()).unwrap();
        for i in 0..200_000u64 {
            tx.send(i).unwrap();
        }
    });
    for i in 0..200_000u64 {
        assert_eq!(rx.recv(), Ok(i));
    }
    sender.join().unwrap();
    println!("RESULT 200000 messages through the ring on the full file system");
}

#[test]
pub(super) fn exhaustion_tiny_dev_shm() {
    if !root() {
        eprintln!("skipped: needs root for a private mount namespace");
        return;
    }
    let out = isolated("tiny-shm", &unique_name("torture-tiny"), true, || Ok(()));
    println!("TORTURE exhaustion tiny /dev/shm:\n{out}");
    assert_eq!(out.lines().count(), 7, "{out}");
}

/// With 20 descriptors allowed: every operation that needs one more fails with a clear
/// error (no panic), and works again once descriptors are freed.
pub(super) fn few_fds(name: &str) {
    let mut keep = Vec::new();
    let mut first = None;
    for i in 0..64 {
        match std::fs::File::open("/dev/null") {
            Ok(f) => keep.push(f),
            Err(e) => {
                first = Some((i, e));
                break;
            }
        }
    }
    let (held, e) = first.expect("the descriptor limit did not apply");
    println!("RESULT {held} descriptors, then: {e}");
    // Rings: a named segment needs a descriptor while it is opened.
    match shmring::spsc::Receiver::<u64>::create(format!("{name}-a").as_str(), 64) {
        Err(e) => println!("RESULT spsc create: {e}"),
        Ok(_) => panic!("creating a ring without a free descriptor worked"),
    }
    match shmring_ipc::Receiver::bind(&format!("uds:/tmp/{name}.sock")) {
        Err(e) => println!("RESULT uds bind: {e}"),
        Ok(_) => panic!("binding a socket without a free descriptor worked"),
    }
    // Free a few: a ring and its readiness eventfd (a descriptor and a helper thread).
    keep.truncate(keep.len().saturating_sub(4));
    let mut rx = shmring::spsc::Receiver::<u64>::create(format!("{name}-b").as_str(), 64).unwrap();
    let fd = rx.readiness_fd().map(|_| ());
    println!("RESULT after freeing 4: ring created, readiness fd {fd:?}");
    keep.clear();
    let _ = shmring::Segment::unlink_name(&format!("{name}-b"));
}

#[test]
pub(super) fn exhaustion_descriptors() {
    let out = isolated("few-fds", &unique_name("torture-fds"), false, || {
        let lim = libc::rlimit {
            rlim_cur: 20,
            rlim_max: 20,
        };
        // SAFETY: plain system call with a valid struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
    println!("TORTURE exhaustion descriptors:\n{out}");
    assert!(
        out.contains("spsc create:") && out.contains("uds bind:"),
        "{out}"
    );
    assert!(out.contains("ring created"), "{out}");
}

/// With `RLIMIT_MSGQUEUE` at 0: binding an `mq:` endpoint is a `Limit` error that names
/// the limit, and nothing is left behind.
pub(super) fn no_queues(name: &str) {
    match shmring_ipc::Receiver::bind(&format!("mq:/{name}")) {
        Err(e @ shmring_ipc::ConnectError::Limit { .. }) => println!("RESULT mq bind: {e}"),
        other => panic!("expected a Limit error, got {:?}", other.map(|_| ())),
    }
    assert!(!std::path::Path::new(&format!("/dev/mqueue/{name}")).exists());
}

#[test]
pub(super) fn exhaustion_message_queues() {
    let out = isolated("no-queues", &unique_name("torture-mq"), false, || {
        let lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system call with a valid struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_MSGQUEUE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
    println!("TORTURE exhaustion message queues:\n{out}");
    assert!(out.contains("RLIMIT_MSGQUEUE"), "{out}");
}
