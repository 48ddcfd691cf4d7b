//! subscribe.rs: a waitbus subscriber in Rust (standard library only: no serde, no
//! crates), speaking the v1 wire protocol directly (docs/wire.md). Prints each event as
//! one JSON line on stdout.
//!
//!     rustc -O subscribe.rs -o waitbus-subscribe
//!     ./waitbus-subscribe                         # every event, live
//!     ./waitbus-subscribe --source pytest         # only pytest events (filtered by the hub)
//!     ./waitbus-subscribe --since 01JD5Z8Q4W6E7R8T9Y0A1B2C3D --count 3
//!
//! Without a JSON library it relies on one rule of the wire: in every hub frame `kind`
//! is the first key, so a frame body starts with `{"kind":"<kind>"`. Event frames are
//! printed as their own bytes. Exit: 0 after --count events, 1 when the hub closes the
//! connection, rejects us or goes silent, 2 on bad arguments or no hub.

use std::env;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::exit;
use std::time::Duration;

const MAX_FRAME: usize = 65536;

fn fail(code: i32, message: &str) -> ! {
    eprintln!("subscribe.rs: {message}");
    exit(code)
}

/// The socket's directory, resolved as the hub does (docs/wire.md section 1).
fn runtime_dir() -> PathBuf {
    if let Some(dir) = env::var_os("WAITBUS_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if cfg!(target_os = "linux") {
        if let Some(xdg) = env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            if PathBuf::from(&xdg).is_dir() {
                return PathBuf::from(xdg).join("waitbus");
            }
        }
    }
    // <temp dir>/waitbus-<uid>; the uid without libc: the owner of /proc/self.
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or_else(|_| fail(2, "cannot tell the uid: set WAITBUS_RUNTIME_DIR"));
    env::temp_dir().join(format!("waitbus-{uid}"))
}

/// A JSON string literal for `s`.
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number value `"key":123` (or `123.5`) from a flat control frame, if present.
fn number_after(body: &str, key: &str) -> Option<f64> {
    let start = body.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &body[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn read_frame(sock: &mut UnixStream) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    sock.read_exact(&mut header)?;
    let n = u32::from_be_bytes(header) as usize;
    if n == 0 || n > MAX_FRAME {
        fail(1, &format!("bad frame length {n}"));
    }
    let mut body = vec![0u8; n];
    sock.read_exact(&mut body)?;
    Ok(body)
}

fn main() {
    let mut specs: Vec<String> = Vec::new();
    let mut since: Option<String> = None;
    let mut count: u64 = 0;
    let mut args = env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| fail(2, &format!("{flag} needs a value")));
        match flag.as_str() {
            "--source" => specs.push(format!("source={}", json_string(&value))),
            "--match" => specs.push(value),
            "--since" => since = Some(value),
            "--count" => {
                count = value
                    .parse()
                    .unwrap_or_else(|_| fail(2, "--count needs a number"))
            }
            _ => fail(2, &format!("unknown argument {flag}")),
        }
    }

    let mut subscribe = String::from("{\"proto\":1,\"filters\":[\"*\"]");
    if !specs.is_empty() {
        let quoted: Vec<String> = specs.iter().map(|s| json_string(s)).collect();
        subscribe.push_str(&format!(",\"where\":[[{}]]", quoted.join(","))); // one predicate: ANDed
    }
    if let Some(cursor) = since {
        subscribe.push_str(&format!(",\"since\":{}", json_string(&cursor)));
    }
    subscribe.push('}');

    let path = runtime_dir().join("broadcast.sock");
    let mut sock = UnixStream::connect(&path).unwrap_or_else(|e| {
        fail(
            2,
            &format!("cannot reach the hub at {}: {e}", path.display()),
        )
    });
    let mut frame = (subscribe.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(subscribe.as_bytes());
    sock.write_all(&frame)
        .unwrap_or_else(|e| fail(1, &format!("send subscribe: {e}")));

    let stdout = io::stdout();
    let mut printed = 0u64;
    let mut heartbeat_sec = 60.0;
    loop {
        // The hub sends a heartbeat every heartbeat_sec: silence for 2.5 of them means it is gone.
        let _ = sock.set_read_timeout(Some(Duration::from_secs_f64(heartbeat_sec * 2.5)));
        let body = match read_frame(&mut sock) {
            Ok(body) => body,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                fail(1, "the hub closed the connection")
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                fail(1, "the hub went silent")
            }
            Err(e) => fail(1, &e.to_string()),
        };
        let text = String::from_utf8(body).unwrap_or_else(|_| fail(1, "a frame is not UTF-8"));
        if text.starts_with("{\"kind\":\"event\"") || text.starts_with("{\"kind\":\"truncated\"") {
            let mut out = stdout.lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
            printed += 1;
            if count > 0 && printed >= count {
                return;
            }
        } else if text.starts_with("{\"kind\":\"subscribe_ack\"") {
            heartbeat_sec = number_after(&text, "heartbeat_sec").unwrap_or(60.0);
            eprintln!("subscribed");
        } else if text.starts_with("{\"kind\":\"subscribe_rejected\"") {
            fail(1, &format!("rejected: {text}"));
        } // daemon_heartbeat, and any kind we do not know: ignored, as v1 requires
    }
}
