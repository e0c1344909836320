//! The `acdstream` command line: the only place that turns errors into exit codes.

use std::future::Future;
use std::io::{BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use acdstream::config::{format_duration, parse_duration, Config, EventsFormat, LogFormat};
use acdstream::decode::{self, Format};
use acdstream::demo::{self, DemoOptions};
use acdstream::ledger::LedgerCounts;
use acdstream::sim::{Scenario, Simulator};
use acdstream::sinks::kafka::{KafkaSink, KafkaSinkSettings, Role};
use acdstream::sources::file::{FileSource, LineSource};
use acdstream::sources::LineFormat;
use acdstream::tail::{self, TailOptions};
use acdstream::{kafka, replay, run};

/// The engine's state (calls, agents, the ids within the dedup horizon) is far larger than
/// the caches and is read at random, one event at a time: mimalloc asks the kernel for its
/// memory in 2 MiB pages (transparent huge pages, `madvise`), which spares most of the
/// page-table walks of those reads, and its small allocations are cheaper than glibc's
/// (README, "Performance and memory").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Real-time ACD/CTI event stream processor: contact-centre KPIs (service level, ASA, abandon
/// rate, occupancy …) over sliding windows, for Prometheus/Grafana wallboards.
#[derive(Parser)]
#[command(name = "acdstream", version, propagate_version = true)]
struct Cli {
    /// Configuration file (TOML; see acdstream.example.toml). Every setting can also be set
    /// with an ACDSTREAM_<SECTION>__<KEY> environment variable.
    #[arg(long, short, global = true, env = "ACDSTREAM_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a simulated contact centre in real time and serve its KPIs at /metrics (no Kafka).
    Demo {
        /// Address for /metrics, /healthz and /readyz [default: http.listen, 127.0.0.1:9898].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Simulated seconds per real second (10 shows an hour in 6 minutes).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Seed of the simulation; the same seed replays the same day.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Simulated history already in the windows at start-up (at most the longest window or
        /// the surge window plus baseline): 65m or more gives the surge rule its baseline at once.
        #[arg(long, default_value = "65m", value_parser = duration)]
        warmup: Duration,
    },
    /// Replay a recorded event file (JSON lines, or an Asterisk queue_log) and print the KPIs
    /// at its last event.
    #[command(long_about = REPLAY_HELP)]
    Replay {
        /// Event file ("-" for standard input).
        file: PathBuf,
        /// What the file holds: one CTI event per JSON line, or Asterisk's queue_log
        /// (/var/log/asterisk/queue_log; [asterisk] settings in the configuration file).
        #[arg(long, value_enum, default_value = "json")]
        format: InputFormat,
        /// Print one KPI snapshot JSON object per queue per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Print one JSON object per queue per interval (`kpi.interval`, 30 minutes by
        /// default) instead: every closed interval's KPIs, the last one as far as the input
        /// went. These are the figures of the day report.
        #[arg(long, conflicts_with = "json")]
        intervals: bool,
        /// Also write the day report to this file: one self-contained HTML page (no external
        /// assets, printable on A4) with each queue's intervals as charts and a table, the
        /// surge episodes and the ledger with the rejected lines.
        #[arg(long, value_name = "FILE.html")]
        report: Option<PathBuf>,
        /// Window shown in the table.
        #[arg(long, default_value = "today")]
        window: String,
        /// How many rejected lines to list.
        #[arg(long, default_value_t = 20)]
        show_rejections: usize,
    },
    /// Run the service: consume CTI events from Kafka, publish KPIs to Kafka and /metrics.
    #[command(long_about = RUN_HELP)]
    Run,
    /// Follow one PBX's live file (an Asterisk queue_log) and serve its KPIs at /metrics, with
    /// alerts (no Kafka).
    #[command(long_about = TAIL_HELP)]
    Tail {
        /// The file being written, e.g. /var/log/asterisk/queue_log.
        file: PathBuf,
        /// What the file holds: one CTI event per JSON line, or Asterisk's queue_log.
        #[arg(long, value_enum, default_value = "json")]
        format: InputFormat,
        /// Address for /metrics, /healthz and /readyz [default: http.listen, 127.0.0.1:9898].
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Create the Kafka topics `run` uses (events, dead letters, compacted KPI and checkpoint
    /// topics), as the configuration names them.
    Topics {
        /// Partitions of the events, KPI and checkpoint topics.
        #[arg(long, default_value_t = 3)]
        partitions: i32,
        /// Replicas of each partition: 1 for a single broker, 3 on a production cluster.
        #[arg(long, default_value_t = 1)]
        replication_factor: i32,
    },
    /// Write simulated CTI events as JSON lines (or as an Asterisk queue_log), or produce them
    /// to Kafka with --brokers.
    Simulate {
        /// Seed; the same seed, scenario and start give the same events.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Simulated time span.
        #[arg(long, default_value = "2h", value_parser = duration)]
        duration: Duration,
        /// Start time, RFC 3339.
        #[arg(long, default_value = "2026-01-05T08:00:00Z")]
        start: jiff::Timestamp,
        /// Scenario TOML (queues, surge, jitter, duplicates) instead of the built-in demo.
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Deliver events up to this late (as several CTI servers would).
        #[arg(long, value_parser = duration)]
        jitter: Option<Duration>,
        /// Share of events delivered twice (at-least-once source), 0 to 1.
        #[arg(long)]
        duplicates: Option<f64>,
        /// Output file [default: standard output].
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Produce to Kafka at these brokers instead of writing a file (keyed by queue_id).
        #[arg(long)]
        brokers: Option<String>,
        /// Topic to produce to [default: kafka.events_topic].
        #[arg(long)]
        topic: Option<String>,
        /// A file's format: json [default] or asterisk-queue-log (the calls as Asterisk would
        /// log them, for `replay --format asterisk-queue-log`). The payload format when
        /// producing: json or protobuf [default: kafka.events_format].
        #[arg(long, value_enum)]
        format: Option<OutputFormat>,
        /// Produce in real time (× --speed) instead of as fast as possible.
        #[arg(long)]
        realtime: bool,
        /// Simulated seconds per real second with --realtime.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
}

/// `simulate --format`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OutputFormat {
    Json,
    Protobuf,
    AsteriskQueueLog,
}

/// `replay --format`, `tail --format`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum InputFormat {
    /// One event of acdstream's contract per line, as JSON (what `simulate` writes).
    Json,
    /// Asterisk's queue_log: `epoch|callid|queue|agent|EVENT|data…` lines.
    AsteriskQueueLog,
}

impl From<InputFormat> for LineFormat {
    fn from(format: InputFormat) -> LineFormat {
        match format {
            InputFormat::Json => LineFormat::Json,
            InputFormat::AsteriskQueueLog => LineFormat::AsteriskQueueLog,
        }
    }
}

const REPLAY_HELP: &str = "Replay a recorded event file through the same engine the service \
runs, with \"now\" taken from the events, and print the KPIs per queue at its last event (or, with \
--json, one KPI snapshot per queue per line), then what became of every line.

  acdstream replay events.jsonl                                      JSON lines (simulate writes these)
  acdstream replay --format asterisk-queue-log /var/log/asterisk/queue_log
  acdstream replay --format asterisk-queue-log queue_log.1 --json    snapshots
  acdstream replay events.jsonl --intervals                          each interval's KPIs
  acdstream replay events.jsonl --report day.html                    the day report (HTML)

An Asterisk queue_log is translated line by line (docs/sources/asterisk.md): queues'
wrapuptime and how members are named are set in [asterisk] of the configuration file. Lines
with no call or agent event (CONFIGRELOAD, outbound calls ...) are counted as ignored, malformed
ones as rejected with their line numbers; a last line without its line end is not read (it may
be cut short). queue_log does not record holds, so the average hold is shown as absent.";

const RUN_HELP: &str = "Run the service: consume CTI events from Kafka, publish KPI snapshots to \
Kafka and serve /metrics, /healthz and /readyz.

Settings ([kafka] in the TOML file, or ACDSTREAM_KAFKA__<KEY> variables):
  brokers               bootstrap servers                      [127.0.0.1:9092]
  events_topic          CTI events, keyed by queue_id          [cti.events]
  events_format         protobuf | json | asterisk_queue_log   [protobuf]
                        (queue_log lines: key them by PBX, see docs/sources/asterisk.md)
  group_id              consumer group; instances split the partitions [acdstream]
  kpi_topic             KPI snapshots, keyed by queue_id, compacted [acd.kpi]
  kpi_format            protobuf | json                        [protobuf]
  dlq_topic             rejected events with reasons in headers [cti.events.dlq]
  checkpoint_topic      per-partition state, compacted          [acd.checkpoints]
  checkpoint_interval   how often state is checkpointed         [30s]
  alerts_topic          alert firing/resolved notifications     [acd.alerts]
  alerts_format         protobuf | json                        [protobuf]
  shutdown_timeout      bound on a graceful stop                [10s]
  properties.<name>     librdkafka properties passed through (TLS, SASL, tuning)
Also [publish] interval (KPI cadence, 1s), [http] listen, [engine] clock = wall | event,
[alerts] rules and alertmanager_url (push alerts to Alertmanager's v2 API).
`acdstream topics` creates the topics; acdstream.example.toml documents every setting.";

const TAIL_HELP: &str = "Follow one PBX's live file and serve its KPIs at /metrics, /healthz and \
/readyz, with alerts as `run` has them; no Kafka.

  acdstream tail --format asterisk-queue-log /var/log/asterisk/queue_log
  acdstream -c acdstream.toml tail --format asterisk-queue-log --listen 0.0.0.0:9898 queue_log

The file is read from its start (the backlog: today's windows are rebuilt, each event at its
own time), then followed: appended lines are read as they are written, a line only once its
line end is. /readyz answers 503, and no alert is evaluated, until the file as it was at
start-up has been applied, so a restart neither counts a line twice nor pages for calls long
over. Rotation (the file renamed and a new one created) is followed: the rest of the old file
is read, then the new one from its start; so is truncation (copytruncate): the file is read
again from its start.

Settings as for `run`: [publish] interval (KPI cadence, 1s), [http] listen, [alerts] rules and
alertmanager_url, [engine] windows and thresholds, [asterisk] how queue_log lines are read
(docs/sources/asterisk.md); `kafka.shutdown_timeout` bounds a graceful stop.";

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("acdstream: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(&config);
    match run(cli.command, config) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("acdstream: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    // `ACDSTREAM_LOG` was folded into the level (and checked) with the configuration.
    let filter = tracing_subscriber::EnvFilter::new(&config.log.level);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(command: Command, config: Config) -> Result<()> {
    let settings = Arc::new(config.engine.clone());
    if matches!(
        command,
        Command::Demo { .. } | Command::Run | Command::Tail { .. }
    ) {
        log_memory_bound(&settings);
    }
    match command {
        Command::Demo {
            listen,
            speed,
            seed,
            warmup,
        } => {
            // Older history than the windows and the surge baseline hold would start out late.
            let history = settings
                .longest_window_ms()
                .max(settings.longest_surge_lookback_ms());
            if warmup.as_millis() as i64 > history {
                bail!(
                    "--warmup {} is longer than the history the engine keeps ({}: the longest \
                     window or the surge window plus baseline)",
                    format_duration(warmup),
                    format_duration(Duration::from_millis(history as u64))
                );
            }
            let stop_within = config.kafka.shutdown_timeout;
            let opts = DemoOptions {
                listen: listen.unwrap_or(config.http.listen),
                speed,
                seed,
                warmup,
                publish_interval: config.publish.interval,
                shutdown_timeout: stop_within,
                alerts: config.alerts.clone(),
            };
            live(stop_within, |shutdown, tasks| async move {
                let ledger = demo::run(opts, settings, &shutdown, &tasks).await?;
                stopped("demo", &ledger);
                Ok(())
            })
        }
        Command::Run => {
            let stop_within = config.kafka.shutdown_timeout;
            live(stop_within, |shutdown, tasks| async move {
                run::run(config, &shutdown, &tasks).await?;
                Ok(())
            })
        }
        Command::Tail {
            file,
            format,
            listen,
        } => {
            let opts = TailOptions {
                file,
                format: format.into(),
                listen: listen.unwrap_or(config.http.listen),
            };
            live(
                config.kafka.shutdown_timeout,
                |shutdown, tasks| async move {
                    let ledger = tail::run(opts, config, &shutdown, &tasks).await?;
                    stopped("tail", &ledger);
                    Ok(())
                },
            )
        }
        Command::Topics {
            partitions,
            replication_factor,
        } => {
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            let specs = kafka::admin::topic_specs(&config.kafka.sink.topics, partitions);
            for (topic, result) in runtime.block_on(kafka::admin::create_topics(
                &config.kafka.sink.client,
                &specs,
                replication_factor,
            ))? {
                println!("{topic}: {result}");
            }
            Ok(())
        }
        Command::Replay {
            file,
            format,
            json,
            intervals,
            report: report_file,
            window,
            show_rejections,
        } => {
            let lines = LineSource::open(&file)?;
            let bar = progress_bar(lines.total_bytes);
            let progress = bar.clone();
            let source = FileSource::new(
                lines,
                &file.display().to_string(),
                Box::new(move |n| progress.set_position(n)),
            )
            .with_format(format.into(), config.queue_log_settings())
            .decode_ahead(settings.max_id_bytes)?;
            let wall = jiff::Timestamp::now().as_millisecond();
            // The signals are watched on a worker thread: the replay itself runs on this one
            // and, with its input at hand, does not yield between batches.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let stop = CancellationToken::new();
            let report = runtime.block_on(async {
                tokio::spawn(interrupt_on_signals(stop.clone()));
                let keep = replay::Keep {
                    rejections: show_rejections,
                    intervals: intervals || report_file.is_some(),
                };
                replay::replay(source, settings.clone(), wall, keep, &stop).await
            })?;
            bar.finish_and_clear();
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            if let Some(path) = &report_file {
                let html = replay::report::render(
                    &report,
                    &replay::report::Context {
                        source: &file.display().to_string(),
                        timezone: &settings.timezone,
                        generated_at: wall,
                    },
                );
                std::fs::write(path, html)
                    .with_context(|| format!("writing the report to {}", path.display()))?;
                eprintln!("report: {}", path.display());
            }
            if json || intervals {
                if json {
                    for snapshot in &report.snapshots {
                        out.write_all(&decode::encode_snapshot(Format::Json, snapshot))?;
                        out.write_all(b"\n")?;
                    }
                } else {
                    let mut closed: Vec<_> = report.intervals.iter().collect();
                    closed.sort_by(|a, b| (&a.queue_id, a.start).cmp(&(&b.queue_id, b.start)));
                    for interval in closed {
                        serde_json::to_writer(&mut out, interval)?;
                        out.write_all(b"\n")?;
                    }
                }
                eprint!(
                    "{}{}",
                    replay::render_episodes(&report),
                    replay::render_ledger(&report)
                );
            } else {
                write!(out, "{}", replay::render_table(&report, &window))?;
            }
            out.flush()?;
            if report.interrupted {
                // As a shell reports a command ended by SIGINT.
                std::process::exit(130);
            }
            Ok(())
        }
        Command::Simulate {
            seed,
            duration,
            start,
            scenario,
            jitter,
            duplicates,
            out,
            brokers,
            topic,
            format,
            realtime,
            speed,
        } => {
            let mut scenario = match scenario {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading scenario {}", path.display()))?;
                    toml::from_str::<Scenario>(&text)
                        .with_context(|| format!("scenario {}", path.display()))?
                }
                None => Scenario::demo(),
            };
            scenario.duration_ms = duration.as_millis() as i64;
            if let Some(j) = jitter {
                scenario.out_of_order_jitter_ms = j.as_millis() as i64;
            }
            if let Some(d) = duplicates {
                scenario.duplicate_ratio = d;
            }
            scenario.validate()?;
            let queue_log = format == Some(OutputFormat::AsteriskQueueLog);
            if queue_log && (scenario.out_of_order_jitter_ms > 0 || scenario.duplicate_ratio > 0.0)
            {
                bail!(
                    "an Asterisk queue_log is written once and in order: leave out --jitter and \
                     --duplicates (and the scenario's) with --format asterisk-queue-log"
                );
            }
            let simulator = Simulator::new(scenario, seed, start.as_millisecond());
            if let Some(brokers) = brokers {
                let mut kafka = config.kafka.sink.clone();
                kafka.client.brokers = brokers;
                let topic = topic.unwrap_or_else(|| kafka.topics.events.clone());
                let format = match format {
                    None => match config.kafka.events_format {
                        EventsFormat::Contract(format) => format,
                        EventsFormat::AsteriskQueueLog => bail!(
                            "kafka.events_format is asterisk_queue_log, but simulate produces \
                             events of acdstream's contract: pass --format json or protobuf"
                        ),
                    },
                    Some(OutputFormat::Json) => Format::Json,
                    Some(OutputFormat::Protobuf) => Format::Protobuf,
                    Some(OutputFormat::AsteriskQueueLog) => bail!(
                        "--format asterisk-queue-log writes a file; Kafka records are json or \
                         protobuf"
                    ),
                };
                let pace = realtime.then_some(speed);
                let n = produce_events(&kafka, &topic, format, simulator, pace)?;
                eprintln!("produced {n} events to {topic}");
                return Ok(());
            }
            let sink: Box<dyn Write> = match &out {
                Some(path) => Box::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?,
                ),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut sink = BufWriter::new(sink);
            let mut n = 0u64;
            match format.unwrap_or(OutputFormat::Json) {
                OutputFormat::Json => {
                    for event in simulator {
                        sink.write_all(&decode::encode(Format::Json, &event))?;
                        sink.write_all(b"\n")?;
                        n += 1;
                    }
                }
                OutputFormat::AsteriskQueueLog => {
                    let mut writer = decode::asterisk::Writer::new();
                    for event in simulator {
                        writer.write(&event, &mut sink)?;
                        n += 1;
                    }
                }
                OutputFormat::Protobuf => bail!(
                    "a file is written as json lines or an asterisk-queue-log; protobuf is for \
                     producing to Kafka (--brokers)"
                ),
            }
            sink.flush()?;
            if out.is_some() {
                eprintln!("wrote {n} events");
            }
            Ok(())
        }
    }
}

/// What the caps allow the engine to hold at most (checked against the budget when the
/// configuration was loaded), so that an operator sizes the host from the log.
fn log_memory_bound(settings: &acdstream::state::EngineSettings) {
    let worst = settings.worst_case_memory();
    let q = worst.per_queue;
    let kib = |bytes: u64| bytes.div_ceil(1 << 10);
    tracing::info!(
        worst_case_mib = worst.total().div_ceil(1 << 20),
        budget_mib = settings.memory_budget_mib,
        queues = worst.queues,
        per_queue_kib = kib(q.total()),
        windows_kib = kib(q.windows),
        ids_kib = kib(q.ids),
        agents_kib = kib(q.agents),
        calls_kib = kib(q.calls),
        pending_kib = kib(q.pending),
        "memory bound: the engine's state is at most {} MiB with every queue at every cap",
        worst.total().div_ceil(1 << 20)
    );
}

/// The last log line of a live command: what its ledger says.
fn stopped(command: &str, ledger: &LedgerCounts) {
    tracing::info!(
        consumed = ledger.consumed,
        applied = ledger.applied,
        rejected = ledger.rejected,
        "{command} stopped"
    );
}

/// A live command (`demo`, `run`, `tail`) on a multi-threaded runtime, with the one shutdown path:
/// SIGINT or SIGTERM cancels `shutdown`; the command stops its pipeline (which keeps to its
/// share of `stop_within`), and the tasks it left on `tasks` (HTTP, the Alertmanager push) get
/// the rest of `stop_within` to deliver and end. A second signal, or `stop_within` passing
/// with the process still there, ends it at once.
fn live<F, Fut>(stop_within: Duration, command: F) -> Result<()>
where
    F: FnOnce(CancellationToken, TaskTracker) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        tokio::spawn(on_signals(shutdown.clone(), stop_within));
        let stopping_since = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                tokio::time::Instant::now()
            }
        });
        let result = command(shutdown.clone(), tasks.clone()).await;
        shutdown.cancel();
        tasks.close();
        let deadline = match stopping_since.await {
            Ok(since) => since + stop_within,
            Err(_) => tokio::time::Instant::now(),
        };
        if tokio::time::timeout_at(deadline, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "background tasks (HTTP, Alertmanager push) did not end in time; stopping anyway"
            );
        }
        result
    })
}

/// `simulate --brokers`: the simulator's events to a Kafka topic, keyed by queue id.
fn produce_events(
    kafka: &KafkaSinkSettings,
    topic: &str,
    format: Format,
    simulator: Simulator,
    realtime_speed: Option<f64>,
) -> Result<u64> {
    let producer = KafkaSink::new(kafka)?;
    let started = std::time::Instant::now();
    let mut first_ts = None;
    let mut n = 0u64;
    for event in simulator {
        if let Some(speed) = realtime_speed {
            let first = *first_ts.get_or_insert(event.ts);
            let due = Duration::from_secs_f64((event.ts - first) as f64 / 1000.0 / speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if !producer.event(
            topic,
            event.queue_id.as_bytes(),
            &decode::encode(format, &event),
        ) {
            bail!("cannot produce to {topic}; is the broker reachable?");
        }
        n += 1;
    }
    producer.flush(Duration::from_secs(30))?;
    let failed = producer.stats.failed(Role::Events);
    if failed > 0 {
        bail!("{failed} of {n} events were not delivered to {topic}");
    }
    Ok(n)
}

fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::new_spinner(),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} replaying [{bar:40}] {bytes}/{total_bytes} ({eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The first SIGINT or SIGTERM cancels the token: the one shutdown path. A second one exits at
/// once (code 130); so does a stop still going a second past `deadline` (code 1).
async fn on_signals(token: CancellationToken, deadline: Duration) {
    let mut signals = Signals::new();
    signals.next().await;
    tracing::info!(
        "shutting down (within {}; a second Ctrl-C stops at once)",
        format_duration(deadline)
    );
    token.cancel();
    tokio::select! {
        () = signals.next() => {
            tracing::warn!("second signal: exiting without finishing the shutdown");
            std::process::exit(130);
        }
        // A second of slack: a stop that ends right at its bounds is not a hung one.
        () = tokio::time::sleep(deadline + Duration::from_secs(1)) => {
            tracing::error!(
                "shutdown did not finish within {}; exiting anyway",
                format_duration(deadline)
            );
            std::process::exit(1);
        }
    }
}

/// `replay`'s signals: the first stops the reading (the report so far is printed, exit code
/// 130); a second exits at once.
async fn interrupt_on_signals(stop: CancellationToken) {
    let mut signals = Signals::new();
    signals.next().await;
    stop.cancel();
    signals.next().await;
    std::process::exit(130);
}

/// SIGINT and SIGTERM as one stream (SIGINT alone where SIGTERM cannot be had).
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let term = signal(SignalKind::terminate())
                .inspect_err(
                    |err| tracing::warn!(%err, "cannot listen for SIGTERM; Ctrl-C still works"),
                )
                .ok();
            Signals { term }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(term) = &mut self.term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
