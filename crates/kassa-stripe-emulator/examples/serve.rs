//! Runs the emulator standalone: `cargo run -p kassa-stripe-emulator --example serve -- 127.0.0.1:12111`.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:12111".to_string());
    let (addr, _emulator, handle) = kassa_stripe_emulator::spawn(&listen).await?;
    println!("stripe emulator listening on http://{addr}");
    handle.await.map_err(std::io::Error::other)
}
