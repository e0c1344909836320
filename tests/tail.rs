//! `acdstream tail --format asterisk-queue-log` on a queue_log being written: the backlog is
//! applied before the service says it is ready, appended lines are counted once each (a
//! half-written one only once its line end is there), and a rotation and a truncation are
//! followed.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{free_port, http_get, scratch_dir, wait_for};

/// The process, killed when dropped.
struct Tail(Child);

impl Tail {
    /// `acdstream tail` of the queue_log at `path`, logging to `log`; returns once ready.
    fn start(path: &Path, port: u16, log: &Path, env: &[(&str, &str)]) -> Tail {
        let tail = Tail(
            Command::new(env!("CARGO_BIN_EXE_acdstream"))
                .args(["tail", "--format", "asterisk-queue-log"])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .arg(path)
                .env("ACDSTREAM_LOG", "info")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log).unwrap())
                .spawn()
                .expect("tail starts"),
        );
        wait_for("/readyz", Duration::from_secs(20), || {
            http_get(port, "/readyz").is_some_and(|(s, _)| s == 200)
        });
        tail
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Sum of every series of `name` whose labels contain `label`.
fn metric(port: u16, name: &str, label: &str) -> f64 {
    let Some((200, body)) = http_get(port, "/metrics") else {
        return f64::NAN;
    };
    body.lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn offered(port: u16) -> f64 {
    metric(port, "acd_calls_offered_total", "queue=\"sales\"")
}

/// A caller entering sales at `ts` (Unix seconds).
fn enter(ts: i64, call: &str) -> String {
    format!("{ts}|{call}|sales|NONE|ENTERQUEUE||5550101|1\n")
}

#[test]
fn tail_follows_a_queue_log_through_rotation_and_truncation() {
    let dir = scratch_dir("tail");
    let log_path = dir.join("tail.log");
    let path = dir.join("queue_log");
    let now = jiff::Timestamp::now().as_second();
    // The backlog, ten minutes of it: c1 answered by 2001 after 4 s and completed, c2 abandoned
    // after 30 s. Every call in it is over.
    let t0 = now - 600;
    let backlog = [
        format!("{t0}|MANAGER|sales|PJSIP/2001|ADDMEMBER|\n"),
        enter(t0 + 5, "c1"),
        format!("{}|c1|sales|PJSIP/2001|CONNECT|4|u1|4\n", t0 + 9),
        format!("{}|c1|sales|PJSIP/2001|COMPLETECALLER|4|60|1\n", t0 + 69),
        enter(t0 + 100, "c2"),
        format!("{}|c2|sales|NONE|ABANDON|1|1|30\n", t0 + 130),
    ];
    std::fs::write(&path, backlog.concat()).unwrap();

    let port = free_port();
    let _tail = Tail::start(
        &path,
        port,
        &log_path,
        &[("ACDSTREAM_PUBLISH__INTERVAL", "200ms")],
    );
    // Ready means the whole backlog is in: its two calls, c1 answered, c2 abandoned.
    wait_for("the backlog's KPIs", Duration::from_secs(5), || {
        offered(port) == 2.0
    });
    assert_eq!(
        metric(port, "acd_calls_answered_total", "queue=\"sales\""),
        1.0
    );
    assert_eq!(
        metric(port, "acd_calls_abandoned_total", "queue=\"sales\""),
        1.0
    );

    // Live: c3 enters; c4's line is half written, then completed.
    append(&path, &enter(now, "c3"));
    wait_for("c3", Duration::from_secs(5), || offered(port) == 3.0);
    let c4 = enter(now, "c4");
    let (head, rest) = c4.split_at(20);
    append(&path, head);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(offered(port), 3.0, "a half-written line was read");
    append(&path, rest);
    wait_for("c4", Duration::from_secs(5), || offered(port) == 4.0);

    // Rotation: queue_log renamed, c5 still written to it, then c6 and c7 in a new queue_log.
    let old = dir.join("queue_log.1");
    std::fs::rename(&path, &old).unwrap();
    append(&old, &enter(now, "c5"));
    append(&path, &[enter(now, "c6"), enter(now, "c7")].concat());
    wait_for("c5, c6 and c7", Duration::from_secs(5), || {
        offered(port) == 7.0
    });

    // copytruncate: the new file emptied in place, then c8 written.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&path, &enter(now, "c8"));
    wait_for("c8", Duration::from_secs(5), || offered(port) == 8.0);
    // Nothing read twice after the settling publishes.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(offered(port), 8.0);
    assert_eq!(metric(port, "acd_events_total", "result=\"rejected\""), 0.0);

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches("file rotated").count(), 1, "{log}");
    assert_eq!(log.matches("file truncated").count(), 1, "{log}");
    // The backlog's abandon and its 30-s wait never paged: no alert at all.
    assert!(!log.contains("alert firing"), "{log}");
    assert_eq!(metric(port, "acd_alerts_firing", ""), 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The backlog is history (issue 12, item 1): a caller who waited eleven minutes before an
/// answer, and among 400,000 lines of reloads (a second or so to read, several publishes)
/// 20,000 a broken writer left (rejected), are read at start-up without any alert changing
/// state, even with RejectedEventsHigh set to fire at once; `/readyz` turns ready only with the
/// whole backlog applied. What comes after the catch-up is judged: a caller waiting now past
/// the threshold pages.
#[test]
fn a_backlog_read_at_start_up_pages_nobody() {
    let dir = scratch_dir("tail-backlog");
    let log_path = dir.join("tail.log");
    let path = dir.join("queue_log");
    let now = jiff::Timestamp::now().as_second();
    let t0 = now - 40 * 60;
    let mut backlog = vec![
        format!("{t0}|MANAGER|sales|PJSIP/2001|ADDMEMBER|\n"),
        enter(t0 + 5, "c1"),
    ];
    for i in 0..400_000 {
        if i % 20 == 0 {
            backlog.push(format!("{}|garbage {i}\n", t0 + 10));
        } else {
            backlog.push(format!("{}|NONE|NONE|NONE|CONFIGRELOAD|\n", t0 + 10));
        }
    }
    backlog.extend([
        format!("{}|c1|sales|PJSIP/2001|CONNECT|660|u1|4\n", t0 + 665),
        format!("{}|c1|sales|PJSIP/2001|COMPLETECALLER|660|60|1\n", t0 + 725),
    ]);
    std::fs::write(&path, backlog.concat()).unwrap();

    let port = free_port();
    let env = [
        ("ACDSTREAM_PUBLISH__INTERVAL", "100ms"),
        ("ACDSTREAM_ALERTS__REJECTED_EVENTS__FOR", "0s"),
    ];
    let _tail = Tail::start(&path, port, &log_path, &env);
    // Ready means the whole backlog is in.
    assert_eq!(
        metric(port, "acd_calls_answered_total", "queue=\"sales\""),
        1.0
    );
    assert_eq!(
        metric(port, "acd_events_total", "result=\"rejected\""),
        20_000.0
    );
    // Some publishes after the catch-up.
    std::thread::sleep(Duration::from_millis(1500));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains("alert firing"), "{log}");
    assert_eq!(metric(port, "acd_alert_transitions_total", ""), 0.0);

    // Live: a caller entering three minutes ago and still waiting is past the threshold now.
    append(&path, &enter(now - 180, "c2"));
    wait_for("OldestWaitHigh for c2", Duration::from_secs(10), || {
        metric(port, "acd_alerts_firing", "alert=\"OldestWaitHigh\"") == 1.0
    });
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches("alert firing").count(), 1, "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}
