//! Subscription fan-out: N WebSocket subscribers on one `concierge serve` process, latency from commit to receipt.
//!
//! The server runs as its own process so that its resident memory per subscriber can be read from `/proc`. Each
//! event is a message posted through REST; every subscriber notes when it arrives and subtracts the message's
//! `created_at` (stamped inside the writing transaction, just before the commit), so the latency is an upper
//! bound of commit → receipt. One subscriber is measured in the same run as the baseline.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use api::config::Settings;

/// Events sent per subscriber count.
const EVENTS: usize = 20;
/// Pause between events, so each measures one fan-out rather than a queue.
const SPACING: Duration = Duration::from_millis(250);
/// Events then posted back to back, to time the server's CPU per delivery.
const BURST: usize = 20;

/// A `concierge serve` child on the benchmark's database.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(settings: &Settings) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_concierge"));
        command
            .arg("serve")
            .env("CONCIERGE_DATA_DIR", &settings.data_dir)
            .env("CONCIERGE_BIND", format!("127.0.0.1:{port}"))
            .env("CONCIERGE_RATE_LIMITS", "false")
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = &settings.database_url {
            command.env("DATABASE_URL", url.expose_secret());
        }
        let server = Server {
            child: command.spawn().unwrap(),
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        for _ in 0..300 {
            if client
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("concierge serve did not start");
    }

    /// The child's resident memory in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Server {
    /// CPU seconds the child has used (user and system), from `/proc/<pid>/stat`.
    fn cpu_secs(&self) -> f64 {
        cpu_secs_of(&self.child.id().to_string())
    }
}

/// CPU seconds process `pid` has used (user and system), from `/proc/<pid>/stat`.
fn cpu_secs_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces) start with the state; utime and stime
    // are the 14th and 15th of the line.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / clock_ticks()
}

/// CPU seconds this process has used: the subscribers' clients, mostly.
fn own_cpu_secs() -> f64 {
    cpu_secs_of("self")
}

/// Clock ticks per second of `/proc` times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One subscriber: connects, subscribes, then reports each event's latency until told to stop.
async fn subscriber(
    url: String,
    key: String,
    live: mpsc::UnboundedSender<()>,
    latencies: mpsc::UnboundedSender<f64>,
    measuring: Arc<AtomicBool>,
    gate: Arc<Semaphore>,
) {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let mut socket = {
        // Bounded handshakes, so that 10,000 connects do not overrun the listen backlog.
        let _permit = gate.acquire().await.unwrap();
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {key}")}});
        socket.send(Message::text(init.to_string())).await.unwrap();
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
                Some(Ok(Message::Text(_))) | Some(Ok(Message::Ping(_))) => {}
                other => panic!("no connection_ack: {other:?}"),
            }
        }
        let subscribe = json!({"id": "1", "type": "subscribe", "payload": {
            "query": "subscription { organizationEvents(types: [MESSAGE_CREATED]) { id type data } }"
        }});
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .unwrap();
        socket
    };
    let mut first = true;
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let received = Utc::now();
        // Only the timestamp is read; a full parse per subscriber would measure the client.
        let Some(at) = text
            .split("\"created_at\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|ts| ts.parse::<DateTime<Utc>>().ok())
        else {
            continue;
        };
        if first {
            first = false;
            let _ = live.send(());
        }
        if measuring.load(Ordering::Relaxed) {
            let _ = latencies.send((received - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
}

struct Row {
    subscribers: usize,
    deliveries: usize,
    expected: usize,
    p50: f64,
    p99: f64,
    rss_before_kib: u64,
    rss_after_kib: u64,
    connect_secs: f64,
    /// The burst: deliveries received, the seconds until the last one, the server's CPU seconds meanwhile.
    burst: usize,
    burst_secs: f64,
    burst_cpu_secs: f64,
    /// CPU seconds of the server and of this process's clients during the spaced events.
    spaced_server_secs: f64,
    spaced_clients_secs: f64,
}

async fn measure(server: &Server, key: &str, conversation: &str, n: usize) -> Row {
    let url = format!("{}/graphql/ws", server.base.replacen("http://", "ws://", 1));
    let client = reqwest::Client::new();
    let post = |body: String| {
        client
            .post(format!(
                "{}/api/v1/conversations/{conversation}/messages",
                server.base
            ))
            .bearer_auth(key)
            .json(&json!({"author": "agent", "body": body}))
            .send()
    };
    // Warm the server (connections, statements) before reading its memory.
    for _ in 0..5 {
        post("warm-up".to_owned()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before_kib = server.rss_kib();
    let (live_tx, mut live_rx) = mpsc::unbounded_channel();
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel();
    let measuring = Arc::new(AtomicBool::new(false));
    let gate = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        tasks.push(tokio::spawn(subscriber(
            url.clone(),
            key.to_owned(),
            live_tx.clone(),
            lat_tx.clone(),
            measuring.clone(),
            gate.clone(),
        )));
    }
    drop(live_tx);
    // A subscribe has no acknowledgement: post events until every subscriber has received one.
    let mut live = 0;
    let started = tokio::time::Instant::now();
    while live < n {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {live} of {n} subscriptions became live"
        );
        let sent = post("ready?".to_owned()).await.unwrap();
        assert!(
            sent.status().is_success(),
            "posting an event: {}",
            sent.text().await.unwrap_or_default()
        );
        let until = tokio::time::Instant::now() + Duration::from_millis(1000);
        while let Ok(Some(())) = tokio::time::timeout_at(until, live_rx.recv()).await {
            live += 1;
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after_kib = server.rss_kib();
    measuring.store(true, Ordering::Relaxed);
    let (server_before, clients_before) = (server.cpu_secs(), own_cpu_secs());
    let mut samples = Vec::with_capacity(n * EVENTS);
    for i in 0..EVENTS {
        let sent = post(format!("fan-out {i}")).await.unwrap();
        assert!(sent.status().is_success());
        tokio::time::sleep(SPACING).await;
        while let Ok(latency) = lat_rx.try_recv() {
            samples.push(latency);
        }
    }
    // Stragglers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while samples.len() < n * EVENTS {
        match tokio::time::timeout_at(deadline, lat_rx.recv()).await {
            Ok(Some(latency)) => samples.push(latency),
            _ => break,
        }
    }
    let spaced_server_secs = server.cpu_secs() - server_before;
    let spaced_clients_secs = own_cpu_secs() - clients_before;
    // The burst: every event posted back to back, timed until every subscriber has all of them. The posts come
    // from a thread of their own, so that they do not wait behind the subscribers' tasks of this process.
    let cpu_before = server.cpu_secs();
    let burst_started = tokio::time::Instant::now();
    let poster = {
        let url = format!(
            "{}/api/v1/conversations/{conversation}/messages",
            server.base
        );
        let key = key.to_owned();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = reqwest::Client::new();
                for i in 0..BURST {
                    let sent = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&json!({"author": "agent", "body": format!("burst {i}")}))
                        .send()
                        .await
                        .unwrap();
                    assert!(sent.status().is_success());
                }
            });
        })
    };
    let mut burst = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while burst < n * BURST {
        match tokio::time::timeout_at(deadline, lat_rx.recv()).await {
            Ok(Some(_)) => burst += 1,
            _ => break,
        }
    }
    let burst_secs = burst_started.elapsed().as_secs_f64();
    let burst_cpu_secs = server.cpu_secs() - cpu_before;
    poster.join().unwrap();
    for task in tasks {
        task.abort();
    }
    samples.sort_by(f64::total_cmp);
    let pick = |p: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    // Let the server drop the closed connections before the next size.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Row {
        subscribers: n,
        deliveries: samples.len(),
        expected: n * EVENTS,
        p50: pick(0.50),
        p99: pick(0.99),
        rss_before_kib,
        rss_after_kib,
        connect_secs,
        burst,
        burst_secs,
        burst_cpu_secs,
        spaced_server_secs,
        spaced_clients_secs,
    }
}

/// Measures fan-out to each number of subscribers, after one subscriber as the baseline.
pub async fn run(settings: &Settings, key: &str, conversation: &str, counts: &[usize]) {
    let server = Server::start(settings).await;
    println!(
        "\n### subscription fan-out: one `concierge serve` process, {EVENTS} events {} ms apart, organizationEvents over graphql-transport-ws\n",
        SPACING.as_millis()
    );
    println!(
        "| subscribers | all live after s | deliveries | p50 ms | p99 ms | p50 / 1 subscriber | server RSS MiB (idle → subscribed) | KiB per subscriber | CPU µs per spaced delivery: server | clients | burst of {BURST}: deliveries | per s | per server CPU-second |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut baseline = None;
    for &n in std::iter::once(&1).chain(counts.iter().filter(|&&n| n > 1)) {
        let row = measure(&server, key, conversation, n).await;
        let base = *baseline.get_or_insert(row.p50);
        println!(
            "| {} | {:.1} | {}/{} | {:.2} | {:.2} | {:.2} | {:.1} → {:.1} | {} | {:.1} | {:.1} | {}/{} | {:.0} | {:.0} |",
            row.subscribers,
            row.connect_secs,
            row.deliveries,
            row.expected,
            row.p50,
            row.p99,
            row.p50 / base,
            row.rss_before_kib as f64 / 1024.0,
            row.rss_after_kib as f64 / 1024.0,
            // One subscriber's share is lost in the allocator's noise.
            if row.subscribers >= 100 {
                format!(
                    "{:.1}",
                    row.rss_after_kib.saturating_sub(row.rss_before_kib) as f64
                        / row.subscribers as f64
                )
            } else {
                "–".to_owned()
            },
            row.spaced_server_secs * 1e6 / row.deliveries.max(1) as f64,
            row.spaced_clients_secs * 1e6 / row.deliveries.max(1) as f64,
            row.burst,
            row.subscribers * BURST,
            row.burst as f64 / row.burst_secs,
            row.burst as f64 / row.burst_cpu_secs.max(0.01),
        );
    }
    let floor = socket_floor(5_000).await;
    println!(
        "\nThe floor, in the same run: writing a {FLOOR_BYTES}-byte message to each of 5,000 loopback sockets read by \
         this process ({EVENTS} rounds {} ms apart, one thread) costs the writer {:.1} µs of CPU per write.",
        SPACING.as_millis(),
        floor
    );
}

/// The size of a message in the floor measurement: about a delivery's.
const FLOOR_BYTES: usize = 400;

/// The CPU µs one thread spends per `write` of [`FLOOR_BYTES`] to a loopback TCP socket that a task of this process
/// reads: what each delivery costs the server's kernel before any of its own work.
async fn socket_floor(n: usize) -> f64 {
    use std::io::Write;
    use tokio::io::AsyncReadExt;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let accepting = std::thread::spawn(move || {
        (0..n)
            .map(|_| {
                let (stream, _) = listener.accept().unwrap();
                stream.set_nodelay(true).unwrap();
                stream
            })
            .collect::<Vec<_>>()
    });
    let mut readers = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        readers.push(tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while matches!(stream.read(&mut buffer).await, Ok(read) if read > 0) {}
        }));
    }
    let mut streams = accepting.join().unwrap();
    let writer = std::thread::spawn(move || {
        let message = [b'x'; FLOOR_BYTES];
        let before = cpu_secs_of("thread-self");
        for _ in 0..EVENTS {
            for stream in &mut streams {
                stream.write_all(&message).unwrap();
            }
            std::thread::sleep(SPACING);
        }
        let spent = cpu_secs_of("thread-self") - before;
        drop(streams);
        spent
    });
    let spent = tokio::task::spawn_blocking(move || writer.join().unwrap())
        .await
        .unwrap();
    for reader in readers {
        let _ = reader.await;
    }
    // The sleeps are not CPU; a write is what is left, per write.
    spent * 1e6 / (n * EVENTS) as f64
}
