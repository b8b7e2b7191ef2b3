//! A WebSocket client: sends each message given (or, with none, each line of stdin) as a
//! text message, prints each echo on its own line in order, then closes with 1000.
//!
//! ```text
//! cargo run --example websocket_echo -- --port 9000 &
//! cargo run --example websocket_client -- ws://127.0.0.1:9000/ hello world
//! printf 'one\ntwo\n' | cargo run --example websocket_client -- ws://127.0.0.1:9000/
//! ```
//!
//! `--ca FILE` (PEM) trusts that CA for `wss://` (the platform's roots otherwise).
//! Exit status 0 once closed; 1 with one line on stderr when the server is unreachable,
//! refuses the handshake or the connection fails; 2 for a usage mistake.

mod common;

use std::io::BufRead;
use std::process::ExitCode;

use futures::StreamExt;
use torsade::Reactor;
use torsade_protocols::websocket::{self, CloseCode, Message, WebSocketError, WebSocketOptions};

const USAGE: &str = "usage: websocket_client [--ca FILE] URL [MESSAGE...]
   sends each MESSAGE (or each line of stdin) as a text message to the WebSocket at URL
   (ws:// or wss://) and prints each echo on its own line; --ca trusts a CA (PEM) for wss";

/// What the command line asks.
struct Request {
    url: String,
    messages: Option<Vec<String>>,
    ca: Option<String>,
}

fn parse_args() -> Result<Request, ExitCode> {
    let (args, operands) = common::Args::parse_with_operands(USAGE, &["ca"])?;
    if args.flag("ca") && args.value("ca").is_none() {
        return Err(usage_error("--ca needs a file"));
    }
    let mut operands = operands.into_iter();
    let Some(url) = operands.next() else {
        return Err(usage_error("a URL is needed"));
    };
    let messages: Vec<String> = operands.collect();
    Ok(Request {
        url,
        messages: (!messages.is_empty()).then_some(messages),
        ca: args.value("ca").map(str::to_string),
    })
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

/// The options for `request`: the CA to trust for wss.
fn options(request: &Request) -> Result<WebSocketOptions, String> {
    let options = WebSocketOptions::new();
    match &request.ca {
        None => Ok(options),
        #[cfg(feature = "tls")]
        Some(ca) => torsade::tls::client_config_with_ca(ca)
            .map(|config| options.tls_client_config(config))
            .map_err(|error| error.to_string()),
        #[cfg(not(feature = "tls"))]
        Some(_) => Err("--ca needs the tls feature".to_string()),
    }
}

/// Sends every message while printing the echoes as they come, in order (both at once,
/// so that a long input never waits on echoes nobody reads).
async fn talk(
    reactor: Reactor,
    url: String,
    options: WebSocketOptions,
    messages: Vec<String>,
) -> Result<(), WebSocketError> {
    let mut ws = websocket::connect_with(&reactor, &url, &options).await?;
    let expected = messages.len();
    let sender = ws.sender().clone();
    let send_all = async move {
        for message in messages {
            sender.transport().drain().await;
            sender
                .send(Message::text(message))
                .await
                .unwrap_or_else(|failure| Err(WebSocketError::Connect(failure)))?;
        }
        Ok::<_, WebSocketError>(())
    };
    let print_echoes = async {
        for _ in 0..expected {
            match ws.next().await {
                Some(Ok(echo)) => println!("{}", String::from_utf8_lossy(echo.payload())),
                Some(Err(error)) => return Err(error),
                None => {
                    let (code, reason) = ws
                        .close_frame()
                        .unwrap_or((CloseCode::ABNORMAL, String::new()));
                    return Err(WebSocketError::Closed { code, reason });
                }
            }
        }
        Ok(())
    };
    futures::future::try_join(send_all, print_echoes).await?;
    ws.close(CloseCode::NORMAL, "").await
}

/// `error` on one line.
fn one_line(error: impl std::fmt::Display) -> String {
    error.to_string().replace(['\r', '\n'], " ")
}

fn main() -> ExitCode {
    common::init_logging();
    let request = match parse_args() {
        Ok(request) => request,
        Err(code) => return code,
    };
    let options = match options(&request) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let messages = match request.messages {
        Some(messages) => messages,
        None => match std::io::stdin()
            .lock()
            .lines()
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(lines) => lines,
            Err(error) => {
                eprintln!("error: reading stdin: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let stopper = reactor.clone();
    let mut outcome = reactor
        .spawn(talk(reactor.clone(), request.url, options, messages))
        .add_both(move |outcome| {
            let _ = stopper.stop();
            Ok::<_, torsade::Failure>(outcome)
        });
    if let Err(error) = reactor.run() {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    match outcome.take_result() {
        Some(Ok(Ok(Ok(())))) => ExitCode::SUCCESS,
        Some(Ok(Ok(Err(error)))) => {
            eprintln!("error: {}", one_line(error));
            ExitCode::FAILURE
        }
        Some(Ok(Err(failure)) | Err(failure)) => {
            eprintln!("error: {failure}");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("error: the reactor stopped before the exchange ended");
            ExitCode::FAILURE
        }
    }
}
