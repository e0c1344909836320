//! The one shutdown path of the live commands, on `acdstream demo` with a real Alertmanager:
//! the alerts of the final publish are delivered, a stop whose sinks hang is still bounded,
//! and a second signal ends the process at once.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::alerting::Alertmanager;
use common::{free_port, scratch_dir, wait_for};

/// `acdstream demo` at real speed with its log in `dir`, started with `env`; returns once its
/// warm-up has been applied (the log says its partition is ready).
fn demo(dir: &Path, env: &[(&str, &str)]) -> Child {
    let log = dir.join("demo.log");
    let child = Command::new(env!("CARGO_BIN_EXE_acdstream"))
        .args(["demo", "--listen", &format!("127.0.0.1:{}", free_port())])
        .args(["--warmup", "65m"])
        .env("ACDSTREAM_LOG", "info")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("demo starts");
    wait_for("the warm-up to be applied", Duration::from_secs(30), || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("partition ready"))
    });
    child
}

fn terminate(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> (ExitStatus, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, start.elapsed());
        }
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("still running {within:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The publish interval is an hour, so the only evaluation after the warm-up is the final one,
/// at shutdown; with a 1-second oldest-wait threshold, the demo's surging support queue (calls
/// queue up within seconds at 2.5 × its normal rate) fires OldestWaitHigh right then. The
/// push of that batch must reach Alertmanager before the process exits.
#[test]
fn alerts_firing_at_shutdown_reach_alertmanager() {
    let dir = scratch_dir("shutdown-alerts");
    let alertmanager = Alertmanager::start_with_config(
        &dir.join("am"),
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    );
    let url = alertmanager.url();
    let mut child = demo(
        &dir,
        &[
            ("ACDSTREAM_PUBLISH__INTERVAL", "1h"),
            ("ACDSTREAM_ALERTS__ALERTMANAGER_URL", &url),
            ("ACDSTREAM_ALERTS__DEFAULT__OLDEST_WAIT__THRESHOLD", "1"),
            ("ACDSTREAM_ALERTS__DEFAULT__OLDEST_WAIT__CLEAR", "0.5"),
        ],
    );
    assert!(
        alertmanager.alerts_api().is_empty(),
        "nothing was evaluated before the stop"
    );
    terminate(&child);
    let (status, _) = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
    let alerts = alertmanager.alerts_api();
    let oldest_wait: Vec<_> = alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == "OldestWaitHigh")
        .collect();
    assert!(!oldest_wait.is_empty(), "{alerts:#?}");
    assert!(
        oldest_wait.iter().all(|a| a["status"]["state"] == "active"),
        "{oldest_wait:#?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// An Alertmanager that accepts connections and never answers: the push of the final alerts
/// hangs (for up to its 60-second timeout), so the stop waits for it, but only within its
/// bound (`kafka.shutdown_timeout`, 4 s here); a second signal ends it at once.
#[test]
fn a_hung_sink_cannot_hold_the_stop_and_a_second_signal_forces_it() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let env = [
        ("ACDSTREAM_PUBLISH__INTERVAL", "1h"),
        ("ACDSTREAM_KAFKA__SHUTDOWN_TIMEOUT", "4s"),
        ("ACDSTREAM_ALERTS__ALERTMANAGER_URL", url.as_str()),
        ("ACDSTREAM_ALERTS__PUSH_TIMEOUT", "60s"),
        ("ACDSTREAM_ALERTS__DEFAULT__OLDEST_WAIT__THRESHOLD", "1"),
        ("ACDSTREAM_ALERTS__DEFAULT__OLDEST_WAIT__CLEAR", "0.5"),
    ];

    let dir = scratch_dir("shutdown-bounded");
    let mut child = demo(&dir, &env);
    terminate(&child);
    let (status, took) = wait_exit(&mut child, Duration::from_secs(20));
    // The pipeline's own stop takes next to nothing here (no Kafka), so the hung push gets
    // the rest of the 4 s, and not the 60 s it would take on its own.
    assert!(took >= Duration::from_millis(3_500), "{took:?}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert_eq!(status.code(), Some(0));
    let log = std::fs::read_to_string(dir.join("demo.log")).unwrap();
    assert!(log.contains("did not end in time"), "{log}");

    let mut child = demo(&dir, &env);
    terminate(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "waiting for the hung push"
    );
    terminate(&child);
    let (status, took) = wait_exit(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(130));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let log = std::fs::read_to_string(dir.join("demo.log")).unwrap();
    assert!(log.contains("second signal"), "{log}");
    std::fs::remove_dir_all(&dir).ok();
}
