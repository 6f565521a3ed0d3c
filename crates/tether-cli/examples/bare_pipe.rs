//! Baseline for `tether connect` throughput: a bare tokio-websockets client used the usual
//! way (one `send().await`, i.e. one flush, per message), doing the same work: stdin lines
//! out as text frames, received messages printed as `{"type":"message","data":…}` lines.
//!
//! ```text
//! cargo run --release -p tether-cli --example bare_pipe -- ws://127.0.0.1:8700/ < lines.txt > out.txt
//! ```

use std::io::Write;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncBufReadExt;
use tokio_websockets::{ClientBuilder, Message};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: bare_pipe ws://HOST:PORT/")?;
    let (ws, _) = ClientBuilder::new().uri(&url)?.connect().await?;
    let (mut sink, mut stream) = ws.split();
    let (total_tx, mut total_rx) = tokio::sync::oneshot::channel::<usize>();
    // Reads until every sent message has come back (closing first would race the echoes).
    let reader = tokio::spawn(async move {
        let mut out = std::io::BufWriter::new(std::io::stdout());
        let (mut received, mut total) = (0usize, None);
        while total != Some(received) {
            tokio::select! {
                t = &mut total_rx, if total.is_none() => total = Some(t.unwrap_or(0)),
                msg = stream.next() => match msg {
                    Some(Ok(msg)) => if let Some(text) = msg.as_text() {
                        received += 1;
                        let _ = writeln!(out, "{{\"type\":\"message\",\"data\":{text}}}");
                    },
                    _ => break,
                },
            }
        }
        let _ = out.flush();
    });
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut sent = 0;
    while let Some(line) = lines.next_line().await? {
        sink.send(Message::text(line)).await?;
        sent += 1;
    }
    let _ = total_tx.send(sent);
    reader.await?;
    sink.close().await?;
    Ok(())
}
