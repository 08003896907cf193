//! The web client's entry point; everything else is in the library (`lib.rs`).

#[cfg(target_arch = "wasm32")]
fn main() {
    zencast_web::launch();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("zencast-web runs in a browser: build it with scripts/build-web.sh");
    std::process::exit(2);
}
