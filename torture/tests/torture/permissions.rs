//! Permissions (part 4 of the suite): other users, modes, and what they may and may not do.

#[allow(unused_imports)]
use super::*;

// ------------------------------------------------------------------------------ 4. permissions

/// As another user (uid 65534): open the ring `name` of `kind` and, if that works, send one
/// message.
pub(super) fn other_user(kind: Kind, name: &str) {
    let mut buf = Vec::new();
    let r: Result<(), String> = match kind {
        Kind::Spsc => shmring::spsc::Sender::<Msg>::open(name)
            .map_err(|e| format!("{e:?}"))
            .map(|mut tx| tx.send(typed(7, 0)).unwrap()),
        Kind::Mpmc => shmring::mpmc::Sender::<Msg>::open(name)
            .map_err(|e| format!("{e:?}"))
            .map(|tx| tx.send(typed(7, 0)).unwrap()),
        Kind::Broadcast => shmring::broadcast::Sender::<Msg>::open(name)
            .map_err(|e| format!("{e:?}"))
            .map(|mut tx| tx.send(typed(7, 0)).unwrap()),
        Kind::FramedBroadcast => shmring::framed::broadcast::Sender::open(name)
            .map_err(|e| format!("{e:?}"))
            .map(|mut tx| {
                bytes(7, 0, &mut buf);
                tx.send(&buf).unwrap()
            }),
        Kind::Framed => shmring::framed::Sender::open(name)
            .map_err(|e| format!("{e:?}"))
            .map(|mut tx| {
                bytes(7, 0, &mut buf);
                tx.send(&buf).unwrap()
            }),
        Kind::Shm => shmring_ipc::Sender::connect(&format!("shm:{name}"))
            .map_err(|e| format!("{e:?}"))
            .map(|mut tx| {
                bytes(7, 0, &mut buf);
                tx.send(&buf).unwrap()
            }),
    };
    match r {
        Ok(()) => println!("RESULT sent"),
        Err(e) => println!("RESULT refused {e}"),
    }
}

pub(super) fn as_nobody(kind: Kind, name: &str) -> String {
    let mut cmd = common::child("child_entry", "other-user", name);
    cmd.env(KIND_VAR, kind.tag()).uid(65534).gid(65534);
    common::result_line(&common::run(cmd))
}

#[test]
pub(super) fn permissions() {
    use std::os::unix::fs::PermissionsExt;
    if !root() {
        eprintln!("skipped: needs root to run a peer as another user");
        return;
    }
    let mut lines = Vec::new();
    for kind in Kind::ALL {
        for mode in [None, Some(0o666)] {
            let name = unique_name(&format!("torture-perm-{}", kind.tag()));
            let _u = Unlink(name.clone());
            let m = mode.unwrap_or(0o600);
            let mut rx = match kind {
                Kind::Spsc => Rx::Spsc(
                    shmring::spsc::Receiver::options()
                        .mode(m)
                        .create(name.as_str(), 8)
                        .unwrap(),
                ),
                Kind::Mpmc => Rx::Mpmc(
                    shmring::mpmc::Receiver::options()
                        .mode(m)
                        .create(name.as_str(), 8)
                        .unwrap(),
                ),
                Kind::Broadcast => Rx::Broadcast(
                    shmring::broadcast::Receiver::options()
                        .mode(m)
                        .create(name.as_str(), 8)
                        .unwrap(),
                ),
                Kind::FramedBroadcast => Rx::FramedBroadcast(
                    shmring::framed::broadcast::Receiver::options()
                        .mode(m)
                        .create(name.as_str(), 16)
                        .unwrap(),
                ),
                Kind::Framed => Rx::Framed(
                    shmring::framed::Receiver::options()
                        .mode(m)
                        .create(name.as_str(), 4096)
                        .unwrap(),
                ),
                Kind::Shm => Rx::Shm(
                    shmring_ipc::Receiver::bind_with(
                        &format!("shm:{name}"),
                        &ipc_options().mode(m),
                    )
                    .unwrap(),
                ),
            };
            let meta = std::fs::metadata(common::shm_path(&name)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, m, "{kind:?}");
            let result = as_nobody(kind, &name);
            match mode {
                None => assert!(
                    result.starts_with("refused") && result.contains("PermissionDenied"),
                    "{kind:?}: {result}"
                ),
                Some(_) => {
                    assert_eq!(result, "sent", "{kind:?}");
                    let mut buf = Vec::new();
                    let deadline = Instant::now() + common::WATCHDOG;
                    loop {
                        match rx.recv(&mut buf) {
                            Outcome::Done(Some((7, 0))) => break,
                            Outcome::Again => assert!(Instant::now() < deadline, "nothing arrived"),
                            _ => panic!("{kind:?}: unexpected receive"),
                        }
                    }
                }
            }
            lines.push(format!("{} {:o}: other user {result}", kind.tag(), m));
        }
    }
    // The auto: rendezvous: another user who can reach the socket is refused by its
    // credentials (SO_PEERCRED), unless the receiver admits that user.
    for admit in [false, true] {
        let name = unique_name("torture-perm-auto");
        let mut options = shmring_ipc::Options::default();
        if admit {
            options.auto_peers = shmring_ipc::auto::Peers::Uid(65534);
        }
        let _rx = shmring_ipc::Receiver::bind_with(&format!("auto:{name}"), &options).unwrap();
        let socket = shmring_ipc::auto::socket_path(&name);
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
        let mut cmd = common::child("child_entry", "auto-peer", &name);
        cmd.uid(65534).gid(65534);
        let result = common::result_line(&common::run(cmd));
        if admit {
            assert_eq!(result, "connected");
        } else {
            assert!(
                result.starts_with("refused") && result.contains("65534"),
                "{result}"
            );
        }
        lines.push(format!(
            "auto: (admit uid 65534: {admit}): other user {result}"
        ));
    }
    println!("TORTURE permissions:\n{}", lines.join("\n"));
}
