//! Baseline for the benchmarks: a line echo server written by hand on tokio, the way a
//! careful tokio user would — a `BytesMut` per connection (8 KiB), `memchr` for the
//! delimiter, and one write per read carrying every line that read completed. With
//! `--tls-cert FILE --tls-key FILE` (PEM) the same loop runs over tokio-rustls: the
//! baseline torsade's TLS is measured against.
//!
//! ```text
//! cargo run --release --example baseline_tokio_echo -- --port 8001
//! ```
//!
//! Same contract as `line_echo`: lines end with `\n` (a `\r` before it is dropped), each
//! comes back ended with `\r\n`, lines over 16 KiB close the connection. `--port 0`
//! picks a free port; the first line printed is `listening on ADDR`. Not part of
//! torsade: it is what torsade is measured against (docs/BENCHMARKS.md).

mod common;

use std::io;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};
use tokio_rustls::TlsAcceptor;

const USAGE: &str = "usage: baseline_tokio_echo [--port PORT] [--tls-cert FILE --tls-key FILE]
   (--port 0 picks a free port; --tls-cert and --tls-key, PEM, serve TLS)";
const MAX_LINE: usize = 16 * 1024;

fn main() -> ExitCode {
    common::init_logging();
    let args = match common::Args::parse(USAGE, &["port", "tls-cert", "tls-key"]) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let port = match args.number("port", 8001) {
        Ok(port) => port,
        Err(code) => return code,
    };
    let tls = match (args.value("tls-cert"), args.value("tls-key")) {
        (None, None) => None,
        (Some(cert), Some(key)) => match server_config(cert, key) {
            Ok(config) => Some(TlsAcceptor::from(Arc::new(config))),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("--tls-cert and --tls-key go together\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| runtime.block_on(serve(port, tls)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The TLS configuration for the certificate chain in `cert` and the key in `key` (PEM),
/// with rustls's safe defaults and the ring provider, as torsade's server configurations.
fn server_config(cert: &str, key: &str) -> Result<ServerConfig, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|error| format!("{cert}: {error}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|error| format!("{key}: {error}"))?;
    ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|error| error.to_string())
}

/// Accepts on 127.0.0.1:`port` and echoes each connection in a task of its own.
async fn serve(port: u16, tls: Option<TlsAcceptor>) -> io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let tls = tls.map(Arc::new);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let tls = tls.clone();
        tokio::spawn(async move {
            let outcome = match tls {
                None => echo(stream).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => echo(stream).await,
                    Err(error) => Err(error),
                },
            };
            if let Err(error) = outcome {
                tracing::debug!("connection ended: {error}");
            }
        });
    }
}

async fn echo(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> io::Result<()> {
    let mut input = BytesMut::with_capacity(8 * 1024);
    let mut output = Vec::with_capacity(8 * 1024);
    loop {
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        let mut start = 0;
        while let Some(at) = memchr::memchr(b'\n', &input[start..]) {
            let line = &input[start..start + at];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            output.extend_from_slice(line);
            output.extend_from_slice(b"\r\n");
            start += at + 1;
        }
        let _ = input.split_to(start);
        if input.len() > MAX_LINE {
            return Ok(());
        }
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
        if input.capacity() - input.len() < 1024 {
            input.reserve(8 * 1024);
        }
    }
}
