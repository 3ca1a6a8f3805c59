//! A small async client for memcached's text protocol.
//!
//! Why not a crate: the store needs `gets` over many keys with their CAS
//! tokens in one round trip, `cas`, `add` and `append`, a connection pool,
//! several servers, and a deadline on every command so that a dead server
//! turns into `StoreUnavailable` quickly. `memcache-async` has single-key
//! `gets_cas` only, one connection behind `&mut self`, no pool, no servers and
//! no timeouts; `async-memcached` (0.9) exposes no `gets`/`cas`; the `memcache`
//! crate is blocking. The part of the protocol we need is about two hundred
//! lines, so it lives here, with its own tests.
//!
//! Each command borrows an idle connection of its server (or opens one), and
//! the whole exchange — connect, write, read — runs under one deadline. A
//! connection that failed or timed out is dropped, never reused, so a reply
//! cut in half can never be read as the answer to the next command.
//!
//! Keys are spread over the servers by client-side hashing: FNV-1a of the key,
//! then Lamping and Veach's jump consistent hash, so adding a server moves
//! only about `1/n` of the keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream,
};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Longest key memcached accepts.
pub const MAX_KEY_LEN: usize = 250;

/// Idle connections kept per server.
const MAX_IDLE: usize = 64;

/// Longest value a reply may announce: memcached's own ceiling on an item
/// (`-I` stops at 1 GiB). A larger length is a protocol error, never an
/// allocation; below it the buffer grows only with the bytes that arrive.
pub const MAX_VALUE_LEN: usize = 1 << 30;

/// Longest reply line, `\r\n` included. A `VALUE` line is at most ~300
/// bytes (a 250-byte key and three numbers); error lines are short.
pub const MAX_LINE_LEN: usize = 1024;

/// What went wrong talking to memcached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection failed (refused, reset, closed).
    #[error("memcached at {addr}: {source}")]
    Io {
        /// The server.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No complete answer within the command timeout.
    #[error("memcached at {addr} did not answer within {timeout:?}")]
    Timeout {
        /// The server.
        addr: String,
        /// The timeout.
        timeout: Duration,
    },
    /// An answer that is not memcached's protocol.
    #[error("memcached at {addr}: unexpected reply {line:?}")]
    Protocol {
        /// The server.
        addr: String,
        /// The reply line.
        line: String,
    },
    /// `SERVER_ERROR` or `CLIENT_ERROR` (e.g. an item over the size limit).
    #[error("memcached at {addr} refused the command: {line}")]
    Refused {
        /// The server.
        addr: String,
        /// The error line.
        line: String,
    },
    /// A key longer than 250 bytes or with spaces or control characters.
    #[error("invalid memcached key")]
    InvalidKey,
}

impl ClientError {
    /// True when the server refused an item for its size.
    pub fn is_too_large(&self) -> bool {
        matches!(self, ClientError::Refused { line, .. } if line.contains("too large"))
    }
}

/// A value and its CAS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The stored bytes.
    pub data: Vec<u8>,
    /// The CAS token (`gets`).
    pub cas: u64,
}

/// The storage commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreCmd {
    /// Store unconditionally.
    Set,
    /// Store only if absent.
    Add,
    /// Append to an existing value (keeps its expiry).
    Append,
    /// Store only if the item still has this CAS token.
    Cas(u64),
}

/// The answer to a storage command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored.
    Stored,
    /// `add` found the key, or `append` did not.
    NotStored,
    /// `cas`: the item changed since it was read.
    Exists,
    /// `cas`: the item is gone.
    NotFound,
}

struct Server {
    addr: String,
    idle: Mutex<Vec<BufStream<TcpStream>>>,
    permits: Semaphore,
}

/// A pooled client over one or more memcached servers.
#[derive(Clone)]
pub struct Client {
    servers: Arc<[Server]>,
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<&str> = self.servers.iter().map(|s| s.addr.as_str()).collect();
        f.debug_struct("Client")
            .field("servers", &addrs)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub(crate) enum Expect {
    Values,
    Line,
}

pub(crate) enum Reply {
    Values(Vec<(String, Item)>),
    Line(String),
}

impl Client {
    /// A client over `addrs` (`host:port`), with at most `max_connections`
    /// open per server and `timeout` for every command. Connects lazily.
    pub fn new(addrs: Vec<String>, timeout: Duration, max_connections: usize) -> Self {
        let servers = addrs
            .into_iter()
            .map(|addr| Server {
                addr,
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(max_connections.max(1)),
            })
            .collect();
        Self { servers, timeout }
    }

    /// The servers, in hashing order.
    pub fn servers(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.addr.clone()).collect()
    }

    /// The server a key lives on.
    pub fn server_for(&self, key: &str) -> usize {
        jump_hash(fnv1a(key.as_bytes()), self.servers.len())
    }

    async fn call(
        &self,
        server: usize,
        request: &[u8],
        expect: Expect,
    ) -> Result<Reply, ClientError> {
        let s = &self.servers[server];
        let timeout = self.timeout;
        let work = async {
            let _permit = s
                .permits
                .acquire()
                .await
                .map_err(|_| ClientError::Timeout {
                    addr: s.addr.clone(),
                    timeout,
                })?;
            let pooled = s.idle.lock().pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => {
                    let stream = TcpStream::connect(&s.addr).await.map_err(|e| io(s, e))?;
                    let _ = stream.set_nodelay(true);
                    BufStream::new(stream)
                }
            };
            let reply = exchange(&mut conn, request, &expect, &s.addr).await?;
            let mut idle = s.idle.lock();
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
            Ok(reply)
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Err(e @ ClientError::Io { .. })) => {
                // The server closed or died: its other idle connections are
                // most likely dead too, and must not fail later commands.
                s.idle.lock().clear();
                Err(e)
            }
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                addr: s.addr.clone(),
                timeout,
            }),
        }
    }

    /// Reads `keys` with their CAS tokens; absent keys are absent from the
    /// map. One request per server holding any of them.
    pub async fn gets(&self, keys: &[String]) -> Result<HashMap<String, Item>, ClientError> {
        let mut by_server: Vec<Vec<&str>> = vec![Vec::new(); self.servers.len()];
        for key in keys {
            check_key(key)?;
            by_server[self.server_for(key)].push(key);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (server, keys) in by_server.iter().enumerate() {
            if keys.is_empty() {
                continue;
            }
            let mut request =
                Vec::with_capacity(6 + keys.iter().map(|k| k.len() + 1).sum::<usize>());
            request.extend_from_slice(b"gets");
            for key in keys {
                request.push(b' ');
                request.extend_from_slice(key.as_bytes());
            }
            request.extend_from_slice(b"\r\n");
            if let Reply::Values(values) = self.call(server, &request, Expect::Values).await? {
                out.extend(values);
            }
        }
        Ok(out)
    }

    /// Reads one key with its CAS token.
    pub async fn get(&self, key: &str) -> Result<Option<Item>, ClientError> {
        check_key(key)?;
        let request = format!("gets {key}\r\n");
        match self
            .call(self.server_for(key), request.as_bytes(), Expect::Values)
            .await?
        {
            Reply::Values(mut values) => Ok(values.pop().map(|(_, item)| item)),
            Reply::Line(_) => Ok(None),
        }
    }

    /// Runs a storage command. `exptime` is memcached's: seconds, or a Unix
    /// time beyond 30 days; 0 never expires.
    pub async fn store(
        &self,
        cmd: StoreCmd,
        key: &str,
        data: &[u8],
        exptime: u32,
    ) -> Result<Stored, ClientError> {
        check_key(key)?;
        let len = data.len();
        let head = match cmd {
            StoreCmd::Set => format!("set {key} 0 {exptime} {len}\r\n"),
            StoreCmd::Add => format!("add {key} 0 {exptime} {len}\r\n"),
            StoreCmd::Append => format!("append {key} 0 {exptime} {len}\r\n"),
            StoreCmd::Cas(cas) => format!("cas {key} 0 {exptime} {len} {cas}\r\n"),
        };
        let mut request = Vec::with_capacity(head.len() + len + 2);
        request.extend_from_slice(head.as_bytes());
        request.extend_from_slice(data);
        request.extend_from_slice(b"\r\n");
        let server = self.server_for(key);
        let line = self.line(server, &request).await?;
        match line.as_str() {
            "STORED" => Ok(Stored::Stored),
            "NOT_STORED" => Ok(Stored::NotStored),
            "EXISTS" => Ok(Stored::Exists),
            "NOT_FOUND" => Ok(Stored::NotFound),
            _ => Err(self.unexpected(server, line)),
        }
    }

    /// Deletes a key; false if it was absent.
    pub async fn delete(&self, key: &str) -> Result<bool, ClientError> {
        check_key(key)?;
        let server = self.server_for(key);
        let line = self
            .line(server, format!("delete {key}\r\n").as_bytes())
            .await?;
        match line.as_str() {
            "DELETED" => Ok(true),
            "NOT_FOUND" => Ok(false),
            _ => Err(self.unexpected(server, line)),
        }
    }

    /// Sets a key's expiry without reading it; false if it was absent.
    pub async fn touch(&self, key: &str, exptime: u32) -> Result<bool, ClientError> {
        check_key(key)?;
        let server = self.server_for(key);
        let line = self
            .line(server, format!("touch {key} {exptime}\r\n").as_bytes())
            .await?;
        match line.as_str() {
            "TOUCHED" => Ok(true),
            "NOT_FOUND" => Ok(false),
            _ => Err(self.unexpected(server, line)),
        }
    }

    /// Asks every server for its version: fails unless all answer.
    pub async fn version(&self) -> Result<Vec<String>, ClientError> {
        let mut out = Vec::with_capacity(self.servers.len());
        for server in 0..self.servers.len() {
            let line = self.line(server, b"version\r\n").await?;
            match line.strip_prefix("VERSION ") {
                Some(v) => out.push(v.to_owned()),
                None => return Err(self.unexpected(server, line)),
            }
        }
        Ok(out)
    }

    async fn line(&self, server: usize, request: &[u8]) -> Result<String, ClientError> {
        match self.call(server, request, Expect::Line).await? {
            Reply::Line(line) => Ok(line),
            Reply::Values(_) => Err(self.unexpected(server, "VALUE".into())),
        }
    }

    fn unexpected(&self, server: usize, line: String) -> ClientError {
        ClientError::Protocol {
            addr: self.servers[server].addr.clone(),
            line,
        }
    }
}

fn io(s: &Server, source: std::io::Error) -> ClientError {
    ClientError::Io {
        addr: s.addr.clone(),
        source,
    }
}

/// Writes one request and reads its reply.
pub(crate) async fn exchange<C>(
    conn: &mut C,
    request: &[u8],
    expect: &Expect,
    addr: &str,
) -> Result<Reply, ClientError>
where
    C: AsyncBufRead + AsyncWrite + Unpin,
{
    let io = |source| ClientError::Io {
        addr: addr.to_owned(),
        source,
    };
    conn.write_all(request).await.map_err(io)?;
    conn.flush().await.map_err(io)?;
    match expect {
        Expect::Line => {
            let line = read_line(conn, addr).await?;
            refused(&line, addr)?;
            Ok(Reply::Line(line))
        }
        Expect::Values => {
            let mut values = Vec::new();
            loop {
                let line = read_line(conn, addr).await?;
                if line == "END" {
                    return Ok(Reply::Values(values));
                }
                refused(&line, addr)?;
                let protocol = || ClientError::Protocol {
                    addr: addr.to_owned(),
                    line: line.clone(),
                };
                let mut parts = line.split(' ');
                if parts.next() != Some("VALUE") {
                    return Err(protocol());
                }
                let key = parts.next().ok_or_else(protocol)?.to_owned();
                let _flags = parts.next().ok_or_else(protocol)?;
                let len: usize = parts
                    .next()
                    .and_then(|p| p.parse().ok())
                    .filter(|&len| len <= MAX_VALUE_LEN)
                    .ok_or_else(protocol)?;
                let cas: u64 = match parts.next() {
                    Some(p) => p.parse().map_err(|_| protocol())?,
                    None => 0,
                };
                // The length is the server's claim: read what arrives, up to
                // it, rather than allocating it up front.
                let mut data = Vec::with_capacity((len + 2).min(64 * 1024));
                (&mut *conn)
                    .take(len as u64 + 2)
                    .read_to_end(&mut data)
                    .await
                    .map_err(io)?;
                if data.len() < len + 2 {
                    return Err(io(std::io::ErrorKind::UnexpectedEof.into()));
                }
                if !data.ends_with(b"\r\n") {
                    return Err(protocol());
                }
                data.truncate(len);
                values.push((key, Item { data, cas }));
            }
        }
    }
}

async fn read_line<C: AsyncBufRead + Unpin>(
    conn: &mut C,
    addr: &str,
) -> Result<String, ClientError> {
    let mut buf = Vec::with_capacity(64);
    let n = (&mut *conn)
        .take(MAX_LINE_LEN as u64)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(|source| ClientError::Io {
            addr: addr.to_owned(),
            source,
        })?;
    if n == MAX_LINE_LEN && !buf.ends_with(b"\n") {
        return Err(ClientError::Protocol {
            addr: addr.to_owned(),
            line: format!("a line over {MAX_LINE_LEN} bytes"),
        });
    }
    if n == 0 || !buf.ends_with(b"\r\n") {
        return Err(ClientError::Io {
            addr: addr.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"),
        });
    }
    buf.truncate(buf.len() - 2);
    String::from_utf8(buf).map_err(|e| ClientError::Protocol {
        addr: addr.to_owned(),
        line: String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn refused(line: &str, addr: &str) -> Result<(), ClientError> {
    if line == "ERROR" || line.starts_with("SERVER_ERROR") || line.starts_with("CLIENT_ERROR") {
        return Err(ClientError::Refused {
            addr: addr.to_owned(),
            line: line.to_owned(),
        });
    }
    Ok(())
}

/// Checks that a key is 1 to 250 bytes with no space or control byte.
pub fn check_key(key: &str) -> Result<(), ClientError> {
    let ok =
        !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b > b' ' && b != 0x7f);
    if ok {
        Ok(())
    } else {
        Err(ClientError::InvalidKey)
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Lamping and Veach's jump consistent hash: a bucket in `0..buckets`.
fn jump_hash(mut key: u64, buckets: usize) -> usize {
    if buckets <= 1 {
        return 0;
    }
    let (mut b, mut j) = (0i64, 0i64);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as usize
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};

    use super::*;

    /// Runs one exchange against a scripted server that checks the request
    /// and answers `reply`.
    async fn scripted(
        request: &[u8],
        expect: Expect,
        reply: &'static [u8],
    ) -> Result<Reply, ClientError> {
        let (client, mut server) = tokio::io::duplex(4096);
        let want = request.to_vec();
        let peer = tokio::spawn(async move {
            let mut got = vec![0u8; want.len()];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(got, want);
            server.write_all(reply).await.unwrap();
            // Dropping the server end closes the connection after the reply.
        });
        let mut conn = BufStream::new(client);
        let out = exchange(&mut conn, request, &expect, "test").await;
        peer.await.unwrap();
        out
    }

    #[tokio::test]
    async fn parses_values_with_cas_tokens_and_binary_safe_data() {
        let reply = b"VALUE a 0 5 42\r\nx\r\ny!\r\nVALUE b 0 0 7\r\n\r\nEND\r\n";
        let Reply::Values(values) = scripted(b"gets a b\r\n", Expect::Values, reply)
            .await
            .unwrap()
        else {
            panic!("expected values");
        };
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].0, "a");
        assert_eq!(
            values[0].1,
            Item {
                data: b"x\r\ny!".to_vec(),
                cas: 42
            }
        );
        assert_eq!(
            values[1].1,
            Item {
                data: Vec::new(),
                cas: 7
            }
        );
    }

    #[tokio::test]
    async fn errors_and_truncation_are_typed() {
        let refused = scripted(
            b"gets a\r\n",
            Expect::Values,
            b"SERVER_ERROR out of memory\r\n",
        )
        .await;
        assert!(matches!(refused, Err(ClientError::Refused { .. })));
        let cut = scripted(b"gets a\r\n", Expect::Values, b"VALUE a 0 10 1\r\nabc").await;
        assert!(matches!(cut, Err(ClientError::Io { .. })));
        let garbage = scripted(b"gets a\r\n", Expect::Values, b"HELLO\r\n").await;
        assert!(matches!(garbage, Err(ClientError::Protocol { .. })));
        let bad_len = scripted(b"gets a\r\n", Expect::Values, b"VALUE a 0 x 1\r\n").await;
        assert!(matches!(bad_len, Err(ClientError::Protocol { .. })));
        let too_large = scripted(
            b"set a 0 0 1\r\nx\r\n",
            Expect::Line,
            b"SERVER_ERROR object too large for cache\r\n",
        )
        .await
        .err()
        .unwrap();
        assert!(too_large.is_too_large());
    }

    /// A length is the server's claim, not a size to allocate: found by the
    /// `memcached_reply` fuzz target (`VALUE k 0 2888888880 7` made the
    /// client allocate 2.9 GB up front; `usize::MAX` overflowed `len + 2`).
    #[tokio::test]
    async fn announced_lengths_are_bounded_and_never_allocated_up_front() {
        for line in [
            &b"VALUE a 0 18446744073709551615 1\r\n"[..],
            b"VALUE a 0 18446744073709551616 1\r\n",
            b"VALUE a 0 1073741825 1\r\nabc",
        ] {
            let reply = Vec::leak(line.to_vec());
            let out = scripted(b"gets a\r\n", Expect::Values, reply).await;
            assert!(matches!(out, Err(ClientError::Protocol { .. })), "{line:?}");
        }
        // Under the bound but cut short: the connection's end, as for any
        // truncated value.
        let cut = scripted(
            b"gets a\r\n",
            Expect::Values,
            b"VALUE a 0 1073741824 1\r\nabc",
        )
        .await;
        assert!(matches!(cut, Err(ClientError::Io { .. })));
        // A value of exactly its announced length still reads.
        let Reply::Values(values) = scripted(
            b"gets a\r\n",
            Expect::Values,
            b"VALUE a 0 3 1\r\nabc\r\nEND\r\n",
        )
        .await
        .unwrap() else {
            panic!("expected values");
        };
        assert_eq!(values[0].1.data, b"abc");
    }

    #[tokio::test]
    async fn reply_lines_are_bounded() {
        let long: &'static [u8] = Vec::leak([&[b'X'; MAX_LINE_LEN][..], b"\r\n"].concat());
        let out = scripted(b"version\r\n", Expect::Line, long).await;
        assert!(matches!(out, Err(ClientError::Protocol { .. })));
        let fits: &'static [u8] = Vec::leak([&[b'X'; MAX_LINE_LEN - 2][..], b"\r\n"].concat());
        let Reply::Line(line) = scripted(b"version\r\n", Expect::Line, fits).await.unwrap() else {
            panic!("expected a line");
        };
        assert_eq!(line.len(), MAX_LINE_LEN - 2);
    }

    /// A server that dies drops every pooled connection at once; after the
    /// first failure the pool is flushed, so the next command reconnects.
    #[tokio::test]
    async fn a_failure_flushes_the_dead_pool() {
        const N: usize = 8;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            // Answer N connections only once all are open, so the client
            // really holds N at the same time; then close them all ("crash").
            let mut conns = Vec::new();
            for _ in 0..N {
                let (stream, _) = listener.accept().await.unwrap();
                conns.push(BufStream::new(stream));
            }
            for conn in &mut conns {
                let mut line = String::new();
                conn.read_line(&mut line).await.unwrap();
                conn.write_all(b"VERSION 1\r\n").await.unwrap();
                conn.flush().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(conns);
            // Back up: answer one fresh connection.
            let (stream, _) = listener.accept().await.unwrap();
            let mut conn = BufStream::new(stream);
            let mut line = String::new();
            conn.read_line(&mut line).await.unwrap();
            conn.write_all(b"VERSION 2\r\n").await.unwrap();
            conn.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
        let client = Client::new(vec![addr], Duration::from_secs(2), N);
        let calls: Vec<_> = (0..N)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { client.version().await })
            })
            .collect();
        for call in calls {
            assert_eq!(call.await.unwrap().unwrap(), vec!["1".to_owned()]);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(matches!(
            client.version().await,
            Err(ClientError::Io { .. })
        ));
        assert_eq!(client.version().await.unwrap(), vec!["2".to_owned()]);
        server.await.unwrap();
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("sesame:s:abc").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("a b").is_err());
        assert!(check_key("a\nb").is_err());
        assert!(check_key(&"k".repeat(250)).is_ok());
        assert!(check_key(&"k".repeat(251)).is_err());
    }

    #[test]
    fn jump_hash_is_stable_and_spreads() {
        assert_eq!(jump_hash(12345, 1), 0);
        let mut counts = [0usize; 4];
        for i in 0..4000u32 {
            counts[jump_hash(fnv1a(format!("key{i}").as_bytes()), 4)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
        // Growing from 4 to 5 servers moves about a fifth of the keys, never
        // between two old servers.
        let mut moved = 0;
        for i in 0..4000u32 {
            let h = fnv1a(format!("key{i}").as_bytes());
            let (a, b) = (jump_hash(h, 4), jump_hash(h, 5));
            if a != b {
                assert_eq!(b, 4);
                moved += 1;
            }
        }
        assert!((600..1000).contains(&moved), "{moved}");
    }
}
