//! The RPC conversation against a fake CRIU on the other end of a
//! socketpair (the real one needs a kernel it works on: see tests/vm_criu.rs).

use super::rpc::{CriuNotify, CriuReq, CriuReqType, CriuResp};
use super::*;
use std::os::fd::AsFd;

fn pair() -> (OwnedFd, OwnedFd) {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap()
}

fn recv_req(sock: &OwnedFd) -> CriuReq {
    let mut buf = vec![0u8; 4096];
    let (n, _) = crate::sys::recv_with_fd(sock.as_fd(), &mut buf).unwrap();
    CriuReq::decode(&buf[..n]).unwrap()
}

fn send_resp(sock: &OwnedFd, resp: &CriuResp, fd: Option<std::os::fd::BorrowedFd>) {
    let data = resp.encode_to_vec();
    match fd {
        Some(fd) => {
            use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
            let fds = [std::os::fd::AsRawFd::as_raw_fd(&fd)];
            let iov = [std::io::IoSlice::new(&data)];
            sendmsg::<()>(sock.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None).unwrap();
        }
        None => {
            nix::sys::socket::send(sock.as_raw_fd(), &data, nix::sys::socket::MsgFlags::empty()).unwrap();
        }
    }
}

use std::os::fd::AsRawFd;

fn notify(script: &str, pid: i32) -> CriuResp {
    CriuResp {
        r#type: CriuReqType::Notify as i32,
        success: true,
        notify: Some(CriuNotify { script: Some(script.into()), pid: Some(pid) }),
        ..Default::default()
    }
}

#[derive(Default)]
struct Recorder {
    seen: Vec<(String, i32, bool)>,
    refuse: Option<&'static str>,
}

impl Handler for Recorder {
    fn notify(&mut self, n: Notification) -> std::result::Result<(), String> {
        self.seen.push((n.script.clone(), n.pid, n.fd.is_some()));
        match self.refuse {
            Some(s) if s == n.script => Err(format!("{s} refused")),
            _ => Ok(()),
        }
    }
}

#[test]
fn notifications_are_answered_in_order_and_the_final_answer_returned() {
    let (ours, theirs) = pair();
    let criu = std::thread::spawn(move || {
        let req = recv_req(&theirs);
        assert_eq!(req.r#type, CriuReqType::Restore as i32);
        assert_eq!(req.opts.as_ref().unwrap().root.as_deref(), Some("/r"));
        send_resp(&theirs, &notify("setup-namespaces", 41), None);
        let ack = recv_req(&theirs);
        assert_eq!((ack.r#type, ack.notify_success), (CriuReqType::Notify as i32, Some(true)));
        let devnull = std::fs::File::open("/dev/null").unwrap();
        send_resp(&theirs, &notify("orphan-pts-master", 0), Some(devnull.as_fd()));
        recv_req(&theirs);
        send_resp(&theirs, &notify("post-restore", 42), None);
        recv_req(&theirs);
        let done = CriuResp { r#type: CriuReqType::Restore as i32, success: true, ..Default::default() };
        send_resp(&theirs, &done, None);
    });
    let opts = rpc::CriuOpts { root: Some("/r".into()), ..Default::default() };
    let req = CriuReq { r#type: CriuReqType::Restore as i32, opts: Some(opts), ..Default::default() };
    let mut h = Recorder::default();
    let resp = converse(ours.as_fd(), &req, &mut h).unwrap();
    criu.join().unwrap();
    assert_eq!(resp.r#type, CriuReqType::Restore as i32);
    let want = [("setup-namespaces", 41, false), ("orphan-pts-master", 0, true), ("post-restore", 42, false)];
    assert_eq!(h.seen, want.map(|(s, p, f)| (s.to_owned(), p, f)));
}

#[test]
fn a_failure_names_the_request_errno_and_message() {
    let (ours, theirs) = pair();
    let criu = std::thread::spawn(move || {
        recv_req(&theirs);
        let fail = CriuResp {
            r#type: CriuReqType::Dump as i32,
            success: false,
            cr_errno: Some(16),
            cr_errmsg: Some("Device or resource busy".into()),
            ..Default::default()
        };
        send_resp(&theirs, &fail, None);
    });
    let req = CriuReq { r#type: CriuReqType::Dump as i32, ..Default::default() };
    let err = converse(ours.as_fd(), &req, &mut NoNotify).unwrap_err();
    criu.join().unwrap();
    assert_eq!(err.to_string(), "criu failed (DUMP, errno 16): Device or resource busy");
}

#[test]
fn a_refused_notification_stops_the_conversation_with_the_handlers_error() {
    let (ours, theirs) = pair();
    let criu = std::thread::spawn(move || {
        recv_req(&theirs);
        send_resp(&theirs, &notify("setup-namespaces", 7), None);
        // No acknowledgement comes: nook hangs up.
        let mut buf = [0u8; 64];
        let (n, _) = crate::sys::recv_with_fd(theirs.as_fd(), &mut buf).unwrap();
        n
    });
    let req = CriuReq { r#type: CriuReqType::Restore as i32, ..Default::default() };
    let mut h = Recorder { refuse: Some("setup-namespaces"), ..Default::default() };
    let err = converse(ours.as_fd(), &req, &mut h).unwrap_err();
    drop(ours);
    assert_eq!(criu.join().unwrap(), 0, "nook sent something after refusing");
    assert_eq!(err.to_string(), "setup-namespaces refused");
}

#[test]
fn criu_hanging_up_midway_is_an_error_not_a_hang() {
    let (ours, theirs) = pair();
    let criu = std::thread::spawn(move || {
        recv_req(&theirs);
        drop(theirs);
    });
    let req = CriuReq { r#type: CriuReqType::Dump as i32, ..Default::default() };
    let err = converse(ours.as_fd(), &req, &mut NoNotify).unwrap_err();
    criu.join().unwrap();
    assert!(err.to_string().contains("closed the connection"), "{err}");
}

#[test]
fn versions_read_as_runc_reads_them() {
    let v = |major, minor, sublevel, gitid: Option<&str>| rpc::CriuVersion {
        major_number: major,
        minor_number: minor,
        sublevel,
        gitid: gitid.map(Into::into),
        ..Default::default()
    };
    assert_eq!(version_number(&v(3, 17, Some(1), None)), 31701);
    assert_eq!(version_number(&v(3, 15, None, None)), 31500);
    // A git build between releases counts as the next minor release.
    assert_eq!(version_number(&v(3, 16, Some(1), Some("v3.16.1-12-gabc"))), 31700);
    assert_eq!(version_string(31701), "3.17.1");
    assert_eq!(version_string(MIN_VERSION), "3.15.0");
}

#[test]
fn an_explicit_criu_that_is_missing_is_named() {
    let err = find(Some(Path::new("/nonexistent/criu"))).err().unwrap();
    assert_eq!(err.to_string(), "--criu /nonexistent/criu: no such file");
    let err = find(Some(Path::new("no-such-criu-anywhere"))).err().unwrap();
    assert_eq!(err.to_string(), "--criu no-such-criu-anywhere: not found in PATH");
    assert_eq!(find(Some(Path::new("/bin/sh"))).unwrap().path, Path::new("/bin/sh"));
}
