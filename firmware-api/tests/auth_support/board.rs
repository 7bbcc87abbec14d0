//! A fake device-bus board behind an in-memory stream: answers every frame
//! the way a power board would, so authorized requests get a 200 and the
//! tests see real handler output rather than a bus error.

use std::io;

use opendcre_bus::PortOpener;
use opendcre_proto::{Command, Frame, FrameDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

pub struct FakeBoardOpener;

impl PortOpener for FakeBoardOpener {
    type Port = DuplexStream;
    async fn open(&mut self) -> io::Result<DuplexStream> {
        let (ours, theirs) = tokio::io::duplex(4096);
        tokio::spawn(respond(theirs));
        Ok(ours)
    }
    fn describe(&self) -> String {
        "fake board".into()
    }
}

async fn respond(mut io: DuplexStream) {
    let mut dec = FrameDecoder::new();
    let mut buf = [0u8; 512];
    loop {
        let n = match io.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        dec.push(&buf[..n]);
        while let Some(item) = dec.next_frame() {
            let Ok(req) = item else { continue };
            let data: Vec<u8> = match Command::parse(&req.data) {
                Some(Command::Version) => b"fake-board 1.0".to_vec(),
                Some(Command::Power(_)) => b"0,0,0,0".to_vec(),
                Some(Command::Read) => b"512".to_vec(),
                Some(Command::ReadAsset) => b"rack-7".to_vec(),
                Some(Command::WriteAsset(text)) => text,
                _ => b"ok".to_vec(),
            };
            let answer = Frame { data, ..req };
            if io.write_all(&answer.encode().unwrap()).await.is_err() {
                return;
            }
        }
    }
}
